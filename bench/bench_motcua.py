"""Benchmark: dossiers per second served by the motcua search, as a keyset-paging client sees them.

Run: ``.venv/bin/python bench/bench_motcua.py [--dossiers 20000] [--total 1000000]``.

The simulator runs in a **subprocess** (``python -m simulators.motcua --port 0``), not in this
process: both sides are CPU-bound Python, and in one process they would share one GIL, so the
figure would measure the client's JSON parsing plus the server's generation on a single core.  In a
subprocess the two use the machine's two cores, as a gateway and a real one-stop system would.

The client is what the gateway does: one keep-alive ``requests.Session``, a bearer token, keyset
paging (next ``updated-from`` = the last ``updatedDate`` seen, page 0, skipping ids already seen at
that instant), each page parsed as JSON.  It starts in the middle of a 1,000,000-dossier range, so the
figure includes the index-range arithmetic at scale.  Pages of 100 and of 500 are measured side by
side in one run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulators.motcua import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, TOKEN_PATH  # noqa: E402


def start_simulator(total: int) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable, "-m", "simulators.motcua", "--port", "0", "--total-dossiers", str(total), "--mess-rate", "0.03",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if "listening on " not in line:
        process.kill()
        raise RuntimeError(f"the simulator did not start: {line!r}")
    return process, line.split("listening on ", 1)[1]


def keyset_pull(url: str, session: requests.Session, start: str, dossiers: int, size: int) -> tuple[int, float, int]:
    """Pull at least ``dossiers`` new dossiers; return (dossiers, seconds, requests)."""
    token = session.post(
        url + TOKEN_PATH,
        data={"grant_type": "client_credentials", "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET},
        timeout=10,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    cursor, at_cursor = start, set()
    got = calls = 0
    began = time.perf_counter()
    while got < dossiers:
        page = session.get(
            url + "/pa/dossier/search",
            params={"page": 0, "size": size, "sort": "updatedDate,asc", "updated-from": cursor},
            headers=headers,
            timeout=30,
        ).json()
        calls += 1
        fresh = [d for d in page["content"] if not (d["updatedDate"] == cursor and d["id"] in at_cursor)]
        if not fresh:
            break
        got += len(fresh)
        last = fresh[-1]["updatedDate"]
        at_cursor = {d["id"] for d in fresh if d["updatedDate"] == last} | (at_cursor if last == cursor else set())
        cursor = last
    return got, time.perf_counter() - began, calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=20_000)
    parser.add_argument("--total", type=int, default=1_000_000)
    args = parser.parse_args()
    process, url = start_simulator(args.total)
    try:
        with requests.Session() as session:
            keyset_pull(url, session, "2025-03-01T00:00:00.000+0700", 1000, 100)  # warm up
            print(f"motcua search, keyset paging, {args.dossiers:,} dossiers of {args.total:,}, server in a subprocess")
            print(f"{'page size':>10} {'dossiers':>10} {'requests':>9} {'seconds':>8} {'dossiers/s':>11}")
            for size, start in ((100, "2025-05-01T00:00:00.000+0700"), (500, "2025-08-01T00:00:00.000+0700")):
                got, seconds, calls = keyset_pull(url, session, start, args.dossiers, size)
                print(f"{size:>10} {got:>10,} {calls:>9} {seconds:>8.2f} {got / seconds:>11,.0f}")
    finally:
        process.terminate()
        process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
