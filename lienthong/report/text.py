"""The report as plain text: what an operator reads in a terminal or pastes into an e-mail."""

from __future__ import annotations

from lienthong.reconcile import Reconciliation
from lienthong.report.indicators import total_indicators
from lienthong.report.model import ReportData

COLUMNS = ("pulled", "delivered", "acknowledged", "quarantined", "dead", "gap")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def window_text(data: ReportData) -> str:
    start = f"{data.start:%Y-%m-%d %H:%M} UTC" if data.start else "the beginning"
    end = f"{data.end:%Y-%m-%d %H:%M} UTC" if data.end else "now"
    return f"record versions pulled from {start} to {end}"


def figures(counts: Reconciliation) -> list[int]:
    return [counts.pulled, counts.delivered, counts.acknowledged, counts.quarantined, counts.dead, counts.gap]


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for index, row in enumerate(cells):
        parts = [row[0].ljust(widths[0])] + [row[i].rjust(widths[i]) for i in range(1, len(row))]
        lines.append("  " + "  ".join(parts).rstrip())
        if index == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return lines


def route_headline(counts: Reconciliation) -> str:
    verdict = "every version accounted for" if counts.ok else f"MISSING {counts.missing}"
    return (
        f"pulled {counts.pulled} = quarantined {counts.quarantined} + filtered {counts.filtered} + "
        f"unchanged {counts.unchanged} + acknowledged {counts.acknowledged} + dead {counts.dead} + "
        f"pending {counts.pending} + review {counts.review} + superseded {counts.superseded}"
        + (f" + awaiting mapping {counts.awaiting_mapping}" if counts.awaiting_mapping else "")
        + f" + missing {counts.missing}; gap {counts.gap}; {verdict}"
    )


def render_text(data: ReportData) -> str:
    lines = [
        "Đối soát liên thông · reconciliation report",
        f"generated {data.generated_at:%Y-%m-%d %H:%M} UTC; {window_text(data)}",
        "",
    ]
    for route in data.routes:
        t = route.totals
        lines.append(f"route {route.route} ({route.operation})")
        lines.append("  " + route_headline(t))
        if t.missing_keys:
            lines.append("  missing record keys: " + ", ".join(t.missing_keys))
        if t.followups:
            items = ", ".join(f"{state} {n}" for state, n in sorted(t.followups.items()))
            lines.append(f"  follow-up items: {items}")
        agencies = route.by_agency()
        if agencies:
            rows = [[data.agency_name(code), *figures(c)] for code, c in agencies.items()]
            lines += _table(["agency", *COLUMNS], rows)
        days = route.by_day()
        if len(days) > 1:
            lines.append("")
            lines += _table(["day", *COLUMNS], [[day, *figures(c)] for day, c in days.items()])
        lines.append("")
    if data.catalogue_route:
        offered = sum(f.offered for f in data.catalogue)
        synced = sum(f.synced for f in data.catalogue)
        lines.append(
            f"online services synced to the national portal ({data.catalogue_route}): "
            f"{synced} of {offered} offered online"
        )
        rows = [
            [data.agency_name(f.agency), f.offered, f.synced, f"{f.synced} of {f.offered}", percent(f.share)]
            for f in data.catalogue
        ]
        lines += _table(["agency", "offered online", "synced", "figure", "share"], rows)
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
    lines.append("result: " + ("every record version accounted for" if data.ok else "RECORDS MISSING"))
    return "\n".join(lines) + "\n"
