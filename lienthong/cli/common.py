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
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=max(logging.DEBUG, level), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
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


def gateway_from(ctx: click.Context, *, must_exist: bool | None = None):  # noqa: ANN201
    """The gateway of the command line's settings; its store must already exist for a read-only
    command (``READ_ONLY_COMMANDS``, or ``must_exist=True``)."""
    from lienthong.pipeline.runner import Gateway
    from lienthong.store import Store

    settings = settings_from(ctx)
    if must_exist is None:
        must_exist = command_path(ctx) in READ_ONLY_COMMANDS
    return Gateway(settings, Store(settings.database_url, must_exist=must_exist))


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
