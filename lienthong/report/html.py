"""The report as one self-contained HTML page: inline CSS and inline SVG charts, no script, no file or
font fetched from anywhere, so it can be mailed, archived or opened offline.

Order: a summary at the top (is anything missing? the figures a reader came for), the charts, then
the tables with every number.  Text is escaped and NFC-normalised; the page declares UTF-8.
"""

from __future__ import annotations

import unicodedata
from html import escape

from lienthong.reconcile import Reconciliation
from lienthong.report.indicators import total_indicators
from lienthong.report.model import ReportData, RouteData
from lienthong.report.svg import Series, grouped_hbars, overlay_hbars, stacked_hbars
from lienthong.report.text import percent, window_text

FLOW_SERIES = (
    Series("acknowledged", "#2f855a"),
    Series("nothing to send (filtered, unchanged)", "#a0aec0"),
    Series("waiting (pending, review, superseded)", "#d69e2e"),
    Series("quarantined", "#dd6b20"),
    Series("dead", "#c53030"),
    Series("missing", "#553c9a"),
)
ON_TIME = Series("on-time rate (đúng hạn)", "#2b6cb0")
ONLINE = Series("online share (trực tuyến)", "#38a169")
OFFERED = Series("offered online", "#bee3f8")
SYNCED = Series("synced to the national portal", "#2b6cb0")

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
.banner.ok { background: #e3f9e5; color: #1f6f3a; border: 1px solid #9fd8a8; }
.banner.bad { background: #ffe3e3; color: #8a1c1c; border: 1px solid #f5a3a3; }
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


def _nfc(text: object) -> str:
    return escape(unicodedata.normalize("NFC", str(text)))


def _flow_values(counts: Reconciliation) -> list[int]:
    waiting = counts.pending + counts.review + counts.superseded + counts.awaiting_mapping
    return [
        counts.acknowledged,
        counts.filtered + counts.unchanged,
        waiting,
        counts.quarantined,
        counts.dead,
        counts.missing,
    ]


def _card(label: str, big: str, detail: str, warn: bool = False) -> str:
    return (
        f'<div class="card{" warn" if warn else ""}"><div class="label">{_nfc(label)}</div>'
        f'<div class="big">{_nfc(big)}</div><div class="detail">{_nfc(detail)}</div></div>'
    )


def _summary(data: ReportData) -> list[str]:
    if data.ok:
        banner = '<div class="banner ok">✓ Mọi bản ghi đều được đối soát · every record version pulled is accounted for</div>'
    else:
        missing = sum(r.totals.missing for r in data.routes)
        banner = f'<div class="banner bad">✗ {missing} record version(s) in no known state: see the routes below</div>'
    cards = []
    for route in data.routes:
        t = route.totals
        cards.append(
            _card(
                f"route {route.route}",
                f"{t.acknowledged:,} / {t.pulled:,}",
                f"acknowledged of pulled · gap {t.gap} · quarantined {t.quarantined} · dead {t.dead}",
                warn=not t.ok,
            )
        )
    if data.catalogue_route:
        offered = sum(f.offered for f in data.catalogue)
        synced = sum(f.synced for f in data.catalogue)
        cards.append(
            _card(
                "online services on the national portal",
                f"{synced} of {offered}",
                "procedures offered online that the portal holds (dịch vụ công trực tuyến đã đồng bộ)",
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
    return [banner, '<div class="cards">', *cards, "</div>"]


def _flow_chart(route: RouteData, index: int) -> str:
    days = route.by_day()
    return stacked_hbars(
        f"flow{index}",
        f"{route.route}: record versions pulled per day, and where they are now",
        "Stacked bars per day (Vietnam time): acknowledged, nothing to send, waiting, quarantined, dead, "
        "missing; the number after each bar is the versions pulled that day.",
        list(days),
        FLOW_SERIES,
        [_flow_values(c) for c in days.values()],
    )


def _flow_table(data: ReportData, route: RouteData) -> list[str]:
    header = "".join(
        f"<th>{h}</th>"
        for h in (
            "agency (cơ quan)",
            "pulled",
            "delivered",
            "acknowledged",
            "filtered",
            "unchanged",
            "quarantined",
            "dead",
            "waiting",
            "missing",
            "gap",
        )
    )
    rows = []
    for code, c in route.by_agency().items():
        rows.append(_flow_row(data.agency_name(code), c))
    rows.append(_flow_row("total", route.totals, total=True))
    return [f"<table><thead><tr>{header}</tr></thead><tbody>", *rows, "</tbody></table>"]


def _flow_row(name: str, c: Reconciliation, total: bool = False) -> str:
    waiting = c.pending + c.review + c.superseded + c.awaiting_mapping
    cells = [c.pulled, c.delivered, c.acknowledged, c.filtered, c.unchanged, c.quarantined, c.dead, waiting]
    tds = "".join(f"<td>{v:,}</td>" for v in cells)
    tds += f'<td class="{"bad" if c.missing else ""}">{c.missing:,}</td><td>{c.gap:,}</td>'
    return f"<tr{' class=total' if total else ''}><td>{_nfc(name)}</td>{tds}</tr>"


def _catalogue_section(data: ReportData) -> list[str]:
    figures = data.catalogue
    names = [data.agency_name(f.agency) for f in figures]
    chart = overlay_hbars(
        "catalogue",
        "Online services per agency: offered online vs synced to the national portal",
        "Per agency, the light bar is the number of procedures offered online, the dark bar how many "
        "of them the national portal holds.",
        names,
        [f.offered for f in figures],
        [f.synced for f in figures],
        OFFERED,
        SYNCED,
    )
    rows = "".join(
        f"<tr><td>{_nfc(name)}</td><td>{f.offered}</td><td>{f.synced}</td><td>{percent(f.share)}</td></tr>"
        for name, f in zip(names, figures, strict=True)
    )
    offered = sum(f.offered for f in figures)
    synced = sum(f.synced for f in figures)
    share = percent(synced / offered if offered else None)
    return [
        f"<h2>Online services · dịch vụ công trực tuyến ({_nfc(data.catalogue_route)})</h2>",
        f'<div class="chart-box">{chart}</div>',
        "<table><thead><tr><th>agency (cơ quan)</th><th>offered online</th><th>synced</th><th>share</th>"
        f"</tr></thead><tbody>{rows}<tr class=total><td>total</td><td>{offered}</td><td>{synced}</td>"
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
    ]
    if data.catalogue_route and data.catalogue:
        parts += _catalogue_section(data)
    if data.dossier_route and data.indicators:
        parts += _indicator_section(data)
    parts.append("<h2>Record flow per route · luồng bản ghi</h2>")
    for index, route in enumerate(data.routes):
        parts.append(f"<h3>{_nfc(route.route)} <small>({_nfc(route.operation)})</small></h3>")
        if route.slices:
            parts.append(f'<div class="chart-box">{_flow_chart(route, index)}</div>')
        parts += _flow_table(data, route)
        if route.totals.missing_keys:
            keys = ", ".join(f"<code>{_nfc(k)}</code>" for k in route.totals.missing_keys)
            parts.append(f"<p>missing record keys: {keys}</p>")
    parts.append(
        "<footer>Counts are record versions (one per change of a source record) pulled in the window; "
        "gap = pulled − acknowledged − filtered − unchanged. Indicators are computed from the payloads "
        "the national portal acknowledged. See docs/reconciliation.md.</footer>"
    )
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"
