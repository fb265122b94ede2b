"""End-to-end dossier sync (motcua → gateway → national portal) against a bare ``requests`` client.

The question: what does the gateway's delivery machinery (outbox claims under a lease, the target's
breaker, the REST target's template and per-item answers, outcome rows written back) cost next to
the least a client must do to put the same dossiers on the portal?  The issue's aim: the gateway's
deliver phase at ≥ 0.8 of the bare client's throughput.

Both simulators run in **subprocesses** (``python -m simulators.motcua`` / ``simulators.dvcqg``) so the
gateway does not share a GIL with them.  On 2 cores the portal simulator still takes about one core,
so the client side has the other one: the figures are for that machine shape.

1. **Full run** (``--full-runs``, at least one): ``Gateway(settings).run("dossier_sync", concurrency=N)``
   on a fresh SQLite store and a reset portal; pull, map and deliver are timed through the run's
   progress hook.  When the first run's deliver phase starts, the store is copied (SQLite backup API,
   not counted in the times): that mapped, undelivered store is the start of every deliver run below.
2. **Deliver phase**, gateway vs. baseline, ``--repeat`` runs each, alternating, on a reset portal:
   - gateway: a copy of that store and a ``Deliverer`` built as ``Gateway.run`` builds one (N threads,
     the route's two operations in order, the dvcqg ``RestTarget`` with its pooled session);
   - baseline: the **same payloads** (``SELECT payload FROM outbox WHERE operation=? ORDER BY id``),
     parsed and wrapped in their request bodies before the clock starts, posted after one login by N
     threads sharing one ``requests.Session`` whose adapter pool has the target file's ``pool_size``,
     in the **same calls**: DongBoHoSoMC 20 dossiers per call, then CapNhatTienDoHoSoMC rows packed
     up to 10 progress items per call as ``outbox.claim`` packs them (whole rows, oldest first).
   Both sides cover the whole route (dossiers, then their progress records, which the portal takes
   only once the dossier exists).  Every run is checked: all outbox rows acknowledged / every item
   answered ``0``, and the portal holding every dossier and progress record, nothing rejected.
   Throughput is dossiers per second; CPU seconds of the client process and of the portal simulator
   are shown too, as they say more than wall time on a busy machine.

    .venv/bin/python -m bench.bench_e2e [--dossiers 20000] [--concurrency 4] [--repeat 3] [--full-runs 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from requests.adapters import HTTPAdapter  # noqa: E402

from bench.sim_processes import (  # noqa: E402
    DSTCODE,
    MADONVI,
    Simulator,
    point_gateway_at,
    start_simulator,
)

ROUTE, TARGET = "dossier_sync", "dvcqg"
DOSSIER_OP, PROGRESS_OP = "DongBoHoSoMC", "CapNhatTienDoHoSoMC"
OPERATIONS = (DOSSIER_OP, PROGRESS_OP)


@dataclass
class Measure:
    seconds: dict[str, float]  # per operation, or per phase
    client_cpu: float
    portal_cpu: float

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


class Meter:
    """Wall time, this process's CPU time and the portal simulator's CPU time over a block."""

    def __init__(self, portal: Simulator) -> None:
        self.portal = portal

    def __enter__(self) -> Meter:
        self.cpu, self.portal_cpu = time.process_time(), self.portal.cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu = time.process_time() - self.cpu
        self.portal_cpu = self.portal.cpu() - self.portal_cpu


# --- the gateway ------------------------------------------------------------------------------------------
def gateway(db: Path) -> Any:
    from lienthong.pipeline.runner import Gateway
    from lienthong.settings import Settings
    from lienthong.store.db import Store

    url = f"sqlite:///{db}"
    return Gateway(Settings(data_dir=db.parent, database_url=url, mappings_dir=ROOT / "mappings"), Store(url))


class PhaseClock:
    """The run's progress hook: notes when each phase starts; at "deliver", copies the mapped store."""

    def __init__(self, db: Path, snapshot: Path | None) -> None:
        self.db, self.snapshot = db, snapshot
        self.marks: list[tuple[str, float]] = []
        self.paused = 0.0  # seconds spent copying, taken out of the times

    def phase(self, name: str, total: int | None) -> None:
        started = time.perf_counter()
        if name == "deliver" and self.snapshot is not None:
            with sqlite3.connect(self.db) as source, sqlite3.connect(self.snapshot) as copy:
                source.backup(copy)
            self.paused = time.perf_counter() - started
        self.marks.append((name, started))

    def advance(self, amount: int, total: int | None = None) -> None:
        pass

    def durations(self, end: float) -> dict[str, float]:
        ends = [t for _, t in self.marks[1:]] + [end]
        spans = {name: stop - start for (name, start), stop in zip(self.marks, ends, strict=True)}
        if "deliver" in spans:
            spans["deliver"] -= self.paused
        return spans


