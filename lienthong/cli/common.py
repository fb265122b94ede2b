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


def gateway_from(ctx: click.Context):  # noqa: ANN201
    from lienthong.pipeline.runner import Gateway
    from lienthong.settings import Settings

    settings = Settings.from_env()
    overrides = {}
    if ctx.obj.get("database_url"):
        overrides["database_url"] = ctx.obj["database_url"]
    if ctx.obj.get("mappings"):
        overrides["mappings_dir"] = ctx.obj["mappings"].resolve()
    if overrides:
        settings = Settings(**{**settings.__dict__, **overrides})
    return Gateway(settings)


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
