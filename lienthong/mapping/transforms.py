"""The transform registry: a name in ``then: [...]`` -> a small pure function, built once per route.

A transform is written in a route either as a bare name (``nfc``) or as a one-key mapping with its
argument (``{truncate: 1000}``, ``{datetime: {format: "%Y%m%d%H%M%S"}}``). Each factory here validates its
argument when the route is loaded (a bad argument is a :class:`ConfigError` naming its path, such as
``fields.NgayHenTra.then[0].datetime.format``) and returns a closure that does only the per-value work.

A transform only ever sees a present value (the engine skips missing ones) and signals a bad value by
raising ``Fail`` with its own name as the rule. Messages never echo the value: it may be an identity
number, a phone number or a name.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lienthong.errors import ConfigError
from lienthong.mapping.core import (
    VIETNAM,
    CompileContext,
    Fail,
    check_keys,
    expect_int,
    expect_list,
    expect_mapping,
    expect_str,
)
from lienthong.mapping.dates import date_parser, fixed_offset, parse_iso_datetime, renderer
from lienthong.mapping.text import nfc

Transform = Callable[[Any], Any]
Factory = Callable[[Any, str, CompileContext], Transform]

NO_ARG, ARG, OPTIONAL_ARG = "none", "required", "optional"
_REGISTRY: dict[str, tuple[Factory, str]] = {}


def register(name: str, argument: str = NO_ARG) -> Callable[[Factory], Factory]:
    """Add a transform factory under ``name``; ``argument`` says whether ``{name: arg}`` is needed."""

    def add(factory: Factory) -> Factory:
        _REGISTRY[name] = (factory, argument)
        return factory

    return add


def names() -> list[str]:
    return sorted(_REGISTRY)


def compile_transform(spec: Any, where: str, ctx: CompileContext) -> Transform:
    """One entry of a ``then`` list -> its closure; ``where`` is the entry's path (``...then[0]``)."""
    if isinstance(spec, str):
        name, arg, has_arg, arg_where = spec, None, False, where
    elif isinstance(spec, dict) and len(spec) == 1:
        name, arg = next(iter(spec.items()))
        has_arg, arg_where = True, f"{where}.{name}"
    else:
        raise ConfigError("a transform is a name (nfc) or a one-key mapping ({truncate: 50})", path=where)
    entry = _REGISTRY.get(name) if isinstance(name, str) else None
    if entry is None:
        raise ConfigError(f"unknown transform {name!r} (known: {', '.join(names())})", path=arg_where)
    factory, argument = entry
    if argument == ARG and not has_arg:
        raise ConfigError(f"transform {name!r} needs an argument: {{{name}: ...}}", path=where)
    if argument == NO_ARG and has_arg and arg is not None:
        raise ConfigError(f"transform {name!r} takes no argument", path=arg_where)
    return factory(arg, arg_where, ctx)


def compile_chain(specs: Any, where: str, ctx: CompileContext) -> tuple[Transform, ...]:
    return tuple(
        compile_transform(spec, f"{where}[{i}]", ctx) for i, spec in enumerate(expect_list(specs, where))
    )


