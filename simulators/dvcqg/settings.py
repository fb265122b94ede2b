"""Settings of the portal simulator: defaults, and checking of values from kwargs or ``/_sim/config``.

The credentials below are simulator-only demo values, published in the docs on purpose; they open
nothing but this fake.  A real deployment reads the portal's credentials from an Airflow connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DEFAULTS: dict[str, Any] = {
    "username": "lienthong-demo",
    "password": "demo-secret-dvcqg",
    "dstcode": "83",
    "madonvi": "000.00.00.H07",
    "session_lifetime": 1800.0,
    "internal_error_rate": 0.0,
    "seed": None,
    "max_dossiers_per_call": 50,
    "max_progress_per_call": 10,
    "max_catalogue_per_call": 50,
    "reject_unknown_fields": True,
}

#: Settings that are never shown by ``GET /_sim/config``.
HIDDEN = frozenset({"password"})


class SettingError(ValueError):
    """A setting name or value the simulator cannot use; the message names the setting."""


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise SettingError(f"{name} must be a non-empty string")
    return value


def _positive_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise SettingError(f"{name} must be a number above 0")
    return float(value)


def _rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise SettingError(f"{name} must be between 0 and 1")
    return float(value)


def _seed(name: str, value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise SettingError(f"{name} must be an integer or null")
    return value


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SettingError(f"{name} must be an integer of at least 1")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SettingError(f"{name} must be true or false")
    return value


CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "username": _text,
    "password": _text,
    "dstcode": _text,
    "madonvi": _text,
    "session_lifetime": _positive_number,
    "internal_error_rate": _rate,
    "seed": _seed,
    "max_dossiers_per_call": _positive_int,
    "max_progress_per_call": _positive_int,
    "max_catalogue_per_call": _positive_int,
    "reject_unknown_fields": _flag,
}


def checked(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings converted to their types, or :class:`SettingError` naming the first bad one."""
    unknown = sorted(set(settings) - set(CHECKS))
    if unknown:
        raise SettingError(
            f"unknown dvcqg setting(s): {', '.join(unknown)}; known: {', '.join(sorted(CHECKS))}"
        )
    return {name: CHECKS[name](name, value) for name, value in settings.items()}


def visible(settings: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in settings.items() if name not in HIDDEN}
