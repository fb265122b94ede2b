"""The distributed deployment (CeleryExecutor) started natively on one machine: the docker/ topology
without a Docker engine, for development, the ``cluster`` test tier and the cluster benchmark.

Components: api-server, scheduler, dag-processor, triggerer, N named Celery workers and the three
simulators, against the machine's PostgreSQL (Airflow metadata and the gateway store, each in its own
database, created if missing; Celery results too) and Redis (the Celery broker). Every process is
started in its own session, its pid and start time are written under ``<run_dir>/pids``, its output
under ``<run_dir>/logs``; ``down`` stops exactly those sessions (a pid reused by another program is
recognised by its start time and left alone).

Settings that docker-compose shares come from ``docker/airflow.env`` (one source of truth); host
names, ports, paths and secrets are set here. Secrets are generated once per run directory and kept
in files readable by the owner only; nothing secret is printed.

``python -m lienthong.airflow.cluster up|down|status`` (or ``scripts/airflow-cluster.sh``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lienthong.airflow.cluster_api import AirflowRest
from lienthong.airflow.cluster_procs import reap, session_members, signal_session, start_time, write_private
from lienthong.settings import PACKAGE_ROOT

ENV_FILE = PACKAGE_ROOT / "docker" / "airflow.env"
#: What the native cluster sets itself (hosts, ports, paths, secrets): docker-compose.yml sets the same
#: keys for its containers; a test checks that the two name the same ones.
DEPLOYMENT_KEYS = (
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__PLUGINS_FOLDER",
    "LIENTHONG_DATABASE_URL",
    "LIENTHONG_MAPPINGS",
    "LIENTHONG_HOME",
    "AIRFLOW_CONN_MOTCUA",
    "AIRFLOW_CONN_DVCQG",
    "AIRFLOW_CONN_BHXH",
)
#: The Airflow components, in start order (workers follow); docker-compose.yml has one service each.
AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the native workers: two workers on one machine share its
    hostname, so each reports its own name (task instances' ``hostname`` shows who ran them)."""
    return os.environ.get("LIENTHONG_WORKER_HOSTNAME") or socket.getfqdn()


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """``KEY=VALUE`` lines as docker-compose's ``env_file`` reads them (no quotes, ``#`` comments)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


@dataclass(frozen=True)
class ClusterConfig:
    run_dir: Path = Path(".lienthong/cluster")
    name: str = "lienthong"  # the Celery queue and worker node suffix: clusters sharing a Redis stay apart
    host: str = "127.0.0.1"
    api_port: int = 8280
    sim_ports: tuple[int, int, int] = (8281, 8282, 8283)  # motcua, dvcqg, bhxh
    worker_log_ports: int = 8293  # worker i serves its logs on this + i; the triggerer on this - 1
    pg_url: str = "postgresql://postgres@127.0.0.1:5432"
    airflow_db: str = "lienthong_airflow"
    store_db: str = "lienthong_store"
    redis_url: str = "redis://127.0.0.1:6379/7"
    workers: int = 2
    worker_concurrency: int | None = None  # None: docker/airflow.env's value
    dossiers: int = 2000
    seed: int = 20250101
    #: False: no simulators; the operator's AIRFLOW_CONN_MOTCUA/DVCQG/BHXH reach the components.
    simulators: bool = True
    mess_rate: float = 0.0
    dags_folder: Path = PACKAGE_ROOT / "dags"
    plugins_folder: Path = PACKAGE_ROOT / "plugins"
    mappings: Path = PACKAGE_ROOT / "mappings"
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> ClusterConfig:
        """Defaults, then ``LIENTHONG_CLUSTER_*`` variables, then keyword overrides."""
        env = dict(os.environ if env is None else env)
        base = cls()
        values: dict[str, Any] = {}
        getters = {
            "RUN_DIR": ("run_dir", Path),
            "NAME": ("name", str),
            "API_PORT": ("api_port", int),
            "PG_URL": ("pg_url", str),
            "AIRFLOW_DB": ("airflow_db", str),
            "STORE_DB": ("store_db", str),
            "REDIS_URL": ("redis_url", str),
            "WORKERS": ("workers", int),
            "DOSSIERS": ("dossiers", int),
        }
        for suffix, (name, kind) in getters.items():
            if f"LIENTHONG_CLUSTER_{suffix}" in env:
                values[name] = kind(env[f"LIENTHONG_CLUSTER_{suffix}"])
        if "LIENTHONG_CLUSTER_SIMULATORS" in env:
            values["simulators"] = env["LIENTHONG_CLUSTER_SIMULATORS"].strip().lower() not in (
                "0",
                "false",
                "no",
            )
        if "LIENTHONG_CLUSTER_SIM_PORTS" in env:
            values["sim_ports"] = tuple(int(p) for p in env["LIENTHONG_CLUSTER_SIM_PORTS"].split(","))
        return replace(base, **{**values, **overrides})

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    def database_url(self, name: str, driver: str = "postgresql") -> str:
        return f"{self.pg_url.replace('postgresql://', driver + '://', 1)}/{name}"


@dataclass(frozen=True)
class Component:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # on top of the cluster's environment


class Cluster:
    """Start, watch and stop the native cluster described by a :class:`ClusterConfig`."""

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.run_dir = config.run_dir.resolve()
        self.home = self.run_dir / "airflow_home"
        self.logs = self.run_dir / "logs"
        self.pids = self.run_dir / "pids"
        self.password_file = self.run_dir / "admin-password.json"
        names = [c.name for c in self.components()]
        self.rest = AirflowRest(config.api_url, self.admin_password, lambda: self.tail(names))

    # --- environment ----------------------------------------------------------------------------
    def _secrets(self) -> dict[str, str]:
        """Generated once per run directory (owner-only file); the admin password sits in the file
        SimpleAuthManager reads, so Airflow never generates and prints one."""
        path = self.run_dir / "secrets.json"
        if not path.exists():
            from cryptography.fernet import Fernet

            values = {
                "jwt_secret": secrets.token_urlsafe(64),  # HS512 wants ≥ 64 bytes
                "api_secret_key": secrets.token_urlsafe(32),
                "fernet_key": Fernet.generate_key().decode(),
            }
            write_private(path, json.dumps(values))
        if not self.password_file.exists():
            write_private(self.password_file, json.dumps({"admin": secrets.token_urlsafe(18)}))
        return json.loads(path.read_text())

    def admin_password(self) -> str:
        return json.loads(self.password_file.read_text())["admin"]

    def environment(self) -> dict[str, str]:
        """The variables every component gets: docker/airflow.env + this deployment's own."""
        from lienthong.connections import connection_json
        from simulators.cluster import (
            BHXH_PASSWORD,
            BHXH_USERNAME,
            DVCQG_PASSWORD,
            DVCQG_USERNAME,
            MOTCUA_CLIENT_ID,
            MOTCUA_CLIENT_SECRET,
        )

        c, keys = self.config, self._secrets()
        motcua, dvcqg, bhxh = (f"http://{c.host}:{port}" for port in c.sim_ports)
        own = {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": c.database_url(c.airflow_db, "postgresql+psycopg2"),
            "AIRFLOW__CELERY__BROKER_URL": c.redis_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": c.database_url(c.airflow_db, "db+postgresql"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{c.api_url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
            "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
            "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.password_file),
            "AIRFLOW__CORE__DAGS_FOLDER": str(Path(c.dags_folder).resolve()),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(Path(c.plugins_folder).resolve()),
            "LIENTHONG_DATABASE_URL": c.database_url(c.store_db, "postgresql+psycopg"),
            "LIENTHONG_MAPPINGS": str(Path(c.mappings).resolve()),
            # One data folder for every component: the audit ledger's generated keys are shared.
            "LIENTHONG_HOME": str(self.run_dir / "home"),
            # Native only: paths and ports that containers get from their own filesystem and network.
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__API__BASE_URL": c.api_url,
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs / "tasks"),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(c.worker_log_ports - 1),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "lienthong.airflow.cluster.worker_hostname",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": c.name,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")])),
        }
        if c.simulators:
            own |= {
                "AIRFLOW_CONN_MOTCUA": connection_json(motcua, MOTCUA_CLIENT_ID, MOTCUA_CLIENT_SECRET),
                "AIRFLOW_CONN_DVCQG": connection_json(
                    dvcqg, DVCQG_USERNAME, DVCQG_PASSWORD, dstcode="83", madonvi="000.00.00.H07"
                ),
                "AIRFLOW_CONN_BHXH": connection_json(bhxh, BHXH_USERNAME, BHXH_PASSWORD),
            }
        if c.worker_concurrency is not None:
            own["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = str(c.worker_concurrency)
        return {**read_env_file(), **own, **c.extra_env}

    def component_environment(self, caller: dict[str, str] | None = None) -> dict[str, str]:
        """What every component process gets: the caller's environment without another Airflow
        deployment's settings, the operator's own settings that this file does not set (alert webhook,
        e-mail, archive keys, real connections: :func:`passed_through`), then :meth:`environment`."""
        caller = dict(os.environ if caller is None else caller)
        own = self.environment()
        operator = {k: v for k, v in passed_through(caller).items() if k not in own}
        if not self.config.simulators:
            missing = [name for name in SIMULATED_CONNECTIONS if name not in operator]
            if missing:
                raise ClusterError(
                    f"--no-simulators: set {', '.join(missing)} (Airflow connection JSON) for the real systems"
                )
        return {**_own_environment(caller), **operator, **own}

    def cli_environment(self, environ: dict[str, str] | None = None) -> list[str]:
        """Shell lines that give a CLI on this machine the cluster's store, mappings and keys, so that
        ``lienthong dead list`` reads what the workers wrote.  Values that are secrets are never
        printed: they are read from the owner-only files of the run directory (``$(cat …)``) or left to
        the operator's own environment (named, not shown)."""
        env = self.environment()
        lines = [
            "# the environment a `lienthong` CLI needs next to this cluster (no secret values printed)",
            f"export LIENTHONG_DATABASE_URL={_shell_quote(env['LIENTHONG_DATABASE_URL'])}",
            f"export LIENTHONG_MAPPINGS={_shell_quote(env['LIENTHONG_MAPPINGS'])}",
            f"export LIENTHONG_HOME={_shell_quote(env['LIENTHONG_HOME'])}",
        ]
        connections = self.run_dir / "connections"
        for name in SIMULATED_CONNECTIONS:
            if name in env:
                path = connections / f"{name}.json"
                write_private(path, env[name])
                lines.append(f'export {name}="$(cat {_shell_quote(str(path))})"')
        operator = passed_through(dict(os.environ if environ is None else environ))
        for name, value in sorted(operator.items()):
            if name.startswith("AIRFLOW__") or name in env:
                continue
            if name.endswith("_FILE"):  # a path to a secret, not the secret: the CLI reads the same file
                lines.append(f"export {name}={_shell_quote(value)}")
            else:
                lines.append(
                    f"# {name}: set in your environment when the cluster started; keep the same value"
                )
        return lines

    def components(self) -> list[Component]:
        c, airflow = self.config, str(Path(sys.executable).with_name("airflow"))
        motcua, dvcqg, bhxh = c.sim_ports
        found = [
            Component(
                "simulators",
                [sys.executable, "-m", "lienthong.cli", "simulators", "--host", c.host,
                 "--motcua-port", str(motcua), "--dvcqg-port", str(dvcqg), "--bhxh-port", str(bhxh),
                 "--dossiers", str(c.dossiers), "--seed", str(c.seed), "--mess-rate", str(c.mess_rate),
                 "--no-exports"],  # the log must not carry the demo secrets; the cluster sets the connections
            ),
            Component("api-server", [airflow, "api-server", "--host", c.host, "--port", str(c.api_port)]),
            Component("scheduler", [airflow, "scheduler"]),
            Component("dag-processor", [airflow, "dag-processor"]),
            Component("triggerer", [airflow, "triggerer"]),
        ]  # fmt: skip
        if not c.simulators:
            found = found[1:]
        for i in range(1, c.workers + 1):
            name = f"worker-{i}"
            found.append(
                Component(
                    name,
                    [airflow, "celery", "worker", "--celery-hostname", f"{name}@{c.name}", "--queues", c.name],
                    {"LIENTHONG_WORKER_HOSTNAME": name,
                     "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(c.worker_log_ports + i)},
                )
            )  # fmt: skip
        return found

    # --- up ---------------------------------------------------------------------------------------
    def up(self, *, wait: float = 180.0, out=print, environ: dict[str, str] | None = None) -> None:  # noqa: ANN001
        """Prepare databases, start every component not already running, wait for health, pools.
        ``environ``: the operator's environment (default: this process's)."""
        for folder in (self.home, self.logs, self.pids):
            folder.mkdir(parents=True, exist_ok=True)
        env = self.component_environment(environ)
        self.create_databases()
        out("migrating Airflow's metadata database ...")
        self._run([str(Path(sys.executable).with_name("airflow")), "db", "migrate"], env)
        # The gateway store's schema, once, before the workers; in a child with the cluster's environment
        # (the audit layer's generated keys belong in the cluster's data folder, not the caller's).
        self._run([sys.executable, "-c", "import os; from lienthong.store import Store; "
                   "Store(os.environ['LIENTHONG_DATABASE_URL']).dispose()"], env)  # fmt: skip
        for component in self.components():
            if self.alive(component.name):
                out(f"{component.name:14} already running")
                continue
            self._start(component, env)
        self.wait_healthy(wait)
        from lienthong.airflow.pools import pool_specs

        self.rest.apply_pools(pool_specs(Path(self.config.mappings).resolve()))
        out(f"Airflow UI and REST API: {self.config.api_url}  (user admin, password in {self.password_file})")
        out(f"logs: {self.logs}   stop with: scripts/airflow-cluster.sh down")

    def create_databases(self) -> None:
        import psycopg

        with psycopg.connect(f"{self.config.pg_url}/postgres", autocommit=True) as conn:
            for name in (self.config.airflow_db, self.config.store_db):
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                    conn.execute(f'CREATE DATABASE "{name}"')

    def drop_databases(self) -> None:
        """For throw-away clusters (tests, benchmarks): the next ``up`` starts from empty databases."""
        import psycopg

        with psycopg.connect(f"{self.config.pg_url}/postgres", autocommit=True) as conn:
            for name in (self.config.airflow_db, self.config.store_db):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        import redis

        client = redis.Redis.from_url(self.config.redis_url)
        try:  # the cluster's Celery queue and kombu's bindings for it (one set per queue name)
            queue = self.config.name
            client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        finally:
            client.close()

    def _run(self, argv: list[str], env: dict[str, str]) -> None:
        log = self.logs / "setup.log"
        with log.open("a") as sink:
            done = subprocess.run(argv, env=env, stdout=sink, stderr=subprocess.STDOUT, check=False)
        if done.returncode:
            raise RuntimeError(f"{' '.join(argv[:3])} failed (exit {done.returncode}); see {log}")

    def _start(self, component: Component, env: dict[str, str]) -> None:
        with (self.logs / f"{component.name}.log").open("ab") as sink:
            process = subprocess.Popen(
                component.argv,
                env={**env, **component.env},
                cwd=self.run_dir,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own session: down() stops it and all its children
            )
        (self.pids / f"{component.name}.pid").write_text(f"{process.pid} {start_time(process.pid)}\n")

    def wait_healthy(self, timeout: float) -> None:
        """Every Airflow component reports a heartbeat, the workers answer a ping, the sims answer."""
        import requests

        deadline, missing = time.monotonic() + timeout, ["(not checked yet)"]
        while time.monotonic() < deadline:
            missing = [c.name for c in self.components() if not self.alive(c.name)]
            if missing:
                raise RuntimeError(
                    f"{', '.join(missing)} exited; see {self.logs}/<name>.log\n{self.tail(missing)}"
                )
            try:
                health = requests.get(f"{self.config.api_url}/api/v2/monitor/health", timeout=5).json()
                missing = [
                    k for k, v in health.items() if isinstance(v, dict) and v.get("status") != "healthy"
                ]
                for port in self.config.sim_ports if self.config.simulators else ():
                    requests.get(
                        f"http://{self.config.host}:{port}/_sim/health", timeout=5
                    ).raise_for_status()
                missing += sorted(set(self.worker_names()) - set(self.ping_workers()))
            except (requests.RequestException, ValueError) as exc:
                missing = [f"api-server ({type(exc).__name__})"]
            if not missing:
                return
            time.sleep(2)
        names = [c.name for c in self.components()]
        raise TimeoutError(f"cluster not healthy after {timeout:.0f}s: {missing}\n{self.tail(names)}")

    def worker_names(self) -> list[str]:
        return [c.name for c in self.components() if c.name.startswith("worker-")]

    def ping_workers(self) -> list[str]:
        """Names of the Celery workers answering on the broker."""
        from celery import Celery

        app = Celery(broker=self.config.redis_url)
        try:
            replies = app.control.ping(timeout=1.0) or []
        finally:
            app.close()
        suffix = f"@{self.config.name}"
        return [node.split("@", 1)[0] for reply in replies for node in reply if node.endswith(suffix)]

    # --- status / down ----------------------------------------------------------------------------
    def _pid(self, name: str) -> int | None:
        """The recorded pid if that process is still the one we started (same start time)."""
        path = self.pids / f"{name}.pid"
        if not path.exists():
            return None
        pid, started = (int(x) for x in path.read_text().split())
        return pid if start_time(pid) == started else None

    def alive(self, name: str) -> bool:
        return self._pid(name) is not None

    def status(self) -> dict[str, bool]:
        return {c.name: self.alive(c.name) for c in self.components()}

    def down(self, timeout: float = 20.0) -> list[str]:
        """Stop every session this cluster started (workers first, simulators last)."""
        stopped = []
        order = sorted(
            self.components(), key=lambda c: (c.name == "simulators", not c.name.startswith("worker"))
        )
        sessions = {c.name: self._pid(c.name) for c in order}
        for name, sid in sessions.items():
            if sid is not None:
                signal_session(sid, signal.SIGTERM)
                stopped.append(name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(session_members(s) for s in sessions.values() if s):
            time.sleep(0.3)
        for sid in sessions.values():
            if sid is not None:
                signal_session(sid, signal.SIGKILL)
        for name, sid in sessions.items():
            (self.pids / f"{name}.pid").unlink(missing_ok=True)
            if sid is not None:
                reap(sid)
        return stopped

    def tail(self, names: Iterable[str], lines: int = 25) -> str:
        parts = []
        for name in names:
            path = self.logs / f"{name}.log"
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {name}.log (last {len(text)} lines) ---\n" + "\n".join(text))
        return "\n".join(parts)


class ClusterError(Exception):
    """A cluster that cannot start as configured (one line for the operator, no traceback)."""


#: The connections the simulators stand in for: set by the cluster while it runs them.
SIMULATED_CONNECTIONS = ("AIRFLOW_CONN_MOTCUA", "AIRFLOW_CONN_DVCQG", "AIRFLOW_CONN_BHXH")
#: The operator's settings that reach every component (an allow-list by prefix): connections (the
#: alert webhook ``AIRFLOW_CONN_LIENTHONG_ALERTS``, real systems with ``--no-simulators``), e-mail,
#: and the gateway's own settings (archive key ring, signing key, pinned keys, retention, leases).
PASSED_THROUGH = ("AIRFLOW_CONN_", "AIRFLOW__SMTP__", "AIRFLOW__EMAIL__", "LIENTHONG_")
#: Never passed through: the cluster's own configuration of itself, and the test harness's switches.
NOT_PASSED = ("LIENTHONG_CLUSTER_", "LIENTHONG_WORKER_HOSTNAME", "LIENTHONG_TEST_")


def passed_through(caller: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in caller.items() if k.startswith(PASSED_THROUGH) and not k.startswith(NOT_PASSED)}


def _own_environment(caller: dict[str, str]) -> dict[str, str]:
    """The caller's environment without Airflow and gateway settings (a test process may carry
    another Airflow home's); the operator's own settings come back through :func:`passed_through`."""
    dropped = ("AIRFLOW__", "AIRFLOW_CONN_", "LIENTHONG_")
    return {k: v for k, v in caller.items() if not k.startswith(dropped) and k != "AIRFLOW_HOME"}


def _shell_quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="airflow-cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command",
        choices=["up", "down", "status", "env"],
        help="env: print the shell lines a `lienthong` CLI needs to work on this cluster's store",
    )
    parser.add_argument("--run-dir", type=Path, help="pid files, logs, secrets (default .lienthong/cluster)")
    parser.add_argument("--api-port", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--dossiers", type=int, help="dossiers the one-stop simulator serves")
    parser.add_argument("--drop-databases", action="store_true", help="with down: drop both databases")
    parser.add_argument(
        "--no-simulators",
        action="store_true",
        help="start no simulators: AIRFLOW_CONN_MOTCUA/DVCQG/BHXH from your environment reach the components",
    )
    args = parser.parse_args(argv)
    overrides = {
        k: v for k, v in vars(args).items() if k in ("run_dir", "api_port", "workers", "dossiers") and v
    }
    if args.no_simulators:
        overrides["simulators"] = False
    cluster = Cluster(ClusterConfig.from_env(**overrides))
    if args.command == "up":
        try:
            cluster.up()
        except ClusterError as exc:
            print(f"airflow-cluster: {exc}", file=sys.stderr)
            return 2
    elif args.command == "env":
        print("\n".join(cluster.cli_environment()))
    elif args.command == "down":
        stopped = cluster.down()
        print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
        if args.drop_databases:
            cluster.drop_databases()
    else:
        for name, alive in cluster.status().items():
            print(f"{name:14} {'running' if alive else 'stopped'}")
        print(f"API: {cluster.config.api_url}  password file: {cluster.password_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