def full_run(
    workdir: Path, dvcqg: Simulator, concurrency: int, dossiers: int, snapshot: Path | None
) -> Measure:
    dvcqg.reset()
    db = workdir / "full.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    gw = gateway(db)
    clock = PhaseClock(db, snapshot)
    with Meter(dvcqg) as meter:
        summary = gw.run(ROUTE, concurrency=concurrency, progress=clock, wait_for_retries=0)
        ended = time.perf_counter()
    gw.store.dispose()
    acknowledged = summary.deliver.outcomes.get("acknowledged", 0)
    problems = summary.checks()
    if (
        summary.extract.pulled != dossiers
        or summary.transform.quarantined
        or acknowledged != summary.transform.rows_created
    ):
        problems.append(
            f"records {summary.to_dict()['records']}, deliveries {dict(summary.deliver.outcomes)}"
        )
    if problems:
        raise RuntimeError(f"the full run does not add up: {problems}")
    return Measure(clock.durations(ended), meter.cpu, meter.portal_cpu)


def gateway_deliver(template: Path, workdir: Path, dvcqg: Simulator, concurrency: int) -> Measure:
    """The deliver phase of ``Gateway.run`` alone, on a copy of the mapped store."""
    from connectors.targets import open_target
    from lienthong.pipeline.deliver import Deliverer
    from lienthong.store import outbox

    db = workdir / "deliver.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, db)
    gw = gateway(db)
    dvcqg.reset()
    target = open_target(TARGET, ROOT / "mappings")
    deliverer = Deliverer(gw.store, {TARGET: target}, route=ROUTE, concurrency=concurrency)
    seconds: dict[str, float] = {}
    try:
        with Meter(dvcqg) as meter:
            for operation in OPERATIONS:
                started = time.perf_counter()
                deliverer.run([(TARGET, operation)])
                seconds[operation] = time.perf_counter() - started
    finally:
        target.close()
    counts = outbox.state_counts(gw.store, route=ROUTE)
    gw.store.dispose()
    if sum(counts.values()) != counts["acknowledged"]:
        raise RuntimeError(f"gateway: rows left unacknowledged: {counts}")
    return Measure(seconds, meter.cpu, meter.portal_cpu)


# --- the baseline: a bare requests client ------------------------------------------------------------------
@dataclass
class Workload:
    """The gateway's calls, pre-rendered: ``calls[operation]`` is a list of item lists."""

    calls: dict[str, list[list[Any]]] = field(default_factory=dict)

    def items(self, operation: str) -> int:
        return sum(len(call) for call in self.calls[operation])


def workload_from_outbox(db: Path, batch_sizes: dict[str, int]) -> Workload:
    """The outbox payloads in id order, grouped into calls the way ``outbox.claim`` groups rows.
    Payloads are sealed at rest: opened with the key ring the gateway run loaded in this process."""
    from lienthong.audit.sealing import open_text

    work = Workload()
    with sqlite3.connect(db) as connection:
        for operation in OPERATIONS:
            rows = connection.execute(
                "SELECT payload, item_count FROM outbox WHERE operation = ? ORDER BY id", (operation,)
            ).fetchall()
            calls: list[list[Any]] = []
            items: list[Any] = []
            for payload, count in rows:
                if items and len(items) + count > batch_sizes[operation]:
                    calls.append(items)
                    items = []
                data = json.loads(open_text(payload))
                items.extend(data if operation == PROGRESS_OP else [data])
            if items:
                calls.append(items)
            work.calls[operation] = calls
    return work


