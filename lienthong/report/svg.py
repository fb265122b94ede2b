"""Inline SVG charts for the HTML report: no script, no external file, no web font.

Three shapes, each with a title, value labels on the bars, a legend, an axis where one helps, and a
``<title>`` on every bar (screen readers read it; browsers show it as a tooltip):

- :func:`grouped_hbars`: per category (agency) one thin bar per series (on-time rate, online share);
- :func:`overlay_hbars`: per category a total bar with its part drawn inside ("97 of 121");
- :func:`stacked_hbars`: per category (day) one bar split into segments (acknowledged, dead, ...).

Text widths are estimated (no font metrics without a browser): ~0.6 em per character for the
system sans-serif fonts, generous enough for Vietnamese diacritics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

FONT = "'Noto Sans', 'DejaVu Sans', 'Segoe UI', Roboto, Arial, sans-serif"
INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#e4e7eb"
LABEL_CHARS = 52


@dataclass(frozen=True)
class Series:
    name: str
    color: str


def _w(text: str, size: float = 12) -> float:
    return len(text) * size * 0.6


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _text(x: float, y: float, content: str, *, size: int = 12, anchor: str = "start", **attrs: str) -> str:
    extra = "".join(f' {name.replace("_", "-")}="{escape(value)}"' for name, value in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>'
        f"{escape(content)}</text>"
    )


def _rect(x: float, y: float, w: float, h: float, color: str, tip: str, rx: float = 2) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" rx="{rx}" fill="{color}">'
        f"<title>{escape(tip)}</title></rect>"
    )


def _frame(chart_id: str, width: float, height: float, title: str, description: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" font-family="{escape(FONT)}" fill="{INK}">'
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(description)}</desc>'
        + _text(0, 20, title, size=16, font_weight="600")
        + "".join(body)
        + "</svg>"
    )


def _legend(x: float, y: float, series: Sequence[Series]) -> list[str]:
    parts = []
    for item in series:
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" rx="2" fill="{item.color}"/>'
        )
        parts.append(_text(x + 17, y, item.name, size=12, fill=MUTED))
        x += 17 + _w(item.name) + 22
    return parts


def _percent_axis(left: float, top: float, plot: float, bottom: float) -> list[str]:
    parts = []
    for tick in range(0, 101, 25):
        x = left + plot * tick / 100
        parts.append(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" stroke="{GRID}"/>')
        parts.append(_text(x, bottom + 16, f"{tick}%", size=11, anchor="middle", fill=MUTED))
    return parts


def grouped_hbars(
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[Series],
    values: Sequence[Sequence[float | None]],  # values[c][s], fractions 0..1 (None: no data)
    notes: Sequence[Sequence[str]] = (),  # notes[c][s]: shown after the percentage ("45 of 52")
    width: int = 1100,
) -> str:
    """Percentages per category, one bar per series, on a shared 0-100 % axis."""
    labels = [_short(c) for c in categories]
    left = min(max((_w(label) for label in labels), default=60) + 16, 360)
    bar, gap, group_gap = 13, 3, 12
    group_h = len(series) * bar + (len(series) - 1) * gap
    top = 60
    plot = width - left - 150
    height = top + len(categories) * (group_h + group_gap) + 30
    body = _legend(left, 44, series)
    body += _percent_axis(left, top - 4, plot, height - 26)
    y = top
    for index, label in enumerate(labels):
        body.append(_text(left - 10, y + group_h / 2 + 4, label, anchor="end"))
        for s, item in enumerate(series):
            value = values[index][s]
            note = notes[index][s] if notes else ""
            by = y + s * (bar + gap)
            if value is None:
                body.append(_text(left + 4, by + bar - 2, "no data", size=11, fill=MUTED))
                continue
            shown = f"{value * 100:.1f}%" + (f" ({note})" if note else "")
            tip = f"{categories[index]}: {item.name} {shown}"
            body.append(_rect(left, by, plot * value, bar, item.color, tip))
            body.append(_text(left + plot * value + 6, by + bar - 2, shown, size=11))
        y += group_h + group_gap
    return _frame(chart_id, width, height, title, description, body)


def overlay_hbars(
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    totals: Sequence[int],
    parts: Sequence[int],
    total_series: Series,
    part_series: Series,
    width: int = 1100,
) -> str:
    """Per category the total as a light bar and its part drawn over it, labelled "part of total (x %)"."""
    labels = [_short(c) for c in categories]
    left = min(max((_w(label) for label in labels), default=60) + 16, 360)
    bar, row_gap, top = 18, 9, 60
    plot = width - left - 170
    height = top + len(categories) * (bar + row_gap) + 34
    scale = plot / max(max(totals, default=0), 1)
    body = _legend(left, 44, [part_series, total_series])
    for tick in _nice_ticks(max(totals, default=0)):
        x = left + tick * scale
        body.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 30}" stroke="{GRID}"/>')
        body.append(_text(x, height - 14, str(tick), size=11, anchor="middle", fill=MUTED))
    y = top
    for label, name, total, part in zip(labels, categories, totals, parts, strict=True):
        share = f" ({part / total * 100:.0f}%)" if total else ""
        body.append(_text(left - 10, y + bar - 4, label, anchor="end"))
        body.append(
            _rect(left, y, total * scale, bar, total_series.color, f"{name}: {total_series.name} {total}")
        )
        body.append(
            _rect(left, y, part * scale, bar, part_series.color, f"{name}: {part_series.name} {part}")
        )
        body.append(_text(left + total * scale + 6, y + bar - 4, f"{part} of {total}{share}", size=12))
        y += bar + row_gap
    return _frame(chart_id, width, height, title, description, body)


def stacked_hbars(
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[Series],
    values: Sequence[Sequence[int]],  # values[c][s]
    width: int = 1100,
) -> str:
    """Per category one bar split into the series' segments; the total at the end of the bar."""
    left = min(max((_w(c) for c in categories), default=60) + 16, 360)
    bar, row_gap, top = 26, 10, 60
    plot = width - left - 80
    height = top + len(categories) * (bar + row_gap) + 34
    largest = max((sum(row) for row in values), default=0)
    scale = plot / max(largest, 1)
    body = _legend(left, 44, series)
    for tick in _nice_ticks(largest):
        x = left + tick * scale
        body.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 30}" stroke="{GRID}"/>')
        body.append(_text(x, height - 14, str(tick), size=11, anchor="middle", fill=MUTED))
    y = top
    for category, row in zip(categories, values, strict=True):
        body.append(_text(left - 10, y + bar / 2 + 4, category, anchor="end"))
        x = left
        for item, value in zip(series, row, strict=True):
            if not value:
                continue
            w = value * scale
            body.append(_rect(x, y, w, bar, item.color, f"{category}: {item.name} {value}", rx=0))
            if w >= _w(str(value), 11) + 6:
                body.append(
                    _text(x + w / 2, y + bar / 2 + 4, str(value), size=11, anchor="middle", fill="#fff")
                )
            x += w
        body.append(_text(x + 6, y + bar / 2 + 4, f"{sum(row)}", size=12, font_weight="600"))
        y += bar + row_gap
    return _frame(chart_id, width, height, title, description, body)


def _nice_ticks(largest: int, count: int = 5) -> list[int]:
    """Round tick values from 0 past ``largest`` (1, 2, 5 × 10^n steps)."""
    if largest <= 0:
        return [0]
    raw = largest / count
    magnitude = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return list(range(0, largest + 1, step))
