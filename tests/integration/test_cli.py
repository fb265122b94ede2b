"""The ``lienthong`` command line against the simulators: run, status, quarantine, mapping test, demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lienthong.cli import main
from lienthong.settings import PACKAGE_ROOT
from tests.integration.conftest import received

FIXTURES = PACKAGE_ROOT / "tests" / "fixtures"


@pytest.fixture()
def cli(cluster, tmp_path, monkeypatch):
    for name, value in cluster.connection_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("LIENTHONG_MAPPINGS", str(PACKAGE_ROOT / "mappings"))
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


@pytest.mark.motcua(mess_rate=0.2)
def test_run_json_summary_adds_up_and_quarantine_can_be_listed_shown_and_replayed(cluster, cli):
    result = cli("run", "dossier_sync", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    records = summary["records"]
    assert (
        records["pulled"]
        == records["mapped"] + records["quarantined"] + records["filtered"] + records["unchanged"]
    )
    assert sum(summary["outbox_rows"].values()) == summary["outbox_rows_created"]
    assert summary["checks"] == [] and records["quarantined"] > 0

    listing = json.loads(cli("quarantine", "list", "--json").output)
    assert len(listing) == records["quarantined"]
    entry = listing[0]
    assert entry["errors"] and {"field", "rule", "message"} <= set(entry["errors"][0])

    shown = cli("quarantine", "show", str(entry["id"]))
    assert shown.exit_code == 0 and f"record {entry['record_key']}" in shown.output
    assert "masked" in shown.output

    # Replaying without a fix quarantines the same records again, and says so.
    replayed = json.loads(cli("quarantine", "replay", "--route", "dossier_sync", "--json").output)
    assert replayed[0]["records"]["quarantined"] == records["quarantined"]
    assert len(json.loads(cli("quarantine", "list", "--json").output)) == records["quarantined"]


def test_status_shows_routes_watermarks_and_backlog(cluster, cli):
    assert cli("run", "catalogue_sync", "--json").exit_code == 0
    status = json.loads(cli("status", "--json").output)
    routes = {r["route"]: r for r in status["routes"]}
    assert set(routes) >= {"dossier_sync", "catalogue_sync", "birth_bhyt"}
    catalogue = routes["catalogue_sync"]
    assert catalogue["watermark"] and catalogue["outbox"]["acknowledged"] == len(
        received(cluster.dvcqg)["catalogue"]
    )
    assert catalogue["last_run"]["status"] == "succeeded"
    table = cli("status")
    assert table.exit_code == 0 and "catalogue_sync" in table.output


def test_mapping_test_prints_the_payload_or_the_errors(cli):
    ok = cli("mapping", "test", "dossier_sync", "--record", str(FIXTURES / "dossier_normal.json"))
    assert ok.exit_code == 0
    assert '"MaHoSo": "000.00.12.H07-250114-0042"' in ok.output
    assert "083185001234" not in ok.output  # masked unless --unmask
    unmasked = cli(
        "mapping", "test", "dossier_sync", "--record", str(FIXTURES / "dossier_normal.json"), "--unmask"
    )
    assert "083185001234" in unmasked.output
    bad = cli("mapping", "test", "dossier_sync", "--record", str(FIXTURES / "dossier_messy.json"))
    assert bad.exit_code == 1 and "rule length" in bad.output


def test_unknown_route_is_one_clear_line(cli):
    result = CliRunner().invoke(main, ["run", "no_such_route"])
    assert result.exit_code == 2
    assert "no route 'no_such_route'" in result.output and "dossier_sync" in result.output


def test_demo_command_runs_every_route_and_exits_0(tmp_path):
    """The real console script, in a fresh working directory, as `make demo` runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "LIENTHONG_"))}
    script = Path(sys.executable).with_name("lienthong")
    result = subprocess.run(
        [str(script), "demo", "--dossiers", "400"],
        cwd=tmp_path,
        env={**env, "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for route in ("catalogue_sync", "dossier_sync", "birth_bhyt"):
        assert f"route {route}" in out
    assert "quarantined route dossier_sync, record" in out
    assert "demo finished" in out
    assert (tmp_path / ".lienthong" / "demo" / "demo.db").is_file()