def code_key(value: Any) -> str:
    """Codes compare as text: ``8``, ``"8"`` and ``8.0`` are the same status id."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else code_key(value)


# --- text ---------------------------------------------------------------------------------------------
def _inline(transform: Transform, method: str) -> Transform:
    """Mark a ``str`` method transform so generated field code runs it without a call (``fused.py``)."""
    transform.inline = f"v = v.{method}() if isinstance(v, str) else v"  # type: ignore[attr-defined]
    return transform


@register("nfc")
def _nfc(arg: Any, where: str, ctx: CompileContext) -> Transform:
    return lambda value: nfc(value) if isinstance(value, str) else value


@register("strip")
def _strip(arg: Any, where: str, ctx: CompileContext) -> Transform:
    return _inline(lambda value: value.strip() if isinstance(value, str) else value, "strip")


@register("upper")
def _upper(arg: Any, where: str, ctx: CompileContext) -> Transform:
    return _inline(lambda value: value.upper() if isinstance(value, str) else value, "upper")


@register("lower")
def _lower(arg: Any, where: str, ctx: CompileContext) -> Transform:
    return _inline(lambda value: value.lower() if isinstance(value, str) else value, "lower")


_NON_DIGITS = re.compile(r"[^0-9]")


@register("digits")
def _digits(arg: Any, where: str, ctx: CompileContext) -> Transform:
    return lambda value: _NON_DIGITS.sub("", _text(value))


@register("str")
def _str(arg: Any, where: str, ctx: CompileContext) -> Transform:
    return _text


@register("int")
def _int(arg: Any, where: str, ctx: CompileContext) -> Transform:
    def to_int(value: Any) -> int:
        if type(value) is int:
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise Fail.one("int", "not an integer")

    return to_int


@register("json")
def _json(arg: Any, where: str, ctx: CompileContext) -> Transform:
    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise Fail.one("json", "not valid JSON") from None

    return parse


_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")


def normalise_phone(value: Any) -> str | None:
    """``+84 912 345 678``, ``84912345678``, ``0912345678`` (and ``912345678``, a number stored as an
    integer that lost its 0) -> ``0912345678``; ``None`` when it is not a Vietnamese number."""
    text = _PHONE_SEPARATORS.sub("", _text(value))
    if text.startswith("+84"):
        rest = text[3:]
    elif text.startswith("84") and len(text) == 11:
        rest = text[2:]
    elif text.startswith("0"):
        rest = text[1:]
    else:
        rest = text
    if len(rest) == 10 and rest.startswith("0"):  # "+84 (0)912..." written with its trunk zero
        rest = rest[1:]
    if len(rest) == 9 and rest.isascii() and rest.isdigit() and rest[0] != "0":
        return "0" + rest
    return None


@register("phone")
def _phone(arg: Any, where: str, ctx: CompileContext) -> Transform:
    def phone(value: Any) -> str:
        normalised = normalise_phone(value)
        if normalised is None:
            raise Fail.one("phone", "not a valid phone number")
        return normalised

    return phone


@register("truncate", ARG)
def _truncate(arg: Any, where: str, ctx: CompileContext) -> Transform:
    limit = expect_int(arg, where, minimum=1)
    return lambda value: nfc(_text(value))[:limit]


@register("length", ARG)
def _length(arg: Any, where: str, ctx: CompileContext) -> Transform:
    expected = expect_int(arg, where, minimum=0)

    def length(value: Any) -> Any:
        size = len(_text(value))
        if size != expected:
            raise Fail.one("length", f"expected {expected} characters, got {size}")
        return value

    return length


@register("max_length", ARG)
def _max_length(arg: Any, where: str, ctx: CompileContext) -> Transform:
    limit = expect_int(arg, where, minimum=0)

    def max_length(value: Any) -> Any:
        size = len(_text(value))
        if size > limit:
            raise Fail.one("max_length", f"at most {limit} characters, got {size}")
        return value

    return max_length


@register("pattern", ARG)
def _pattern(arg: Any, where: str, ctx: CompileContext) -> Transform:
    try:
        regex = re.compile(expect_str(arg, where))
    except re.error as exc:
        raise ConfigError(f"invalid regular expression: {exc}", path=where) from None
    message = f"does not match the pattern {arg}"

    def pattern(value: Any) -> Any:
        if regex.fullmatch(_text(value)) is None:
            raise Fail.one("pattern", message)
        return value

    return pattern


@register("one_of", ARG)
def _one_of(arg: Any, where: str, ctx: CompileContext) -> Transform:
    allowed = {code_key(item) for item in expect_list(arg, where, non_empty=True)}
    message = f"not one of the allowed values ({', '.join(code_key(item) for item in arg)})"

    def one_of(value: Any) -> Any:
        if code_key(value) not in allowed:
            raise Fail.one("one_of", message)
        return value

    return one_of


@register("prefix", ARG)
def _prefix(arg: Any, where: str, ctx: CompileContext) -> Transform:
    if not isinstance(arg, str):
        raise ConfigError("expected text", path=where)
    return lambda value: arg + _text(value)


@register("format", ARG)
def _format(arg: Any, where: str, ctx: CompileContext) -> Transform:
    template = expect_str(arg, where)
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ConfigError(f"invalid format template: {exc}", path=where) from None
    if not names or any(not re.fullmatch(r"value([.\[].*)?", name) for name in names):
        raise ConfigError('a format template uses {value} (e.g. "HS-{value}") and nothing else', path=where)

    def formatted(value: Any) -> str:
        try:
            return template.format(value=value)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):  # e.g. {value:05d} on text
            raise Fail.one("format", "the value does not fit the format template") from None

    return formatted


# --- codes ---------------------------------------------------------------------------------------------
@register("map", ARG)
def _map(arg: Any, where: str, ctx: CompileContext) -> Transform:
    if not isinstance(arg, dict) or not arg:
        raise ConfigError("expected a non-empty mapping of source value -> target value", path=where)
    table = {code_key(key): value for key, value in arg.items()}
    for key, value in table.items():
        if value is None:
            raise ConfigError("a mapped value may not be null", path=f"{where}.{key}")

    def mapped(value: Any) -> Any:
        try:
            return table[code_key(value)]
        except KeyError:
            raise Fail.one("map", "value not in the map") from None

    return mapped


_MISSING = object()


@register("codelist", ARG)
def _codelist(arg: Any, where: str, ctx: CompileContext) -> Transform:
    if isinstance(arg, str):
        arg = {"file": arg}
    options = expect_mapping(arg, where)
    check_keys(options, where, allowed={"file", "from", "to", "default"}, required=["file"])
    table = ctx.resources.code_table(options["file"], f"{where}.file")
    source = table.require_column(options.get("from"), f"{where}.from", default_index=0)
    target = table.require_column(options.get("to"), f"{where}.to", default_index=1)
    codes: dict[str, str] = {}
    for number, row in enumerate(table.rows, start=2):
        key, value = row[source], row[target]
        if not value:
            raise ConfigError(f"{table.ref}: data row {number} has an empty {target!r}", path=f"{where}.file")
        if codes.setdefault(key, value) != value:
            raise ConfigError(f"{table.ref}: code {key!r} is mapped twice, differently", path=f"{where}.file")
    default = options.get("default", _MISSING)
    message = f"unknown code (not in {table.ref}, column {source})"

    def codelist(value: Any) -> Any:
        found = codes.get(code_key(value), _MISSING)
        if found is _MISSING:
            if default is _MISSING:
                raise Fail.one("codelist", message)
            return default
        return found

    return codelist


# --- dates ---------------------------------------------------------------------------------------------
def _zone(name: Any, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(expect_str(name, where))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r}", path=where) from None


def _strftime_format(fmt: Any, where: str) -> str:
    fmt = expect_str(fmt, where)
    try:
        datetime(2000, 1, 2, 3, 4, 5).strftime(fmt)
    except ValueError as exc:
        raise ConfigError(f"invalid date format: {exc}", path=where) from None
    return fmt


@register("datetime", OPTIONAL_ARG)
def _datetime(arg: Any, where: str, ctx: CompileContext) -> Transform:
    options = expect_mapping(arg if arg is not None else {}, where)
    check_keys(options, where, allowed={"format", "tz", "input"})
    render = renderer(_strftime_format(options.get("format", "%Y%m%d%H%M%S"), f"{where}.format"))
    zone = _zone(options["tz"], f"{where}.tz") if "tz" in options else VIETNAM
    same = fixed_offset(zone)
    parse = date_parser(options["input"], f"{where}.input") if "input" in options else parse_iso_datetime
    expected = f"expected {options['input']}" if "input" in options else "expected ISO 8601 with an offset"

    def to_datetime(value: Any) -> str:
        if isinstance(value, datetime):
            moment: datetime | None = value
        else:
            moment = parse(value) if isinstance(value, str) else None
            if moment is None:
                raise Fail.one("datetime", f"not a valid date-time ({expected})")
        # No offset written: the time is taken to be in the target zone already. Already at the zone's
        # fixed offset (iGate's +0700 for Vietnam): nothing to convert.
        if moment.tzinfo is not None and not (
            same is not None and moment.year >= 1976 and moment.utcoffset() == same
        ):
            try:
                moment = moment.astimezone(zone)
            except (OverflowError, ValueError):  # year 1 or 9999 pushed over the edge
                raise Fail.one("datetime", "out of the supported range") from None
        return render(moment)

    return to_datetime


@register("date", OPTIONAL_ARG)
def _date(arg: Any, where: str, ctx: CompileContext) -> Transform:
    options = expect_mapping(arg if arg is not None else {}, where)
    check_keys(options, where, allowed={"format", "input"})
    render = renderer(_strftime_format(options.get("format", "%Y%m%d"), f"{where}.format"))
    parse = date_parser(options["input"], f"{where}.input") if "input" in options else parse_iso_datetime
    expected = f"expected {options['input']}" if "input" in options else "expected ISO 8601"

    def to_date(value: Any) -> str:
        if isinstance(value, datetime):
            return render(value)
        if isinstance(value, date):
            return render(datetime(value.year, value.month, value.day))
        moment = parse(value) if isinstance(value, str) else None
        if moment is None:
            raise Fail.one("date", f"not a valid date ({expected})")
        return render(moment)

    return to_date


__all__ = ["Transform", "compile_chain", "compile_transform", "names", "normalise_phone", "register"]
