"""``lienthong report``: the reconciliation report of every route (or one), as text, CSV or HTML.

Exit status follows the banner (:mod:`lienthong.report.banner`): 0 nothing open, 3 something is missing
(in no known state: a defect), 4 something is open (records in the gap, tombstones, records under an
older mapping), 2 a bad option or configuration.  A scheduler alerts on any non-zero status.
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


DEFAULT_GAP_LIMIT = 500


def route_operations(gateway, only: str | None) -> dict[str, str]:  # noqa: ANN001
    """Route name → its main target operation, from the mapping files."""
    if only:
        return {only: gateway.route(only).raw["target"]["operation"]}
    return {name: route.raw["target"]["operation"] for name, route in gateway.routes().items()}


def current_versions(gateway, names: list[str]) -> dict[str, str]:  # noqa: ANN001
    """Route → the mapping version of the files on disk now (a route that does not compile has none)."""
    found = {}
    for name in names:
        try:
            found[name] = gateway.route(name).compile().version
        except Exception:  # noqa: BLE001 - the report still shows what the store holds
            continue
    return found


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
@click.option(
    "--gap-limit",
    type=click.IntRange(min=0),
    default=DEFAULT_GAP_LIMIT,
    show_default=True,
    help="List at most N records of the gap per route in text and HTML (0: all; CSV always lists all). "
    "The counts and the banner always cover every record.",
)
@click.pass_context
def report(
    ctx: click.Context,
    route_name: str | None,
    start: str | None,
    end: str | None,
    fmt: str,
    output: Path | None,
    gap_limit: int,
) -> None:
    """Reconciliation: what is open (banner, first line), every record in the gap, per route, agency and
    day where the records are; mapping versions; the audit ledger's last verification; the catalogue's
    offered-online vs acknowledged figure; the portal's indicators recomputed from acknowledged dossiers.

    Exit status: 0 nothing open, 3 records missing (in no known state), 4 open items, 2 bad option."""
    from lienthong.report import collect_report
    from lienthong.report.banner import banner
    from lienthong.report.csvout import render_csv
    from lienthong.report.html import render_html
    from lienthong.report.text import render_text

    begin, finish = parse_moment(start, param="--from"), parse_moment(end, param="--to", end=True)
    if begin and finish and finish <= begin:
        raise click.BadParameter("--to must be after --from", param_hint="--to")
    gateway = gateway_from(ctx)
    limit = None if fmt == "csv" or gap_limit == 0 else gap_limit
    try:
        routes = route_operations(gateway, route_name)
        data = collect_report(
            gateway.store,
            routes,
            begin,
            finish,
            gateway.mappings_dir,
            current_versions=current_versions(gateway, sorted(routes)),
            gap_limit=limit,
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
    sys.exit(banner(data).exit_code)
