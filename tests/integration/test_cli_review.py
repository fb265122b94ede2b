"""``lienthong tombstones`` and ``lienthong review`` against the simulators, on SQLite and PostgreSQL.

A tombstone is raised by a resync after a dossier is deleted in the one-stop simulator; a review row
by a corrected birth registration after BHXH issued the card.  Each resolution must be in the store
(who: asserted actor and OS user; when; why; decision) and in the audit ledger, and must do what it
says: ``resend`` gets the row delivered by the next ``deliver``, ``dismiss`` closes it."""

from __future__ import annotations

import getpass
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from lienthong.cli import main
from lienthong.settings import PACKAGE_ROOT
from lienthong.store import Store
from lienthong.store.models import LedgerEntry, OutboxRow, Tombstone
from lienthong.store.resolutions import Resolution
from tests.conftest import _reset_pg
from tests.integration.conftest import received

CCCD = "083204001234"  # shaped like an identity number: a person may quote one in a note


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'review.db'}"
    url = request.getfixturevalue("pg_database")
    Store(url).dispose()
    _reset_pg(url)
    return url


@pytest.fixture()
def cli(cluster, backend_url, tmp_path, monkeypatch):
    for name, value in cluster.connection_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", backend_url)
    monkeypatch.setenv("LIENTHONG_MAPPINGS", str(PACKAGE_ROOT / "mappings"))
    monkeypatch.setenv("LIENTHONG_HOME", str(tmp_path))
    monkeypatch.delenv("LIENTHONG_ACTOR", raising=False)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(main, list(args))
        assert result.exit_code == code, result.output
        return result

    return invoke


def _json(result) -> object:
    return json.loads(result.stdout)


def _ledger(url: str, event: str) -> list[LedgerEntry]:
    store = Store(url, must_exist=True)
    try:
        with store.session() as session:
            return list(session.execute(select(LedgerEntry).where(LedgerEntry.event == event)).scalars())
    finally:
        store.dispose()


@pytest.mark.motcua(total=40)
def test_a_deleted_dossier_is_listed_and_acknowledged_by_a_person(cluster, cli, backend_url):
    cli("run", "dossier_sync", "--json")
    app = cluster.motcua.app
    victim = app.get_dossier(app.dossier_id(7))
    app.delete_dossier(victim["id"])
    assert _json(cli("tombstones", "list", "--json")) == []
    cli("resync", "dossier_sync", "--since", "2025-01-01T00:00:00+07:00", "--json")

    (open_item,) = _json(cli("tombstones", "list", "--route", "dossier_sync", "--json"))
    assert (open_item["record_key"], open_item["state"], open_item["resolution"]) == (
        victim["code"],
        "review",
        None,
    )
    assert _json(cli("tombstones", "list", "--route", "birth_bhyt", "--json")) == []
    assert victim["code"] in cli("tombstones", "list").output

    # A resolution without a reason, or of an unknown id, changes nothing.
    cli("tombstones", "resolve", str(open_item["id"]), "--decision", "acknowledge", "--note", " ", code=1)
    missing = cli("tombstones", "resolve", "999", "--decision", "acknowledge", "--note", "x", code=1)
    assert "no tombstone 999" in missing.output and "Traceback" not in missing.output

    (done,) = _json(
        cli(
            "tombstones", "resolve", str(open_item["id"]), "--decision", "acknowledge",
            "--note", f"hồ sơ nhập trùng (CCCD {CCCD}), đã xóa ở một cửa", "--actor", "ops:lan", "--json",
        )
    )  # fmt: skip
    assert done["state"] == "resolved"
    assert _json(cli("tombstones", "list", "--json")) == []
    (resolved,) = _json(cli("tombstones", "list", "--state", "resolved", "--json"))
    res = resolved["resolution"]
    assert (res["decision"], res["actor"], res["os_user"]) == ("acknowledge", "ops:lan", getpass.getuser())
    assert res["note"].startswith("hồ sơ nhập trùng (CCCD ") and res["resolved_at"]
    assert CCCD not in json.dumps(resolved) and CCCD not in cli("tombstones", "list", "--state", "all").output
    again = cli(
        "tombstones", "resolve", str(open_item["id"]), "--decision", "acknowledge", "--note", "x", code=1
    )
    assert "not open" in again.output

    (entry,) = _ledger(backend_url, "resolved")
    detail = json.loads(entry.detail)
    assert (entry.record_key, entry.actor, entry.outcome) == (victim["code"], "ops:lan", "acknowledge")
    assert detail["kind"] == "tombstone" and detail["os_user"] == getpass.getuser()
    assert detail["resolution_id"] == res["id"] and CCCD not in entry.detail
    assert victim["code"] in received(cluster.dvcqg)["dossiers"]  # the target keeps the record
    cli("audit", "verify", "--no-progress")  # the ledger with the new entry still verifies


