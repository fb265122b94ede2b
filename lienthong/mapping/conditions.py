"""Conditions: ``select`` entries and ``cases[].when``, compiled to ``(data, root) -> bool`` closures.

A condition is a path (with optional ``then`` transforms, as for a field) and exactly one test, or a
combinator (``any``, ``all``, ``not``) of conditions. Each compiled condition carries a description made
from its configuration only (``dossierStatus.id in @codelists/birth_ready_statuses.csv``), which becomes
the reason a record was filtered: a reason never quotes a value from the record.

Values compare as text (``in: [8, 9]`` holds for ``8`` and ``"8"``), because status ids arrive as
numbers from one province and as strings from the next, and code lists are CSV text anyway.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lienthong.errors import ConfigError
from lienthong.mapping.core import (
    CompileContext,
    Fail,
    check_keys,
    expect_int,
    expect_list,
    expect_mapping,
    is_missing,
)
from lienthong.mapping.dates import add_years, to_date
from lienthong.mapping.paths import RECORD, compile_value_path
from lienthong.mapping.transforms import code_key, compile_chain

Predicate = Callable[[Any, Any], bool]
ValueFn = Callable[[Any, Any], Any]

TESTS = ("in", "not_in", "equals", "not_equals", "exists", "matches", "age_under_years")
COMBINATORS = ("any", "all", "not")


class Condition:
    """A compiled condition: call it with ``(data, root)``; ``description`` names it for reasons."""

    __slots__ = ("description", "test")

    def __init__(self, test: Predicate, description: str) -> None:
        self.test = test
        self.description = description

    def __call__(self, data: Any, root: Any) -> bool:
        return self.test(data, root)


def compile_condition(spec: Any, where: str, ctx: CompileContext, *, scope: str = RECORD) -> Condition:
    """``spec`` (a path with one test, or ``any``/``all``/``not``) -> a :class:`Condition`."""
    spec = expect_mapping(spec, where)
    combinators = [key for key in spec if key in COMBINATORS]
    if combinators:
        if len(spec) != 1:
            raise ConfigError(f"{combinators[0]!r} must be the only key of its condition", path=where)
        return _combinator(combinators[0], spec[combinators[0]], f"{where}.{combinators[0]}", ctx, scope)
    check_keys(spec, where, allowed={"path", "then", "as_of", *TESTS}, required=["path"])
    tests = [key for key in spec if key in TESTS]
    if len(tests) != 1:
        raise ConfigError(f"a condition needs exactly one test of: {', '.join(TESTS)}", path=where)
    if "as_of" in spec and tests[0] != "age_under_years":
        raise ConfigError("as_of only goes with age_under_years", path=f"{where}.as_of")
    path = spec["path"]
    value = _value(spec, where, ctx, scope)
    name = tests[0]
    return _TEST_BUILDERS[name](value, spec, f"{where}.{name}", ctx, scope, str(path))


def _value(spec: dict[str, Any], where: str, ctx: CompileContext, scope: str) -> Callable[[Any, Any], Any]:
    get = compile_value_path(spec["path"], f"{where}.path", scope=scope)
    chain = compile_chain(spec["then"], f"{where}.then", ctx) if "then" in spec else ()
    if not chain:
        return lambda data, root: None if is_missing(value := get(data, root)) else value

    def value_of(data: Any, root: Any) -> Any:
        value = get(data, root)
        for transform in chain:
            if is_missing(value):
                return None
            value = transform(value)
        return None if is_missing(value) else value

    return value_of


def _combinator(name: str, arg: Any, where: str, ctx: CompileContext, scope: str) -> Condition:
    if name == "not":
        inner = compile_condition(arg, where, ctx, scope=scope)
        return Condition(lambda data, root: not inner(data, root), f"not ({inner.description})")
    parts = [
        compile_condition(item, f"{where}[{i}]", ctx, scope=scope)
        for i, item in enumerate(expect_list(arg, where, non_empty=True))
    ]
    joined = "; ".join(part.description for part in parts)
    if name == "any":
        return Condition(lambda data, root: any(part(data, root) for part in parts), f"any of ({joined})")
    return Condition(lambda data, root: all(part(data, root) for part in parts), f"all of ({joined})")


def _members(arg: Any, where: str, ctx: CompileContext) -> tuple[set[str], str]:
    """``[8, 9]``, ``"@codelists/x.csv"`` (first column) or ``{file: ..., column: ...}``."""
    if isinstance(arg, list):
        items = expect_list(arg, where, non_empty=True)
        return {code_key(item) for item in items}, "[" + ", ".join(code_key(item) for item in items) + "]"
    if isinstance(arg, str):
        arg = {"file": arg}
    options = expect_mapping(arg, where)
    check_keys(options, where, allowed={"file", "column"}, required=["file"])
    table = ctx.resources.code_table(options["file"], f"{where}.file")
    values = {value for value in table.column(options.get("column"), f"{where}.column") if value}
    return values, str(options["file"])


def _in(
    value: ValueFn, spec: dict[str, Any], where: str, ctx: CompileContext, scope: str, path: str
) -> Condition:
    members, shown = _members(spec["in"], where, ctx)

    def test(data: Any, root: Any) -> bool:
        found = value(data, root)
        return found is not None and code_key(found) in members

    return Condition(test, f"{path} in {shown}")


def _not_in(
    value: ValueFn, spec: dict[str, Any], where: str, ctx: CompileContext, scope: str, path: str
) -> Condition:
    members, shown = _members(spec["not_in"], where, ctx)

    def test(data: Any, root: Any) -> bool:
        found = value(data, root)
        return found is None or code_key(found) not in members

    return Condition(test, f"{path} not in {shown}")


def _equals(
    value: ValueFn, spec: dict[str, Any], where: str, ctx: CompileContext, scope: str, path: str
) -> Condition:
    expected = _scalar(spec["equals"], where)

    def test(data: Any, root: Any) -> bool:
        found = value(data, root)
        return found is not None and code_key(found) == expected

    return Condition(test, f"{path} equals {spec['equals']!r}")


def _not_equals(
    value: ValueFn, spec: dict[str, Any], where: str, ctx: CompileContext, scope: str, path: str
) -> Condition:
    expected = _scalar(spec["not_equals"], where)

    def test(data: Any, root: Any) -> bool:
        found = value(data, root)
        return found is None or code_key(found) != expected

    return Condition(test, f"{path} not equal to {spec['not_equals']!r}")


def _exists(
    value: ValueFn, spec: dict[str, Any], where: str, ctx: CompileContext, scope: str, path: str
) -> Condition:
    wanted = spec["exists"]
    if not isinstance(wanted, bool):
        raise ConfigError("expected true or false", path=where)
    if wanted:
        return Condition(lambda data, root: value(data, root) is not None, f"{path} is present")
    return Condition(lambda data, root: value(data, root) is None, f"{path} is missing")


def _matches(
    value: ValueFn, spec: dict[str, Any], where: str, ctx: CompileContext, scope: str, path: str
) -> Condition:
    if not isinstance(spec["matches"], str):
        raise ConfigError("expected a regular expression", path=where)
    try:
        regex = re.compile(spec["matches"])
    except re.error as exc:
        raise ConfigError(f"invalid regular expression: {exc}", path=where) from None

    def test(data: Any, root: Any) -> bool:
        found = value(data, root)
        return found is not None and regex.fullmatch(code_key(found)) is not None

    return Condition(test, f"{path} matches {spec['matches']}")


def _age_under(
    value: ValueFn, spec: dict[str, Any], where: str, ctx: CompileContext, scope: str, path: str
) -> Condition:
    years = expect_int(spec["age_under_years"], where, minimum=1)
    as_of = None
    if "as_of" in spec:
        get_as_of = compile_value_path(spec["as_of"], where.rsplit(".", 1)[0] + ".as_of", scope=scope)
        as_of = get_as_of

    def test(data: Any, root: Any) -> bool:
        found = value(data, root)
        if found is None:
            return False
        born = to_date(found)
        if born is None:
            raise Fail.one("age_under_years", "not a date")
        reference = ctx.today() if as_of is None else to_date(as_of(data, root))
        if reference is None:
            raise Fail.one("age_under_years", "the as_of date is missing or not a date")
        try:
            return reference < add_years(born, years)
        except (OverflowError, ValueError):  # a birth year near 9999
            raise Fail.one("age_under_years", "the date is out of the supported range") from None

    suffix = f" on {spec['as_of']}" if as_of is not None else ""
    return Condition(test, f"{path} under {years} years old{suffix}")


def _scalar(arg: Any, where: str) -> str:
    if arg is None or isinstance(arg, dict | list):
        raise ConfigError("expected a single value (text, number or boolean)", path=where)
    return code_key(arg)


_TEST_BUILDERS = {
    "in": _in,
    "not_in": _not_in,
    "equals": _equals,
    "not_equals": _not_equals,
    "exists": _exists,
    "matches": _matches,
    "age_under_years": _age_under,
}
