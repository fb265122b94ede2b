"""Conditions: ``select`` entries and ``cases[].when``, compiled to ``(data, root) -> bool`` closures.

A condition is a path (with optional ``then`` transforms, as for a field) and exactly one test, or a
combinator (``any``, ``all``, ``not``) of conditions. Each compiled condition carries a description made
from its configuration only (``dossierStatus.id in @codelists/birth_ready_statuses.csv``), which becomes
the reason a record was filtered: a reason never quotes a value from the record.

Values compare as text (``in: [8, 9]`` holds for ``8`` and ``"8"``), because status ids arrive as
numbers from one province and as strings from the next, and code lists are CSV text anyway.

Missing data is not an answer (issue #17): a test that needs a value (``in``, ``equals``,
``matches``, ``age_under_years``) cannot be decided when the value is absent, and in a ``select`` that
quarantines the record naming the source path, instead of filtering it as out of scope.  ``not_in``,
``not_equals`` and ``exists`` take a missing value as a real answer, as before.  ``when_missing:
quarantine|false|true`` says it explicitly per condition; the default for value-needing tests is
``quarantine`` in ``select`` and ``false`` in a field's ``when`` and in ``cases`` (there "false" means
"leave the field out / try the next case", and a required field still reports what is missing).  A
value that is an object or a list where a code is compared is malformed: it cannot be decided either.
Combinators use three-valued logic: ``any`` holds if one part holds even when another cannot be
decided; ``all`` fails if one part fails; otherwise an undecidable part makes the whole undecidable.
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

TESTS = ("in", "not_in", "equals", "not_equals", "exists", "matches", "age_under_years")
COMBINATORS = ("any", "all", "not")
WHEN_MISSING = ("quarantine", "false", "true")
#: What a missing value means to each test unless ``when_missing`` says otherwise; ``None``: the
#: test needs a value, the context's default applies (``quarantine`` in ``select``).
_MISSING_ANSWER: dict[str, str | None] = {
    "in": None,
    "equals": None,
    "matches": None,
    "age_under_years": None,
    "not_in": "true",
    "not_equals": "true",
}


class Condition:
    """A compiled condition: call it with ``(data, root)``; ``description`` names it for reasons."""

    __slots__ = ("description", "test")

    def __init__(self, test: Predicate, description: str) -> None:
        self.test = test
        self.description = description

    def __call__(self, data: Any, root: Any) -> bool:
        return self.test(data, root)


def compile_condition(
    spec: Any, where: str, ctx: CompileContext, *, scope: str = RECORD, missing: str = "false"
) -> Condition:
    """``spec`` (a path with one test, or ``any``/``all``/``not``) -> a :class:`Condition`.

    ``missing`` is what a value-needing test answers for a missing value when the condition has no
    ``when_missing`` of its own: ``quarantine`` (``select``) or ``false`` (``when``, ``cases``).
    A condition that cannot be decided raises ``Fail`` with the source path as the error's field."""
    spec = expect_mapping(spec, where)
    combinators = [key for key in spec if key in COMBINATORS]
    if combinators:
        if len(spec) != 1:
            raise ConfigError(f"{combinators[0]!r} must be the only key of its condition", path=where)
        return _combinator(
            combinators[0], spec[combinators[0]], f"{where}.{combinators[0]}", ctx, scope, missing
        )
    check_keys(spec, where, allowed={"path", "then", "as_of", "when_missing", *TESTS}, required=["path"])
    tests = [key for key in spec if key in TESTS]
    if len(tests) != 1:
        raise ConfigError(f"a condition needs exactly one test of: {', '.join(TESTS)}", path=where)
    if "as_of" in spec and tests[0] != "age_under_years":
        raise ConfigError("as_of only goes with age_under_years", path=f"{where}.as_of")
    name = tests[0]
    path = str(spec["path"])
    check, description, scalar = _TEST_BUILDERS[name](spec, f"{where}.{name}", ctx, scope, path)
    when_missing = _when_missing(spec, where, name, missing)
    value = _value(spec, where, ctx, scope)

    def test(data: Any, root: Any) -> bool:
        try:
            found = value(data, root)
            if found is None:
                if when_missing == "quarantine":
                    raise Fail.one(
                        "missing", f"is missing, so the condition ({description}) cannot be decided"
                    )
                if when_missing != "test":
                    return when_missing == "true"
            elif scalar and isinstance(found, dict | list):
                raise Fail.one(
                    "malformed", f"is an object or a list, so the condition ({description}) cannot be decided"
                )
            return check(found, data, root)
        except Fail as fail:
            raise Fail([(path, rule, message) for _, rule, message in fail.errors]) from None

    return Condition(test, description)


