"""Date parsing for the ``datetime`` and ``date`` transforms and the ``age_under_years`` condition.

iGate writes ISO 8601 with milliseconds and a ``+0700`` offset; Python 3.11's ``fromisoformat`` reads
that, ``Z`` and ``+07:00``. Civil-status forms write ``dd/MM/yyyy``; ``datetime.strptime`` reads any
format but is slow (it re-interprets the format on every call), so formats made only of ``%d %m %Y %H
%M %S`` and literal characters are compiled to one regular expression once. Parsers return ``None`` on
a bad value, never raise: the caller turns that into a field error without quoting the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from lienthong.errors import ConfigError

Parser = Callable[[str], datetime | None]

_FIELDS = {
    "d": ("day", r"\d{1,2}"),
    "m": ("month", r"\d{1,2}"),
    "Y": ("year", r"\d{4}"),
    "H": ("hour", r"\d{1,2}"),
    "M": ("minute", r"\d{1,2}"),
    "S": ("second", r"\d{1,2}"),
}


def parse_iso_datetime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def date_parser(fmt: Any, where: str) -> Parser:
    """A parser for ``fmt`` (strptime syntax); a format strptime cannot use is a ConfigError."""
    if not isinstance(fmt, str) or not fmt:
        raise ConfigError("expected a strptime format such as %d/%m/%Y", path=where)
    fast = _regex_parser(fmt)
    if fast is not None:
        return fast
    try:
        datetime.strptime(datetime(2000, 1, 2, 3, 4, 5, tzinfo=UTC).strftime(fmt), fmt)
    except ValueError as exc:
        raise ConfigError(f"invalid date format: {exc}", path=where) from None

    def parse(text: str) -> datetime | None:
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            return None

    return parse


def _regex_parser(fmt: str) -> Parser | None:
    pattern, seen, i = [], set(), 0
    while i < len(fmt):
        char = fmt[i]
        if char == "%":
            code = fmt[i + 1 : i + 2]
            if code not in _FIELDS or code in seen:
                return None
            name, regex = _FIELDS[code]
            pattern.append(f"(?P<{name}>{regex})")
            seen.add(code)
            i += 2
        else:
            pattern.append(re.escape(char))
            i += 1
    if not {"d", "m", "Y"} <= seen:
        return None
    matcher = re.compile("".join(pattern)).fullmatch

    def parse(text: str) -> datetime | None:
        found = matcher(text.strip())
        if found is None:
            return None
        try:
            return datetime(**{key: int(value) for key, value in found.groupdict().items()})
        except ValueError:  # 31/02/2025 and friends
            return None

    return parse


def to_date(value: Any) -> date | None:
    """A date from a date, a datetime, ``yyyyMMdd`` or ISO text; ``None`` when it is none of these."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) == 8 and text.isdigit():
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            return None
    moment = parse_iso_datetime(text)
    return moment.date() if moment else None


def add_years(day: date, years: int) -> date:
    """``day`` plus ``years``; 29 February becomes 1 March in a year without one (the legal reading)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def renderer(fmt: str) -> Callable[[datetime | date], str]:
    """``strftime(fmt)``, or an equivalent %-template when ``fmt`` uses only ``%Y %m %d %H %M %S``:
    formatting the portal's ``%Y%m%d%H%M%S`` that way costs a third of ``strftime`` (measured; a
    dossier with its steps formats a dozen dates)."""
    parts: list[str] = []
    fields: list[str] = []
    i = 0
    while i < len(fmt):
        char = fmt[i]
        if char == "%":
            code = fmt[i + 1 : i + 2]
            if code not in _FIELDS:
                return lambda moment: moment.strftime(fmt)
            parts.append("%04d" if code == "Y" else "%02d")
            fields.append(_FIELDS[code][0])
            i += 2
        else:
            parts.append("%%" if char == "%" else char)
            i += 1
    template = "".join(parts)
    if fields == ["year", "month", "day", "hour", "minute", "second"]:
        return lambda m: template % (m.year, m.month, m.day, m.hour, m.minute, m.second)  # type: ignore[union-attr]
    if fields == ["year", "month", "day"]:
        return lambda m: template % (m.year, m.month, m.day)
    names = tuple(fields)
    return lambda m: template % tuple(getattr(m, name) for name in names)


def fixed_offset(zone: tzinfo) -> timedelta | None:
    """The zone's UTC offset when it has been the same since 1976 (Vietnam: +07:00, no summer time),
    else ``None``. A time already at that offset then needs no conversion, which is the usual case
    (iGate writes +0700)."""
    offsets = {
        datetime(year, month, 1, 12, tzinfo=zone).utcoffset()
        for year in range(1976, 2101)
        for month in (1, 7)
    }
    return offsets.pop() if len(offsets) == 1 else None
