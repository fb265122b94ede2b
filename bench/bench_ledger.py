"""End-to-end sync with the audit ledger + payload archive + sealing on vs. off, side by side.

The question (issue #5): what do the hash-chained ledger (an entry per pull, mapping verdict,
attempt and outcome), the archive of payloads and answers, and the encryption at rest of staged
bodies, payloads and answers cost a full run?  Aim: throughput with audit on ≥ 0.9 × off.

Both simulators run in subprocesses (as in ``bench_e2e``).  Each repetition runs
``Gateway.run("dossier_sync")`` twice on fresh SQLite stores against a reset portal — once with the
audit on (the default), once with it off (``store.audit_config.enabled = False``, what
``LIENTHONG_AUDIT=off`` does) — alternating which goes first.  Every run must deliver every dossier
(all outbox rows acknowledged); the audited one must verify.

    .venv/bin/python -m bench.bench_ledger [--dossiers 2000] [--repeat 3] [--concurrency 4] [--postgres URL]

``--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test`` runs every contender on a fresh
PostgreSQL database of that server instead (created and dropped by the bench).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_e2e import gateway  # noqa: E402
from bench.sim_processes import point_gateway_at, start_simulator  # noqa: E402


@contextmanager
def fresh_postgres(admin_url: str):  # noqa: ANN201
    """A new, empty database on the server of ``admin_url``; dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"bench_ledger_{os.getpid()}_{time.monotonic_ns()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pg_gateway(rundir: Path, url: str):  # noqa: ANN201
    from lienthong.pipeline.runner import Gateway
    from lienthong.settings import Settings
    from lienthong.store.db import Store

    return Gateway(Settings(data_dir=rundir, database_url=url, mappings_dir=ROOT / "mappings"), Store(url))


def one_run(
    workdir: Path,
    audit_on: bool,
    concurrency: int,
    portal,
    postgres: str | None = None,  # noqa: ANN001
) -> tuple[float, int, int]:
    """(seconds, dossiers acknowledged, ledger entries) of one full run on a fresh store."""
    rundir = workdir / f"{'on' if audit_on else 'off'}-{time.monotonic_ns()}"  # its own keys, checkpoints
    rundir.mkdir()
    if postgres is None:
        return _run(gateway(rundir / "store.db"), audit_on, concurrency, portal)
    with fresh_postgres(postgres) as url:
        return _run(pg_gateway(rundir, url), audit_on, concurrency, portal)


def _run(gw, audit_on: bool, concurrency: int, portal) -> tuple[float, int, int]:  # noqa: ANN001
    from sqlalchemy import func, select

    from lienthong.audit import verify_ledger
    from lienthong.store.models import LedgerEntry

    portal.reset()
    gw.store.audit_config.enabled = audit_on
    started = time.perf_counter()
    summary = gw.run("dossier_sync", concurrency=concurrency, wait_for_retries=0)
    seconds = time.perf_counter() - started
    if summary.checks() or summary.backlog.get("pending") or summary.backlog.get("dead"):
        raise SystemExit(f"run did not deliver everything: {summary.to_dict()['route_backlog']}")
    with gw.store.session() as session:
        entries = session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
    if audit_on:
        result = verify_ledger(gw.store)
        if not result.ok:
            raise SystemExit(f"the audited run's ledger does not verify: {result.problem}")
    gw.store.dispose()
    return seconds, summary.transform.mapped, entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dossiers", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--postgres", metavar="URL", help="run on fresh databases of this PostgreSQL server")
    args = parser.parse_args(argv)
    motcua = start_simulator("simulators.motcua", "--total-dossiers", str(args.dossiers), "--mess-rate", "0")
    dvcqg = start_simulator("simulators.dvcqg")
    try:
        point_gateway_at(motcua, dvcqg)
        times: dict[bool, list[float]] = {True: [], False: []}
        with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
            workdir = Path(tmp)
            one_run(workdir, True, args.concurrency, dvcqg, args.postgres)  # warm-up (imports, keys)
            for rep in range(args.repeat):
                for audit_on in (True, False) if rep % 2 == 0 else (False, True):
                    seconds, mapped, entries = one_run(
                        workdir, audit_on, args.concurrency, dvcqg, args.postgres
                    )
                    times[audit_on].append(seconds)
                    print(
                        f"  rep {rep + 1} audit {'on ' if audit_on else 'off'}: {seconds:6.2f} s, "
                        f"{mapped / seconds:7.1f} dossiers/s, {entries} ledger entries"
                    )
        on, off = statistics.median(times[True]), statistics.median(times[False])
        print(
            f"\n{args.dossiers} dossiers on {'PostgreSQL' if args.postgres else 'SQLite'}, "
            f"concurrency {args.concurrency}, median of {args.repeat}: "
            f"audit off {args.dossiers / off:.1f} dossiers/s, on {args.dossiers / on:.1f} dossiers/s; "
            f"ratio on/off = {off / on:.3f} (aim >= 0.9)"
        )
    finally:
        motcua.stop()
        dvcqg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
