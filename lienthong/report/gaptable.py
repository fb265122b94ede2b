"""One row of the gap list, the same cells in every format: record, agency, state, since, reason and
the command that shows the record's life (``lienthong audit show KEY``).

Keys come from the source and are shown as text a terminal, a spreadsheet and a browser take safely:
identity-, card- and phone-like numbers masked, control characters written as ``\\xNN``, very long keys
shortened.  When the shown key is not the key itself, the command cannot be given as is and says so.
"""

from __future__ import annotations

import shlex

from lienthong.masking import mask_text
from lienthong.record_gap import FATE_WORDS, KeyFate
from lienthong.report.model import ReportData

KEY_CHARS = 80


def printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def shown_key(key: str) -> str:
    text = mask_text(printable(key))
    return text if len(text) <= KEY_CHARS else text[: KEY_CHARS - 1] + "…"


def life_command(route: str, key: str) -> str:
    if shown_key(key) != key:
        return f"lienthong audit show: the key cannot be shown as is; see lienthong quarantine list --route {route}"
    return f"lienthong audit show {shlex.quote(key)}"


def gap_row(data: ReportData, item: KeyFate, route: str = "") -> dict[str, str]:
    return {
        "record": shown_key(item.record_key),
        "agency_code": item.agency or "",
        "agency": data.agency_name(item.agency),
        "state": FATE_WORDS.get(item.fate, item.fate),
        "fate": item.fate,
        "since": f"{item.since:%Y-%m-%d %H:%M} UTC" if item.since else "",
        "reason": item.reason,
        "target": item.target or "",
        "source_date": item.source_day,
        "command": life_command(route, item.record_key),
    }
