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
    """Turns the gateway's own errors into one clear line and an exit code, not a traceback.

    A configuration or environment fault (a setting, a missing store, a database that is not there, a
    busy port) is exit 2 and one line naming what to fix; ``-v`` adds the traceback for a developer.
    The line is printed unwrapped: a terminal's width must not split it, and a script reads it whole.
    """

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            _explain(ctx, "configuration error", exc)
            sys.exit(2)
        except LienthongError as exc:
            _explain(ctx, "error", exc)
            sys.exit(1)


def _explain(ctx: click.Context, label: str, exc: BaseException) -> None:
    if (ctx.obj or {}).get("verbose"):
        import traceback

        err_console.print("".join(traceback.format_exception(exc)), markup=False, soft_wrap=True, end="")
    err_console.print(f"[red]{label}:[/] ", end="", soft_wrap=True)
    err_console.print(str(exc), markup=False, soft_wrap=True)


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
    ctx.obj["verbose"] = verbose
    ctx.obj["database_url"] = database_url
    ctx.obj["mappings"] = mappings


from lienthong.cli.audit import audit  # noqa: E402
from lienthong.cli.records import dead, quarantine, replays  # noqa: E402
from lienthong.cli.remap import remap  # noqa: E402
from lienthong.cli.report import report  # noqa: E402
from lienthong.cli.review import review, tombstones  # noqa: E402
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
    tombstones,
    review,
    mapping,
    simulators,
    demo,
    audit,
    report,
):
    main.add_command(command)

#: One text per meaning: flags every command group shares get the same help wherever a module left
#: it out (``tests/integration/test_cli_errors.py`` walks the tree and fails on any option without).
SHARED_HELP = {
    "--json": "Print JSON (one document on stdout, for scripts) instead of tables.",
    "--no-progress": "No progress bar, even on a terminal.",
}


def _fill_shared_help(command: click.Command) -> None:
    for param in command.params:
        if isinstance(param, click.Option) and not param.help:
            flag = next((name for name in param.opts if name in SHARED_HELP), None)
            if flag:
                param.help = SHARED_HELP[flag]
    for sub in getattr(command, "commands", {}).values():
        _fill_shared_help(sub)


_fill_shared_help(main)
