"""``lienthong``: the command line of the gateway (runs without Airflow).

Every command reads the same configuration as the Airflow tasks: ``LIENTHONG_DATABASE_URL`` (default:
SQLite under ``./.lienthong/``), ``LIENTHONG_MAPPINGS`` and ``AIRFLOW_CONN_<ID>`` connections.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lienthong.cli.common import err_console, setup_logging
from lienthong.errors import ConfigError, LienthongError


class GatewayGroup(click.Group):
    """Turns the gateway's own errors into one clear line and exit code 2, not a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            err_console.print(f"[red]configuration error:[/] {exc}")
            sys.exit(2)
        except LienthongError as exc:
            err_console.print(f"[red]error:[/] {exc}")
            sys.exit(1)


@click.group(cls=GatewayGroup)
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option(
    "--database-url", envvar="LIENTHONG_DATABASE_URL", help="Store URL (default: SQLite under ./.lienthong/)."
)
@click.option(
    "--mappings",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="LIENTHONG_MAPPINGS",
    help="Folder of route files (default: ./mappings).",
)
@click.pass_context
def main(ctx: click.Context, verbose: int, database_url: str | None, mappings: Path | None) -> None:
    """Liên thông: pull dossiers from the one-stop system, map them, deliver them to national systems."""
    setup_logging(verbose)
    ctx.ensure_object(dict)
    ctx.obj["database_url"] = database_url
    ctx.obj["mappings"] = mappings


from lienthong.cli.audit import audit  # noqa: E402
from lienthong.cli.records import dead, quarantine, replays  # noqa: E402
from lienthong.cli.remap import remap  # noqa: E402
from lienthong.cli.report import report  # noqa: E402
from lienthong.cli.runs import deliver, metrics_command, resync, run, status  # noqa: E402
from lienthong.cli.tools import demo, mapping, simulators  # noqa: E402

for command in (
    run,
    deliver,
    resync,
    status,
    metrics_command,
    quarantine,
    dead,
    replays,
    remap,
    mapping,
    simulators,
    demo,
    audit,
    report,
):
    main.add_command(command)
