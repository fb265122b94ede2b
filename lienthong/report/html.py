"""The report as one self-contained HTML page: inline CSS and inline SVG charts, no script, no file or
font fetched from anywhere, so it can be mailed, archived or opened offline.

Order: the banner (``#banner``: what is open, in numbers) and the audit ledger's state at the top, then
the figures a reader came for, the gap (``#gap``: every listed record not where it belongs), then per
route the chart and tables.  Text is escaped and NFC-normalised; the page declares UTF-8.
"""

from __future__ import annotations

from lienthong.record_gap import RecordCounts
from lienthong.report.banner import banner
from lienthong.report.html_sections import gap_section, ledger_panel, nfc, route_tables
from lienthong.report.indicators import total_indicators
from lienthong.report.model import ReportData, RouteData
from lienthong.report.svg import Series, grouped_hbars, overlay_hbars, stacked_hbars
from lienthong.report.text import percent, window_text

FLOW_SERIES = (
    Series("acknowledged", "#2f855a"),
    Series("filtered (out of scope)", "#a0aec0"),
    Series("on its way (pending)", "#d69e2e"),
    Series("quarantined", "#dd6b20"),
    Series("dead", "#c53030"),
    Series("other, needs a person", "#97266d"),
    Series("missing", "#553c9a"),
)
ON_TIME = Series("on-time rate (đúng hạn)", "#2b6cb0")
ONLINE = Series("online share (trực tuyến)", "#38a169")
OFFERED = Series("offered online", "#bee3f8")
ACKNOWLEDGED = Series("acknowledged by the national portal", "#2b6cb0")
LEVEL_WORDS = {"clean": "Không còn tồn đọng", "open": "Còn tồn đọng", "lost": "Có bản ghi thất lạc"}

CSS = """
:root { color-scheme: light; }
body { font-family: 'Noto Sans', 'DejaVu Sans', 'Segoe UI', Roboto, Arial, sans-serif; color: #1f2933;
       margin: 0; background: #f5f7fa; }
main { max-width: 1160px; margin: 0 auto; padding: 28px 24px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 12px; border-bottom: 2px solid #d9e2ec; padding-bottom: 6px; }
h3 { font-size: 16px; margin: 22px 0 8px; }
.sub { color: #616e7c; margin: 0 0 20px; }
.banner { padding: 12px 16px; border-radius: 8px; font-weight: 600; margin-bottom: 18px; }
.banner.clean { background: #e3f9e5; color: #1f6f3a; border: 1px solid #9fd8a8; }
.banner.open { background: #fffbea; color: #8d2b0b; border: 1px solid #f7c948; }
.banner.lost { background: #ffe3e3; color: #8a1c1c; border: 1px solid #f5a3a3; }
.banner small { font-weight: 400; }
.ledger { padding: 10px 16px; border-radius: 8px; margin-bottom: 18px; font-size: 14px; }
.ledger.ok { background: #e3f9e5; border: 1px solid #9fd8a8; }
.ledger.amber { background: #fffbea; border: 1px solid #f7c948; }
.ledger.failed { background: #ffe3e3; border: 1px solid #f5a3a3; }
table.gap td, table.gap th { white-space: normal; text-align: left; }
table.gap td.since { white-space: nowrap; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 14px; }
.card { background: #fff; border-radius: 10px; padding: 14px 16px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
.card .label { color: #616e7c; font-size: 13px; }
.card .big { font-size: 30px; font-weight: 700; margin: 4px 0; }
.card .detail { font-size: 13px; color: #3e4c59; }
.card.warn .big { color: #c53030; }
.chart-box { background: #fff; border-radius: 10px; padding: 16px; margin: 14px 0;
             box-shadow: 0 1px 3px rgba(0,0,0,.08); overflow-x: auto; }
svg.chart { display: block; max-width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: 13px; margin: 8px 0 4px;
        box-shadow: 0 1px 3px rgba(0,0,0,.08); }
th, td { padding: 6px 10px; border-bottom: 1px solid #e4e7eb; text-align: right; white-space: nowrap; }
th { background: #f0f4f8; font-weight: 600; }
th:first-child, td:first-child { text-align: left; white-space: normal; }
tr.total td { font-weight: 700; background: #f8fafc; }
td.bad { color: #c53030; font-weight: 700; }
code { background: #eef2f7; padding: 1px 4px; border-radius: 3px; }
footer { color: #7b8794; font-size: 12px; margin-top: 30px; }
"""

