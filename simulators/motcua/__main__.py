"""Run the motcua simulator on its own: ``python -m simulators.motcua --port 8081 --total-dossiers 1000000``.

Prints one line ``motcua listening on http://HOST:PORT`` (flushed) once the port is bound, so a parent
process that asked for port 0 can read the URL; then serves until interrupted.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from simulators.motcua.app import MotcuaApp
from simulators.motcua.settings import MotcuaSettings
from simulators.server import RunningSimulator


def main(argv: list[str] | None = None) -> int:
    defaults = MotcuaSettings()
    parser = argparse.ArgumentParser(prog="python -m simulators.motcua", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--total-dossiers", type=int, default=defaults.total_dossiers)
    parser.add_argument("--mess-rate", type=float, default=defaults.mess_rate)
    parser.add_argument("--churn-rate", type=float, default=defaults.churn_rate)
    parser.add_argument("--birth-share", type=float, default=defaults.birth_share)
    parser.add_argument("--token-lifetime", type=float, default=defaults.token_lifetime)
    parser.add_argument("--max-page-size", type=int, default=defaults.max_page_size)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = MotcuaApp(
        seed=args.seed, total_dossiers=args.total_dossiers, mess_rate=args.mess_rate, churn_rate=args.churn_rate,
        birth_share=args.birth_share, token_lifetime=args.token_lifetime, max_page_size=args.max_page_size,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with RunningSimulator(app, args.host, args.port) as running:
        print(f"motcua listening on {running.url}", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
