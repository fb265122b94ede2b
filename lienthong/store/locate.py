"""Where a store URL points, said without its credentials, and why opening it failed, in one line.

An operator who mistypes ``LIENTHONG_DATABASE_URL`` must read what to fix (which variable, which
database, which file), not a driver's traceback, and must never read the password back: a password
holding an ``@`` that is not %-encoded splits the URL in the wrong places, so the "database
name" SQLAlchemy parses may hold the rest of the password.  That case is detected before anything is
parsed or printed.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from lienthong.errors import ConfigError

SETTING = "LIENTHONG_DATABASE_URL (or --database-url)"
_BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class StoreLocation:
    """A store URL's parts an operator may read: backend, host, port, database or file path."""

    backend: str
    host: str | None = None
    port: int | None = None
    database: str | None = None
    path: Path | None = None  # SQLite file (None for ``:memory:``)

    def describe(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.path}" if self.path else "sqlite://(in memory)"
        port = f":{self.port}" if self.port else ""
        return f"{self.backend}://{self.host or 'localhost'}{port}/{self.database or ''}"


def locate(url: str) -> StoreLocation:
    """Parse ``url`` or raise a :class:`ConfigError` that never repeats the URL (it may hold a password)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(f"{SETTING} is not a URL (expected sqlite:///PATH or postgresql://HOST/DB)")
    backend = scheme.split("+", 1)[0].lower()
    if backend not in _BACKENDS:
        raise ConfigError(
            f"{SETTING}: unsupported store {backend!r} (use sqlite:///PATH or postgresql://HOST:PORT/DB)"
        )
    if backend != "sqlite" and rest.count("@") > 1:
        # More than one "@": the URL cannot be split into credentials and host; every other character
        # a password may hold parses (SQLAlchemy takes everything up to the "@" as the password).
        raise ConfigError(
            f'{SETTING}: the user or password holds an "@" that must be %-encoded as %40 (and a "%" as %25)'
        )
    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError):
        raise ConfigError(f"{SETTING} is not a valid {backend} URL") from None
    if backend == "sqlite":
        database = parsed.database
        path = Path(database).expanduser().absolute() if database and database != ":memory:" else None
        return StoreLocation("sqlite", path=path)
    return StoreLocation(backend, host=parsed.host, port=parsed.port, database=parsed.database)


def missing_store(where: StoreLocation) -> ConfigError:
    return ConfigError(f"no store at {where.describe()}; set LIENTHONG_DATABASE_URL or run a route first")


def create_sqlite_file(where: StoreLocation) -> None:
    """Create the SQLite file (and its folder) readable by its owner only, or say in one line why not.

    The file holds sealed personal data and the outbox: 0600 from the first byte, not chmod-ed after
    SQLite made it with the umask's mode (its WAL and shared-memory files take the same mode)."""
    path = where.path
    if path is None or path.is_file():
        return
    if path.exists():
        raise ConfigError(f"cannot use {path} as the SQLite store: it is not a file")
    blocker = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise ConfigError(
            f"cannot create the SQLite store at {path}: {blocker} is a file, not a folder; "
            f"fix {SETTING} or LIENTHONG_HOME"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return  # another process made it between the check and now
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else type(exc).__name__
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            reason = "not writable (" + reason.lower() + ")"
        raise ConfigError(
            f"cannot create the SQLite store at {path}: {reason}; fix {SETTING} or LIENTHONG_HOME"
        ) from None
    os.close(fd)


_PG_HINTS = (
    (
        re.compile(r'database "[^"]*" does not exist'),
        "the database does not exist: create it (createdb) or fix ",
    ),
    (
        re.compile(r"password authentication failed|role \"[^\"]*\" does not exist|no password supplied"),
        "the server refused the credentials (in the URL, a password's @ is written %40 and % is %25); fix ",
    ),
    (
        re.compile(r"Connection refused|failed to resolve host|could not translate host|timeout expired"),
        "the server cannot be reached; check the host and port in ",
    ),
)


def explain_open_failure(where: StoreLocation, exc: Exception) -> ConfigError:
    """One line for a store that could not be opened: which store, and what to fix."""
    message = str(getattr(exc, "orig", None) or exc)
    if where.backend == "sqlite":
        if "unable to open database file" in message or "readonly database" in message:
            return ConfigError(
                f"cannot open the SQLite store at {where.describe()}: the file or its folder is not "
                f"writable; fix the permissions or {SETTING}"
            )
        return ConfigError(f"cannot open the SQLite store at {where.describe()}: {_first_line(message)}")
    for pattern, hint in _PG_HINTS:
        if pattern.search(message):
            return ConfigError(f"cannot open the store at {where.describe()}: {hint}{SETTING}")
    return ConfigError(
        f"cannot open the store at {where.describe()}: {type(getattr(exc, 'orig', exc)).__name__}; "
        f"check {SETTING} (run with -v for the details)"
    )


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0][:200] if message.strip() else "unknown error"