_nfc = nfc


def _flow_values(counts: RecordCounts) -> list[int]:
    other = counts["review"] + counts["blocked"] + counts["superseded"] + counts["tombstone"]
    return [
        counts["acknowledged"],
        counts["filtered"],
        counts.on_the_way,
        counts["quarantined"],
        counts["dead"],
        other,
        counts["missing"],
    ]


def _card(label: str, big: str, detail: str, warn: bool = False) -> str:
    return (
        f'<div class="card{" warn" if warn else ""}"><div class="label">{_nfc(label)}</div>'
        f'<div class="big">{_nfc(big)}</div><div class="detail">{_nfc(detail)}</div></div>'
    )


def _summary(data: ReportData) -> list[str]:
    verdict = banner(data)
    top = (
        f'<div id="banner" class="banner {verdict.level}" data-level="{verdict.level}">'
        f"{verdict.symbol} {_nfc(verdict.headline)}<br><small>{LEVEL_WORDS[verdict.level]} · "
        f"lienthong report exits {verdict.exit_code}</small></div>"
    )
    cards = []
    for route in data.routes:
        r = route.records
        cards.append(
            _card(
                f"route {route.route}",
                f"{r['acknowledged']:,} / {r.records:,}",
                f"records acknowledged · gap {r.gap} · need a person {r.needs_person} · on their way "
                f"{r.on_the_way}",
                warn=bool(r.gap) or not route.totals.ok,
            )
        )
    if data.catalogue_route:
        offered = sum(f.offered for f in data.catalogue)
        acknowledged = sum(f.acknowledged for f in data.catalogue)
        cards.append(
            _card(
                "online services on the national portal",
                f"{acknowledged} of {offered}",
                "procedures offered online that the portal acknowledged (dịch vụ công trực tuyến)",
            )
        )
    if data.dossier_route:
        total = total_indicators(data.indicators)
        cards.append(
            _card(
                "on-time rate (tỷ lệ đúng hạn)",
                percent(total.on_time_rate),
                f"{total.on_time} of {total.finished} finished dossiers on or before the due date",
            )
        )
        cards.append(
            _card(
                "online share (tỷ lệ trực tuyến)",
                percent(total.online_share),
                f"{total.online} of {total.dossiers} dossiers received online",
            )
        )
    return [top, ledger_panel(data.ledger), '<div class="cards">', *cards, "</div>"]


def _flow_chart(route: RouteData, index: int) -> str:
    unit, days = route.records_by_period()
    return stacked_hbars(
        f"flow{index}",
        f"{route.route}: records per {unit} of their last change at the source, by where they are now",
        f"Stacked bars per {unit}; the {unit} is the record's own date (its latest change at the source, "
        "Vietnam time), not the pull date. Each record counts once, by its latest version's fate: "
        "acknowledged, filtered, on its way, quarantined, dead, other needing a person, missing.",
        list(days),
        FLOW_SERIES,
        [_flow_values(c) for c in days.values()],
    )


