"""Who really acted: the identity the system authenticated, recorded beside the asserted actor.

``--actor`` (and ``LIENTHONG_ACTOR``) are taken at their word: anyone can type any name.  So the
ledger entries a person causes (replays, unmask, purge) carry, in their detail, ``authenticated``:
the OS user of the process (``os:<name>``, from the process's real uid, not from ``$USER``) or, for a
request the Airflow plugin serves, the user whose token the auth manager validated
(``airflow:<name>``, set with :func:`acting_as`).  The entry's ``actor`` stays what was asserted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_airflow_user: ContextVar[str | None] = ContextVar("lienthong_airflow_user", default=None)


def os_user() -> str:
    """The OS user of this process by its real uid (an environment variable cannot change it)."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):  # no passwd entry (some containers): the uid itself
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def authenticated() -> str:
    user = _airflow_user.get()
    return f"airflow:{user}" if user else f"os:{os_user()}"


@contextmanager
def acting_as(airflow_user: str) -> Iterator[None]:
    """Within this block, entries record ``airflow:<user>`` (the plugin, after the auth manager
    validated the request's token) instead of the OS user of the API server."""
    token = _airflow_user.set(airflow_user)
    try:
        yield
    finally:
        _airflow_user.reset(token)


def stamp(detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` with ``authenticated`` added (the asserted actor is the entry's ``actor``)."""
    detail["authenticated"] = authenticated()
    return detail
