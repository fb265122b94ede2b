"""The one-stop and portal simulators in their own processes, driven through their ``/_sim/`` API.

Why subprocesses: the gateway and the simulators are both CPU-bound Python.  In one process they share
one GIL, so a 10,000-dossier run under faults would use one of the machine's two cores; in separate
processes the portal validates and stores while the gateway maps and claims.  A test that only needs a
target to talk to (the crash and concurrency tests, whose workers are subprocesses anyway) may use
either.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any

import requests

from lienthong.connections import connection_json
from lienthong.settings import PACKAGE_ROOT
from simulators.cluster import DVCQG_PASSWORD, DVCQG_USERNAME, MOTCUA_CLIENT_ID, MOTCUA_CLIENT_SECRET


class SimProcess:
    """``python -m simulators.<name> --port 0 ...``; its URL is read from its "listening on" line."""

    def __init__(self, module: str, *args: str) -> None:
        command = [sys.executable, "-m", module, "--port", "0", *args]
        env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
        self.module = module
        self.process = subprocess.Popen(
            command, cwd=PACKAGE_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert self.process.stdout is not None
        self.url = ""
        for line in self.process.stdout:
            if "listening on " in line:
                self.url = line.strip().split("listening on ", 1)[1].split()[0]
                break
        if not self.url:
            raise RuntimeError(f"{module} exited before listening (code {self.process.wait()})")
        # Keep reading its output (log lines) so that a full pipe never blocks the server.
        stream = self.process.stdout
        threading.Thread(target=lambda: [None for _ in stream], name=f"drain-{module}", daemon=True).start()

    # --- the control API ---------------------------------------------------------------------------
    def get(self, path: str, **params: Any) -> Any:
        answer = requests.get(self.url + path, params=params, timeout=120)
        answer.raise_for_status()
        return answer.json()

    def post(self, path: str, data: dict[str, Any] | None = None) -> Any:
        answer = requests.post(self.url + path, json=data or {}, timeout=60)
        answer.raise_for_status()
        return answer.json()

    def faults(self, **config: Any) -> dict[str, Any]:
        """Replace the fault settings (``POST /_sim/faults``); returns the snapshot."""
        return self.post("/_sim/faults", config)

    def fault_counts(self) -> dict[str, int]:
        return dict(self.get("/_sim/faults")["injected"])

    def configure(self, **settings: Any) -> dict[str, Any]:
        return self.post("/_sim/config", settings)

    def received(self, **params: Any) -> dict[str, Any]:
        return self.get("/_sim/received", **params)

    def reset(self) -> None:
        self.post("/_sim/reset")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class SimPair:
    """The one-stop system and the national portal, each in its own process."""

    def __init__(self, total: int, seed: int, *, portal_seed: int | None = None) -> None:
        self.motcua = SimProcess(
            "simulators.motcua", "--total-dossiers", str(total), "--mess-rate", "0", "--seed", str(seed)
        )
        try:
            self.dvcqg = SimProcess(
                "simulators.dvcqg", *(["--seed", str(portal_seed)] if portal_seed else [])
            )
        except Exception:
            self.motcua.stop()
            raise

    def connection_env(self) -> dict[str, str]:
        """The ``AIRFLOW_CONN_*`` variables of ``SimulatorCluster.connection_env()`` for these URLs."""
        return {
            "AIRFLOW_CONN_MOTCUA": connection_json(self.motcua.url, MOTCUA_CLIENT_ID, MOTCUA_CLIENT_SECRET),
            "AIRFLOW_CONN_DVCQG": connection_json(
                self.dvcqg.url, DVCQG_USERNAME, DVCQG_PASSWORD, dstcode="83", madonvi="000.00.00.H07"
            ),
        }

    def stop(self) -> None:
        self.dvcqg.stop()
        self.motcua.stop()
