"""Run the portal simulator on its own: ``python -m simulators.dvcqg --port 8082``."""

from __future__ import annotations

import argparse
import logging
import time

from simulators.dvcqg.app import DvcqgApp
from simulators.server import RunningSimulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="National Public Service Portal (DVCQG) simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument(
        "--session-lifetime", type=float, default=1800.0, help="seconds a login session lasts"
    )
    parser.add_argument(
        "--internal-error-rate", type=float, default=0.0, help='share of calls answered "-500"'
    )
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = DvcqgApp(
        session_lifetime=args.session_lifetime, internal_error_rate=args.internal_error_rate, seed=args.seed
    )
    with RunningSimulator(app, args.host, args.port) as running:
        logging.getLogger(__name__).info("dvcqg simulator listening on %s", running.url)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
