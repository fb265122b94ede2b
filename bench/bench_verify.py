"""How long ``lienthong audit verify`` takes on a large ledger (aim: 1,000,000 entries < 60 s).

Builds N entries with the ledger's own encoding (``lienthong.audit.canonical``) on a fast bulk path
(hashes computed here, rows inserted with ``executemany`` in large batches: not how the engine
appends, only a quick way to a big chain), signs a checkpoint of the head, then times
``verify_ledger`` (streamed rows, hashlib, no ORM objects).  The default store is a fresh SQLite
file; ``--database-url`` takes an empty PostgreSQL database instead.

    .venv/bin/python -m bench.bench_verify [--entries 1000000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

INSERT = (
    "INSERT INTO audit_ledger (seq, at, event, route, record_key, target, operation, mapping_version, actor, "
    "outcome, detail, prev_hash, hash) VALUES ({})"
)


def build(store, entries: int, batch: int = 50_000) -> float:  # noqa: ANN001
    from lienthong.audit import canonical
    from lienthong.clock import utcnow

    started = time.perf_counter()
    marker = "%s" if store.is_postgres else "?"
    statement = INSERT.format(", ".join([marker] * 13))
    base = utcnow() - timedelta(days=30)
    prev = canonical.GENESIS
    events = ("pulled", "mapped", "attempt", "acknowledged")
    seq = 0
    while seq < entries:
        rows = []
        for _ in range(min(batch, entries - seq)):
            seq += 1
            at = base + timedelta(microseconds=seq * 1000)
            event = events[seq % 4]
            detail = canonical.detail_text(
                {"row_id": seq // 4, "request_digest": f"sha256:{seq:064x}", "calls": 1, "millis": 12.5}
            )
            values = (
                seq,
                canonical.format_at(at),
                event,
                "dossier_sync",
                f"000.00.29.H07-250319-{seq // 4:07d}",
                "dvcqg",
                "DongBoHoSoMC",
                "sha256:3f1c0d",
                "worker:1234",
                event,
                detail,
            )
            digest = canonical.entry_hash(prev, values)
            rows.append((*values[:1], at, *values[2:], prev, digest))
            prev = digest
        raw = store.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.executemany(statement, rows)
            raw.commit()
        finally:
            raw.close()
    with store.engine.begin() as connection:
        from sqlalchemy import text

        connection.execute(
            text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"), {"s": seq, "h": prev}
        )
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    from lienthong.audit import verify_ledger
    from lienthong.audit.checkpoints import make_checkpoint
    from lienthong.audit.config import attach
    from lienthong.settings import Settings
    from lienthong.store.db import Store

    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'ledger.db'}"
        store = Store(url)
        attach(store, Settings(data_dir=Path(tmp), database_url=url, mappings_dir=ROOT / "mappings"))
        built = build(store, args.entries)
        make_checkpoint(store, store.audit_config)
        print(f"built {args.entries:,} entries on {store.backend} in {built:.1f} s (bulk path)")
        started = time.perf_counter()
        result = verify_ledger(store)
        seconds = time.perf_counter() - started
        print(
            f"verify: {'intact' if result.ok else 'BROKEN: ' + str(result.problem)}, {result.entries:,} entries, "
            f"{result.checkpoints} checkpoint(s), {seconds:.1f} s ({result.entries / seconds:,.0f} entries/s; "
            "aim: 1,000,000 in < 60 s)"
        )
        store.dispose()
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
