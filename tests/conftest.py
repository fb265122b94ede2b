"""Fixtures shared by the whole suite: stores on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest


def pytest_configure(config):
    """The log scan (tests/logscan.py): every log record, printed text and CLI output of the session is
    scanned for CCCD numbers, phone numbers and secrets; a hit fails the run.  LIENTHONG_LOGSCAN=0: off."""
    if os.environ.get("LIENTHONG_LOGSCAN", "1") != "0":
        from lienthong.settings import PACKAGE_ROOT
        from tests.logscan import LogScanPlugin

        artifacts = os.environ.get("LIENTHONG_TEST_ARTIFACTS") or PACKAGE_ROOT / "test-artifacts"
        config.pluginmanager.register(LogScanPlugin(Path(artifacts)), "lienthong-logscan")


@pytest.fixture(scope="session", autouse=True)
def _audit_pins_outside_home(tmp_path_factory):
    """Generated audit signing keys are pinned (docs/audit.md): into a session file, never ~/.config."""
    if not os.environ.get("LIENTHONG_AUDIT_PINNED_KEYS_FILE"):
        pins = tmp_path_factory.mktemp("pins") / "audit-pinned-keys"
        os.environ["LIENTHONG_AUDIT_PINNED_KEYS_FILE"] = str(pins)
    yield


PG_ADMIN_URL = os.environ.get("LIENTHONG_TEST_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(_libpq(PG_ADMIN_URL), connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001
        return False


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def pg_database():
    """A throw-away PostgreSQL database for this test session (dropped at the end)."""
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not answering at {PG_ADMIN_URL}; .ci/run should have started it")
        pytest.skip("PostgreSQL is not answering at 127.0.0.1:5432")
    import psycopg

    name = f"lienthong_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _reset_pg(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
            )
        ]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    """A store URL on each backend, empty at the start of the test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url = request.getfixturevalue("pg_database")
    from lienthong.store import Store

    Store(url).dispose()  # migrate once, then empty every table
    _reset_pg(url)
    return url


@pytest.fixture()
def store(store_url):
    from lienthong.store import Store

    s = Store(store_url)
    yield s
    s.dispose()
