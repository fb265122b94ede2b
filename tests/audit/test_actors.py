"""Who acted: entries a person causes (replays, unmask, purge) record the OS user the system knows
beside the asserted ``--actor``; `audit show` prints both and labels entries of other routes; a
read-only `audit show` never generates an archive key."""

from __future__ import annotations

import pwd
from pathlib import Path
from types import SimpleNamespace

from click.testing import CliRunner
from sqlalchemy import select

from lienthong.audit import actors, hooks
from lienthong.audit.chain import Event, append_now
from lienthong.audit.config import config_for
from lienthong.audit.lineage import lineage
from lienthong.audit.retention import purge
from lienthong.cli import main
from lienthong.store import Store
from lienthong.store.models import LedgerEntry

ME = pwd.getpwuid(__import__("os").getuid()).pw_name


def _details(store, event: str) -> list[tuple[str, dict]]:
    import json

    with store.session() as session:
        rows = session.execute(
            select(LedgerEntry.actor, LedgerEntry.detail).where(LedgerEntry.event == event)
        )
        return [(actor, json.loads(detail)) for actor, detail in rows]


def test_replays_unmask_and_purge_record_the_os_user_beside_the_asserted_actor(audited, monkeypatch):
    monkeypatch.setenv("USER", "mallory")  # the environment cannot change who the OS says we are
    monkeypatch.setenv("LOGNAME", "mallory")
    item = SimpleNamespace(id=7, route="dossier_sync", record_key="HS-1", mapping_version="v1", target="dvcqg",
                           operation="DongBoHoSoMC")  # fmt: skip
    with audited.session() as session:
        hooks.replays(session, audited, [item], kind="dead", mode="resend", replay_id=1, actor="giam-doc")
    lineage(audited, "HS-1", unmask=True, actor="thanh-tra")
    purge(audited, 365, "quan-tri")
    for event, asserted in (("replayed", "giam-doc"), ("unmask", "thanh-tra"), ("purge", "quan-tri")):
        ((actor, detail),) = _details(audited, event)
        assert (actor, detail["authenticated"]) == (asserted, f"os:{ME}"), event
    with actors.acting_as("nguyen.van.a"):  # the plugin, after Airflow's auth manager validated the token
        lineage(audited, "HS-1", unmask=True, actor="claimed")
    assert _details(audited, "unmask")[-1][1]["authenticated"] == "airflow:nguyen.van.a"


def test_audit_show_prints_both_and_labels_other_routes(audited, monkeypatch):
    append_now(
        audited,
        [
            Event("pulled", route="dossier_sync", record_key="HS-1", actor="host:1:2", outcome="staged"),
            Event("replayed", route="other_route", record_key="HS-1", actor="giam-doc", outcome="resend",
                  detail={"authenticated": "os:thu-ky"}),
        ],
    )  # fmt: skip
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", audited.url)
    monkeypatch.setenv("LIENTHONG_HOME", str(config_for(audited).data_dir))
    shown = CliRunner().invoke(main, ["audit", "show", "HS-1"])
    assert shown.exit_code == 0, shown.output
    pulled, replayed = [line for line in shown.output.splitlines() if line.startswith("#")]
    assert "by host:1:2" in pulled and "[route" not in pulled
    assert "by giam-doc (authenticated: os:thu-ky)" in replayed and "[route other_route]" in replayed


def test_a_read_only_show_does_not_generate_the_archive_key(tmp_path, monkeypatch):
    monkeypatch.delenv("LIENTHONG_ARCHIVE_KEYS", raising=False)
    store_dir = tmp_path / "elsewhere"
    store_dir.mkdir()
    url = f"sqlite:///{store_dir / 'gateway.db'}"
    Store(url).dispose()  # the store exists; its key does not
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", url)
    monkeypatch.setenv("LIENTHONG_HOME", str(store_dir))
    shown = CliRunner().invoke(main, ["audit", "show", "HS-1"])
    assert shown.exit_code == 2, shown.output
    assert "no archive key" in shown.output
    assert not (store_dir / "keys" / "archive.keys").exists()
    assert not any(Path(store_dir).rglob("archive.keys"))
