"""``lienthong``: the command line of the gateway (runs without Airflow).

Every command reads the same configuration as the Airflow tasks: ``LIENTHONG_DATABASE_URL`` (default:
SQLite under ``./.lienthong/``), ``LIENTHONG_MAPPINGS`` and ``AIRFLOW_CONN_<ID>`` connections.
"""

from __future__ import annotations

import json
import logging
import sys
from contextlib import nullcontext
from pathlib import Path

import click
from rich.console import Console

from lienthong.errors import ConfigError, LienthongError
from lienthong.masking import install_log_masking

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=max(logging.DEBUG, level), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_log_masking()


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
    _setup_logging(verbose)
    ctx.ensure_object(dict)
    ctx.obj["database_url"] = database_url
    ctx.obj["mappings"] = mappings


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


@main.command()
@click.argument("route")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (for scripts).")
@click.option(
    "--concurrency", default=4, show_default=True, help="Delivery workers (threads) per target operation."
)
@click.option(
    "--wait-for-retries",
    default=30.0,
    show_default=True,
    help="Seconds the run may wait for retries falling due before it stops and leaves them scheduled.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar, even on a terminal.")
@click.pass_context
def run(
    ctx: click.Context,
    route: str,
    as_json: bool,
    concurrency: int,
    wait_for_retries: float,
    no_progress: bool,
) -> None:
    """Pull, map and deliver ROUTE once; print a summary that adds up."""
    from lienthong.cli_output import RichProgress, print_summary

    gateway = gateway_from(ctx)
    progress = (
        RichProgress(err_console) if (not no_progress and not as_json and err_console.is_terminal) else None
    )
    with progress or nullcontext():
        summary = gateway.run(
            route, concurrency=concurrency, progress=progress, wait_for_retries=wait_for_retries
        )
    if as_json:
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        print_summary(console, summary)
    sys.exit(0 if not summary.checks() else 3)


@main.command()
@click.argument("route")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (for scripts).")
@click.option(
    "--concurrency", default=4, show_default=True, help="Delivery workers (threads) per target operation."
)
@click.option("--wait-for-retries", default=30.0, show_default=True)
@click.pass_context
def deliver(ctx: click.Context, route: str, as_json: bool, concurrency: int, wait_for_retries: float) -> None:
    """Deliver ROUTE's outbox (and map what is staged) without pulling: an extra worker for a backlog."""
    from lienthong.cli_output import print_summary

    summary = gateway_from(ctx).run(
        route, skip_extract=True, kind="deliver", concurrency=concurrency, wait_for_retries=wait_for_retries
    )
    if as_json:
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        print_summary(console, summary)
    sys.exit(0 if not summary.checks() else 3)


@main.command()
@click.argument("route")
@click.option(
    "--since",
    required=True,
    help="Pull again everything updated at or after this time (ISO, e.g. 2025-06-01T00:00:00+07:00).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def resync(ctx: click.Context, route: str, since: str, as_json: bool) -> None:
    """Pull a window of ROUTE again (detects deletions); the watermark does not move back."""
    from lienthong.cli_output import print_summary

    summary = gateway_from(ctx).run(route, since=_iso_since(since))
    if as_json:
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        print_summary(console, summary)


def _iso_since(value: str) -> str:
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date-time", param_hint="--since") from None
    if moment.tzinfo is None:
        from zoneinfo import ZoneInfo

        moment = moment.replace(tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000%z")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Watermarks, outbox backlog by state, open quarantine and the last run of every route."""
    from lienthong.cli_output import print_status
    from lienthong.status import gateway_status

    data = gateway_status(gateway_from(ctx))
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print_status(console, data)


@main.command("metrics")
@click.option(
    "--format", "fmt", type=click.Choice(["prometheus", "json", "statsd"]), default="prometheus", show_default=True
)
@click.option("--window", default=300.0, show_default=True, help="Seconds over which the delivery rate is measured.")
@click.option("--every", type=float, help="With --format statsd: send again every N seconds until Ctrl-C.")
@click.pass_context
def metrics_command(ctx: click.Context, fmt: str, window: float, every: float | None) -> None:
    """Backlog, oldest live row, dead letters, delivery rate and breaker per target (lienthong.metrics).
    StatsD goes where Airflow's does: AIRFLOW__METRICS__STATSD_HOST / _PORT, prefix LIENTHONG_METRICS_PREFIX."""
    import time

    from lienthong import metrics

    store = gateway_from(ctx).store
    while True:
        taken = metrics.collect(store, window=window)
        if fmt == "prometheus":
            click.echo(metrics.to_prometheus(taken), nl=False)
        elif fmt == "json":
            click.echo(json.dumps(taken.to_dict(), ensure_ascii=False, indent=2))
        else:
            settings = metrics.StatsdSettings.from_env()
            sent = metrics.emit_statsd(taken, settings)
            err_console.print(f"sent {sent} gauges to {settings.host}:{settings.port} ({settings.prefix}.*)")
        if fmt != "statsd" or not every:
            return
        time.sleep(every)


from lienthong.cli_commands import dead, demo, mapping, quarantine, replays, simulators  # noqa: E402

main.add_command(quarantine)
main.add_command(mapping)
main.add_command(simulators)
main.add_command(demo)
main.add_command(dead)
main.add_command(replays)

from lienthong.cli_audit import audit  # noqa: E402

main.add_command(audit)

from lienthong.cli_report import report  # noqa: E402

main.add_command(report)


if __name__ == "__main__":
    main()
