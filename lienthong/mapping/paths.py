"""JMESPath expressions compiled to the fastest function that gives the same answer.

Most paths in a route are plain chains (``applicant.data.fullname``, ``tasks[0].name``); for those the
JMESPath interpreter (an AST walk per call) costs several times a chain of ``dict.get``. The expression
is parsed by ``jmespath`` once (so the syntax and its errors are JMESPath's own) and, when its tree is a
chain of fields and indexes, replaced by a specialised closure with JMESPath's semantics: a field of a
non-object and an index of a non-list give ``null``. Anything else (functions, projections, filters)
runs through the compiled ``jmespath`` expression.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jmespath
from jmespath import exceptions as jmespath_errors

from lienthong.errors import ConfigError
from lienthong.mapping.core import Fail

PathFn = Callable[[Any], Any]


def compile_path(expression: Any, where: str) -> PathFn:
    """The getter for ``expression``; a syntax error is a :class:`ConfigError` at ``where``."""
    if not isinstance(expression, str) or not expression.strip():
        raise ConfigError("expected a JMESPath expression (non-empty text)", path=where)
    try:
        compiled = jmespath.compile(expression)
    except jmespath_errors.JMESPathError as exc:
        detail = getattr(exc, "msg", None) or str(exc).splitlines()[0]
        raise ConfigError(f"invalid JMESPath expression {expression!r}: {detail}", path=where) from None
    steps = _chain(compiled.parsed)
    if steps is not None:
        getter = _chain_getter(tuple(steps))
        getter.steps = tuple(steps)  # type: ignore[attr-defined]  # lets fused fields inline the chain
        return getter
    return _interpreted(compiled.search)


def _interpreted(search: Callable[[Any], Any]) -> PathFn:
    def get(data: Any) -> Any:
        try:
            return search(data)
        except (jmespath_errors.JMESPathError, TypeError, ValueError):
            # The library's message quotes the offending value, which may be personal data.
            raise Fail.one("path", "the expression cannot be evaluated on this record (wrong type)") from None

    return get


def _chain(node: dict[str, Any]) -> list[str | int] | None:
    """``a.b[0].c`` -> ``["a", "b", 0, "c"]``; ``None`` when the tree is more than such a chain."""
    kind = node["type"]
    if kind == "field":
        return [node["value"]]
    if kind == "current":
        return []
    if kind == "subexpression":
        steps: list[str | int] = []
        for child in node["children"]:
            part = _chain(child)
            if part is None:
                return None
            steps.extend(part)
        return steps
    if kind == "index_expression":
        left, right = node["children"]
        base = _chain(left)
        if base is None or right["type"] != "index":
            return None
        return [*base, int(right["value"])]
    return None


def _chain_getter(steps: tuple[str | int, ...]) -> PathFn:
    if not steps:
        return lambda data: data
    if all(isinstance(step, str) for step in steps):
        if len(steps) == 1:
            return _key1(steps[0])  # type: ignore[arg-type]
        if len(steps) == 2:
            return _key2(*steps)  # type: ignore[arg-type]
        if len(steps) == 3:
            return _key3(*steps)  # type: ignore[arg-type]

    def get(data: Any) -> Any:
        for step in steps:
            if isinstance(step, str):
                if not isinstance(data, dict):
                    return None
                data = data.get(step)
            else:
                if not isinstance(data, list):
                    return None
                try:
                    data = data[step]
                except IndexError:
                    return None
        return data

    return get


def _key1(a: str) -> PathFn:
    def get(data: Any) -> Any:
        return data.get(a) if isinstance(data, dict) else None

    return get


def _key2(a: str, b: str) -> PathFn:
    def get(data: Any) -> Any:
        if isinstance(data, dict):
            data = data.get(a)
            if isinstance(data, dict):
                return data.get(b)
        return None

    return get


def _key3(a: str, b: str, c: str) -> PathFn:
    def get(data: Any) -> Any:
        if isinstance(data, dict):
            data = data.get(a)
            if isinstance(data, dict):
                data = data.get(b)
                if isinstance(data, dict):
                    return data.get(c)
        return None

    return get


#: Where a field is evaluated: on the record; on an element of ``each`` (``root.…`` reaches the record);
#: on an element of a followup's ``for_each`` (``item.…`` is the element, ``root.…`` the record).
RECORD, ELEMENT, FOLLOWUP = "record", "element", "followup"
#: What a compiled path reads: the current data, the record, or the followup context
#: ``{"item": element, "root": record}`` (built only for expressions that need it, such as functions).
ON_DATA, ON_ROOT, ON_CONTEXT = "data", "root", "context"


def split_value_path(expression: Any, where: str, *, scope: str = RECORD) -> tuple[PathFn, str]:
    """``(getter, what it reads)`` for ``expression`` in ``scope``.

    In a followup, ``item.x`` and ``root.x`` are rewritten to plain paths on the element and the record,
    which gives the same answer as evaluating them on ``{"item": element, "root": record}`` without
    building that object per element; other expressions are evaluated on that object.
    """
    if scope != RECORD and isinstance(expression, str):
        stripped = expression.strip()
        if stripped == "root" or stripped.startswith("root."):
            rest = stripped[5:]
            if not rest or _is_chain(rest):
                return compile_path(rest or "@", where), ON_ROOT
        if scope == FOLLOWUP and (stripped == "item" or stripped.startswith("item.")):
            rest = stripped[5:]
            if not rest or _is_chain(rest):
                return compile_path(rest or "@", where), ON_DATA
    if scope == FOLLOWUP:
        return compile_path(expression, where), ON_CONTEXT
    return compile_path(expression, where), ON_DATA


def _is_chain(expression: str) -> bool:
    try:
        return _chain(jmespath.compile(expression).parsed) is not None
    except jmespath_errors.JMESPathError:
        return False


def compile_value_path(expression: Any, where: str, *, scope: str = RECORD) -> Callable[[Any, Any], Any]:
    """A ``(data, root) -> value`` getter (see :func:`split_value_path`)."""
    get, reads = split_value_path(expression, where, scope=scope)
    return bind(get, reads)


def bind(get: PathFn, reads: str) -> Callable[[Any, Any], Any]:
    if reads == ON_ROOT:
        return lambda data, root: get(root)
    if reads == ON_CONTEXT:
        return lambda data, root: get({"item": data, "root": root})
    return lambda data, root: get(data)