def _catalogue_section(data: ReportData) -> list[str]:
    figures = data.catalogue
    names = [data.agency_name(f.agency) for f in figures]
    chart = overlay_hbars(
        "catalogue",
        "Online services per agency: offered online vs acknowledged by the national portal",
        "Per agency, the light bar is the number of procedures offered online, the dark bar how many "
        "of them the national portal acknowledged.",
        names,
        [f.offered for f in figures],
        [f.acknowledged for f in figures],
        OFFERED,
        ACKNOWLEDGED,
    )
    rows = "".join(
        f"<tr><td>{_nfc(name)}</td><td>{f.offered}</td><td>{f.acknowledged}</td><td>{percent(f.share)}</td></tr>"
        for name, f in zip(names, figures, strict=True)
    )
    offered = sum(f.offered for f in figures)
    acknowledged = sum(f.acknowledged for f in figures)
    share = percent(acknowledged / offered if offered else None)
    return [
        f"<h2>Online services · dịch vụ công trực tuyến ({_nfc(data.catalogue_route)})</h2>",
        f'<div class="chart-box">{chart}</div>',
        "<table><thead><tr><th>agency (cơ quan)</th><th>offered online</th><th>acknowledged</th><th>share</th>"
        f"</tr></thead><tbody>{rows}<tr class=total><td>total</td><td>{offered}</td><td>{acknowledged}</td>"
        f"<td>{share}</td></tr></tbody></table>",
    ]


def _indicator_section(data: ReportData) -> list[str]:
    rows = data.indicators
    names = [data.agency_name(r.agency) for r in rows]
    chart = grouped_hbars(
        "indicators",
        "Service indicators per agency, from the dossiers the national portal acknowledged",
        "Per agency: on-time rate (finished on or before the due date, among finished dossiers) and "
        "online share (received online, among all dossiers).",
        names,
        [ON_TIME, ONLINE],
        [[r.on_time_rate, r.online_share] for r in rows],
        [[f"{r.on_time} of {r.finished}", f"{r.online} of {r.dossiers}"] for r in rows],
    )
    body = "".join(
        f"<tr><td>{_nfc(name)}</td><td>{r.dossiers}</td><td>{r.online}</td><td>{percent(r.online_share)}</td>"
        f"<td>{r.finished}</td><td>{r.on_time}</td><td>{percent(r.on_time_rate)}</td>"
        f"<td>{r.finished_undated}</td></tr>"
        for name, r in zip(names, rows, strict=True)
    )
    t = total_indicators(rows)
    body += (
        f"<tr class=total><td>total</td><td>{t.dossiers}</td><td>{t.online}</td><td>{percent(t.online_share)}</td>"
        f"<td>{t.finished}</td><td>{t.on_time}</td><td>{percent(t.on_time_rate)}</td>"
        f"<td>{t.finished_undated}</td></tr>"
    )
    return [
        f"<h2>Service indicators · chỉ số phục vụ ({_nfc(data.dossier_route)})</h2>",
        f'<div class="chart-box">{chart}</div>',
        "<table><thead><tr><th>agency (cơ quan)</th><th>dossiers</th><th>online</th><th>online share</th>"
        "<th>finished</th><th>on time</th><th>on-time rate</th><th>finished, no due date</th></tr></thead>"
        f"<tbody>{body}</tbody></table>",
    ]


def render_html(data: ReportData) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="vi"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Đối soát liên thông · reconciliation report</title>",
        f"<style>{CSS}</style></head><body><main>",
        "<h1>Đối soát liên thông · reconciliation report</h1>",
        f'<p class="sub">{_nfc(window_text(data))} · generated {data.generated_at:%Y-%m-%d %H:%M} UTC</p>',
        *_summary(data),
        *gap_section(data),
    ]
    if data.catalogue_route and data.catalogue:
        parts += _catalogue_section(data)
    if data.dossier_route and data.indicators:
        parts += _indicator_section(data)
    parts.append("<h2>Records per route · bản ghi theo tuyến</h2>")
    for index, route in enumerate(data.routes):
        parts.append(f"<h3>{_nfc(route.route)} <small>({_nfc(route.operation)})</small></h3>")
        if route.records_by_day:
            parts.append(f'<div class="chart-box">{_flow_chart(route, index)}</div>')
        parts += route_tables(data, route)
    parts.append(
        "<footer>A record is a source record key (a dossier, a procedure of an agency); it counts once, "
        "by its latest version's fate. The gap is every record neither acknowledged nor filtered. Record "
        "versions (one per change at the source) are counted by pull date. Indicators are computed from "
        "the payloads the national portal acknowledged. See docs/reconciliation.md.</footer>"
    )
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"
