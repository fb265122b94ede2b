"""What the DAG factory needs from the mapping files, read as plain YAML without compiling a mapping.

A route file may carry an optional ``airflow:`` block; a target file may carry ``airflow: {pool_slots}``.
Both are read when the DAG folder is parsed, so this module imports nothing of the engine: parsing
must stay well under a second, and a broken mapping must not break the DAG folder (compiling and
validating a mapping is the ``transform`` task's job, where its error is shown on that task).

    airflow:
      batch_size: 500          # outbox rows per deliver task (widened so a run has at most max_map_length)
      retries: 2               # Airflow retries of a whole task (HTTP retries live in the engine)
      retry_delay_seconds: 60
      wait_for_retries: 30     # seconds a deliver task waits for engine retries falling due
      concurrency: 4           # delivery threads inside one deliver task
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lienthong.errors import ConfigError

PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent
POOL_PREFIX = "lienthong_"
DEFAULT_POOL_SLOTS = 4

_ROUTE_DEFAULTS: dict[str, float] = {
    "batch_size": 500,
    "retries": 2,
    "retry_delay_seconds": 60,
    "wait_for_retries": 30,
    "concurrency": 4,
}
_MINIMUM = {"batch_size": 1, "retries": 0, "retry_delay_seconds": 0, "wait_for_retries": 0, "concurrency": 1}
_INTEGER = {"batch_size", "retries", "concurrency"}

try:  # the C loader parses the three route files in ~2 ms instead of ~20 ms
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


def mappings_dir(environ: dict[str, str] | None = None) -> Path:
    """The folder of route files, from any working directory: ``LIENTHONG_MAPPINGS`` (the engine's
    variable), ``LIENTHONG_MAPPINGS_DIR`` (an alias), else the checkout's ``mappings/``."""
    env = os.environ if environ is None else environ
    chosen = env.get("LIENTHONG_MAPPINGS") or env.get("LIENTHONG_MAPPINGS_DIR")
    return Path(chosen).resolve() if chosen else PACKAGE_ROOT / "mappings"


def pool_name(target: str) -> str:
    return f"{POOL_PREFIX}{target}"


@dataclass(frozen=True)
class RouteDagSettings:
    """One route as its DAG sees it."""

    route: str
    description: str
    schedule: str | None
    target: str  # the main target: its pool caps this route's deliver tasks
    path: Path
    batch_size: int = 500
    retries: int = 2
    retry_delay_seconds: float = 60
    wait_for_retries: float = 30
    concurrency: int = 4

    @property
    def pool(self) -> str:
        return pool_name(self.target)


def _load(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_bytes(), Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML ({exc.__class__.__name__})", file=path.name) from None
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top", file=path.name)
    return data


def _airflow_block(data: dict[str, Any], allowed: dict[str, float], file: str) -> dict[str, float]:
    block = data.get("airflow") or {}
    if not isinstance(block, dict):
        raise ConfigError("expected a mapping", path="airflow", file=file)
    unknown = sorted(set(block) - set(allowed))
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})",
            path="airflow",
            file=file,
        )
    values = dict(allowed)
    for key, value in block.items():
        integer = key in _INTEGER or key == "pool_slots"
        if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
            raise ConfigError(
                f"expected {'an integer' if integer else 'a number'}", path=f"airflow.{key}", file=file
            )
        if value < _MINIMUM.get(key, 1):
            raise ConfigError(f"must be at least {_MINIMUM.get(key, 1)}", path=f"airflow.{key}", file=file)
        values[key] = value
    return values


def read_route(path: Path) -> RouteDagSettings:
    data = _load(path)
    name = data.get("route")
    target = data.get("target")
    if not isinstance(name, str) or not name:
        raise ConfigError("missing", path="route", file=path.name)
    if not isinstance(target, dict) or not isinstance(target.get("name"), str):
        raise ConfigError("missing", path="target.name", file=path.name)
    schedule = data.get("schedule")
    values = _airflow_block(data, _ROUTE_DEFAULTS, path.name)
    return RouteDagSettings(
        route=name,
        description=str(data.get("description") or ""),
        schedule=str(schedule) if schedule else None,
        target=target["name"],
        path=path,
        batch_size=int(values["batch_size"]),
        retries=int(values["retries"]),
        retry_delay_seconds=float(values["retry_delay_seconds"]),
        wait_for_retries=float(values["wait_for_retries"]),
        concurrency=int(values["concurrency"]),
    )


def route_files(base: Path | None = None) -> list[Path]:
    """Every route file: the ``*.yaml`` at the top of the mappings folder (sub-folders are not routes)."""
    return sorted((base or mappings_dir()).glob("*.yaml"))


def read_routes(base: Path | None = None) -> list[RouteDagSettings]:
    return [read_route(path) for path in route_files(base)]


def target_pool_slots(target: str, base: Path | None = None) -> int:
    """``airflow.pool_slots`` of ``targets/<target>.yaml``: how many deliver tasks may call it at once."""
    path = (base or mappings_dir()) / "targets" / f"{target}.yaml"
    if not path.is_file():
        return DEFAULT_POOL_SLOTS
    values = _airflow_block(_load(path), {"pool_slots": DEFAULT_POOL_SLOTS}, f"targets/{path.name}")
    return int(values["pool_slots"])
