"""The report as plain text: what an operator reads in a terminal or pastes into an e-mail.

The first line is the banner (:mod:`lienthong.report.banner`): what is open, in numbers.
"""

from __future__ import annotations

from datetime import datetime

from lienthong.reconcile import Reconciliation
from lienthong.record_gap import FATE_WORDS, KeyFate, RecordCounts
from lienthong.report.banner import banner
from lienthong.report.gaptable import gap_row, printable
from lienthong.report.indicators import total_indicators
from lienthong.report.model import LedgerState, ReportData, RouteData

VERSION_COLUMNS = ("pulled", "acknowledged", "quarantined", "dead", "pending", "superseded")
RECORD_COLUMNS = ("records", "acknowledged", "filtered", "on its way", "need a person", "missing", "gap")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "—"


def window_text(data: ReportData) -> str:
    start = f"{data.start:%Y-%m-%d %H:%M} UTC" if data.start else "the beginning"
    end = f"{data.end:%Y-%m-%d %H:%M} UTC" if data.end else "now"
    return f"records with a version pulled from {start} to {end}, each judged by its latest version"


def version_figures(counts: Reconciliation) -> list[int]:
    pending = counts.pending + counts.awaiting_mapping
    return [counts.pulled, counts.acknowledged, counts.quarantined, counts.dead, pending, counts.superseded]


def record_figures(counts: RecordCounts) -> list[int]:
    return [
        counts.records,
        counts["acknowledged"],
        counts["filtered"],
        counts.on_the_way,
        counts.needs_person,
        counts["missing"],
        counts.gap,
    ]


