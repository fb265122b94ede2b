"""Field specs compiled to functions: the work per record is calls, never spec interpretation.

A spec is a JMESPath string, a list (a fixed list, shorthand for ``list:``), or a mapping with exactly one
*source* (``path``, ``const``, ``concat``, ``first_of``, ``cases``, ``object``, ``each``, ``list``) and any of
the *modifiers* ``then`` (transforms), ``when`` (a condition; false means missing), ``default`` (used
when the value is missing) and ``required``. Every compiled spec is a ``(data, root) -> value`` function
returning ``None`` for "missing", so absent values are simply not written: payloads never carry nulls.

Objects (the payload, ``object``, the element of ``each``, a followup) and their plain-path fields are
generated as straight-line code by ``fused.py``; the other sources below are closures it calls.

Failures travel as ``Fail`` exceptions carrying every error below them; an object or list catches them
per child, keeps mapping the siblings, prefixes the paths (``DinhDanhCHS[0].SoDinhDanh``) and re-raises
them together, so one record reports all its field errors at once.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from lienthong.errors import ConfigError
from lienthong.mapping.conditions import compile_condition
from lienthong.mapping.core import (
    EMPTY_TYPES,
    CompileContext,
    ErrorTuple,
    Fail,
    Getter,
    check_keys,
    expect_list,
    expect_mapping,
    prefixed,
    sub_path,
)
from lienthong.mapping.fused import PathPlan, Read, object_function
from lienthong.mapping.paths import (
    ELEMENT,
    ON_CONTEXT,
    ON_ROOT,
    RECORD,
    PathFn,
    bind,
    compile_value_path,
    split_value_path,
)
from lienthong.mapping.transforms import Transform, compile_chain

SOURCES = ("path", "const", "concat", "first_of", "cases", "object", "each", "list")
MODIFIERS = ("then", "when", "default", "required")
_EXTRA = {"concat": ("sep",), "each": ("fields",)}
_MAX_FUSED_CHAIN = 12


def compile_fields(fields: Any, where: str, ctx: CompileContext, *, scope: str = RECORD) -> Getter:
    """``{target field: spec}`` -> a builder returning the object (``None`` when nothing was mapped)."""
    fields = expect_mapping(fields, where)
    if not fields:
        raise ConfigError("expected at least one field", path=where)
    items = [
        (name, plan_spec(spec, sub_path(where, name), ctx, scope=scope)) for name, spec in fields.items()
    ]
    return object_function(items, where)


def compile_spec(spec: Any, where: str, ctx: CompileContext, *, scope: str = RECORD) -> Getter:
    """``spec`` as a ``(data, root) -> value`` function (``None``: missing)."""
    plan = plan_spec(spec, where, ctx, scope=scope)
    return plan.function(where) if isinstance(plan, PathPlan) else plan


def plan_spec(spec: Any, where: str, ctx: CompileContext, *, scope: str = RECORD) -> PathPlan | Getter:
    """A :class:`PathPlan` for a plain-path field (an object inlines it), else a compiled closure."""
    if isinstance(spec, str):  # a bare JMESPath: errors name the field itself
        return _finish(_PathSource(split_value_path(spec, where, scope=scope)), (), False, None, None)
    if isinstance(spec, list):
        spec = {"list": spec}
    if not isinstance(spec, dict):
        raise ConfigError(
            "a field spec is a JMESPath text or a mapping (use {const: ...} for a fixed value)", path=where
        )
    spec = expect_mapping(spec, where)
    sources = [key for key in spec if key in SOURCES]
    if len(sources) != 1:
        found = f" (found: {', '.join(sources)})" if sources else ""
        raise ConfigError(f"a field spec needs exactly one of: {', '.join(SOURCES)}{found}", path=where)
    source = sources[0]
    check_keys(spec, where, allowed={source, *MODIFIERS, *_EXTRA.get(source, ())})
    if source == "each" and "fields" not in spec:
        raise ConfigError("'each' needs 'fields' (how to map one element)", path=where)
    produce = _SOURCE_BUILDERS[source](spec, where, ctx, scope)
    chain = compile_chain(spec["then"], f"{where}.then", ctx) if "then" in spec else ()
    required = spec.get("required", False)
    if not isinstance(required, bool):
        raise ConfigError("expected true or false", path=f"{where}.required")
    if "default" in spec and spec["default"] is None:
        raise ConfigError(
            "a default may not be null (leave it out: missing values are omitted)", path=f"{where}.default"
        )
    when = compile_condition(spec["when"], f"{where}.when", ctx, scope=scope) if "when" in spec else None
    return _finish(produce, chain, required, spec.get("default"), when)


def _finish(
    produce: Any, chain: Sequence[Transform], required: bool, default: Any, when: Any
) -> PathPlan | Getter:
    """One closure for the whole spec; the common shape (a path on the current data or the record,
    no ``when``) becomes a :class:`PathPlan`, generated as straight-line code (``fused.py``)."""
    missing = _on_missing(required, default)
    # Generated code nests one block per transform; Python allows 20 nested blocks, so a (rare) very
    # long chain runs as the loop below instead.
    if (
        isinstance(produce, _PathSource)
        and produce.fusable
        and when is None
        and len(chain) <= _MAX_FUSED_CHAIN
    ):
        return PathPlan(produce.plan_reads(), tuple(chain), missing)
    if isinstance(produce, _PathSource):
        produce = produce.getter()
    if not chain and missing is None and when is None:
        return produce  # type: ignore[no-any-return]
    transforms = tuple(chain)

    def field(data: Any, root: Any) -> Any:
        if when is not None and not when(data, root):
            return None
        value = produce(data, root)
        if value is not None:
            for transform in transforms:
                value = transform(value)
                if value is None or (not value and type(value) in EMPTY_TYPES):
                    value = None
                    break
        if value is None or (not value and type(value) in EMPTY_TYPES):
            return missing(data, root) if missing is not None else None
        return value

    return field


def _on_missing(required: bool, default: Any) -> Getter | None:
    """What a missing value becomes: the default, a ``required`` failure, or (``None``) omitted."""
    if default is not None:
        return _constant(default)
    if required:

        def fail(data: Any, root: Any) -> Any:
            raise Fail.one("required", "is required but missing")

        return fail
    return None


# --- sources ---------------------------------------------------------------------------------------------
class _PathSource:
    """Plain path sources (one for ``path``, several for a ``first_of`` of plain paths: the first
    present wins), kept apart so ``_finish`` can have them generated as straight-line code with the
    field's transforms and checks (one Python call per field instead of four: the bench's hot spot)."""

    __slots__ = ("sources",)

    def __init__(self, *sources: tuple[PathFn, str]) -> None:
        self.sources = sources

    @property
    def fusable(self) -> bool:
        return all(reads != ON_CONTEXT for _, reads in self.sources)

    def plan_reads(self) -> tuple[Read, ...]:
        return tuple(
            Read(get, getattr(get, "steps", None), on_root=reads == ON_ROOT) for get, reads in self.sources
        )

    def getter(self) -> Getter:
        bound = [bind(get, reads) for get, reads in self.sources]

        def value(data: Any, root: Any) -> Any:
            for read in bound:
                found = _present(read(data, root))
                if found is not None:
                    return found
            return None

        return value


def _present(found: Any) -> Any:
    """``None``, ``""``, ``[]`` and ``{}`` are all "missing"."""
    if found is None or (not found and type(found) in EMPTY_TYPES):
        return None
    return found


def _path_source(spec: dict[str, Any], where: str, ctx: CompileContext, scope: str) -> Any:
    return _PathSource(split_value_path(spec["path"], f"{where}.path", scope=scope))


def _constant(value: Any) -> Getter:
    if value is None:
        raise ConfigError("a const may not be null")
    if isinstance(value, dict | list):  # a fresh copy per record: payloads must not share mutable parts
        return lambda data, root: copy.deepcopy(value)
    return lambda data, root: value


def _const_source(spec: dict[str, Any], where: str, ctx: CompileContext, scope: str) -> Getter:
    if spec["const"] is None:
        raise ConfigError("a const may not be null (leave the field out instead)", path=f"{where}.const")
    return _constant(spec["const"])


def _parts(spec: dict[str, Any], key: str, where: str, ctx: CompileContext, scope: str) -> list[Getter]:
    items = expect_list(spec[key], f"{where}.{key}", non_empty=True)
    return [compile_spec(item, f"{where}.{key}[{i}]", ctx, scope=scope) for i, item in enumerate(items)]


def _concat_source(spec: dict[str, Any], where: str, ctx: CompileContext, scope: str) -> Getter:
    parts = _parts(spec, "concat", where, ctx, scope)
    sep = spec.get("sep", "")
    if not isinstance(sep, str):
        raise ConfigError("expected text", path=f"{where}.sep")

    def concat(data: Any, root: Any) -> Any:
        texts = []
        for part in parts:
            value = part(data, root)
            if value is not None:
                texts.append(value if isinstance(value, str) else str(value))
        return sep.join(texts) if texts else None

    return concat


def _first_of_source(spec: dict[str, Any], where: str, ctx: CompileContext, scope: str) -> Any:
    items = expect_list(spec["first_of"], f"{where}.first_of", non_empty=True)
    if all(isinstance(item, str) for item in items):  # plain paths: generated inline, like `path`
        return _PathSource(
            *(split_value_path(item, f"{where}.first_of[{i}]", scope=scope) for i, item in enumerate(items))
        )
    parts = _parts(spec, "first_of", where, ctx, scope)

    def first_of(data: Any, root: Any) -> Any:
        for part in parts:
            value = part(data, root)
            if value is not None:
                return value
        return None

    return first_of


def _cases_source(spec: dict[str, Any], where: str, ctx: CompileContext, scope: str) -> Getter:
    cases = expect_list(spec["cases"], f"{where}.cases", non_empty=True)
    compiled = []
    for i, case in enumerate(cases):
        at = f"{where}.cases[{i}]"
        case = expect_mapping(case, at)
        check_keys(case, at, allowed={"when", "value"}, required=["value"])
        if "when" not in case and i != len(cases) - 1:
            raise ConfigError("only the last case may leave out 'when' (it is the fallback)", path=at)
        when = compile_condition(case["when"], f"{at}.when", ctx, scope=scope) if "when" in case else None
        compiled.append((when, compile_spec(case["value"], f"{at}.value", ctx, scope=scope)))

    def choose(data: Any, root: Any) -> Any:
        for when, value in compiled:
            if when is None or when(data, root):
                return value(data, root)
        return None

    return choose


def _object_source(spec: dict[str, Any], where: str, ctx: CompileContext, scope: str) -> Getter:
    return compile_fields(spec["object"], f"{where}.object", ctx, scope=scope)


def _each_source(spec: dict[str, Any], where: str, ctx: CompileContext, scope: str) -> Getter:
    get = compile_value_path(spec["each"], f"{where}.each", scope=scope)
    build = compile_fields(spec["fields"], f"{where}.fields", ctx, scope=ELEMENT)

    def each(data: Any, root: Any) -> Any:
        items = get(data, root)
        if items is None:
            return None
        if not isinstance(items, list):
            raise Fail.one("each", "expected a list")
        out = []
        errors: list[ErrorTuple] | None = None
        for index, item in enumerate(items):
            try:
                value = build(item, root)
            except Fail as fail:
                errors = (errors or []) + prefixed(f"[{index}]", fail.errors)
                continue
            if value is not None:
                out.append(value)
        if errors:
            raise Fail(errors, out)
        return out or None

    return each


def _list_source(spec: dict[str, Any], where: str, ctx: CompileContext, scope: str) -> Getter:
    parts = _parts(spec, "list", where, ctx, scope)

    def fixed_list(data: Any, root: Any) -> Any:
        out = []
        errors: list[ErrorTuple] | None = None
        for index, part in enumerate(parts):
            try:
                value = part(data, root)
            except Fail as fail:
                errors = (errors or []) + prefixed(f"[{index}]", fail.errors)
                continue
            if value is not None:
                out.append(value)
        if errors:
            raise Fail(errors, out)
        return out or None

    return fixed_list


_SOURCE_BUILDERS = {
    "path": _path_source,
    "const": _const_source,
    "concat": _concat_source,
    "first_of": _first_of_source,
    "cases": _cases_source,
    "object": _object_source,
    "each": _each_source,
    "list": _list_source,
}
