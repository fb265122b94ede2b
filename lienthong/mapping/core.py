"""Small pieces every part of the mapping engine shares: the internal failure signal, what counts as
missing, and the checks the loader uses to name a bad key by its path.

Why an internal ``Fail`` exception rather than returning errors: the happy path of a compiled field is
then a plain function call (``try`` costs nothing in Python 3.11 when nothing is raised), and only a
failing record pays for building error paths. ``Fail`` never leaves the package: the compiled route turns
it into :class:`lienthong.errors.MappingError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from lienthong.errors import ConfigError
from lienthong.mapping.resources import Resources

#: Vietnam has one time zone and no daylight saving time; iGate writes ``+0700``.
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")

#: (payload path relative to the raiser, rule name, message without personal data)
ErrorTuple = tuple[str, str, str]

#: A compiled value spec: ``(data, root) -> value``; ``None`` means missing (never sent).
Getter = Callable[[Any, Any], Any]

#: The types whose empty value counts as missing ("" , [] and {} are never sent).
EMPTY_TYPES = (str, list, dict)


class Fail(Exception):
    """Internal: one or more rules failed; ``partial`` is what was mapped around the failures."""

    __slots__ = ("errors", "partial")

    def __init__(self, errors: list[ErrorTuple], partial: Any = None) -> None:
        super().__init__()
        self.errors = errors
        self.partial = partial

    @classmethod
    def one(cls, rule: str, message: str) -> Fail:
        return cls([("", rule, message)])


def is_missing(value: Any) -> bool:
    """``None``, ``""``, ``[]`` and ``{}`` are missing: omitted from payloads, replaced by ``default``."""
    return value is None or (not value and type(value) in EMPTY_TYPES)


def join_path(name: str, sub: str) -> str:
    """``TaiLieuNop`` + ``[2].TenTepDinhKem`` -> ``TaiLieuNop[2].TenTepDinhKem``."""
    if not sub:
        return name
    if not name:
        return sub.lstrip(".")
    return name + sub if sub[0] == "[" else f"{name}.{sub}"


def prefixed(name: str, errors: Iterable[ErrorTuple]) -> list[ErrorTuple]:
    return [(join_path(name, path), rule, message) for path, rule, message in errors]


# --- loader checks: each raises ConfigError naming the path of the bad key ---------------------------
def expect_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"expected a mapping, got {_kind(value)}", path=where)
    for key in value:
        if not isinstance(key, str):
            raise ConfigError(f"keys must be text, got {_kind(key)} {key!r}", path=where)
    return value


def expect_list(value: Any, where: str, *, non_empty: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"expected a list, got {_kind(value)}", path=where)
    if non_empty and not value:
        raise ConfigError("expected a non-empty list", path=where)
    return value


def expect_str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"expected non-empty text, got {_kind(value)}", path=where)
    return value


def expect_int(value: Any, where: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"expected an integer, got {_kind(value)}", path=where)
    if minimum is not None and value < minimum:
        raise ConfigError(f"must be at least {minimum}, got {value}", path=where)
    if maximum is not None and value > maximum:
        raise ConfigError(f"must be at most {maximum}, got {value}", path=where)
    return value


def check_keys(
    mapping: Mapping[str, Any], where: str, *, allowed: Iterable[str], required: Iterable[str] = ()
) -> None:
    """Unknown keys are errors (a typo such as ``fmt`` for ``format`` must not be silently ignored)."""
    allowed_set = set(allowed)
    for key in mapping:
        if key not in allowed_set:
            raise ConfigError(
                f"unknown key {key!r} (allowed: {', '.join(sorted(allowed_set))})", path=sub_path(where, key)
            )
    for key in required:
        if key not in mapping:
            raise ConfigError(f"missing required key {key!r}", path=where or None)


def sub_path(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


@dataclass
class CompileContext:
    """What compiling a route needs besides the spec: its files and the clock (``age_under_years``)."""

    resources: Resources
    now: Callable[[], datetime]

    def today(self) -> date:
        """Today in Vietnam, the day a child's age is counted on (injectable for tests)."""
        return self.now().astimezone(VIETNAM).date()