def _table(header: list[str], rows: list[list[object]], left: int = 1) -> list[str]:
    """Columns aligned; the first ``left`` to the left (names, text), the others to the right (numbers)."""
    cells = [[printable(str(c)) for c in header]] + [[printable(str(c)) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for index, row in enumerate(cells):
        parts = [row[i].ljust(widths[i]) if i < left else row[i].rjust(widths[i]) for i in range(len(row))]
        lines.append("  " + "  ".join(parts).rstrip())
        if index == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return lines


def records_headline(counts: RecordCounts) -> str:
    parts = [f"{FATE_WORDS[fate]} {n}" for fate, n in counts.fates.items() if n]
    return f"records {counts.records}: " + (", ".join(parts) or "none") + f"; gap {counts.gap}"


def route_headline(counts: Reconciliation) -> str:
    verdict = "every version accounted for" if counts.missing == 0 else f"MISSING {counts.missing}"
    return (
        f"record versions pulled {counts.pulled} = quarantined {counts.quarantined} + filtered "
        f"{counts.filtered} + unchanged {counts.unchanged} + acknowledged {counts.acknowledged} + dead "
        f"{counts.dead} + pending {counts.pending} + review {counts.review} + superseded {counts.superseded}"
        + (f" + awaiting mapping {counts.awaiting_mapping}" if counts.awaiting_mapping else "")
        + f" + missing {counts.missing}; {verdict}"
    )


def ledger_lines(ledger: LedgerState) -> list[str]:
    if ledger.never_verified:
        lines = ["audit ledger: NEVER VERIFIED (run lienthong audit verify)"]
    else:
        result = "ok" if ledger.ok else f"FAILED: {ledger.problem or 'see lienthong audit verify'}"
        lines = [
            f"audit ledger: last verified {when(ledger.verified_at)}: {result}; {ledger.entries:,} entries "
            f"to seq {ledger.verified_seq:,}, {ledger.checkpoints} signed checkpoint{'' if ledger.checkpoints == 1 else 's'} checked"
        ]
        if ledger.unverified_entries:
            lines.append(
                f"  {ledger.unverified_entries:,} entries appended since (head now at seq {ledger.head_seq:,})"
            )
    if ledger.signed_seq is not None:
        lines.append(
            f"  signed head: seq {ledger.signed_seq:,}, hash {ledger.signed_hash}, signed {when(ledger.signed_at)} "
            f"with key {ledger.signed_key}"
        )
    else:
        lines.append("  signed head: none yet (no signed checkpoint)")
    return lines


def gap_lines(data: ReportData, route: RouteData) -> list[str]:
    if not route.gap_total:
        return ["  gap: none"]
    lines = [f"  gap: {route.gap_total} record{'s' if route.gap_total != 1 else ''} not where they belong"]
    rows = [_gap_cells(data, item, route.route) for item in route.gap]
    lines += _table(["record", "agency", "state", "since", "reason", "its life"], rows, left=6)
    if route.gap_left_out:
        lines.append(
            f"  … and {route.gap_left_out} more not listed here (--gap-limit 0 lists all; the CSV lists all)"
        )
    return lines


def _gap_cells(data: ReportData, item: KeyFate, route: str) -> list[object]:
    row = gap_row(data, item, route)
    return [row["record"], row["agency"], row["state"], row["since"], row["reason"], row["command"]]


def versions_lines(route: RouteData) -> list[str]:
    if not route.mapping_versions:
        return []
    rows = [
        [
            v.short + (" (current)" if v.current else ""),
            when(v.first_used),
            when(v.last_used),
            v.records,
            v.versions,
        ]
        for v in route.mapping_versions
    ]
    return ["  mapping versions used:"] + _table(
        ["version", "first used", "last used", "records", "record versions"], rows
    )


def stale_line(route: RouteData) -> list[str]:
    if route.stale_mapping_error:
        return [f"  acknowledged records under an older mapping: {route.stale_mapping_error}"]
    if route.stale_mapping is None:
        return []
    return [
        f"  acknowledged records under an older mapping (payload would differ now): {route.stale_mapping}"
    ]


def route_lines(data: ReportData, route: RouteData) -> list[str]:
    t = route.totals
    lines = [f"route {route.route} ({route.operation})", "  " + records_headline(t.records)]
    lines.append("  " + route_headline(t))
    if t.missing_keys:
        lines.append("  missing record keys: " + ", ".join(t.missing_keys))
    if t.followups:
        items = ", ".join(f"{state} {n}" for state, n in sorted(t.followups.items()))
        lines.append(f"  follow-up items: {items}")
    lines += stale_line(route)
    if route.records_by_agency:
        rows = [[data.agency_name(code), *record_figures(c)] for code, c in route.records_by_agency.items()]
        lines += ["", "  records per agency:"] + _table(["agency", *RECORD_COLUMNS], rows)
    if route.records_by_day:
        unit, periods = route.records_by_period()
        rows = [[day, *record_figures(c)] for day, c in periods.items()]
        lines += ["", f"  records per {unit} of their last change at the source (Vietnam time):"]
        lines += _table([f"source {'date' if unit == 'day' else unit}", *RECORD_COLUMNS], rows)
    days = route.by_day()
    if days:
        lines += ["", "  record versions per pull date (Vietnam time):"]
        lines += _table(["pull date", *VERSION_COLUMNS], [[d, *version_figures(c)] for d, c in days.items()])
    lines += [""] + versions_lines(route)
    lines += [""] + gap_lines(data, route)
    return lines + [""]


def render_text(data: ReportData) -> str:
    verdict = banner(data)
    lines = [
        f"{verdict.symbol} {verdict.headline}",
        "Đối soát liên thông · reconciliation report",
        f"generated {data.generated_at:%Y-%m-%d %H:%M} UTC; {window_text(data)}",
        *ledger_lines(data.ledger),
        "",
    ]
    for route in data.routes:
        lines += route_lines(data, route)
    if data.catalogue_route:
        offered = sum(f.offered for f in data.catalogue)
        acknowledged = sum(f.acknowledged for f in data.catalogue)
        lines.append(
            f"online services on the national portal ({data.catalogue_route}): "
            f"{acknowledged} of {offered} offered online acknowledged"
        )
        rows = [
            [
                data.agency_name(f.agency),
                f.offered,
                f.acknowledged,
                f"{f.acknowledged} of {f.offered}",
                percent(f.share),
            ]
            for f in data.catalogue
        ]
        lines += _table(["agency", "offered online", "acknowledged", "figure", "share"], rows)
        lines.append("")
    if data.dossier_route:
        total = total_indicators(data.indicators)
        lines.append(
            f"service indicators from the dossiers the portal acknowledged ({data.dossier_route}): "
            f"on-time {percent(total.on_time_rate)} ({total.on_time} of {total.finished} finished), "
            f"online {percent(total.online_share)} ({total.online} of {total.dossiers})"
        )
        rows = [
            [
                data.agency_name(r.agency),
                r.dossiers,
                r.online,
                percent(r.online_share),
                r.finished,
                r.on_time,
                percent(r.on_time_rate),
            ]
            for r in data.indicators
        ]
        lines += _table(
            ["agency", "dossiers", "online", "online share", "finished", "on time", "on-time rate"], rows
        )
        lines.append("")
    lines.append(f"result: {verdict.symbol} {verdict.headline}")
    return "\n".join(lines) + "\n"
