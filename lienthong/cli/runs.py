"""``run``, ``deliver``, ``resync``, ``status`` and ``metrics``: the commands an integration engineer runs
every day."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, NoReturn

import click

from lienthong.cli.common import console, err_console, gateway_from, iso_since

JSON_HELP = "Print exactly one JSON document on stdout (the summary; also on failure and interrupt)."


def _interrupt_on(signum: int, _frame: object) -> None:
    """SIGINT and SIGTERM end the run the same way: closed as ``interrupted``, rows handed back.  A
    second signal during that cleanup is ignored (SIGKILL still ends it: the next start closes the
    run as ``abandoned``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    interrupt = KeyboardInterrupt()
    interrupt.signal_name = signal.Signals(signum).name  # type: ignore[attr-defined]
    raise interrupt


def _no_summary(as_json: bool, status: str, message: str, code: int) -> NoReturn:
    """The command failed before a run existed: one JSON document or one line, and the exit code."""
    if as_json:
        click.echo(json.dumps({"status": status, "error": message, "exit_code": code}, ensure_ascii=False))
    else:
        err_console.print(f"[red]{status.replace('_', ' ')}:[/] ", end="", soft_wrap=True)
        err_console.print(message, markup=False, soft_wrap=True)
    sys.exit(code)


def execute_run(
    ctx: click.Context,
    as_json: bool,
    call: Callable[[Any, Any], Any],
    *,
    no_progress: bool = False,
) -> NoReturn:
    """Run ``call(gateway, progress)``, print its summary however the run ended, exit with its code
    (lienthong.outcomes: 0 succeeded, 4 failed, 5 partial, 130 interrupted, 3 does not add up)."""
    from lienthong import outcomes
    from lienthong.cli.output import RichProgress, print_summary
    from lienthong.errors import ConfigError, LienthongError

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, _interrupt_on)
    progress = (
        RichProgress(err_console) if (not no_progress and not as_json and err_console.is_terminal) else None
    )
    summary = None
    try:
        gateway = gateway_from(ctx)
        with progress or nullcontext():
            summary = call(gateway, progress)
    except KeyboardInterrupt as exc:
        summary = getattr(exc, "run_summary", None)
        if summary is None:
            _no_summary(as_json, outcomes.INTERRUPTED, "interrupted before the run started", 130)
    except ConfigError as exc:
        summary = getattr(exc, "run_summary", None)
        if summary is None:
            if not as_json:
                raise  # the command group prints it: one unwrapped line, exit 2, -v adds the traceback
            _no_summary(as_json, "configuration_error", str(exc), outcomes.EXIT_CONFIG)
    except Exception as exc:
        summary = getattr(exc, "run_summary", None)
        if summary is None:
            if isinstance(exc, LienthongError) and not as_json:
                raise  # the command group prints it in one line, exit 1
            if as_json:
                _no_summary(as_json, "error", f"{type(exc).__name__}: {exc}", outcomes.EXIT_ERROR)
            raise
    finally:
        for signum, handler in previous.items():  # the process may go on (tests invoke commands in-process)
            signal.signal(signum, handler)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        print_summary(console, summary)
    sys.exit(summary.exit_code)


@click.command()
@click.argument("route")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
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
    """Pull, map and deliver ROUTE once; print a summary that adds up.

    Exit codes: 0 succeeded, 4 failed (a target unreachable, refusing the credentials or the
    configuration), 5 partial (a breaker opened, dead letters), 130 interrupted, 2 configuration error,
    3 the summary does not add up, 1 an error before the run started (docs/operations.md)."""
    execute_run(
        ctx,
        as_json,
        lambda gateway, progress: gateway.run(
            route, concurrency=concurrency, progress=progress, wait_for_retries=wait_for_retries
        ),
        no_progress=no_progress,
    )


@click.command()
@click.argument("route")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
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
    """Deliver ROUTE's outbox (and map what is staged) without pulling: an extra worker for a backlog.
    Exit codes as ``run``."""
    execute_run(
        ctx,
        as_json,
        lambda gateway, progress: gateway.run(
            route,
            skip_extract=True,
            kind="deliver",
            concurrency=concurrency,
            wait_for_retries=wait_for_retries,
            progress=progress,
        ),
        no_progress=True,
    )


@click.command()
@click.argument("route")
@click.option(
    "--since",
    required=True,
    help="Pull again everything updated at or after this time (ISO, e.g. 2025-06-01T00:00:00+07:00).",
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def resync(ctx: click.Context, route: str, since: str, as_json: bool) -> None:
    """Pull a window of ROUTE again (detects deletions); the watermark does not move back.
    Exit codes as ``run``."""
    moment = iso_since(since)
    execute_run(ctx, as_json, lambda gateway, progress: gateway.run(route, since=moment), no_progress=True)


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
