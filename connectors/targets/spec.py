"""Target definitions: ``mappings/targets/<name>.yaml``, validated when loaded.

A target file says how to reach a system and how to read its answers; a route file says what to
send.  Adding a REST or SOAP system is a target file plus a connection (``AIRFLOW_CONN_<ID>``),
no Python: the kinds ``rest`` and ``soap`` are generic, and the national portal and the BHXH
registry are just two configurations of them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from connectors.http import Limits, Timeouts
from connectors.retry import RetryPolicy
from lienthong.errors import ConfigError
from lienthong.store.protection import BreakerPolicy, RateLimit

COMMON_KEYS = {
    "target",
    "kind",
    "description",
    "connection",
    "timeouts",
    "limits",  # {max_body_mib}: the largest answer accepted (connectors.http.Limits)
    "pool_size",
    "retry",
    "operations",
    "verify_tls",
    "breaker",
    "rate_limit",
    "airflow",  # {pool_slots}: the Airflow pool of its deliver tasks (lienthong.airflow.settings)
    "config_fault_threshold",  # different records refused alike in a row (lienthong.pipeline.config_faults)
}
OPERATION_KEYS = {
    "batch_size",  # items per call
    "items_per_row",  # a row's payload is a list of items (progress records), flattened into calls
    "create",  # request fields for a key's first version
    "update",  # request fields once a version of the key was acknowledged
    "exists",  # item codes meaning "already there": resend as an update, or count as done
    "on_change",  # update | review: what a new version of an acknowledged key does
    "success",  # SOAP: {path, in}: answer fields meaning success
    "keep",  # answer fields kept in the outbox row (never personal data)
    "request",  # REST: per-operation override of the request template
}


@dataclass(frozen=True)
class OperationSpec:
    name: str
    batch_size: int = 1
    items_per_row: bool = False
    create: dict[str, Any] = field(default_factory=dict)
    update: dict[str, Any] = field(default_factory=dict)
    exists: tuple[str, ...] = ()
    on_change: str = "update"
    success: dict[str, Any] = field(default_factory=dict)
    keep: tuple[str, ...] = ()
    request: dict[str, Any] | None = None


@dataclass(frozen=True)
class TargetSpec:
    name: str
    kind: str
    connection: str
    path: Path
    digest: str
    description: str
    timeouts: Timeouts
    pool_size: int
    verify_tls: bool
    retry: RetryPolicy
    breaker: BreakerPolicy
    rate_limit: RateLimit | None
    operations: dict[str, OperationSpec]
    raw: dict[str, Any]
    limits: Limits = field(default_factory=Limits)

    def operation(self, name: str) -> OperationSpec:
        try:
            return self.operations[name]
        except KeyError:
            raise ConfigError(
                f"target {self.name} has no operation {name!r}; defined: {', '.join(self.operations)}"
            ) from None


def targets_dir(mappings_dir: Path) -> Path:
    return mappings_dir / "targets"


def load_target_spec(name: str, mappings_dir: Path, kind_keys: dict[str, set[str]]) -> TargetSpec:
    """Read and validate ``targets/<name>.yaml``; ``kind_keys`` lists the extra keys each kind accepts."""
    path = targets_dir(mappings_dir) / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"target {name!r}: no file {path}")
    content = path.read_bytes()
    where = f"targets/{name}.yaml"
    try:
        raw = yaml.safe_load(content) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: the top level must be a mapping")
    if raw.get("target") != name:
        raise ConfigError(f"{where}: target: must be {name!r} (the file name), found {raw.get('target')!r}")
    kind = raw.get("kind")
    if kind not in kind_keys:
        raise ConfigError(f"{where}: kind: must be one of {', '.join(sorted(kind_keys))}, found {kind!r}")
    unknown = sorted(set(raw) - COMMON_KEYS - kind_keys[kind])
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} for kind {kind}")
    if not isinstance(raw.get("connection"), str):
        raise ConfigError(f"{where}: connection: the connection id is required (AIRFLOW_CONN_<ID>)")
    operations = raw.get("operations")
    if not isinstance(operations, dict) or not operations:
        raise ConfigError(f"{where}: operations: at least one operation is required")
    pool_size = raw.get("pool_size", 8)
    if not isinstance(pool_size, int) or pool_size < 1:
        raise ConfigError(f"{where}: pool_size: must be a positive integer")
    return TargetSpec(
        name=name,
        kind=kind,
        connection=raw["connection"],
        path=path,
        digest="sha256:" + hashlib.sha256(content).hexdigest(),
        description=str(raw.get("description") or ""),
        timeouts=Timeouts.from_config(raw.get("timeouts")),
        limits=Limits.from_config(raw.get("limits"), where=f"{where}: limits"),
        pool_size=pool_size,
        verify_tls=bool(raw.get("verify_tls", True)),
        retry=RetryPolicy.from_config(raw.get("retry"), where=f"{where}: retry"),
        breaker=BreakerPolicy.from_config(raw.get("breaker"), where=f"{where}: breaker"),
        rate_limit=RateLimit.from_config(raw.get("rate_limit"), where=f"{where}: rate_limit"),
        operations={op: _operation(op, spec, f"{where}: operations.{op}") for op, spec in operations.items()},
        raw=raw,
    )


def _operation(name: str, data: Any, where: str) -> OperationSpec:
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: must be a mapping")
    unknown = sorted(set(data) - OPERATION_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(OPERATION_KEYS))}"
        )
    batch_size = data.get("batch_size", 1)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"{where}.batch_size: must be a positive integer")
    on_change = data.get("on_change", "update")
    if on_change not in ("update", "review"):
        raise ConfigError(f"{where}.on_change: must be update or review")
    success = data.get("success") or {}
    if success and (not isinstance(success, dict) or "path" not in success or "in" not in success):
        raise ConfigError(f"{where}.success: needs path and in, e.g. {{path: maKetQua, in: ['000']}}")
    if success and set(success) - {"path", "in", "message"}:
        raise ConfigError(f"{where}.success: only path, in and message are known")
    return OperationSpec(
        name=name,
        batch_size=batch_size,
        items_per_row=bool(data.get("items_per_row", False)),
        create=dict(data.get("create") or {}),
        update=dict(data.get("update") or {}),
        exists=tuple(str(c) for c in data.get("exists") or ()),
        on_change=on_change,
        success=dict(success),
        keep=tuple(data.get("keep") or ()),
        request=data.get("request"),
    )