def _renamed_child(dossier: dict, suffix: str) -> str:
    form = json.loads(dossier["eForm"])
    form["hoTich"]["treEm"]["hoTen"] = form["hoTich"]["treEm"]["hoTen"] + suffix
    return json.dumps(form, ensure_ascii=False)


def _correct_one(cluster, url: str, suffix: str, key: str | None = None) -> str:
    """Rename the child of one acknowledged registration at the source; returns its record key."""
    store = Store(url, must_exist=True)
    try:
        with store.session() as session:
            query = select(OutboxRow).where(
                OutboxRow.route == "birth_bhyt", OutboxRow.state == "acknowledged"
            )
            if key:
                query = query.where(OutboxRow.record_key == key)
            row = session.execute(query.order_by(OutboxRow.id).limit(1)).scalar_one()
            from lienthong.store.models import StagedRecord

            source_id = session.get(StagedRecord, row.staged_id).source_id
    finally:
        store.dispose()
    app = cluster.motcua.app
    app.update_dossier(source_id, eForm=_renamed_child(app.get_dossier(source_id), suffix))
    return row.record_key


@pytest.mark.motcua(total=120)
def test_review_rows_can_be_resent_or_dismissed_and_each_decision_is_recorded(cluster, cli, backend_url):
    cli("run", "birth_bhyt", "--json")
    key = _correct_one(cluster, backend_url, " Anh")
    cli("run", "birth_bhyt", "--json")
    (row,) = _json(cli("review", "list", "--route", "birth_bhyt", "--json"))
    assert (row["record_key"], row["state"], row["version"]) == (key, "review", 2)
    assert "has no update" in row["reason"]
    assert _json(cli("review", "list", "--route", "dossier_sync", "--json")) == []

    cli(
        "review",
        "resolve",
        str(row["id"]),
        "--decision",
        "resend",
        "--note",
        "BHXH asked for it",
        "--actor",
        "ops:an",
    )
    assert _json(cli("review", "list", "--json")) == []
    cli("deliver", "birth_bhyt", "--json")
    registration = received(cluster.bhxh)["registrations"][key]
    assert registration["repeats"] == 1  # the registry received the resent version (and kept its card)
    (resent,) = _json(cli("review", "list", "--state", "resolved", "--json"))
    assert resent["state"] == "acknowledged" and resent["resolution"]["decision"] == "resend"

    # A further correction goes to review again; this time the person closes it.
    _correct_one(cluster, backend_url, " Bảo", key=key)
    cli("run", "birth_bhyt", "--json")
    (second,) = _json(cli("review", "list", "--json"))
    assert second["version"] == 3
    second_id = str(second["id"])
    cli("review", "resolve", second_id, second_id, "--decision", "dismiss", "--note", "sửa trực tiếp ở BHXH")
    cli("deliver", "birth_bhyt", "--json")
    assert received(cluster.bhxh)["registrations"][key]["repeats"] == 1  # nothing more was sent
    states = {r["id"]: r["state"] for r in _json(cli("review", "list", "--state", "all", "--json"))}
    assert states == {row["id"]: "acknowledged", second["id"]: "superseded"}
    cli("review", "resolve", str(second["id"]), "--decision", "resend", "--note", "x", code=1)

    entries = _ledger(backend_url, "resolved")
    assert [(e.outcome, e.actor, e.target) for e in entries] == [
        ("resend", "ops:an", "bhxh"),
        ("dismiss", f"cli:{getpass.getuser()}", "bhxh"),
    ]
    store = Store(backend_url, must_exist=True)
    with store.session() as session:
        kept = list(session.execute(select(Resolution).order_by(Resolution.id)).scalars())
        assert not session.execute(select(Tombstone)).first()
    store.dispose()
    assert [(r.kind, r.decision, r.record_key, r.os_user) for r in kept] == [
        ("review", "resend", key, getpass.getuser()),
        ("review", "dismiss", key, getpass.getuser()),
    ]
