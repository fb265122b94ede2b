"""Delivery guarantees against the simulators: lost answers resolved without a second write, dead
letters and their recorded replay, the shared circuit breaker, the shared rate limit."""

from __future__ import annotations

import json
import shutil
import time

import pytest
import requests
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from lienthong import states
from lienthong.cli import main
from lienthong.pipeline.runner import Gateway
from lienthong.settings import Settings
from lienthong.status import gateway_status
from lienthong.store import Store, outbox
from lienthong.store.models import OutboxRow, Replay
from tests.integration.conftest import MAPPINGS, received


@pytest.fixture()
def mappings(tmp_path):
    """A private copy of mappings/ that a test may edit (a province's configuration)."""
    target = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, target)
    return target


def edit_yaml(path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def gateway_on(mappings, store_url) -> Gateway:
    settings = Settings(data_dir=mappings.parent, database_url=store_url, mappings_dir=mappings)
    return Gateway(settings, Store(store_url))


def outbox_states(gateway, operation="DongBoHoSoMC") -> dict[str, int]:
    with gateway.store.session() as session:
        rows = session.execute(
            select(OutboxRow.state, func.count())
            .where(OutboxRow.operation == operation)
            .group_by(OutboxRow.state)
        ).all()
    return dict(rows)


def test_a_lost_answer_is_resolved_by_asking_the_portal_not_by_writing_again(cluster, gateway):
    requests.post(
        f"{cluster.dvcqg.url}/_sim/faults",
        json={"script": ["drop_after_commit"], "paths": ["/api/service"]},
        timeout=5,
    )
    summary = gateway.run("dossier_sync")
    assert summary.checks() == []
    assert summary.deliver.resolved_by_lookup == 20  # the whole first batch: committed, answer lost
    portal = received(cluster.dvcqg)["dossiers"]
    assert len(portal) == 300
    assert all(entry["writes"] == 1 and entry["repeats"] == 0 for entry in portal.values())
    assert outbox_states(gateway) == {states.ACKNOWLEDGED: 300}


def test_a_refused_record_dies_alone_and_a_recorded_replay_delivers_it_after_the_fix(
    cluster, mappings, tmp_path, monkeypatch
):
    """A province's code list maps one-stop status 3 to 44, which the portal refuses; the schema check is
    off in this province's route, so the refusal comes from the portal itself."""
    for name, value in cluster.connection_env().items():
        monkeypatch.setenv(name, value)
    edit_yaml(mappings / "dossier_sync.yaml", lambda route: route["target"].pop("schema"))
    codes = mappings / "codelists" / "motcua_status.csv"
    good = codes.read_text(encoding="utf-8")
    lines = good.splitlines()
    broken = [line.rsplit(",", 1)[0] + ",44" if line.startswith("3,") else line for line in lines]
    assert broken != lines, "the status code list changed shape; adapt the test"
    codes.write_text("\n".join(broken) + "\n", encoding="utf-8")
    store_url = f"sqlite:///{tmp_path / 'g.db'}"
    gateway = gateway_on(mappings, store_url)

    summary = gateway.run("dossier_sync", wait_for_retries=0)
    dead_count = summary.rows[states.DEAD]
    assert dead_count > 0 and summary.checks() == []
    assert all("TrangThaiHoSo" in error for error in summary.deliver.last_errors)
    portal = received(cluster.dvcqg)["dossiers"]
    assert len(portal) == 300 - dead_count  # their batch neighbours were delivered
    # Their progress records wait for the replay: reported as blocked, not as work for a worker.
    (route,) = [r for r in gateway_status(gateway)["routes"] if r["route"] == "dossier_sync"]
    assert route["blocked"] == route["outbox"][states.PENDING] > 0

    codes.write_text(good, encoding="utf-8")  # the fix
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", store_url)
    monkeypatch.setenv("LIENTHONG_MAPPINGS", str(mappings))
    listed = json.loads(CliRunner().invoke(main, ["dead", "list", "--json"]).output)
    assert len(listed) == dead_count and "TrangThaiHoSo" in listed[0]["last_error"]
    result = CliRunner().invoke(
        main,
        [
            "dead",
            "replay",
            "--route",
            "dossier_sync",
            "--remap",
            "--actor",
            "kiem-thu",
            "--note",
            "sửa mã",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(received(cluster.dvcqg)["dossiers"]) == 300
    assert outbox_states(gateway).get(states.DEAD, 0) == 0
    with gateway.store.session() as session:
        replay = session.execute(select(Replay)).scalar_one()
    assert (replay.kind, replay.mode, replay.actor, replay.count, replay.note) == (
        "dead",
        "remap",
        "kiem-thu",
        dead_count,
        "sửa mã",
    )
    # The replayed dossiers' progress records were waiting for them, and followed them.
    assert outbox_states(gateway, "CapNhatTienDoHoSoMC").keys() == {states.ACKNOWLEDGED}
    assert outbox.blocked_count(gateway.store) == 0


def test_the_breaker_opens_on_an_outage_and_the_next_run_resumes_with_nothing_lost(
    cluster, mappings, tmp_path, monkeypatch
):
    for name, value in cluster.connection_env().items():
        monkeypatch.setenv(name, value)
    edit_yaml(
        mappings / "targets" / "dvcqg.yaml", lambda t: t.update(breaker={"failures": 3, "open_seconds": 1.5})
    )
    gateway = gateway_on(mappings, f"sqlite:///{tmp_path / 'b.db'}")
    requests.post(
        f"{cluster.dvcqg.url}/_sim/faults",
        json={"rate": 1.0, "kinds": ["http_503"], "paths": ["/api/service"]},
        timeout=5,
    )

    down = gateway.run("dossier_sync", wait_for_retries=0)
    assert "dvcqg" in down.deliver.breakers and "circuit" in down.deliver.breakers["dvcqg"]
    assert down.rows.get(states.DEAD, 0) == 0 and down.rows.get(states.ACKNOWLEDGED, 0) == 0
    calls_while_down = requests.get(f"{cluster.dvcqg.url}/_sim/faults", timeout=5).json()["requests_seen"]
    assert calls_while_down <= 3 + 4  # the failures that opened it, plus calls already under way: no storm

    requests.post(f"{cluster.dvcqg.url}/_sim/faults", json={"rate": 0.0}, timeout=5)
    time.sleep(1.6)
    again = gateway.run("dossier_sync", wait_for_retries=30)
    assert again.deliver.breakers == {}
    assert len(received(cluster.dvcqg)["dossiers"]) == 300
    assert outbox_states(gateway) == {states.ACKNOWLEDGED: 300}


def test_the_rate_limit_is_shared_and_honoured(cluster, mappings, tmp_path, monkeypatch):
    for name, value in cluster.connection_env().items():
        monkeypatch.setenv(name, value)
    edit_yaml(
        mappings / "targets" / "dvcqg.yaml", lambda t: t.update(rate_limit={"per_second": 10, "burst": 1})
    )
    gateway = gateway_on(mappings, f"sqlite:///{tmp_path / 'r.db'}")
    gateway.run("dossier_sync", deliver=False)
    started = time.monotonic()
    summary = gateway.run("dossier_sync", skip_extract=True, concurrency=4)
    elapsed = time.monotonic() - started
    calls = summary.deliver.calls + 1  # plus the login, which does not take a token
    assert len(received(cluster.dvcqg)["dossiers"]) == 300
    assert elapsed >= (summary.deliver.calls - 1) / 10 * 0.9, (calls, elapsed)
