"""Airflow tier: a throw-away Airflow home (SQLite metadata DB, migrated once per session) whose DAG
folder is the repository's ``dags/``; the simulators on loopback; a SQLite store per test.

Airflow reads ``AIRFLOW_HOME`` and its database URL when it is first imported, so they are set here at
collection time, before any test imports Airflow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lienthong.settings import PACKAGE_ROOT

DAGS_FOLDER = PACKAGE_ROOT / "dags"
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="lienthong-airflow-home-"))
AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
}
os.environ.update(AIRFLOW_ENV)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """``airflow db migrate`` once per session, in the temporary home."""
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run(
        [str(airflow), "db", "migrate"],
        env={**os.environ, **AIRFLOW_ENV},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return AIRFLOW_HOME


def pytest_configure(config):
    config.addinivalue_line("markers", "motcua(**settings): settings of the one-stop simulator for this test")


@pytest.fixture()
def cluster(request):
    from tests.integration.conftest import make_cluster

    marker = request.node.get_closest_marker("motcua")
    with make_cluster(**(marker.kwargs if marker else {})) as running:
        yield running


@pytest.fixture()
def mappings(tmp_path) -> Path:
    """A private copy of mappings/ that a test may edit; the DAGs and the tasks read it."""
    import shutil

    copy = tmp_path / "mappings"
    shutil.copytree(PACKAGE_ROOT / "mappings", copy)
    return copy


@pytest.fixture()
def route_env(cluster, tmp_path, monkeypatch) -> dict[str, str]:
    """What a deployment exports for the tasks: the connections (the simulators) and the store."""
    env = {**cluster.connection_env(), "LIENTHONG_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LIENTHONG_MAPPINGS", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_LIENTHONG_ALERTS", raising=False)
    return env


@pytest.fixture()
def webhook(monkeypatch):
    """A loopback webhook collecting alert bodies, wired as the ``lienthong_alerts`` connection."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append({"body": json.loads(body), "authorization": self.headers.get("Authorization")})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_LIENTHONG_ALERTS",
        json.dumps(
            {"conn_type": "http", "host": url, "schema": "hooks/alerts", "password": "webhook-token-x"}
        ),
    )
    yield received
    server.shutdown()
    server.server_close()