def baseline_deliver(work: Workload, dvcqg: Simulator, concurrency: int, pool_size: int) -> Measure:
    """Log in once, then post the workload with N threads over one pooled keep-alive session."""
    from simulators.cluster import DVCQG_PASSWORD, DVCQG_USERNAME

    dvcqg.reset()
    failures: list[str] = []
    seconds: dict[str, float] = {}
    with requests.Session() as session, Meter(dvcqg) as meter:
        session.mount("http://", HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0))
        started = time.perf_counter()
        token = session.post(
            dvcqg.url + "/api/login",
            json={"username": DVCQG_USERNAME, "password": DVCQG_PASSWORD},
            headers={"dstcode": DSTCODE},
            timeout=(5, 30),
        ).json()["session"]
        for operation in OPERATIONS:
            extra = {"isUpdating": "False"} if operation == DOSSIER_OP else {}
            bodies = iter(
                [
                    {"session": token, "madonvi": MADONVI, "service": operation, "data": items, **extra}
                    for items in work.calls[operation]
                ]
            )
            lock = threading.Lock()

            def post(bodies: Any = bodies, lock: threading.Lock = lock) -> None:
                while True:
                    with lock:
                        body = next(bodies, None)
                    if body is None:
                        return
                    answer = session.post(dvcqg.url + "/api/service", json=body, timeout=(5, 30)).json()
                    refused = [r for r in answer.get("result") or [] if str(r.get("error_code")) != "0"]
                    if str(answer.get("error_code")) != "0" or refused:
                        failures.append(f"{body['service']}: {answer.get('message')}")

            workers = [threading.Thread(target=post) for _ in range(concurrency)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            now = time.perf_counter()
            seconds[operation], started = now - started, now
    if failures:
        raise RuntimeError(f"baseline: {len(failures)} calls refused, first: {failures[0]}")
    return Measure(seconds, meter.cpu, meter.portal_cpu)


# --- the run -----------------------------------------------------------------------------------------------
def check_portal(dvcqg: Simulator, work: Workload, who: str) -> None:
    totals = dvcqg.totals()
    expected = {
        "dossiers": work.items(DOSSIER_OP),
        "progress_records": work.items(PROGRESS_OP),
        "rejected": 0,
    }
    found = {name: totals.get(name) for name in expected}
    if found != expected:
        raise RuntimeError(f"{who}: the portal holds {found}, expected {expected}")


def engine_revision() -> str:
    """The commit measured, and whether engine files differ from it (read-only git commands)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "lienthong", "connectors", "mappings"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' + uncommitted engine changes' if dirty else ''}" if head else "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=4, help="delivery threads (the CLI's default: 4)")
    parser.add_argument("--repeat", type=int, default=3, help="deliver-phase runs of each side, alternating")
    parser.add_argument(
        "--full-runs", type=int, default=1, help="full runs (pull + map + deliver), at least 1"
    )
    args = parser.parse_args(argv)
    args.full_runs = max(1, args.full_runs)

    from connectors.targets import load_spec

    spec = load_spec(TARGET, ROOT / "mappings")
    batch_sizes = {op: spec.operation(op).batch_size for op in OPERATIONS}
    began = time.perf_counter()
    motcua = start_simulator("simulators.motcua", "--total-dossiers", str(args.dossiers), "--mess-rate", "0")
    dvcqg = start_simulator("simulators.dvcqg")
    workdir = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    try:
        point_gateway_at(motcua, dvcqg)
        print(
            f"dossier_sync, {args.dossiers:,} dossiers, concurrency {args.concurrency}, pool {spec.pool_size}, "
            f"batches {batch_sizes}, engine {engine_revision()}, simulators in subprocesses",
            flush=True,
        )
        template = workdir / "mapped.db"
        fulls: list[Measure] = []
        for rep in range(args.full_runs):
            fulls.append(
                full_run(workdir, dvcqg, args.concurrency, args.dossiers, template if rep == 0 else None)
            )
            if rep == 0:
                work = workload_from_outbox(template, batch_sizes)
            check_portal(dvcqg, work, "full run")
            phases = ", ".join(f"{name} {s:.1f} s" for name, s in fulls[-1].seconds.items())
            print(f"  full run #{rep + 1}: {phases}, total {fulls[-1].total:.1f} s", flush=True)
        print(
            f"  workload: {work.items(DOSSIER_OP):,} dossiers in {len(work.calls[DOSSIER_OP]):,} calls, "
            f"{work.items(PROGRESS_OP):,} progress items in {len(work.calls[PROGRESS_OP]):,} calls",
            flush=True,
        )

        runs: dict[str, list[Measure]] = {"gateway": [], "baseline": []}
        for rep in range(args.repeat):
            for side in ("gateway", "baseline") if rep % 2 == 0 else ("baseline", "gateway"):
                if side == "gateway":
                    measure = gateway_deliver(template, workdir, dvcqg, args.concurrency)
                else:
                    measure = baseline_deliver(work, dvcqg, args.concurrency, spec.pool_size)
                check_portal(dvcqg, work, side)
                runs[side].append(measure)
                detail = ", ".join(f"{op} {s:.2f} s" for op, s in measure.seconds.items())
                print(
                    f"  deliver {side:<8} #{rep + 1}: {measure.total:7.2f} s ({detail}; "
                    f"client CPU {measure.client_cpu:.1f} s, portal CPU {measure.portal_cpu:.1f} s)",
                    flush=True,
                )
        print_table(args, work, runs, fulls)
        print(f"(benchmark took {time.perf_counter() - began:.0f} s)")
    finally:
        motcua.stop()
        dvcqg.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def print_table(
    args: argparse.Namespace, work: Workload, runs: dict[str, list[Measure]], fulls: list[Measure]
) -> None:
    n = work.items(DOSSIER_OP)
    med = statistics.median
    print(
        f"\ndeliver phase, medians of {args.repeat} alternating runs, {n:,} dossiers, concurrency {args.concurrency}"
    )
    print(f"{'':<32}{'gateway':>12}{'baseline':>12}{'gw/base':>10}")
    rows: list[tuple[str, Any, bool]] = [
        (f"{DOSSIER_OP} s", lambda m: m.seconds[DOSSIER_OP], False),
        (f"{PROGRESS_OP} s", lambda m: m.seconds[PROGRESS_OP], False),
        ("deliver phase s", lambda m: m.total, False),
        (f"{DOSSIER_OP} dossiers/s", lambda m: n / m.seconds[DOSSIER_OP], True),
        ("deliver phase dossiers/s", lambda m: n / m.total, True),
        ("client CPU s", lambda m: m.client_cpu, False),
        ("portal simulator CPU s", lambda m: m.portal_cpu, False),
    ]
    ratio = 0.0
    for label, pick, is_rate in rows:
        g, b = med([pick(m) for m in runs["gateway"]]), med([pick(m) for m in runs["baseline"]])
        shown = f"{g / b:>9.2f}x" if is_rate else ""
        fmt = ",.0f" if is_rate else ".2f"
        print(f"{label:<32}{g:>12{fmt}}{b:>12{fmt}}{shown:>10}")
        if label == "deliver phase dossiers/s":
            ratio = g / b
    print(f"\nfull run (Gateway.run: pull + map + deliver), median of {len(fulls)}")
    for name in fulls[0].seconds:
        seconds = med([f.seconds[name] for f in fulls])
        print(f"  {name:<10}{seconds:>9.2f} s{n / seconds:>10,.0f} dossiers/s")
    total = med([f.total for f in fulls])
    print(
        f"  {'total':<10}{total:>9.2f} s{n / total:>10,.0f} dossiers/s  (client CPU {med([f.client_cpu for f in fulls]):.1f} s)"
    )
    verdict = "meets" if ratio >= 0.8 else "misses"
    print(f"\ndeliver phase throughput, gateway / bare requests client = {ratio:.2f} ({verdict} the 0.8 aim)")


if __name__ == "__main__":
    sys.exit(main())
