"""``run``, ``deliver``, ``resync``, ``status`` and ``metrics``: the commands an integration engineer runs
every day."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext

import click

from lienthong.cli.common import console, err_console, gateway_from, iso_since


@click.command()
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
    from lienthong.cli.output import RichProgress, print_summary

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


@click.command()
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
@click.pass_context
def deliver(ctx: click.Context, route: str, as_json: bool, concurrency: int, wait_for_retries: float) -> None:
    """Deliver ROUTE's outbox (and map what is staged) without pulling: an extra worker for a backlog."""
    from lienthong.cli.output import print_summary

    summary = gateway_from(ctx).run(
        route, skip_extract=True, kind="deliver", concurrency=concurrency, wait_for_retries=wait_for_retries
    )
    if as_json:
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        print_summary(console, summary)
    sys.exit(0 if not summary.checks() else 3)


@click.command()
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
    from lienthong.cli.output import print_summary

    summary = gateway_from(ctx).run(route, since=iso_since(since))
    if as_json:
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        print_summary(console, summary)


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Watermarks, outbox backlog by state, open quarantine and the last run of every route."""
    from lienthong.cli.output import print_status
    from lienthong.status import gateway_status

    data = gateway_status(gateway_from(ctx))
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print_status(console, data)


@click.command("metrics")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["prometheus", "json", "statsd"]),
    default="prometheus",
    show_default=True,
    help="Prometheus text, one JSON document, or StatsD gauges sent over UDP.",
)
@click.option(
    "--window", default=300.0, show_default=True, help="Seconds over which the delivery rate is measured."
)
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
