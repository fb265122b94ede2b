"""Fixtures of the delivery-guarantee tests: an edited copy of the mappings, worker processes, figures.

The figures each test measures (faults injected by kind, retries, repeats, duplicates, lost, run time)
are printed at the end of the session, so that a plain ``pytest tests/reliability`` shows them.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from lienthong.audit.keyring import ENV_KEYS, new_key_line
from lienthong.settings import PACKAGE_ROOT

MAPPINGS = PACKAGE_ROOT / "mappings"
BIN = Path(sys.executable).parent
LIENTHONG = BIN / "lienthong"


@pytest.fixture(autouse=True)
def shared_archive_keys(monkeypatch):
    """One archive key ring for the test process and every worker it starts (as in production)."""
    monkeypatch.setenv(ENV_KEYS, new_key_line())


#: nodeid → figures, filled by the ``figures`` fixture, printed by ``pytest_terminal_summary``.
FIGURES: dict[str, dict[str, Any]] = {}


def retry_budget(fault_rate: float, rows: int, requests_per_attempt: int = 2, risk: float = 1e-4) -> int:
    """Attempts per row so that no row dies of bad luck alone.

    An attempt fails when any of its requests meets a fault: ``q = 1 - (1 - p)^k`` (k = 2: a create
    answered "exists" is resent as an update in the same attempt).  A row dies after ``n`` failed
    attempts in a row, ``q^n``; over ``rows`` rows the chance that any dies is at most ``rows * q^n``,
    kept under ``risk``.  With p = 0.33 and 20,000 rows that is about 45 attempts.
    """
    q = 1.0 - (1.0 - fault_rate) ** requests_per_attempt
    return max(8, math.ceil(math.log(risk / rows) / math.log(q)))


def edited_mappings(
    dest: Path,
    *,
    read_timeout: float,
    attempts: int,
    base_delay: float = 0.05,
    max_delay: float = 0.4,
    max_in_call_wait: float = 0.5,
    breaker_open_seconds: float = 1.0,
    breaker_failures: int | None = None,
) -> Path:
    """A copy of ``mappings/`` whose portal target times out faster than the simulator stalls, has a
    retry budget no row spends by bad luck, and short backoff steps.

    ``max_in_call_wait`` below the simulators' ``Retry-After`` (1 s) makes every 429/503 release its
    rows as ``retry_scheduled`` (the across-calls horizon) while other faults are retried in the call.
    A circuit breaker, when the target file has one, keeps its threshold but reopens its gate after
    ``breaker_open_seconds``: at a 30 % fault rate a few runs of consecutive failures are expected.
    ``breaker_failures`` overrides the threshold (a large one keeps the breaker out of the way).
    """
    shutil.copytree(MAPPINGS, dest)
    path = dest / "targets" / "dvcqg.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["timeouts"] = {"connect": 2, "read": read_timeout}
    data["retry"] = {
        **(data.get("retry") or {}),
        "attempts": attempts,
        "in_call_attempts": 3,
        "base_delay": base_delay,
        "max_delay": max_delay,
        "max_elapsed": 10,
        "max_in_call_wait": max_in_call_wait,
    }
    if isinstance(data.get("breaker"), dict):
        data["breaker"] = {**data["breaker"], "open_seconds": breaker_open_seconds}
        if breaker_failures is not None:
            data["breaker"]["failures"] = breaker_failures
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return dest


@functools.cache
def cli_has_deliver() -> bool:
    """Whether this checkout's CLI has ``lienthong deliver`` (deliver only, no pull, no map)."""
    probe = subprocess.run([str(LIENTHONG), "deliver", "--help"], capture_output=True, text=True, timeout=60)
    return probe.returncode == 0


def deliver_command(route: str, *options: str) -> list[str]:
    """``lienthong deliver ROUTE --json ...``; where the CLI has no such command yet, the same through
    :mod:`tests.reliability.deliver_worker` (``Gateway.run(skip_extract=True)``)."""
    if cli_has_deliver():
        return [str(LIENTHONG), "deliver", route, "--json", *options]
    return [sys.executable, "-m", "tests.reliability.deliver_worker", route, "--json", *options]


def worker_env(
    store_url: str, mappings: Path, connections: dict[str, str], home: Path, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "LIENTHONG_"))}
    env.update(connections)
    # Processes sharing one store share its archive key ring (each would otherwise generate its own).
    env[ENV_KEYS] = os.environ[ENV_KEYS]
    env.update(
        {
            "LIENTHONG_DATABASE_URL": store_url,
            "LIENTHONG_MAPPINGS": str(mappings),
            "LIENTHONG_HOME": str(home),
            "PYTHONPATH": str(PACKAGE_ROOT),
            **extra,
        }
    )
    return env


def json_summary(stdout: str) -> dict[str, Any]:
    """The JSON summary a ``--json`` command printed (the last JSON object on its output)."""
    start = stdout.find("{")
    if start < 0:
        raise AssertionError(f"no JSON summary in the output: {stdout[-2000:]!r}")
    return json.loads(stdout[start:])


@pytest.fixture()
def figures(request):
    """Record this test's figures: ``figures(name=value, ...)``; printed at the end of the session."""
    recorded: dict[str, Any] = {}
    FIGURES[request.node.nodeid] = recorded

    def record(**values: Any) -> None:
        recorded.update(values)
        for name, value in values.items():
            request.node.user_properties.append((name, value))

    return record


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ANN001, ANN201
    measured = {name: values for name, values in FIGURES.items() if values}
    if not measured:
        return
    terminalreporter.section("delivery guarantees: figures measured")
    for name, values in measured.items():
        terminalreporter.write_line(name)
        for key, value in values.items():
            text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value
            terminalreporter.write_line(f"    {key}: {text}")


def drain(gateway, route: str, *, max_runs: int, wait_for_retries: float, concurrency: int = 4):  # noqa: ANN001, ANN201
    """Run ``route`` until a run succeeds and leaves nothing pending, in flight or scheduled.

    A run may fail with one of the gateway's own errors (the one-stop system unreachable after its
    retries, under injected faults): that is an outcome the next run must recover from, so it is
    recorded and the loop goes on.  Anything else (a bug) propagates.  Returns (summaries, failures).
    """
    from lienthong.errors import LienthongError
    from tests.reliability.checks import live_rows

    summaries, failures = [], []
    idle = 0
    for _ in range(max_runs):
        try:
            summary = gateway.run(route, wait_for_retries=wait_for_retries, concurrency=concurrency)
        except LienthongError as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            continue
        summaries.append(summary)
        if live_rows(gateway.store, route) == 0:
            break
        # Rows left that no run can take (e.g. progress behind a dead dossier): stop asking.
        idle = idle + 1 if summary.deliver.calls == 0 else 0
        if idle >= 3:
            break
    return summaries, failures


class Watchdog:
    """Turns a run that takes far too long into a prompt failure instead of a suite that hangs.

    When ``seconds`` pass, it ends the store's PostgreSQL sessions (a claim stuck in a bad plan
    returns at once, with an error) and stops the portal (every further send fails fast), so the
    run in progress ends; the test then fails naming the limit.  Nothing is done before the limit.
    """

    def __init__(self, seconds: float, store_url: str, stop_target=None) -> None:  # noqa: ANN001
        self.seconds = seconds
        self.store_url = store_url
        self.stop_target = stop_target
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        self.fired = True
        if self.stop_target is not None:
            self.stop_target()
        if self.store_url.startswith("postgresql"):
            import psycopg

            from tests.conftest import PG_ADMIN_URL, _libpq

            database = self.store_url.rsplit("/", 1)[1]
            with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (database,),
                )
