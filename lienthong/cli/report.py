"""``lienthong report``: the reconciliation report of every route (or one), as text, CSV or HTML.

Exit status 0 when every record version pulled in the window is accounted for, 3 when some are
missing (so a scheduler can alert on it), 2 on a configuration error.
"""

from __future__ import annotations

import sys
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from lienthong.cli.common import gateway_from

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def parse_moment(value: str | None, *, param: str, end: bool = False) -> datetime | None:
    """An ISO date or date-time; without an offset it is Vietnam time.  A bare date means the start of
    that day, or for ``--to`` the end of it (``--from 2025-06-01 --to 2025-06-30`` is all of June)."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = datetime.fromisoformat(value).date()
            moment = datetime.combine(day + timedelta(days=1) if end else day, time())
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date or date-time", param_hint=param) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=VIETNAM)


def route_operations(gateway, only: str | None) -> dict[str, str]:  # noqa: ANN001
    """Route name → its main target operation, from the mapping files."""
    if only:
        return {only: gateway.route(only).raw["target"]["operation"]}
    return {name: route.raw["target"]["operation"] for name, route in gateway.routes().items()}


@click.command()
@click.option("--route", "route_name", help="Only this route (default: every route).")
@click.option("--from", "start", help="Versions pulled at or after this date/time (ISO; Vietnam time).")
@click.option("--to", "end", help="Versions pulled before this date/time; a bare date includes that day.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "csv", "html"]),
    default="text",
    show_default=True,
    help="Text for a terminal, CSV for a spreadsheet, HTML with charts.",
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE, not stdout.")
@click.pass_context
def report(
    ctx: click.Context,
    route_name: str | None,
    start: str | None,
    end: str | None,
    fmt: str,
    output: Path | None,
) -> None:
    """Reconciliation: per route, agency and day, what was pulled and where it is now; the catalogue's
    offered-online vs synced figure; the portal's indicators recomputed from the synced dossiers."""
    from lienthong.report import collect_report
    from lienthong.report.csvout import render_csv
    from lienthong.report.html import render_html
    from lienthong.report.text import render_text

    begin, finish = parse_moment(start, param="--from"), parse_moment(end, param="--to", end=True)
    if begin and finish and finish <= begin:
        raise click.BadParameter("--to must be after --from", param_hint="--to")
    gateway = gateway_from(ctx)
    try:
        data = collect_report(
            gateway.store, route_operations(gateway, route_name), begin, finish, gateway.mappings_dir
        )
    finally:
        gateway.store.dispose()
    rendered = {"text": render_text, "csv": render_csv, "html": render_html}[fmt](data)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        # CSV with a byte-order mark: spreadsheet programs then read the Vietnamese names as UTF-8.
        output.write_text(rendered, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
        click.echo(f"report written to {output}", err=True)
    else:
        click.echo(rendered, nl=False)
    sys.exit(0 if data.ok else 3)
