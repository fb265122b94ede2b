"""Benchmark: delivery speed-up of 4 worker processes over 1, on PostgreSQL, against a slow portal.

The question: do several ``lienthong`` delivery processes on one PostgreSQL store really share the
work (``SELECT … FOR UPDATE SKIP LOCKED`` claims under a lease), so that a target that answers slowly
is served N times faster by N workers?  Issue 4 aims at ≥ 3× for 4 workers.

Set-up, measured side by side in one run:

- the one-stop and portal simulators each run in **their own process** (``python -m simulators.motcua``
  / ``simulators.dvcqg``); the portal gets ``--latency-ms`` (default 50 ms) on every request;
- a throw-away PostgreSQL database (``LIENTHONG_TEST_PG_URL``'s server, default
  ``root@127.0.0.1:5432``), dropped at the end (or ``--database-url``, left as it is);
- the dossier route is **pulled and mapped once** (``Gateway.run(deliver=False)``); before each
  measurement the outbox is put back to ``pending`` (attempts, leases, answers cleared), the breaker
  state is cleared and the portal is reset, so every measurement delivers the same rows to an empty portal;
- a **worker is one process with one delivery thread** (``--concurrency 1``): ``lienthong deliver
  dossier_sync`` where the CLI has it, else this file's ``--worker`` mode, which calls the engine's
  ``Gateway.run(skip_extract=True)`` the same way;
- the time is the **delivery window**: from the first worker's run start to the last one's end, read from
  the store's ``runs`` table (interpreter start-up excluded); the wall time including start-up is shown too;
- every measurement is checked: all outbox rows acknowledged once, the portal holding every dossier
  with one write and no repeat, nothing refused.

    .venv/bin/python -m bench.bench_workers [--dossiers 2000] [--latency-ms 50] [--workers 1,4] [--repeat 1]

``--analyze`` runs ``ANALYZE`` after the mapping, as autovacuum would some time later (it is off on
some test servers).  Without statistics PostgreSQL plans the claim query blind: on a freshly mapped
10,000-row outbox one dossier claim took ~0.2 s instead of ~8 ms after ``ANALYZE``; at the default
2,000 dossiers the difference is small (measured 3.70x without, 3.76x with).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


from bench.sim_processes import connection_env, start_simulator  # noqa: E402

ROUTE = "dossier_sync"
PG_ADMIN_URL = os.environ.get("LIENTHONG_TEST_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
LIENTHONG = Path(sys.executable).parent / "lienthong"


# --- the store ------------------------------------------------------------------------------------------
def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def create_database() -> tuple[str, str]:
    import psycopg

    name = f"lienthong_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}", name


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reset_outbox(store: Any) -> None:
    """Every row of the route back to ``pending`` as if never sent; the targets' breaker state cleared."""
    from sqlalchemy import inspect, text

    with store.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE outbox SET state = 'pending', attempts = 0, lease_owner = NULL, lease_expires_at = NULL, "
                "next_attempt_at = NULL, last_error = NULL, response = NULL, acknowledged_at = NULL "
                "WHERE route = :route AND state <> 'superseded'"
            ),
            {"route": ROUTE},
        )
        if "target_state" in inspect(conn).get_table_names():
            conn.execute(text("DELETE FROM target_state"))


def outbox_state(store: Any) -> tuple[dict[str, int], int]:
    from sqlalchemy import text

    with store.engine.begin() as conn:
        states = dict(
            conn.execute(
                text("SELECT state, count(*) FROM outbox WHERE route = :r GROUP BY state"), {"r": ROUTE}
            ).all()
        )
        attempts = conn.execute(
            text("SELECT coalesce(sum(attempts), 0) FROM outbox WHERE route = :r"), {"r": ROUTE}
        ).scalar_one()
    return states, int(attempts)


def delivery_window(store: Any, after_run_id: int) -> tuple[float, int]:
    """Seconds from the first run start to the last run end among runs after ``after_run_id``."""
    from sqlalchemy import text

    with store.engine.begin() as conn:
        first, last, count = conn.execute(
            text("SELECT min(started_at), max(finished_at), count(*) FROM runs WHERE id > :i"),
            {"i": after_run_id},
        ).one()
    return (last - first).total_seconds(), int(count)


def last_run_id(store: Any) -> int:
    from sqlalchemy import text

    with store.engine.begin() as conn:
        return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM runs")).scalar_one())


# --- the workers ----------------------------------------------------------------------------------------
def cli_has_deliver() -> bool:
    probe = subprocess.run([str(LIENTHONG), "deliver", "--help"], capture_output=True, text=True)
    return probe.returncode == 0


def worker_command(use_cli: bool) -> list[str]:
    options = ["--json", "--concurrency", "1", "--wait-for-retries", "5"]
    if use_cli:
        return [str(LIENTHONG), "deliver", ROUTE, *options]
    return [sys.executable, str(Path(__file__).resolve()), "--worker", *options]


def run_workers(count: int, command: list[str], env: dict[str, str], logs: Path) -> tuple[float, list[dict]]:
    processes = []
    started = time.perf_counter()
    for i in range(count):
        with open(logs / f"w{count}-{i}.out", "w") as out, open(logs / f"w{count}-{i}.err", "w") as err:
            processes.append(subprocess.Popen(command, env=env, stdout=out, stderr=err, cwd=ROOT))
    codes = [p.wait(timeout=3600) for p in processes]
    wall = time.perf_counter() - started
    for i, code in enumerate(codes):
        if code != 0:
            raise RuntimeError(
                f"worker {i} exited {code}: {(logs / f'w{count}-{i}.err').read_text()[-2000:]}"
            )
    summaries = []
    for i in range(count):
        text = (logs / f"w{count}-{i}.out").read_text()
        summaries.append(json.loads(text[text.index("{") :]))
    return wall, summaries


