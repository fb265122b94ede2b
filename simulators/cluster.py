"""The three simulators together: what ``lienthong simulators``, the demo and the test fixtures start.

``connection_env()`` gives the ``AIRFLOW_CONN_*`` variables that point the gateway at them, with the
simulators' demo credentials (simulator-only values, never a real system's).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Any

from simulators.bhxh import BhxhSimulator
from simulators.bhxh.app import DEFAULT_PASSWORD as BHXH_PASSWORD
from simulators.bhxh.app import DEFAULT_USERNAME as BHXH_USERNAME
from simulators.dvcqg import DvcqgApp
from simulators.faults import FaultConfig
from simulators.motcua import MotcuaApp
from simulators.server import RunningSimulator

DVCQG_USERNAME = "lienthong-demo"
DVCQG_PASSWORD = "demo-secret-dvcqg"
MOTCUA_CLIENT_ID = "lienthong-demo"
MOTCUA_CLIENT_SECRET = "demo-secret-motcua"


class PortUnavailable(OSError):
    """A simulator could not listen: which one, on which host and port, and why, in one line."""

    def __init__(self, name: str, host: str, port: int, cause: OSError) -> None:
        self.name, self.host, self.port = name, host, port
        reason = "already in use" if cause.errno == errno.EADDRINUSE else (cause.strerror or str(cause))
        super().__init__(
            cause.errno,
            f"the {name} simulator cannot listen on {host}:{port}: {reason} "
            f"(stop what holds it, or choose another port with --{name}-port)",
        )

    def __str__(self) -> str:
        return str(self.strerror)


@dataclass
class SimulatorCluster:
    host: str = "127.0.0.1"
    ports: tuple[int, int, int] = (0, 0, 0)  # motcua, dvcqg, bhxh
    motcua_settings: dict[str, Any] = field(default_factory=dict)
    dvcqg_settings: dict[str, Any] = field(default_factory=dict)
    bhxh_settings: dict[str, Any] = field(default_factory=dict)
    faults: FaultConfig | None = None

    def __post_init__(self) -> None:
        bound: list[RunningSimulator] = []
        apps = (
            ("motcua", lambda: MotcuaApp(**self.motcua_settings)),
            ("dvcqg", lambda: DvcqgApp(**self.dvcqg_settings)),
            ("bhxh", lambda: BhxhSimulator(**self.bhxh_settings)),
        )
        for (name, make), port in zip(apps, self.ports, strict=True):
            try:
                bound.append(RunningSimulator(make(), self.host, port))
            except OSError as exc:
                for sim in bound:  # release the ports already taken before saying which one failed
                    sim.httpd.server_close()
                raise PortUnavailable(name, self.host, port, exc) from exc
        self.motcua, self.dvcqg, self.bhxh = bound
        if self.faults is not None:
            for sim in self.all():
                sim.app.faults.configure(self.faults)

    def all(self) -> list[RunningSimulator]:
        return [self.motcua, self.dvcqg, self.bhxh]

    def start(self) -> SimulatorCluster:
        for sim in self.all():
            sim.start()
        return self

    def stop(self) -> None:
        for sim in self.all():
            sim.stop()

    def __enter__(self) -> SimulatorCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def connection_env(self) -> dict[str, str]:
        from lienthong.connections import connection_json

        return {
            "AIRFLOW_CONN_MOTCUA": connection_json(self.motcua.url, MOTCUA_CLIENT_ID, MOTCUA_CLIENT_SECRET),
            "AIRFLOW_CONN_DVCQG": connection_json(
                self.dvcqg.url, DVCQG_USERNAME, DVCQG_PASSWORD, dstcode="83", madonvi="000.00.00.H07"
            ),
            "AIRFLOW_CONN_BHXH": connection_json(self.bhxh.url, BHXH_USERNAME, BHXH_PASSWORD),
        }
