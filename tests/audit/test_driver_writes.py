"""The audit's writes through the driver (``lienthong.audit.driver``), on SQLite and PostgreSQL: the
archive and ledger rows of one append land together with the head's new position, a batch bigger than
one statement's parameter budget still lands whole, and an archive-only write keeps its conflict rule."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lienthong.audit import archive, verify_ledger
from lienthong.audit.chain import append, head
from lienthong.audit.checkpoints import make_checkpoint
from lienthong.audit.config import config_for
from lienthong.jsoncanon import digest
from lienthong.store.models import ArchivedBody, LedgerEntry
from tests.audit.conftest import sample_events


def _bodies(n: int, start: int = 0) -> list[tuple[str, str, str]]:
    return [(digest(f'{{"n":{i}}}'), "request", f'{{"n":{i}}}') for i in range(start, start + n)]


def _counts(store) -> tuple[int, int]:
    with store.session() as session:
        entries = session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
        bodies = session.execute(select(func.count()).select_from(ArchivedBody)).scalar_one()
    return entries, bodies


def test_an_append_writes_its_archive_rows_entries_and_head_together(audited):
    with audited.engine.begin() as connection:
        last = append(connection, audited, sample_events(7), along=[archive.insert_of(audited, _bodies(3))])
    assert last == 7 and head(audited)[0] == 7
    assert _counts(audited) == (7, 3)
    assert archive.get(audited, digest('{"n":1}')) == '{"n":1}'
    # The same bodies again (a retried payload): nothing new archived, the entries still land.
    with audited.engine.begin() as connection:
        append(connection, audited, sample_events(2, start=7), along=[archive.insert_of(audited, _bodies(4))])
    assert _counts(audited) == (9, 4)
    make_checkpoint(audited, config_for(audited))
    assert verify_ledger(audited).ok


def test_a_big_batch_lands_whole(audited):
    """A transform chunk's worth (entries and bodies in the thousands) in one append."""
    with audited.engine.begin() as connection:
        append(connection, audited, sample_events(2500), along=[archive.insert_of(audited, _bodies(3000))])
    assert _counts(audited) == (2500, 3000) and head(audited)[0] == 2500
    make_checkpoint(audited, config_for(audited))
    assert verify_ledger(audited).ok


def test_archive_only_writes_skip_known_digests(audited):
    with audited.engine.begin() as connection:
        archive.put_many(connection, audited, _bodies(3))
    with audited.engine.begin() as connection:
        archive.put_many(connection, audited, _bodies(5))
        append(connection, audited, [], along=[archive.insert_of(audited, _bodies(2, start=5))])
    assert _counts(audited) == (0, 7)


def test_a_failed_write_leaves_nothing_behind(audited):
    with pytest.raises(Exception), audited.engine.begin() as connection:  # noqa: B017, PT011 - driver-specific error
        append(connection, audited, sample_events(3), along=[archive.insert_of(audited, _bodies(2))])
        append(connection, audited, sample_events(1))
        connection.exec_driver_sql("INSERT INTO audit_ledger (seq) VALUES (1)")  # breaks the constraints
    assert _counts(audited) == (0, 0) and head(audited)[0] == 0
