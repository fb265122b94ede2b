"""Connections the Airflow way: ``AIRFLOW_CONN_<ID>`` environment variables, JSON or URI form.

The CLI and Airflow share one configuration this way (DESIGN.md): a deployment defines each system
once, and the same connection id resolves in a DAG task and in ``lienthong run``.  Secrets stay in
the environment (or Airflow's secrets backend); a :class:`Connection` never prints its password.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from lienthong.errors import ConfigError


@dataclass(frozen=True)
class Connection:
    conn_id: str
    conn_type: str = "http"
    host: str = ""
    port: int | None = None
    schema: str = ""
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """``scheme://host[:port][/schema]``; ``host`` may already carry the scheme, as Airflow allows."""
        host = self.host.rstrip("/")
        if "://" in host:
            scheme, _, rest = host.partition("://")
        else:
            scheme = "https" if self.conn_type in ("https",) else self.extra.get("scheme", "http")
            rest = host
        netloc = rest if self.port is None or ":" in rest.split("/")[0] else f"{rest}:{self.port}"
        base = f"{scheme}://{netloc}"
        if self.schema:
            base += "/" + self.schema.strip("/")
        return base

    def __repr__(self) -> str:
        return f"Connection({self.conn_id!r}, {self.base_url!r}, login={self.login!r}, password=***)"


def env_var_name(conn_id: str) -> str:
    return "AIRFLOW_CONN_" + conn_id.upper()


def get_connection(conn_id: str, environ: dict[str, str] | None = None) -> Connection:
    """Resolve ``conn_id``: first Airflow's own lookup when running inside a task, then the environment."""
    env = os.environ if environ is None else environ
    raw = env.get(env_var_name(conn_id))
    if raw is None:
        airflow_conn = _from_airflow(conn_id) if environ is None else None
        if airflow_conn is not None:
            return airflow_conn
        raise ConfigError(
            f"connection {conn_id!r} is not defined: set {env_var_name(conn_id)} "
            '(JSON: {"conn_type": "http", "host": "...", "login": "...", "password": "...", "extra": {...}})'
        )
    return parse_connection(conn_id, raw)


def parse_connection(conn_id: str, raw: str) -> Connection:
    """The connection a variable holds, or a one-line :class:`ConfigError` naming the variable and the
    part that is wrong; never the value itself (it holds the password)."""
    try:
        connection = _parse(conn_id, raw)
    except ConfigError:
        raise
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{env_var_name(conn_id)} is invalid: {_what(exc)}") from None
    if not connection.host:
        raise ConfigError(f"{env_var_name(conn_id)} names no host")
    return connection


def _what(exc: Exception) -> str:
    """Which part was wrong, in words that cannot carry the variable's value."""
    if isinstance(exc, json.JSONDecodeError):
        return f"its extra is not valid JSON (line {exc.lineno}, column {exc.colno})"
    if "port" in str(exc).lower():
        return "the port is not a number from 1 to 65535"
    if isinstance(exc, ValueError) and "int" in str(exc):
        return "the port is not a number from 1 to 65535"
    return "expected a JSON object or a URI such as http://login:password@host:port/schema"


def _parse(conn_id: str, raw: str) -> Connection:
    raw = raw.strip()
    if raw.startswith("{"):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{env_var_name(conn_id)} is not valid JSON (line {exc.lineno}, column {exc.colno})"
            ) from None
        if not isinstance(data, dict):
            raise ConfigError(f"{env_var_name(conn_id)} is not a JSON object")
        extra = data.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra) if extra.strip() else {}
        if not isinstance(extra, dict):
            raise ConfigError(f"{env_var_name(conn_id)}: extra is not a JSON object")
        port = data.get("port")
        if port not in (None, "") and not (str(port).isdigit() and 0 < int(port) < 65536):
            raise ConfigError(f"{env_var_name(conn_id)}: the port is not a number from 1 to 65535")
        return Connection(
            conn_id=conn_id,
            conn_type=str(data.get("conn_type") or "http"),
            host=str(data.get("host") or ""),
            port=int(port) if port not in (None, "") else None,
            schema=str(data.get("schema") or ""),
            login=data.get("login"),
            password=data.get("password"),
            extra=dict(extra),
        )
    parts = urlsplit(raw)
    if not parts.scheme:
        raise ConfigError(f"{env_var_name(conn_id)} is neither JSON nor a connection URI")
    extra = dict(parse_qsl(parts.query))
    if "__extra__" in extra:
        extra = json.loads(extra.pop("__extra__"))
    parts.port  # noqa: B018 - raises ValueError on a port out of range or not a number
    return Connection(
        conn_id=conn_id,
        conn_type=parts.scheme.replace("-", "_"),
        host=unquote(parts.hostname or ""),
        port=parts.port,
        schema=unquote(parts.path.lstrip("/")),
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        extra=extra,
    )


def _from_airflow(conn_id: str) -> Connection | None:
    """Inside an Airflow task, use Airflow's resolution (secrets backends, metadata DB)."""
    try:
        from airflow.sdk import BaseHook  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - Airflow absent or not configured: the CLI path
        return None
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - not defined in Airflow either
        return None
    return Connection(
        conn_id=conn_id,
        conn_type=conn.conn_type or "http",
        host=conn.host or "",
        port=conn.port,
        schema=conn.schema or "",
        login=conn.login,
        password=conn.password,
        extra=conn.extra_dejson,
    )


def connection_json(host: str, login: str | None = None, password: str | None = None, **extra: Any) -> str:
    """The JSON an ``AIRFLOW_CONN_*`` variable holds; used by the demo and tests to point at simulators."""
    return json.dumps(
        {"conn_type": "http", "host": host, "login": login, "password": password, "extra": extra}
    )
