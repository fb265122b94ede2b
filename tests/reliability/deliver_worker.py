"""A delivery-only worker process, for checkouts whose CLI has no ``lienthong deliver`` yet.

``python -m tests.reliability.deliver_worker ROUTE --json [--concurrency N] [--wait-for-retries S]``
does what ``lienthong deliver`` is for: no pull (another process staged and mapped), deliver what the
outbox holds, print the run's summary as JSON.  It goes through the engine's own entry point,
``Gateway.run(skip_extract=True)``, with the settings read from the environment as the CLI reads them
(``LIENTHONG_DATABASE_URL``, ``LIENTHONG_MAPPINGS``, ``AIRFLOW_CONN_*``), so the tests exercise the
engine and not a copy of it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from lienthong.masking import install_log_masking
from lienthong.pipeline.runner import Gateway


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("route")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON (always on)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--wait-for-retries", type=float, default=30.0)
    parser.add_argument("--no-progress", action="store_true", help="accepted for CLI compatibility")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_masking()
    summary = Gateway().run(
        args.route, skip_extract=True, concurrency=args.concurrency, wait_for_retries=args.wait_for_retries
    )
    print(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2, default=str))
    return 0 if not summary.checks() else 3


if __name__ == "__main__":
    sys.exit(main())