def _when_missing(spec: dict[str, Any], where: str, test: str, default: str) -> str:
    """The answer to a missing value: the condition's own ``when_missing``, else the test's own
    meaning (``not_in``: true; ``exists``: ``test``, the test itself decides), else the context's."""
    if "when_missing" in spec:
        answer = spec["when_missing"]
        answer = str(answer).lower() if isinstance(answer, bool) else answer
        if answer not in WHEN_MISSING:
            raise ConfigError(f"expected one of {', '.join(WHEN_MISSING)}", path=f"{where}.when_missing")
        return str(answer)
    if test == "exists":
        return "test"
    return _MISSING_ANSWER[test] or default


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


def _combinator(name: str, arg: Any, where: str, ctx: CompileContext, scope: str, missing: str) -> Condition:
    if name == "not":
        inner = compile_condition(arg, where, ctx, scope=scope, missing=missing)
        return Condition(lambda data, root: not inner(data, root), f"not ({inner.description})")
    parts = [
        compile_condition(item, f"{where}[{i}]", ctx, scope=scope, missing=missing)
        for i, item in enumerate(expect_list(arg, where, non_empty=True))
    ]
    joined = "; ".join(part.description for part in parts)
    if name == "any":
        return Condition(lambda data, root: _three_valued(parts, data, root, True), f"any of ({joined})")
    return Condition(lambda data, root: _three_valued(parts, data, root, False), f"all of ({joined})")


def _three_valued(parts: list[Condition], data: Any, root: Any, decisive: bool) -> bool:
    """``any`` (``decisive`` True) or ``all`` (False): a part answering ``decisive`` decides, even if
    another part cannot be decided; otherwise the first undecidable part is the answer."""
    undecided: Fail | None = None
    for part in parts:
        try:
            if part(data, root) is decisive:
                return decisive
        except Fail as fail:
            undecided = undecided or fail
    if undecided is not None:
        raise undecided
    return not decisive


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


Check = Callable[[Any, Any, Any], bool]  # (found, data, root) -> holds; found is None only for exists


def _in(
    spec: dict[str, Any], where: str, ctx: CompileContext, scope: str, path: str
) -> tuple[Check, str, bool]:
    members, shown = _members(spec["in"], where, ctx)
    return (lambda found, data, root: code_key(found) in members), f"{path} in {shown}", True


def _not_in(
    spec: dict[str, Any], where: str, ctx: CompileContext, scope: str, path: str
) -> tuple[Check, str, bool]:
    members, shown = _members(spec["not_in"], where, ctx)
    return (lambda found, data, root: code_key(found) not in members), f"{path} not in {shown}", True


def _equals(
    spec: dict[str, Any], where: str, ctx: CompileContext, scope: str, path: str
) -> tuple[Check, str, bool]:
    expected = _scalar(spec["equals"], where)
    return (lambda found, data, root: code_key(found) == expected), f"{path} equals {spec['equals']!r}", True


def _not_equals(
    spec: dict[str, Any], where: str, ctx: CompileContext, scope: str, path: str
) -> tuple[Check, str, bool]:
    expected = _scalar(spec["not_equals"], where)
    description = f"{path} not equal to {spec['not_equals']!r}"
    return (lambda found, data, root: code_key(found) != expected), description, True


def _exists(
    spec: dict[str, Any], where: str, ctx: CompileContext, scope: str, path: str
) -> tuple[Check, str, bool]:
    wanted = spec["exists"]
    if not isinstance(wanted, bool):
        raise ConfigError("expected true or false", path=where)
    if wanted:
        return (lambda found, data, root: found is not None), f"{path} is present", False
    return (lambda found, data, root: found is None), f"{path} is missing", False


def _matches(
    spec: dict[str, Any], where: str, ctx: CompileContext, scope: str, path: str
) -> tuple[Check, str, bool]:
    if not isinstance(spec["matches"], str):
        raise ConfigError("expected a regular expression", path=where)
    try:
        regex = re.compile(spec["matches"])
    except re.error as exc:
        raise ConfigError(f"invalid regular expression: {exc}", path=where) from None
    check: Check = lambda found, data, root: regex.fullmatch(code_key(found)) is not None  # noqa: E731
    return check, f"{path} matches {spec['matches']}", True


def _age_under(
    spec: dict[str, Any], where: str, ctx: CompileContext, scope: str, path: str
) -> tuple[Check, str, bool]:
    years = expect_int(spec["age_under_years"], where, minimum=1)
    as_of = None
    if "as_of" in spec:
        as_of = compile_value_path(spec["as_of"], where.rsplit(".", 1)[0] + ".as_of", scope=scope)

    def check(found: Any, data: Any, root: Any) -> bool:
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
    return check, f"{path} under {years} years old{suffix}", False


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
