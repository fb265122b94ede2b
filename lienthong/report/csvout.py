"""The report as CSV: one tidy table (``section, route, agency, agency_name, day, record, metric, value``),
so a spreadsheet's pivot or any CSV reader takes every section without knowing its shape.

Sections, in this order: ``banner`` (first: ``level`` clean|open|lost, ``headline``: what is open, in
numbers, ``exit_code``), ``ledger`` (the audit ledger's last verification and signed head), per route
``records_total`` / ``records_agency`` / ``records_day`` (records by their latest version's fate; ``day`` is
the record's own date: its last change at the source, Vietnam time), ``route_total`` / ``flow`` (record
versions; ``day`` is the pull date), ``stale_mapping``, ``mapping_version`` (``record`` = the version),
``gap`` (one record per ``record``: every record in the gap, whatever ``--gap-limit`` says for the other
formats; metrics ``state``, ``since``, ``reason``, ``target``, ``command``), ``catalogue`` (per agency:
offered_online, acknowledged), ``indicators``.

UTF-8 with a BOM, so spreadsheet programs read the Vietnamese names right; a text cell that a
spreadsheet would take for a formula (``=``, ``+``, ``-``, ``@`` first) is prefixed with ``'``: record
keys and names come from the source and must not run as formulas.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from lienthong.reconcile import Reconciliation
from lienthong.record_gap import FATES, RecordCounts
from lienthong.report.banner import banner
from lienthong.report.gaptable import gap_row
from lienthong.report.model import ReportData, RouteData

HEADER = ["section", "route", "agency", "agency_name", "day", "record", "metric", "value"]
FLOW_METRICS = (
    "pulled mapped quarantined filtered unchanged attempted acknowledged dead pending review superseded "
    "awaiting_mapping missing"
).split()
GAP_METRICS = ("state", "fate", "since", "reason", "target", "command")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> object:
    """A value a spreadsheet shows as text, never evaluates."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _flow_rows(section: str, route: str, agency: str, name: str, day: str, counts: Reconciliation):  # noqa: ANN202
    for metric in FLOW_METRICS:
        yield [section, route, agency, name, day, "", metric, getattr(counts, metric)]


def _record_rows(section: str, route: str, agency: str, name: str, day: str, counts: RecordCounts):  # noqa: ANN202
    yield [section, route, agency, name, day, "", "records", counts.records]
    for fate in FATES:
        yield [section, route, agency, name, day, "", fate, counts[fate]]
    yield [section, route, agency, name, day, "", "gap", counts.gap]


def _route_rows(data: ReportData, route: RouteData) -> Iterator[list[object]]:
    name = route.route
    yield from _record_rows("records_total", name, "", "", "", route.records)
    for agency, counts in route.records_by_agency.items():
        yield from _record_rows("records_agency", name, agency, data.agency_name(agency), "", counts)
    for day, counts in route.records_by_day.items():
        yield from _record_rows("records_day", name, "", "", day, counts)
    yield from _flow_rows("route_total", name, "", "", "", route.totals)
    for piece in route.slices:
        agency_name = data.agency_name(piece.agency) if piece.agency else ""
        yield from _flow_rows("flow", name, piece.agency, agency_name, piece.day, piece.counts)
    if route.stale_mapping is not None or route.stale_mapping_error:
        value = route.stale_mapping if route.stale_mapping is not None else route.stale_mapping_error
        yield ["stale_mapping", name, "", "", "", "", "acknowledged_under_older_mapping", value]
    for version in route.mapping_versions:
        values = {
            "records": version.records,
            "record_versions": version.versions,
            "first_used": version.first_used.isoformat(timespec="seconds") if version.first_used else "",
            "last_used": version.last_used.isoformat(timespec="seconds") if version.last_used else "",
            "current": int(version.current),
        }
        for metric, value in values.items():
            yield ["mapping_version", name, "", "", "", version.version, metric, value]
    for item in route.gap:
        row = gap_row(data, item, name)
        for metric in GAP_METRICS:
            yield [
                "gap",
                name,
                row["agency_code"],
                row["agency"],
                row["source_date"],
                row["record"],
                metric,
                row[metric],
            ]


def _ledger_rows(data: ReportData) -> Iterator[list[object]]:
    ledger = data.ledger
    values: dict[str, object] = {
        "verified_at": ledger.verified_at.isoformat(timespec="seconds") if ledger.verified_at else "never",
        "verified_ok": "" if ledger.ok is None else int(ledger.ok),
        "verified_entries": ledger.entries,
        "verified_seq": ledger.verified_seq,
        "verified_checkpoints": ledger.checkpoints,
        "problem": ledger.problem or "",
        "head_seq": ledger.head_seq,
        "signed_seq": "" if ledger.signed_seq is None else ledger.signed_seq,
        "signed_hash": ledger.signed_hash or "",
        "signed_at": ledger.signed_at.isoformat(timespec="seconds") if ledger.signed_at else "",
        "signed_key": ledger.signed_key or "",
    }
    for metric, value in values.items():
        yield ["ledger", "", "", "", "", "", metric, value]


def render_csv(data: ReportData) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    verdict = banner(data)
    rows: list[list[object]] = [
        ["banner", "", "", "", "", "", "level", verdict.level],
        ["banner", "", "", "", "", "", "headline", verdict.headline],
        ["banner", "", "", "", "", "", "exit_code", verdict.exit_code],
    ]
    rows += _ledger_rows(data)
    for route in data.routes:
        rows += _route_rows(data, route)
    for figure in data.catalogue:
        name = data.agency_name(figure.agency)
        route = data.catalogue_route
        rows.append(["catalogue", route, figure.agency, name, "", "", "offered_online", figure.offered])
        rows.append(["catalogue", route, figure.agency, name, "", "", "acknowledged", figure.acknowledged])
    for indicator in data.indicators:
        name = data.agency_name(indicator.agency)
        values = {
            "dossiers": indicator.dossiers,
            "online": indicator.online,
            "finished": indicator.finished,
            "on_time": indicator.on_time,
            "finished_undated": indicator.finished_undated,
            "online_share": "" if indicator.online_share is None else f"{indicator.online_share:.4f}",
            "on_time_rate": "" if indicator.on_time_rate is None else f"{indicator.on_time_rate:.4f}",
        }
        for metric, value in values.items():
            rows.append(["indicators", data.dossier_route, indicator.agency, name, "", "", metric, value])
    writer.writerows([cell(value) for value in row] for row in rows)
    return out.getvalue()
