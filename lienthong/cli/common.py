"""What every CLI command shares: the consoles, the gateway built from the command line's settings,
and parsing of the ``--since`` moment.  Its own module so that command modules import it, not the group
(``cli.py`` and the command modules used to import each other in a circle)."""

from __future__ import annotations

import logging

import click
from rich.console import Console

from lienthong.masking import install_log_masking

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def setup_logging(verbose: int) -> None:
    """On a terminal, log records go through the same console as the progress bars, which prints them
    above the bars instead of tearing through them; elsewhere (scripts, CI) plain timestamped lines."""
    level = max(logging.DEBUG, logging.WARNING - 10 * verbose)
    if err_console.is_terminal:
        from rich.logging import RichHandler

        handler = RichHandler(console=err_console, show_path=False, markup=False, log_time_format="%H:%M:%S")
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logging.basicConfig(level=level, handlers=[handler])
    else:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_masking()


#: Commands that only read the store.  On a store that is not there (a misspelt SQLite path, an empty
#: PostgreSQL database) they fail naming it instead of creating an empty store and a new archive key
#: that would then answer "nothing to report".  Every other command (run, deliver, resync, replays,
#: resolutions, demo) creates the store on first use.  Keyed by the command's path so that a command
#: module needs no flag of its own, and a new listing is one line here.
READ_ONLY_COMMANDS = frozenset(
    {
        "status",
        "metrics",
        "report",
        "replays",
        "dead list",
        "dead show",
        "quarantine list",
        "quarantine show",
        "audit show",
        "audit verify",
        "audit export",
        "tombstones list",
        "review list",
    }
)


def command_path(ctx: click.Context) -> str:
    """``dead list`` for ``lienthong dead list`` (the group's own name left out)."""
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(names))


def settings_from(ctx: click.Context):  # noqa: ANN201
    """The environment's settings with the command line's ``--database-url`` and ``--mappings``."""
    from lienthong.settings import Settings

    settings = Settings.from_env()
    obj = ctx.find_root().obj or {}
    overrides = {}
    if obj.get("database_url"):
        overrides["database_url"] = obj["database_url"]
    if obj.get("mappings"):
        overrides["mappings_dir"] = obj["mappings"].resolve()
    if overrides:
        settings = Settings(**{**settings.__dict__, **overrides})
    return settings


#: Commands that take a ROUTE and talk to its systems: its connections are resolved before the store
#: is opened, so that a missing or invalid ``AIRFLOW_CONN_*`` is one line and leaves nothing behind.
ROUTE_COMMANDS = {"run": True, "resync": True, "deliver": False}  # name -> pulls from the source


#: Read-only commands that read no sealed value (counts only): they need no archive key, so a
#: monitoring host can run them with the store URL alone; no key is generated either (sealing is lazy).
KEYLESS_COMMANDS = frozenset({"status", "metrics"})


def gateway_from(ctx: click.Context, *, must_exist: bool | None = None):  # noqa: ANN201
    """The gateway of the command line's settings; its store must already exist for a read-only
    command (``READ_ONLY_COMMANDS``, or ``must_exist=True``)."""
    from lienthong.pipeline.runner import Gateway
    from lienthong.store import Store

    settings = settings_from(ctx)
    path = command_path(ctx)
    if must_exist is None:
        must_exist = path in READ_ONLY_COMMANDS
    if path in ROUTE_COMMANDS and ctx.params.get("route"):
        check_connections(settings, ctx.params["route"], pulls=ROUTE_COMMANDS[path])
    store = Store(settings.database_url, must_exist=must_exist)
    if must_exist and path not in KEYLESS_COMMANDS:
        try:
            check_archive_key(store, settings)
        except Exception:
            store.dispose()
            raise
    return Gateway(settings, store)


def check_archive_key(store, settings) -> None:  # noqa: ANN001
    """A read-only command must not generate an archive key: without ``LIENTHONG_ARCHIVE_KEYS`` the key
    lives beside a SQLite store or in ``LIENTHONG_HOME``; a new one there could open nothing this store
    holds (run from another folder against PostgreSQL, the default ``./.lienthong`` is the wrong one)."""
    import os

    from lienthong.audit.config import data_dir_for, switch_on
    from lienthong.audit.keyring import ENV_KEYS, ENV_KEYS_FILE, KEY_FILE
    from lienthong.errors import ConfigError

    if not switch_on() or os.environ.get(ENV_KEYS) or os.environ.get(ENV_KEYS_FILE):
        return
    key_file = data_dir_for(store, settings) / "keys" / KEY_FILE
    if not key_file.is_file():
        raise ConfigError(
            f"no archive key for the store at {store.describe()} (looked for {key_file}); "
            f"set {ENV_KEYS}, or LIENTHONG_HOME to the folder that holds keys/{KEY_FILE}"
        )


def load_route_from(settings, name: str):  # noqa: ANN001, ANN201
    """Route ``name`` from the mappings folder, without opening a store."""
    from lienthong.errors import ConfigError
    from lienthong.mapping import load_route, load_routes

    mappings_dir = settings.mappings_dir
    path = mappings_dir / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(load_routes(mappings_dir))) if mappings_dir.is_dir() else ""
        raise ConfigError(f"no route {name!r} in {mappings_dir} (routes: {known or 'none'})")
    return load_route(path, mappings_dir=mappings_dir)


def check_connections(settings, route_name: str, *, pulls: bool) -> None:  # noqa: ANN001
    """Resolve the connections ``route_name`` uses (its source's if it pulls, every target's): a
    :class:`~lienthong.errors.ConfigError` naming the variable if one is missing or invalid."""
    from connectors.targets import load_spec
    from lienthong.connections import get_connection

    route = load_route_from(settings, route_name)
    if pulls:
        get_connection(route.raw["source"]["connection"])
    targets = {route.raw["target"]["name"]} | {f["target"]["name"] for f in route.raw.get("followups") or []}
    for target in sorted(targets):
        get_connection(load_spec(target, settings.mappings_dir).connection)


def iso_since(value: str) -> str:
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date-time", param_hint="--since") from None
    if moment.tzinfo is None:
        from zoneinfo import ZoneInfo

        moment = moment.replace(tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000%z")
