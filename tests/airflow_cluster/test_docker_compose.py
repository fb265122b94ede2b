"""docker/ cannot run here (no Docker engine): check that the compose file describes the same
deployment as the native cluster script: the same components, the shared settings from one env file,
the same deployment-specific keys, no secret written into a committed file."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from lienthong.airflow.cluster import (
    AIRFLOW_COMPONENTS,
    DEPLOYMENT_KEYS,
    Cluster,
    ClusterConfig,
    read_env_file,
)
from lienthong.settings import PACKAGE_ROOT

DOCKER = PACKAGE_ROOT / "docker"
COMPOSE = yaml.safe_load((DOCKER / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
AIRFLOW_SERVICES = [*AIRFLOW_COMPONENTS, "worker-1", "worker-2"]


def _service_env(name: str) -> dict[str, str]:
    """What a container gets: its env files in order, then ``environment`` (compose's precedence)."""
    service = SERVICES[name]
    env: dict[str, str] = {}
    for file in service.get("env_file", []):
        if isinstance(file, dict):  # {path, required: false}: the operator's secrets, absent here
            assert file.get("required") is False, file
            continue
        env.update(read_env_file(DOCKER / file))
    env.update({k: str(v) for k, v in (service.get("environment") or {}).items()})
    return env


def test_same_components_as_the_native_cluster(tmp_path):
    native = {c.name for c in Cluster(ClusterConfig(run_dir=tmp_path, workers=2)).components()}
    assert native == {*AIRFLOW_SERVICES, "simulators"}
    assert native <= set(SERVICES)
    assert set(SERVICES) - native == {"postgres", "redis", "airflow-init"}


def test_each_component_runs_the_same_airflow_command(tmp_path):
    native = {c.name: c.argv for c in Cluster(ClusterConfig(run_dir=tmp_path, workers=2)).components()}
    for name in AIRFLOW_SERVICES:
        compose_command = SERVICES[name]["command"]
        airflow_args = native[name][1:]  # after the airflow executable
        assert (
            compose_command[: 2 if name.startswith("worker") else 1]
            == airflow_args[: 2 if name.startswith("worker") else 1]
        ), name
    assert SERVICES["simulators"]["command"][0] == "simulators" == native["simulators"][3]


def test_shared_settings_come_from_one_env_file_in_both(tmp_path):
    shared = read_env_file(DOCKER / "airflow.env")
    assert shared["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    native = Cluster(ClusterConfig(run_dir=tmp_path)).environment()
    for key, value in shared.items():
        assert native[key] == value, key
    for name in AIRFLOW_SERVICES + ["airflow-init"]:
        service = SERVICES[name]
        assert service["env_file"][0] == "airflow.env", name
        overridden = set(shared) & set(service.get("environment") or {})
        assert not overridden, f"{name} redefines {overridden}: change docker/airflow.env instead"


def test_same_deployment_keys_in_both(tmp_path):
    native = Cluster(ClusterConfig(run_dir=tmp_path)).environment()
    assert set(DEPLOYMENT_KEYS) <= set(native)
    for name in AIRFLOW_SERVICES:
        env = _service_env(name)
        assert set(DEPLOYMENT_KEYS) <= set(env), (name, set(DEPLOYMENT_KEYS) - set(env))
    api = _service_env("api-server")
    port = SERVICES["api-server"]["command"][-1]
    assert api["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://api-server:{port}/execution/"
    assert native["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].endswith("/execution/")


def test_no_secret_value_in_committed_files():
    """Secrets are ${VARIABLES} from docker/.env (git-ignored), never literals."""
    env = _service_env("api-server")
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY"):
        assert re.fullmatch(r"\$\{[A-Z_]+(:\?[^}]*)?\}", env[key]), key
    assert "${POSTGRES_PASSWORD" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert ".env" in (DOCKER / ".gitignore").read_text().split()
    assert "AIRFLOW_ADMIN_PASSWORD" in SERVICES["airflow-init"]["environment"]


def test_workers_are_distinct_hosts_and_wait_for_init():
    for name in ("worker-1", "worker-2"):
        assert SERVICES[name]["hostname"] == name
        assert SERVICES[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_image_is_the_pinned_airflow_with_the_lock():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    pyproject = tomllib.loads((PACKAGE_ROOT / "pyproject.toml").read_text())
    pinned = next(
        d for d in pyproject["project"]["optional-dependencies"]["airflow"] if d.startswith("apache-airflow[")
    )
    version = pinned.split("==")[1]
    assert f"FROM apache/airflow:{version}-python3.11" in dockerfile
    assert re.search(r"pip install .*-c requirements\.lock", dockerfile)
    assert f"apache-airflow=={version}" in (PACKAGE_ROOT / "requirements.lock").read_text().split()
    init = (DOCKER / "init.sh").read_text()
    assert "airflow db migrate" in init and "lienthong.airflow.pools --apply" in init


def test_compose_file_is_valid_against_the_compose_specification():
    """No Docker engine here: the file is checked against the Compose Specification's JSON Schema
    (vendored by check-jsonschema), which `docker compose config` would also enforce."""
    tool = Path(sys.executable).with_name("check-jsonschema")
    done = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.compose-spec", str(DOCKER / "docker-compose.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_passes_hadolint():
    tool = Path(sys.executable).with_name("hadolint")
    if not tool.exists():
        tool = Path(shutil.which("hadolint") or "hadolint")
    done = subprocess.run(
        [str(tool), "--no-color", "--failure-threshold", "warning", str(DOCKER / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_component_has_a_health_check_and_workers_wait_for_the_api_server():
    for name, service in SERVICES.items():
        check = service.get("healthcheck") or {}
        if name == "airflow-init":  # a one-shot job: completion is its health
            assert check.get("disable") is True
            continue
        assert check.get("test"), f"{name} has no health check"
    job_types = {"scheduler": "SchedulerJob", "dag-processor": "DagProcessorJob", "triggerer": "TriggererJob"}
    for name, job in job_types.items():
        assert job in " ".join(SERVICES[name]["healthcheck"]["test"]), name
    for name in ("worker-1", "worker-2"):
        assert "inspect ping" in " ".join(SERVICES[name]["healthcheck"]["test"])
        assert SERVICES[name]["depends_on"]["api-server"]["condition"] == "service_healthy"
    assert "name" not in COMPOSE  # Compose v1 and older v2 refuse a top-level name: -p lienthong instead


def test_the_init_service_can_write_what_it_writes():
    """It runs as root to make the shared volumes the airflow user's, then drops to that user; the
    volumes mount on folders the image creates for that user."""
    assert SERVICES["airflow-init"]["user"] == "0:0"
    init = (DOCKER / "init.sh").read_text()
    assert "chown" in init and "setpriv" in init
    dockerfile = (DOCKER / "Dockerfile").read_text()
    common = COMPOSE["x-airflow-common"]["volumes"]
    for mount in common:
        target = mount.split(":")[1]
        if target != "/opt/airflow/logs":  # the base image's own folder
            assert target in dockerfile, f"{target} is not created in the image"


def test_benchmark_settings_stay_out_of_the_shared_settings():
    shared = read_env_file(DOCKER / "airflow.env")
    assert "AIRFLOW__CORE__MAX_MAP_LENGTH" not in shared
    assert int(shared["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"]) <= 120
    assert int(shared["AIRFLOW__CORE__PARALLELISM"]) <= 16
