"""Every run outcome through the real command line: ``lienthong`` processes against the simulators.

Target down → ``failed`` (exit 4, the host:port named); breaker open after a good call → ``partial``
(exit 5); SIGINT → ``interrupted`` (exit 130, run closed, no row left in flight); SIGKILL →
``abandoned``, closed by the next process that opens the store; a wrong agency code → ``failed`` as a
configuration fault, rows pending (not dead), delivered by the next run after the fix.  ``--json``
prints exactly one JSON document in each case.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from lienthong.audit.keyring import ENV_KEYS, new_key_line
from lienthong.connections import connection_json
from lienthong.settings import PACKAGE_ROOT
from lienthong.store import Store
from lienthong.store.models import OutboxRow, Run
from simulators.cluster import DVCQG_PASSWORD, DVCQG_USERNAME
from tests.integration.conftest import received

LIENTHONG = Path(sys.executable).with_name("lienthong")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def env(cluster, tmp_path):
    return {
        **os.environ,
        **cluster.connection_env(),
        ENV_KEYS: new_key_line(),
        "LIENTHONG_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "LIENTHONG_MAPPINGS": str(PACKAGE_ROOT / "mappings"),
        "LIENTHONG_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(PACKAGE_ROOT),
    }


def lienthong(env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LIENTHONG), *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=PACKAGE_ROOT
    )


def one_json(done: subprocess.CompletedProcess) -> dict:
    """stdout is exactly one JSON document (json.loads refuses anything after it)."""
    return json.loads(done.stdout)


def store_of(env: dict[str, str]) -> Store:
    return Store(env["LIENTHONG_DATABASE_URL"])


def outbox_states(env: dict[str, str]) -> dict[str, int]:
    store = store_of(env)
    try:
        with store.session() as session:
            return dict(
                session.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state)).all()
            )
    finally:
        store.dispose()


def runs(env: dict[str, str]) -> list[Run]:
    store = store_of(env)
    try:
        with store.session() as session:
            return list(session.execute(select(Run).order_by(Run.id)).scalars())
    finally:
        store.dispose()


def portal_calls(cluster) -> int:
    return sum(received(cluster.dvcqg, summary=1)["totals"]["calls"].values())


def test_a_portal_on_a_closed_port_fails_the_run_naming_host_and_port(cluster, env):
    port = closed_port()
    env["AIRFLOW_CONN_DVCQG"] = connection_json(
        f"http://127.0.0.1:{port}", DVCQG_USERNAME, DVCQG_PASSWORD, dstcode="83", madonvi="000.00.00.H07"
    )
    text = lienthong(env, "run", "catalogue_sync", "--wait-for-retries", "0", "--no-progress")
    assert text.returncode == 4, text.stdout + text.stderr
    assert f"http://127.0.0.1:{port}" in text.stdout and "unreachable" in text.stdout
    assert "failed" in text.stdout.splitlines()[0] and "Traceback" not in text.stderr
    assert DVCQG_PASSWORD not in text.stdout + text.stderr

    # Again, as JSON: the breaker the first run opened now refuses every call: still failed, not green.
    done = lienthong(env, "run", "catalogue_sync", "--json", "--wait-for-retries", "0")
    summary = one_json(done)
    assert done.returncode == summary["exit_code"] == 4
    assert summary["status"] == "failed"
    (finding,) = [f for f in summary["findings"] if f["target"] == "dvcqg"]
    assert finding["endpoint"] == f"http://127.0.0.1:{port}" and finding["left"] > 0
    assert "no successful call" in finding["reason"]
    states = outbox_states(env)
    assert states.get("acknowledged", 0) == 0 and states.get("dead", 0) == 0
    assert sum(states.values()) == finding["left"]  # every row waits: nothing lost, nothing dead
    assert [r.status for r in runs(env)] == ["failed", "failed"]


def test_a_breaker_that_opens_after_good_calls_makes_the_run_partial(cluster, env):
    requests.post(
        f"{cluster.dvcqg.url}/_sim/faults",
        json={
            "script": ["none"],
            "rate": 1.0,
            "kinds": ["http_503"],
            "paths": ["/api/service"],
            "retry_after": 0,
        },
        timeout=5,
    ).raise_for_status()
    done = lienthong(env, "run", "dossier_sync", "--json", "--concurrency", "1", "--wait-for-retries", "0")
    summary = one_json(done)
    assert done.returncode == summary["exit_code"] == 5, summary.get("findings")
    assert summary["status"] == "partial"
    assert summary["targets"]["dvcqg"]["answered"] >= 1 and summary["outbox_rows"]["acknowledged"] >= 1
    (finding,) = summary["findings"]
    assert finding["target"] == "dvcqg" and "breaker open" in finding["reason"] and finding["left"] > 0
    assert finding["endpoint"] == "http://" + cluster.dvcqg.url.split("://", 1)[1]
    assert summary["rates"]["records_per_second"] > 0


def _start_slow_run(cluster, env) -> subprocess.Popen:
    """A dossier run the portal answers slowly (0.4 s a call), so that it is still delivering when a
    signal comes."""
    requests.post(
        f"{cluster.dvcqg.url}/_sim/faults", json={"latency_ms": 400, "paths": ["/api/service"]}, timeout=5
    ).raise_for_status()
    process = subprocess.Popen(
        [str(LIENTHONG), "run", "dossier_sync", "--json", "--concurrency", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PACKAGE_ROOT,
    )
    deadline = time.monotonic() + 120
    while portal_calls(cluster) < 2:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never reached the portal"
        time.sleep(0.1)
    return process


def test_sigint_closes_the_run_as_interrupted_and_hands_back_its_rows(cluster, env):
    process = _start_slow_run(cluster, env)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    summary = json.loads(stdout)
    assert summary["status"] == "interrupted" and summary["exit_code"] == 130
    assert "SIGINT" in summary["error"]
    (run,) = runs(env)
    assert run.status == "interrupted" and run.finished_at is not None
    states = outbox_states(env)
    assert states.get("in_flight", 0) == 0 and states.get("pending", 0) > 0

    # The next run takes up what was left and ends green.
    requests.post(f"{cluster.dvcqg.url}/_sim/faults", json={"latency_ms": 0}, timeout=5).raise_for_status()
    done = lienthong(env, "run", "dossier_sync", "--json")
    assert done.returncode == 0 and one_json(done)["status"] == "succeeded"
    assert len(received(cluster.dvcqg)["dossiers"]) == 300


def test_sigterm_is_an_interrupt_too(cluster, env):
    process = _start_slow_run(cluster, env)
    process.send_signal(signal.SIGTERM)
    stdout, _ = process.communicate(timeout=120)
    assert process.returncode == 130
    assert json.loads(stdout)["status"] == "interrupted" and "SIGTERM" in json.loads(stdout)["error"]
    assert [r.status for r in runs(env)] == ["interrupted"]


def test_a_killed_run_is_closed_as_abandoned_by_the_next_process(cluster, env):
    process = _start_slow_run(cluster, env)
    process.kill()
    process.communicate(timeout=30)
    (run,) = runs(env)
    assert run.status == "running" and run.owner.endswith(f":{process.pid}:")

    status = lienthong(env, "status", "--json")  # any process that opens the store
    assert status.returncode == 0, status.stderr[-2000:]
    (run,) = runs(env)
    assert run.status == "abandoned" and run.finished_at is not None and str(process.pid) in run.error
    last = {r["route"]: r for r in json.loads(status.stdout)["routes"]}["dossier_sync"]["last_run"]
    assert last["status"] == "abandoned"


def test_a_wrong_agency_code_fails_the_run_as_a_configuration_fault_and_loses_nothing(cluster, env):
    good = env["AIRFLOW_CONN_DVCQG"]
    env["AIRFLOW_CONN_DVCQG"] = connection_json(
        cluster.dvcqg.url, DVCQG_USERNAME, DVCQG_PASSWORD, dstcode="83", madonvi="000.00.99.H99"
    )
    done = lienthong(env, "run", "dossier_sync", "--json", "--wait-for-retries", "0")
    summary = one_json(done)
    assert done.returncode == 4 and summary["status"] == "failed"
    (fault,) = summary["config_faults"]
    (finding,) = summary["findings"]
    assert "madonvi" in fault and "configuration fault" in finding["reason"]
    assert "check the configuration" in finding["message"] and finding["left"] >= 300
    states = outbox_states(env)
    assert states.get("dead", 0) == 0 and states.get("acknowledged", 0) == 0 and states["pending"] > 0
    assert received(cluster.dvcqg)["dossiers"] == {}

    env["AIRFLOW_CONN_DVCQG"] = good  # fixed: the next run delivers them, no replay
    done = lienthong(env, "run", "dossier_sync", "--json")
    assert done.returncode == 0, done.stdout[-3000:]
    assert one_json(done)["status"] == "succeeded"
    assert len(received(cluster.dvcqg)["dossiers"]) == 300
    assert set(outbox_states(env)) == {"acknowledged"}


def test_json_is_one_document_even_for_a_configuration_error(env):
    done = lienthong(env, "run", "no_such_route", "--json")
    assert done.returncode == 2
    document = one_json(done)
    assert document["status"] == "configuration_error" and "no_such_route" in document["error"]


@pytest.mark.motcua(mess_rate=0.6, total=120)
def test_a_resumed_run_explains_why_it_mapped_more_than_it_pulled_and_says_what_it_leaves_out(gateway):
    from rich.console import Console

    from lienthong.cli.output import print_summary

    route = gateway.route("dossier_sync")
    staged = gateway.pull(route, route.compile(), gateway._start_run("dossier_sync", "run", "t")).staged
    assert staged == 120  # pulled and staged by a run that stopped before mapping

    summary = gateway.run("dossier_sync", wait_for_retries=0)
    data = summary.to_dict()
    assert data["records"]["pulled"] == 0 and data["carried_over"] == 120 and summary.checks() == []
    quarantined = data["records"]["quarantined"]
    assert quarantined > 5
    console = Console(record=True, width=200)
    print_summary(console, summary)
    text = console.export_text()
    assert "120 of the record versions mapped were staged by an earlier run" in text
    assert f"and {quarantined - 5} more" in text
    assert "records/s pulled" in text and data["rates"]["mapped_per_second"] > 0
