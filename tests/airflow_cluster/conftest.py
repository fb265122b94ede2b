"""The ``cluster`` tier: a real Airflow CeleryExecutor deployment (api-server, scheduler, dag-processor,
triggerer, two Celery workers, the simulators) started by :mod:`lienthong.airflow.cluster` against the
machine's PostgreSQL and Redis, in databases, ports and a Celery queue of its own, and stopped (with
its databases dropped) even when a test fails.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lienthong.settings import PACKAGE_ROOT
from tests.logscan import add_log_file

PG_URL = os.environ.get("LIENTHONG_CLUSTER_PG_URL", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("LIENTHONG_CLUSTER_REDIS_URL", "redis://127.0.0.1:6379/8")
DOSSIERS = 1000
BATCH_SIZE = 100


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_port_run(length: int) -> int:
    """A base port with ``length`` consecutive free ports (the log servers of triggerer and workers)."""
    for _ in range(50):
        base = random.randint(20000, 40000)
        if not any(_answers("127.0.0.1", p) for p in range(base, base + length)):
            return base
    raise RuntimeError("no run of free ports found")


def route_copy(tmp_path, batch_size: int = BATCH_SIZE):
    """The repository's mappings with dossier_sync unscheduled (only the test's own run) and deliver
    batches of ``batch_size`` rows, so that 1,000 dossiers make enough batches to spread."""
    mappings = tmp_path / "mappings"
    shutil.copytree(PACKAGE_ROOT / "mappings", mappings)
    route = mappings / "dossier_sync.yaml"
    text = route.read_text(encoding="utf-8")
    text, found = re.subn(r"(?m)^schedule:.*$", "schedule: null", text)
    assert found == 1, "dossier_sync.yaml has no top-level schedule line"
    if re.search(r"(?m)^airflow:", text):  # the route's own block: set (or add) its batch_size
        text, found = re.subn(r"(?m)^(  batch_size:)\s*\d+", rf"\g<1> {batch_size}", text)
        if not found:
            text = re.sub(r"(?m)^airflow:.*$", f"airflow:\n  batch_size: {batch_size}", text, count=1)
    else:
        text += f"\nairflow:\n  batch_size: {batch_size}\n"
    route.write_text(text, encoding="utf-8")
    from lienthong.airflow.settings import read_route

    assert read_route(route).batch_size == batch_size and read_route(route).schedule is None
    return mappings


def require_services() -> None:
    missing = [
        name for name, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not _answers("127.0.0.1", port)
    ]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(
                f"{' and '.join(missing)} not answering on 127.0.0.1; .ci/run should have started them"
            )
        pytest.skip(f"{' and '.join(missing)} not answering on 127.0.0.1")


@pytest.fixture(scope="module")
def airflow_cluster(tmp_path_factory):
    from lienthong.airflow.cluster import Cluster, ClusterConfig

    require_services()
    tmp = tmp_path_factory.mktemp("cluster")
    tag = f"t{os.getpid()}"
    api, motcua, dvcqg, bhxh = free_ports(4)
    config = ClusterConfig(
        run_dir=tmp / "run",
        name=f"lienthong_{tag}",
        api_port=api,
        sim_ports=(motcua, dvcqg, bhxh),
        worker_log_ports=free_port_run(4) + 1,
        pg_url=PG_URL,
        airflow_db=f"lienthong_airflow_{tag}",
        store_db=f"lienthong_store_{tag}",
        redis_url=REDIS_URL,
        workers=2,
        dossiers=DOSSIERS,
        mappings=route_copy(tmp),
    )
    cluster = Cluster(config)
    cluster.drop_databases()
    # The operator's settings the cluster must pass through to every component: an alert webhook
    # (a receiver in this process), a real archive key ring in a mounted-secret file, SMTP settings.
    from lienthong.audit.keyring import new_key_line

    receiver = WebhookReceiver()
    keys = tmp / "secrets" / "archive.keys"
    keys.parent.mkdir()
    keys.write_text(new_key_line() + "\n", encoding="ascii")
    keys.chmod(0o600)
    operator = {
        "AIRFLOW_CONN_LIENTHONG_ALERTS": json.dumps({"conn_type": "http", "host": receiver.url}),
        "LIENTHONG_ARCHIVE_KEYS_FILE": str(keys),
        "AIRFLOW__SMTP__SMTP_HOST": "127.0.0.1",
        "AIRFLOW__SMTP__SMTP_PORT": str(free_ports(1)[0]),
        "AIRFLOW__SMTP__SMTP_MAIL_FROM": "lienthong-test@example.invalid",
    }
    cluster.operator_environment = operator  # the tests read what was given
    cluster.webhook = receiver
    try:
        cluster.up(wait=240, out=lambda line: None, environ={**os.environ, **operator})
        yield cluster
    finally:
        receiver.close()
        cluster.down()
        cluster.drop_databases()
        # The components' and the tasks' logs join the session's scan for personal data and secrets.
        for path in (tmp / "run" / "logs").rglob("*"):
            if path.is_file():
                add_log_file(path)


class WebhookReceiver:
    """A local alert webhook: keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        received: list[dict] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    received.append(json.loads(self.rfile.read(length) or b"{}"))
                except ValueError:
                    received.append({"unparsable": True})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
