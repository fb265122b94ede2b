"""HTML pieces of the report beside the charts: the audit ledger panel, the gap table, and each route's
tables (records per agency and per source date, record versions per pull date, mapping versions).

Every text that comes from the store or the source is NFC-normalised and escaped here.
"""

from __future__ import annotations

import unicodedata
from html import escape

from lienthong.reconcile import Reconciliation
from lienthong.record_gap import RecordCounts
from lienthong.report.gaptable import gap_row
from lienthong.report.model import LedgerState, ReportData, RouteData
from lienthong.report.text import RECORD_COLUMNS, VERSION_COLUMNS, record_figures, version_figures, when


def nfc(text: object) -> str:
    return escape(unicodedata.normalize("NFC", str(text)))


def ledger_panel(ledger: LedgerState) -> str:
    """Green when the last verification passed, amber when never verified, red when it failed."""
    if ledger.never_verified:
        kind = "amber"
        first = "<strong>Audit ledger: never verified</strong> · run <code>lienthong audit verify</code>"
    else:
        kind = "ok" if ledger.ok else "failed"
        result = "ok" if ledger.ok else f"FAILED: {nfc(ledger.problem or 'see lienthong audit verify')}"
        first = (
            f"<strong>Audit ledger: last verified {when(ledger.verified_at)}: {result}</strong> · "
            f"{ledger.entries:,} entries to seq {ledger.verified_seq:,}, {ledger.checkpoints} signed "
            f"checkpoint{'' if ledger.checkpoints == 1 else 's'} checked"
        )
        if ledger.unverified_entries:
            first += (
                f" · {ledger.unverified_entries:,} entries appended since (head at seq {ledger.head_seq:,})"
            )
    if ledger.signed_seq is not None:
        signed = (
            f"signed head: seq {ledger.signed_seq:,}, hash <code>{nfc(ledger.signed_hash)}</code>, signed "
            f"{when(ledger.signed_at)} with key <code>{nfc(ledger.signed_key)}</code>"
        )
    else:
        signed = "signed head: none yet (no signed checkpoint)"
    return f'<div id="ledger" class="ledger {kind}" data-state="{kind}">{first}<br>{signed}</div>'


def gap_section(data: ReportData) -> list[str]:
    total = sum(route.gap_total for route in data.routes)
    parts = [f"<h2>The gap · bản ghi tồn đọng ({total:,} records)</h2>"]
    if not total:
        return parts + ['<p id="gap-none">Nothing open: every record is acknowledged or out of scope.</p>']
    header = "".join(
        f"<th>{h}</th>"
        for h in ("route", "record", "agency (cơ quan)", "state", "since", "reason", "its life")
    )
    rows = []
    for route in data.routes:
        for item in route.gap:
            row = gap_row(data, item, route.route)
            rows.append(
                f'<tr data-fate="{nfc(row["fate"])}"><td>{nfc(route.route)}</td><td><code>{nfc(row["record"])}'
                f"</code></td><td>{nfc(row['agency'])}</td><td>{nfc(row['state'])}</td><td class='since'>{nfc(row['since'])}"
                f"</td><td>{nfc(row['reason'])}</td><td><code>{nfc(row['command'])}</code></td></tr>"
            )
    parts.append(f'<table id="gap" class="gap"><thead><tr>{header}</tr></thead><tbody>')
    parts += rows
    parts.append("</tbody></table>")
    left_out = sum(route.gap_left_out for route in data.routes)
    if left_out:
        parts.append(
            f'<p id="gap-more">… and {left_out:,} more records in the gap, not listed here: '
            "<code>lienthong report --gap-limit 0</code> lists all, and so does the CSV.</p>"
        )
    return parts


def _table(header: tuple[str, ...], rows: list[tuple[str, list[int]]], *, first: str) -> list[str]:
    head = "".join(f"<th>{nfc(h)}</th>" for h in (first, *header))
    body = []
    for name, values in rows:
        cells = "".join(f"<td>{v:,}</td>" for v in values)
        body.append(f"<tr><td>{nfc(name)}</td>{cells}</tr>")
    return [f"<table><thead><tr>{head}</tr></thead><tbody>", *body, "</tbody></table>"]


def route_tables(data: ReportData, route: RouteData) -> list[str]:
    parts: list[str] = []
    records: list[tuple[str, list[int]]] = [
        (data.agency_name(code), record_figures(c)) for code, c in route.records_by_agency.items()
    ]
    total: RecordCounts = route.records
    records.append(("total", record_figures(total)))
    parts += _table(RECORD_COLUMNS, records, first="agency (cơ quan)")
    if route.records_by_day:
        unit, periods = route.records_by_period()
        days = [(day, record_figures(c)) for day, c in periods.items()]
        parts.append(f"<p>Records per {unit} of their last change at the source (Vietnam time):</p>")
        parts += _table(RECORD_COLUMNS, days, first=f"source {'date' if unit == 'day' else unit}")
    pulled: dict[str, Reconciliation] = route.by_day()
    if pulled:
        parts.append("<p>Record versions per pull date (Vietnam time):</p>")
        parts += _table(
            VERSION_COLUMNS, [(day, version_figures(c)) for day, c in pulled.items()], first="pull date"
        )
    if route.totals.missing_keys:
        keys = ", ".join(f"<code>{nfc(k)}</code>" for k in route.totals.missing_keys)
        parts.append(f"<p>missing record keys: {keys}</p>")
    if route.stale_mapping_error:
        parts.append(f"<p>Acknowledged records under an older mapping: {nfc(route.stale_mapping_error)}</p>")
    elif route.stale_mapping is not None:
        parts.append(
            f"<p>Acknowledged records under an older mapping (payload would differ now): {route.stale_mapping:,}"
            "</p>"
        )
    if route.mapping_versions:
        rows = "".join(
            f"<tr><td><code>{nfc(v.short)}</code>{' (current)' if v.current else ''}</td>"
            f"<td>{when(v.first_used)}</td><td>{when(v.last_used)}</td><td>{v.records:,}</td>"
            f"<td>{v.versions:,}</td></tr>"
            for v in route.mapping_versions
        )
        parts.append(
            "<table class=versions><thead><tr><th>mapping version</th><th>first used</th><th>last used</th>"
            f"<th>records</th><th>record versions</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    return parts
