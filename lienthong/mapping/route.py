"""Route files (``mappings/<route>.yaml``): read, validated in full, and turned into a :class:`Route`.

Validation is complete at load time, so a province's edit fails when the DAGs or the CLI load it, not
half-way through a run: the loader checks the structure, then compiles the whole route once (every
JMESPath, transform argument, condition, code list column and schema keyword) and throws that compiled
copy away. ``Route.compile()`` compiles again at the start of each run, reading the referenced files
then, so the version it reports is the one of the files the run actually used.

Every problem is a :class:`ConfigError` naming the file and the path to the bad key, for example
``mappings/dossier_sync.yaml: fields.NgayHenTra.then[0].datetime.fmt: unknown key 'fmt' (allowed: format,
input, tz)``. YAML duplicate keys are refused too (PyYAML would silently keep the last one).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from lienthong.errors import ConfigError
from lienthong.mapping.core import check_keys, expect_int, expect_list, expect_mapping, expect_str
from lienthong.mapping.resources import default_mappings_dir

if TYPE_CHECKING:
    from lienthong.mapping.compiled import CompiledRoute

RESOURCES = ("dossiers", "procedures")
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_CRON_FIELD = re.compile(r"[0-9A-Za-z*/,\-?#LW]+")
_CRON_PRESETS = {
    "@once",
    "@hourly",
    "@daily",
    "@midnight",
    "@weekly",
    "@monthly",
    "@quarterly",
    "@yearly",
    "@annually",
}
# ``airflow:`` (batch size, retries of the route's DAG) is read by lienthong.airflow.settings.
_TOP = {"route", "description", "schedule", "source", "select", "target", "fields", "followups", "airflow"}


@dataclass(frozen=True)
class SourceSpec:
    connection: str
    resource: str
    key: str
    id: str = "id"
    updated: str = "updatedDate"
    parse_json: tuple[str, ...] = ()
    page_size: int = 100
    agency: str | None = None  # path to the agency code: reconciliation per agency


@dataclass(frozen=True)
class TargetSpec:
    name: str
    operation: str
    key: str
    schema: str | None = None


@dataclass(frozen=True)
class FollowupSpec:
    name: str
    target: TargetSpec
    for_each: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class Route:
    """A validated route file. ``raw`` is the parsed YAML; ``compile()`` makes the runnable form."""

    name: str
    description: str
    schedule: str | None
    source: SourceSpec
    target: TargetSpec
    select: tuple[Any, ...]
    fields: dict[str, Any]
    followups: tuple[FollowupSpec, ...]
    raw: dict[str, Any]
    path: Path | None
    mappings_dir: Path
    source_bytes: bytes = field(repr=False, default=b"")

    @property
    def display_path(self) -> str:
        return _display(self.path) if self.path else f"<route {self.name}>"

    def compile(self, *, now: Callable[[], datetime] | None = None) -> CompiledRoute:
        """The runnable route (once per run). ``now`` replaces the clock of ``age_under_years``."""
        from lienthong.mapping.compiled import CompiledRoute

        try:
            return CompiledRoute(self, now=now)
        except ConfigError as exc:
            raise exc.with_file(self.display_path) from None


def load_route(path_or_name: str | Path, mappings_dir: str | Path | None = None) -> Route:
    """A route by file path (``mappings/x.yaml``) or by name (``x``, looked up in ``mappings_dir``).

    ``mappings_dir`` defaults to the file's folder for a path, and to :func:`default_mappings_dir`
    (``$LIENTHONG_MAPPINGS``, ``./mappings``, the checkout's ``mappings/``) for a name.
    """
    text = str(path_or_name)
    is_path = (
        isinstance(path_or_name, Path) or text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text
    )
    if is_path:
        file = Path(path_or_name)
        base = Path(mappings_dir) if mappings_dir is not None else file.parent
    else:
        base = Path(mappings_dir) if mappings_dir is not None else default_mappings_dir()
        file = base / f"{text}.yaml"
    if not file.is_file():
        raise ConfigError("route file not found", file=str(file))
    return parse_route(file.read_bytes(), path=file, mappings_dir=base)


def load_routes(mappings_dir: str | Path | None = None) -> dict[str, Route]:
    """Every ``*.yaml`` at the top of ``mappings_dir`` (sub-folders hold targets, code lists, schemas)."""
    base = Path(mappings_dir) if mappings_dir is not None else default_mappings_dir()
    if not base.is_dir():
        raise ConfigError("mappings directory not found", file=str(base))
    return {route.name: route for route in (load_route(file, base) for file in sorted(base.glob("*.yaml")))}


def parse_route(data: bytes, *, path: Path | None, mappings_dir: str | Path) -> Route:
    shown = _display(path) if path else "<route>"
    try:
        route = _build(data, path, Path(mappings_dir).resolve())
        route.compile()  # validates everything the structure check cannot see; the result is dropped
    except ConfigError as exc:
        raise exc.with_file(shown) from None
    return route


def _build(data: bytes, path: Path | None, mappings_dir: Path) -> Route:
    raw = expect_mapping(_load_yaml(data), "")
    check_keys(raw, "", allowed=_TOP, required=["route", "source", "target", "fields"])
    name = expect_str(raw["route"], "route")
    if not _NAME.fullmatch(name):
        raise ConfigError(
            "a route name is lower case letters, digits and _ (it names DAGs and tables)", path="route"
        )
    if path is not None and path.stem != name:
        raise ConfigError(f"must equal the file name {path.stem!r}", path="route")
    description = raw.get("description") or ""
    if not isinstance(description, str):
        raise ConfigError("expected text", path="description")
    select = tuple(expect_list(raw.get("select") or [], "select"))
    followups = tuple(
        _followup(item, f"followups[{i}]", mappings_dir)
        for i, item in enumerate(expect_list(raw.get("followups") or [], "followups"))
    )
    names = [followup.name for followup in followups]
    for i, name_ in enumerate(names):
        if name_ in names[:i]:
            raise ConfigError(f"followup name {name_!r} is used twice", path=f"followups[{i}].name")
    return Route(
        name=name,
        description=description,
        schedule=_schedule(raw.get("schedule")),
        source=_source(raw["source"]),
        target=_target(raw["target"], "target", mappings_dir),
        select=select,
        fields=dict(expect_mapping(raw["fields"], "fields")),
        followups=followups,
        raw=raw,
        path=path.resolve() if path else None,
        mappings_dir=mappings_dir,
        source_bytes=data,
    )


def _source(value: Any) -> SourceSpec:
    spec = expect_mapping(value, "source")
    check_keys(
        spec,
        "source",
        allowed={"connection", "resource", "key", "id", "updated", "parse_json", "page_size", "agency"},
        required=["connection", "resource", "key"],
    )
    connection = expect_str(spec["connection"], "source.connection")
    if not re.fullmatch(r"[A-Za-z0-9_]+", connection):
        raise ConfigError(
            "a connection id is letters, digits and _ (AIRFLOW_CONN_<ID>)", path="source.connection"
        )
    resource = expect_str(spec["resource"], "source.resource")
    if resource not in RESOURCES:
        raise ConfigError(
            f"unknown resource {resource!r} (known: {', '.join(RESOURCES)})", path="source.resource"
        )
    parse_json = tuple(
        expect_str(item, f"source.parse_json[{i}]")
        for i, item in enumerate(expect_list(spec.get("parse_json") or [], "source.parse_json"))
    )
    return SourceSpec(
        connection=connection,
        resource=resource,
        key=expect_str(spec["key"], "source.key"),
        id=expect_str(spec.get("id", "id"), "source.id"),
        updated=expect_str(spec.get("updated", "updatedDate"), "source.updated"),
        parse_json=parse_json,
        page_size=expect_int(spec.get("page_size", 100), "source.page_size", minimum=1, maximum=1000),
        agency=expect_str(spec["agency"], "source.agency") if spec.get("agency") is not None else None,
    )


def _target(value: Any, where: str, mappings_dir: Path) -> TargetSpec:
    spec = expect_mapping(value, where)
    check_keys(
        spec, where, allowed={"name", "operation", "key", "schema"}, required=["name", "operation", "key"]
    )
    name = expect_str(spec["name"], f"{where}.name")
    if not _NAME.fullmatch(name):
        raise ConfigError("a target name is lower case letters, digits and _", path=f"{where}.name")
    if not (mappings_dir / "targets" / f"{name}.yaml").is_file():
        raise ConfigError(f"no target definition targets/{name}.yaml in {mappings_dir}", path=f"{where}.name")
    schema = spec.get("schema")
    return TargetSpec(
        name=name,
        operation=expect_str(spec["operation"], f"{where}.operation"),
        key=expect_str(spec["key"], f"{where}.key"),
        schema=expect_str(schema, f"{where}.schema") if schema is not None else None,
    )


def _followup(value: Any, where: str, mappings_dir: Path) -> FollowupSpec:
    spec = expect_mapping(value, where)
    check_keys(
        spec,
        where,
        allowed={"name", "target", "for_each", "fields"},
        required=["name", "target", "for_each", "fields"],
    )
    name = expect_str(spec["name"], f"{where}.name")
    if not _NAME.fullmatch(name):
        raise ConfigError("a followup name is lower case letters, digits and _", path=f"{where}.name")
    return FollowupSpec(
        name=name,
        target=_target(spec["target"], f"{where}.target", mappings_dir),
        for_each=expect_str(spec["for_each"], f"{where}.for_each"),
        fields=dict(expect_mapping(spec["fields"], f"{where}.fields")),
    )


def _schedule(value: Any) -> str | None:
    if value is None:
        return None
    text = expect_str(value, "schedule").strip()
    if text in _CRON_PRESETS:
        return text
    parts = text.split()
    if len(parts) != 5 or not all(_CRON_FIELD.fullmatch(part) for part in parts):
        raise ConfigError(
            'expected a cron expression of 5 fields ("*/10 * * * *"), a preset (@daily) or null',
            path="schedule",
        )
    return text


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping (the second would win silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise ConfigError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _load_yaml(data: bytes) -> Any:
    try:
        return yaml.load(data, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"not valid YAML{where}: {problem}") from None


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
