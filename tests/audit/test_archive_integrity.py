"""Archived bodies are checked against their address on every read (SQLite and PostgreSQL): another
record's sealed blob copied over a digest is refused, naming the digest, and `audit show` says so
instead of showing it as this record's payload; old (format 2) blobs stay readable only when their
plain text hashes to their address."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from lienthong.audit import archive, sealing
from lienthong.audit.chain import Event, append_now
from lienthong.audit.config import config_for, seal_for
from lienthong.audit.lineage import lineage
from lienthong.jsoncanon import digest

MINE = '{"MaHoSo":"HS-1","ChuHoSo":"Nguyễn Văn A"}'
THEIRS = '{"MaHoSo":"HS-2","ChuHoSo":"Trần Thị B"}'
OLD = '{"MaHoSo":"HS-3"}'


def _archive(store, bodies) -> None:
    with store.engine.begin() as connection:
        archive.put_many(connection, store, bodies)


def _copy_body(store, source: str, target: str) -> None:
    with store.engine.begin() as connection:
        body = connection.execute(
            text("SELECT body FROM audit_archive WHERE digest = :d"), {"d": source}
        ).scalar()
        connection.execute(
            text("UPDATE audit_archive SET body = :b WHERE digest = :d"), {"b": body, "d": target}
        )


@pytest.fixture()
def archived(audited):
    mine, theirs, old = digest(MINE), digest(THEIRS), digest(OLD)
    _archive(
        audited,
        [
            (mine, "request", seal_for(audited, MINE, kind="request", digest=mine)),
            (theirs, "request", seal_for(audited, THEIRS, kind="request", digest=theirs)),
            (old, "request", sealing.seal(OLD, config_for(audited).keyring)),  # format 2: no binding
        ],
    )
    return audited, mine, theirs, old


def test_bodies_read_back_when_they_are_at_their_address(archived):
    store, mine, theirs, old = archived
    with store.engine.connect() as connection:
        raw = connection.execute(
            text("SELECT body FROM audit_archive WHERE digest = :d"), {"d": mine}
        ).scalar()
    assert raw.startswith(f"enc:3:{config_for(store).keyring.current_id}:request:{mine}:")
    assert "Nguyễn" not in raw
    assert (archive.get(store, mine), archive.get(store, theirs), archive.get(store, old)) == (
        MINE,
        THEIRS,
        OLD,
    )


def test_another_records_sealed_blob_over_a_digest_is_refused(archived):
    store, mine, theirs, _ = archived
    _copy_body(store, theirs, mine)
    with pytest.raises(archive.ArchiveIntegrityError, match="sealed for another digest"):
        archive.get(store, mine)
    problems: dict[str, str] = {}
    assert archive.get_many(store, [mine, theirs], problems) == {theirs: THEIRS}
    assert mine in problems and mine[:19] in problems[mine]


def test_an_old_blob_is_read_only_when_its_plain_text_hashes_to_its_address(archived):
    store, mine, _, old = archived
    with store.engine.begin() as connection:  # an old-format blob of another text put at `old`
        connection.execute(
            text("UPDATE audit_archive SET body = :b WHERE digest = :d"),
            {"b": sealing.seal(MINE, config_for(store).keyring), "d": old},
        )
    with pytest.raises(archive.ArchiveIntegrityError, match="does not hash to its digest"):
        archive.get(store, old)


def test_a_relabelled_kind_or_an_edited_binding_is_refused(archived):
    store, mine, theirs, _ = archived
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE audit_archive SET kind = 'response' WHERE digest = :d"), {"d": mine})
    with pytest.raises(archive.ArchiveIntegrityError, match="sealed as a request, not a response"):
        archive.get(store, mine)
    # Rewriting the digest named inside the sealed value: the cipher's associated data no longer matches.
    with store.engine.begin() as connection:
        body = connection.execute(
            text("SELECT body FROM audit_archive WHERE digest = :d"), {"d": theirs}
        ).scalar()
        connection.execute(
            text("UPDATE audit_archive SET body = :b WHERE digest = :d"),
            {"b": body.replace(theirs, mine), "d": theirs},
        )
    with pytest.raises(Exception, match="does not decrypt"):
        archive.get(store, theirs)


def test_audit_show_says_the_payload_is_not_shown(archived, monkeypatch):
    store, mine, theirs, _ = archived
    append_now(
        store,
        [
            Event(
                "mapped",
                route="dossier_sync",
                record_key="HS-1",
                actor="tester",
                outcome="mapped",
                detail={"rows": [{"row_id": 1, "target": "dvcqg", "operation": "DongBoHoSoMC",
                                  "version": 1, "payload_digest": mine, "state": "pending"}]},
            )
        ],
    )  # fmt: skip
    _copy_body(store, theirs, mine)
    steps = lineage(store, "HS-1")
    row = steps[0]["detail"]["rows"][0]
    assert row["payload"] is None and "another digest" in row["payload_problem"]
    from lienthong.cli import main

    monkeypatch.setenv("LIENTHONG_DATABASE_URL", store.url)
    monkeypatch.setenv("LIENTHONG_HOME", str(config_for(store).data_dir))
    shown = CliRunner().invoke(main, ["audit", "show", "HS-1"])
    assert shown.exit_code == 0, shown.output
    assert "payload NOT SHOWN" in shown.output and "HS-2" not in shown.output
    as_json = json.loads(CliRunner().invoke(main, ["audit", "show", "HS-1", "--json"]).output)
    assert as_json[0]["detail"]["rows"][0]["payload"] is None
