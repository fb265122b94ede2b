"""The simulators as separate processes, for benchmarks: the client under test must not share a
process (and a GIL) with the server it measures against."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
DSTCODE, MADONVI = "83", "000.00.00.H07"  # what SimulatorCluster.connection_env() gives the portal


@dataclass
class Simulator:
    process: subprocess.Popen[str]
    url: str

    def post(self, path: str, data: dict[str, Any] | None = None) -> Any:
        answer = requests.post(self.url + path, json=data or {}, timeout=60)
        answer.raise_for_status()
        return answer.json()

    def reset(self) -> None:
        self.post("/_sim/reset")

    def received(self) -> dict[str, Any]:
        return requests.get(self.url + "/_sim/received", params={"summary": 1}, timeout=60).json()

    def totals(self) -> dict[str, Any]:
        return self.received()["totals"]

    def cpu(self) -> float:
        import psutil

        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_simulator(module: str, *args: str) -> Simulator:
    """``python -m module --port 0 …``; the URL comes from its "listening on URL" line (motcua prints it,
    dvcqg logs it to stderr: both streams are read, then drained so a full pipe never blocks it)."""
    command = [sys.executable, "-m", module, "--port", "0", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "listening on " in line:
            url = line.strip().split("listening on ", 1)[1].split()[0]
            break
    else:
        raise RuntimeError(f"{module} exited before listening (code {process.wait()})")
    stream = process.stdout
    threading.Thread(target=lambda: [None for _ in stream], name=f"drain-{module}", daemon=True).start()
    return Simulator(process, url)


def connection_env(motcua: Simulator, dvcqg: Simulator) -> dict[str, str]:
    """The ``AIRFLOW_CONN_*`` variables of ``SimulatorCluster.connection_env()``, for these two URLs."""
    from lienthong.connections import connection_json
    from simulators.cluster import DVCQG_PASSWORD, DVCQG_USERNAME, MOTCUA_CLIENT_ID, MOTCUA_CLIENT_SECRET

    return {
        "AIRFLOW_CONN_MOTCUA": connection_json(motcua.url, MOTCUA_CLIENT_ID, MOTCUA_CLIENT_SECRET),
        "AIRFLOW_CONN_DVCQG": connection_json(
            dvcqg.url, DVCQG_USERNAME, DVCQG_PASSWORD, dstcode=DSTCODE, madonvi=MADONVI
        ),
    }


def point_gateway_at(motcua: Simulator, dvcqg: Simulator) -> None:
    os.environ.update(connection_env(motcua, dvcqg))