def worker_main(args: argparse.Namespace) -> int:
    """``--worker``: one delivery process, as ``lienthong deliver`` would be (settings from the environment)."""
    from lienthong.pipeline.runner import Gateway

    summary = Gateway().run(
        ROUTE, skip_extract=True, concurrency=args.concurrency, wait_for_retries=args.wait_for_retries
    )
    print(json.dumps(summary.to_dict(), ensure_ascii=False, default=str))
    return 0 if not summary.checks() else 3


# --- the benchmark --------------------------------------------------------------------------------------
def measure(args: argparse.Namespace) -> int:
    from lienthong.pipeline.runner import Gateway
    from lienthong.settings import Settings
    from lienthong.store import Store

    own_database = None
    url = args.database_url
    if url is None:
        url, own_database = create_database()
    motcua = start_simulator(
        "simulators.motcua", "--total-dossiers", str(args.dossiers), "--mess-rate", "0", "--seed", "4242"
    )
    dvcqg = start_simulator("simulators.dvcqg")
    store = None
    try:
        connections = connection_env(motcua, dvcqg)
        os.environ.update(connections)
        mappings = Path(args.mappings).resolve()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")},
            **connections,
            "LIENTHONG_DATABASE_URL": url,
            "LIENTHONG_MAPPINGS": str(mappings),
            "PYTHONPATH": str(ROOT),
        }
        store = Store(url)
        with tempfile.TemporaryDirectory() as home:
            env["LIENTHONG_HOME"] = home
            began = time.perf_counter()
            staged = Gateway(Settings(Path(home), url, mappings), store).run(ROUTE, deliver=False)
            print(
                f"staged and mapped {staged.transform.mapped:,} dossiers into "
                f"{staged.transform.rows_created:,} outbox rows in {time.perf_counter() - began:.1f} s"
            )
            if args.analyze:
                from sqlalchemy import text

                with store.engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
                print("ANALYZE run after mapping (--analyze)")
            use_cli = cli_has_deliver()
            command = worker_command(use_cli)
            print(
                f"worker = one process with one delivery thread (--concurrency 1): "
                f"{'lienthong deliver' if use_cli else 'bench_workers.py --worker (no `lienthong deliver` in this CLI)'}"
            )
            print(
                f"portal latency {args.latency_ms:g} ms per request, PostgreSQL store, simulators in subprocesses"
            )
            print(
                f"{'workers':>7} {'rows':>6} {'window s':>9} {'rows/s':>8} {'dossiers/s':>11} "
                f"{'wall s':>7} {'rows per worker'}"
            )
            results: dict[int, list[float]] = {}
            logs = Path(home) / "logs"
            logs.mkdir()
            for _ in range(args.repeat):
                for workers in args.workers:
                    reset_outbox(store)
                    dvcqg.post("/_sim/reset")
                    dvcqg.post("/_sim/faults", {"latency_ms": args.latency_ms})
                    before = last_run_id(store)
                    wall, summaries = run_workers(workers, command, env, logs)
                    window, runs = delivery_window(store, before)
                    states, attempts = outbox_state(store)
                    rows = sum(states.values())
                    portal = dvcqg.received()
                    totals = portal["totals"]
                    problems = []
                    if states.get("acknowledged", 0) != rows - states.get("superseded", 0):
                        problems.append(f"outbox not all acknowledged: {states}")
                    if attempts != states.get("acknowledged", 0):
                        problems.append(f"{attempts} attempts for {states.get('acknowledged', 0)} rows")
                    if (
                        totals["dossiers"] != staged.transform.mapped
                        or totals["dossier_writes"] != totals["dossiers"]
                    ):
                        problems.append(
                            f"portal: {totals['dossiers']} dossiers, {totals['dossier_writes']} writes"
                        )
                    if totals["dossier_repeats"] or totals["progress_repeats"] or portal["rejected"]:
                        problems.append(f"portal repeats/refusals: {portal['rejected']}")
                    if problems:
                        raise RuntimeError("; ".join(problems))
                    per_worker = [s["deliveries"].get("acknowledged", 0) for s in summaries]
                    results.setdefault(workers, []).append(rows / window)
                    print(
                        f"{workers:>7} {rows:>6,} {window:>9.2f} {rows / window:>8.1f} "
                        f"{totals['dossiers'] / window:>11.1f} {wall:>7.2f} {per_worker}"
                    )
            base = min(args.workers)
            best = {n: max(v) for n, v in results.items()}
            for workers in args.workers:
                if workers != base:
                    print(
                        f"speed-up of {workers} workers over {base}: {best[workers] / best[base]:.2f}x "
                        f"(best of {args.repeat}; aim for 4 over 1: >= 3x)"
                    )
    finally:
        if store is not None:
            store.dispose()
        dvcqg.stop()
        motcua.stop()
        if own_database:
            drop_database(own_database)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--workers", type=lambda s: [int(n) for n in s.split(",")], default=[1, 4])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--database-url", help="an existing PostgreSQL store (default: a throw-away database)"
    )
    parser.add_argument("--mappings", default=str(ROOT / "mappings"))
    parser.add_argument("--analyze", action="store_true", help="ANALYZE the store after mapping")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--wait-for-retries", type=float, default=5.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker_main(args)
    return measure(args)


if __name__ == "__main__":
    sys.exit(main())
