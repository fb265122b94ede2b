"""Hostile records and dossiers with many steps, served on demand (issue #17).

Real sources sometimes send what no schema allows: an invalid code point, a NUL, bytes that are not
UTF-8, a dossier code of 500 characters, a record of 50 MB.  ``poison_dossier(id, kind)`` makes one
dossier (of the overlay, with a new ``updatedDate``) render that way in searches and detail reads;
the rest of the page stays valid.  The overlay record carries a ``_poison`` field (visible through
``get_dossier``), removed by a merge patch ``{"_poison": null}``, which serves the dossier clean again.

Things JSON text can hold but a Python ``dict`` cannot be serialised to (a lone surrogate written as
``\\ud800``, raw non-UTF-8 bytes) are written by replacing a sentinel in the rendered bytes.
"""

from __future__ import annotations

import json
from typing import Any

from simulators.motcua.timeline import format_ms, parse_date

_SENTINEL = "@@motcua-poison@@"

#: kind -> what is served; the bytes that replace the sentinel, if any.
POISON_KINDS: dict[str, str] = {
    "lone_surrogate": "the summary holds an invalid code point (a lone surrogate, JSON \\ud800)",
    "surrogate_field_name": "an extra field whose name holds a lone surrogate",
    "nul_text": "the summary holds a NUL character",
    "nul_key": "the dossier code (the record key) holds a NUL character",
    "nul_field_name": "an extra field whose name holds a NUL character",
    "control_chars": "the summary holds control characters (U+0001, U+001B, U+0008, U+000B)",
    "empty_key": "the dossier code is an empty string",
    "long_key": "the dossier code is 500 characters long",
    "bad_bytes": "the summary holds bytes that are not UTF-8 (0xFF 0xFE)",
    "huge": "the summary is `bytes` long (default 50,000,000)",
    "deep": "an extra field nested `depth` lists deep (default 200)",
    "bad_updated": "the updatedDate is not a date (the search still orders the dossier by its real time)",
}
_REPLACEMENT: dict[str, bytes] = {
    "lone_surrogate": b"\\ud800",
    "surrogate_field_name": b"\\udc00",
    "nul_text": b"\\u0000",
    "nul_key": b"\\u0000",
    "nul_field_name": b"\\u0000",
    "control_chars": b"\\u0001\\u001b\\u0008\\u000b",
    "bad_bytes": b"\xff\xfe",
}
MAX_HUGE_BYTES = 200_000_000
MAX_DEPTH = 900  # deeper than Python's own JSON parser goes


def poison_spec(kind: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The ``_poison`` field for ``kind`` (ValueError naming the known kinds when unknown)."""
    if kind not in POISON_KINDS:
        raise ValueError(f"unknown poison kind {kind!r}; known: {', '.join(POISON_KINDS)}")
    spec: dict[str, Any] = {"kind": kind}
    if kind == "huge":
        size = options.get("bytes", 50_000_000)
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_HUGE_BYTES:
            raise ValueError(f"bytes must be an integer from 1 to {MAX_HUGE_BYTES:,}")
        spec["bytes"] = size
    if kind == "deep":
        depth = options.get("depth", 200)
        if not isinstance(depth, int) or isinstance(depth, bool) or not 1 <= depth <= MAX_DEPTH:
            raise ValueError(f"depth must be an integer from 1 to {MAX_DEPTH}")
        spec["depth"] = depth
    return spec


def render(record: dict[str, Any]) -> bytes:
    """A dossier of the overlay as the source sends it: poisoned when it carries ``_poison``."""
    spec = record.get("_poison")
    if not isinstance(spec, dict):
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
    served = {key: value for key, value in record.items() if key != "_poison"}
    kind = spec.get("kind")
    if kind in ("lone_surrogate", "nul_text", "control_chars", "bad_bytes"):
        served["summary"] = f"{served.get('summary') or ''} {_SENTINEL} end"
    elif kind in ("nul_key",):
        served["code"] = f"{served.get('code') or ''}{_SENTINEL}"
    elif kind in ("surrogate_field_name", "nul_field_name"):
        served[f"ghiChu{_SENTINEL}"] = "x"
    elif kind == "empty_key":
        served["code"] = ""
    elif kind == "long_key":
        served["code"] = (str(served.get("code") or "K") * 500)[:500]
    elif kind == "huge":
        served["summary"] = "A" * int(spec.get("bytes", 50_000_000))
    elif kind == "bad_updated":
        served["updatedDate"] = "31/12/2025 25:61"
    elif kind == "deep":
        nested: Any = "bottom"
        for _ in range(int(spec.get("depth", 200))):
            nested = [nested]
        served["nested"] = nested
    body = json.dumps(served, ensure_ascii=False, separators=(",", ":")).encode()
    if kind in _REPLACEMENT:
        body = body.replace(_SENTINEL.encode(), _REPLACEMENT[kind])
    return body


def with_steps(record: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """``count`` finished processing steps for ``record``, one minute apart from its ``appliedDate``,
    each with its own time (the portal tells progress records apart by time and handler)."""
    template = (record.get("tasks") or [{}])[0]
    assignee = template.get("assignee") or {"id": "0" * 24, "fullname": "Nguyễn Văn Xử Lý"}
    start = parse_date(record.get("appliedDate") or "2025-06-02T08:00:00.000+0700")
    prefix = str(record.get("id") or "0" * 24)[:20]
    steps = []
    for k in range(count):
        begin = start + k * 60_000
        steps.append(
            {
                "id": f"{prefix}{k:04x}",
                "name": f"Bước {k + 1}: xử lý hồ sơ",
                "assignee": dict(assignee),
                "position": template.get("position") or "Chuyên viên",
                "department": template.get("department") or "Bộ phận một cửa",
                "startDate": format_ms(begin),
                "endDate": format_ms(begin + 30_000),
                "dueDate": format_ms(begin + 86_400_000),
                "status": {"id": 2, "name": "Hoàn thành"},
            }
        )
    return steps
