"""Audit fixtures: a store (SQLite and PostgreSQL, from tests/conftest.py) with its audit settings
in the test's own directory, and a ledger of a few entries."""

from __future__ import annotations

import pytest

from lienthong.audit.chain import Event, append_now
from lienthong.audit.config import attach
from lienthong.settings import Settings


@pytest.fixture()
def pins_file(tmp_path_factory, monkeypatch):
    """This test's pins file (outside its data directory): the key its store generates is pinned here."""
    path = tmp_path_factory.mktemp("pins") / "audit-pinned-keys"
    monkeypatch.setenv("LIENTHONG_AUDIT_PINNED_KEYS_FILE", str(path))
    monkeypatch.delenv("LIENTHONG_AUDIT_PINNED_KEYS", raising=False)
    return path


@pytest.fixture()
def audited(store, tmp_path, pins_file):
    """The store, with its keys and checkpoint file under ``tmp_path`` (not the shared .lienthong/)."""
    attach(store, Settings(data_dir=tmp_path, database_url=store.url, mappings_dir=tmp_path))
    return store


def sample_events(n: int, start: int = 0) -> list[Event]:
    return [
        Event(
            "attempt" if i % 2 else "mapped",
            route="dossier_sync",
            record_key=f"000.00.01.H01-250101-{i + start:04d}",
            target="dvcqg",
            operation="DongBoHoSoMC",
            mapping_version="sha256:abc",
            actor="tester",
            outcome="acknowledged" if i % 2 else "mapped",
            detail={"row_id": i + start, "request_digest": f"sha256:{i:064x}", "ghi chú": "Đúng hạn"},
        )
        for i in range(n)
    ]


@pytest.fixture()
def ledger(audited):
    """20 entries appended in 4 batches (so several transactions built the chain)."""
    for batch in range(4):
        append_now(audited, sample_events(5, start=batch * 5))
    return audited


from tests.integration.conftest import cluster  # noqa: E402, F401 - the simulators, for the engine test


def pytest_configure(config):
    config.addinivalue_line("markers", "motcua(**settings): settings of the one-stop simulator for this test")
