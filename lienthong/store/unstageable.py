"""Records that cannot be staged as they are, and the placeholder that accounts for each of them.

A hostile or broken source record must not stop a page, a run or a route (issue #17): a lone
surrogate cannot be encoded, a NUL (anywhere: PostgreSQL text cannot hold one, and no source text
legitimately has one) or a 500-character dossier code does not fit a key column, a 50 MB record or one nested a thousand levels deep is not a dossier.  Such a record is
staged as a **placeholder**: a row with a usable key, a content hash of what the source sent (so
that pulling it again finds it unchanged) and, instead of the record, a small body that says why it
could not be kept.  The transform quarantines every placeholder with that reason (stage
``staging``), so the record is accounted for like any other: pulled = staged + unchanged, and the
staged version ends ``quarantined``.

Reasons describe *where* and *what kind* of problem (a path of field names, a code point, a length),
never a value of the record: they end up in the quarantine list, logs and the audit ledger.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from lienthong.jsoncanon import canonical, digest
from lienthong.store.models import StagedRecord

#: First element of a placeholder body.  A staged source record is always a JSON object, so a body
#: that is a JSON array starting with this marker can only be a placeholder.
MARKER = "lienthong:unstageable"

#: Deeper than this is not a record of any route (a dossier is about 5 levels deep).
MAX_DEPTH = 64
#: A dossier is a few kB; its attachments are links.  Override with LIENTHONG_MAX_RECORD_BYTES.
DEFAULT_MAX_RECORD_BYTES = 8 * 1024 * 1024

#: The column widths of the staged record (the key and id columns of the outbox are the same size).
KEY_LENGTH: int = StagedRecord.__table__.c.record_key.type.length
SOURCE_ID_LENGTH: int = StagedRecord.__table__.c.source_id.type.length
UPDATED_LENGTH: int = StagedRecord.__table__.c.source_updated.type.length
AGENCY_LENGTH: int = StagedRecord.__table__.c.agency.type.length

#: Characters no key column should hold: C0 controls (NUL included: PostgreSQL refuses it in text),
#: DEL, C1 controls, lone surrogates (not encodable) and the two noncharacters XML refuses.
_BAD_IN_KEY = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NUL = re.compile("\x00")
_SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")


def max_record_bytes() -> int:
    value = os.environ.get("LIENTHONG_MAX_RECORD_BYTES")
    return int(value) if value and value.isdigit() and int(value) > 0 else DEFAULT_MAX_RECORD_BYTES


def describe_char(char: str) -> str:
    """A code point by number (never the text around it); surrogateescape'd bytes as the byte."""
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"a byte that is not UTF-8 (0x{code - 0xDC00:02X})"
    if 0xD800 <= code <= 0xDFFF:
        return f"an invalid code point (lone surrogate U+{code:04X})"
    if code == 0:
        return "a NUL character (U+0000)"
    return f"a control character (U+{code:04X})"


def column_problem(what: str, value: str | None, limit: int) -> str | None:
    """Why ``value`` cannot go into a key column of ``limit`` characters, or None."""
    if value is None:
        return None
    if len(value) > limit:
        return f"{what} is {len(value):,} characters long, more than the {limit} the store keeps"
    bad = _BAD_IN_KEY.search(value)
    if bad:
        return f"{what} contains {describe_char(bad.group())} at character {bad.start() + 1}"
    return None


def body_problem(body: Any, limit: int | None = None) -> tuple[str | None, str | None]:
    """``(canonical text, None)`` for a record that can be stored, else ``(None, reason)``."""
    if not isinstance(body, dict):
        return None, f"the record is a JSON {_kind(body)}, not an object"
    depth, where = _depth(body)
    if depth > MAX_DEPTH:
        return None, f"the record is nested more than {MAX_DEPTH} levels deep (at {where})"
    try:
        text = canonical(body)
    except (RecursionError, ValueError) as exc:  # e.g. nested deeper than the encoder goes
        return None, f"the record cannot be serialised ({type(exc).__name__})"
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        char, where = _first_bad(body, _SURROGATE) or ("\ud800", "the record")
        return None, f"{where} contains {describe_char(char)}"
    if "\\u0000" in text:  # canonical JSON writes a NUL as \u0000: confirm it is one, not that text
        found = _first_bad(body, _NUL)
        if found is not None:
            return None, f"{found[1]} contains {describe_char(found[0])}"
    limit = limit or max_record_bytes()
    if size > limit:
        return None, f"the record is {size:,} bytes, more than the {limit:,} a record may have"
    return text, None


def lenient_hash(body: Any) -> str:
    """A content hash of anything the source sent (lone surrogates and all): the same bytes from the
    source give the same hash, so a placeholder is staged once however often it is pulled."""
    try:
        text = json.dumps(body, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    except (RecursionError, TypeError, ValueError):
        text = "unhashable:" + type(body).__name__
    return digest(text)


def placeholder_body(reason: str, source_id: str) -> str:
    return canonical([MARKER, {"reason": reason, "source_id": source_id}])


def placeholder_reason(body: Any) -> str | None:
    """The reason of a placeholder body (parsed JSON), or None for a real record."""
    if isinstance(body, list) and len(body) == 2 and body[0] == MARKER and isinstance(body[1], dict):
        return str(body[1].get("reason") or "the record could not be staged")
    return None


def fallback_key(source_id: str | None, content_hash: str) -> str:
    """A key for a record whose own key is unusable: its source id, else its content hash."""
    if source_id is not None and column_problem("id", source_id, SOURCE_ID_LENGTH) is None and source_id:
        return f"id:{source_id}"
    return f"unusable:{content_hash[7:39]}"


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else type(value).__name__


def _name(key: Any) -> str:
    return key if isinstance(key, str) and _SAFE_NAME.match(key) else "<field>"


def _depth(body: Any) -> tuple[int, str]:
    """The nesting depth of ``body``, stopping past ``MAX_DEPTH``, and then where: an explicit stack
    (no recursion on hostile input) over containers only, so that the common, shallow record costs
    about a third of serialising it."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(body, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth = pop()
        if depth > deepest:
            deepest = depth
            if depth > MAX_DEPTH:
                return depth, _deep_path(body)
        for item in value.values() if type(value) is dict else value:
            kind = type(item)
            if kind is dict or kind is list:
                push((item, depth + 1))
    return deepest, ""


def _deep_path(body: Any) -> str:
    """Where ``body`` first goes deeper than ``MAX_DEPTH`` (field names, list indices), cut short."""
    path, value = "", body
    for _ in range(MAX_DEPTH):
        if isinstance(value, dict):
            key, value = next(((k, v) for k, v in value.items() if isinstance(v, dict | list)), (None, None))
            path = f"{path}.{_name(key)}".lstrip(".")
        elif isinstance(value, list):
            index, value = next(
                ((i, v) for i, v in enumerate(value) if isinstance(v, dict | list)), (0, None)
            )
            path = f"{path}[{index}]"
        else:
            break
    return path if len(path) <= 60 else path[:57] + "..."


def _first_bad(body: Any, pattern: re.Pattern[str]) -> Any:
    """The first character matching ``pattern`` in ``body`` (a key or a text value) and where it is
    (a path of field names), or None."""
    stack: list[tuple[Any, str]] = [(body, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                found = pattern.search(key) if isinstance(key, str) else None
                if found:
                    return found.group(), f"a field name under {path or 'the top'}"
                stack.append((item, f"{path}.{_name(key)}".lstrip(".")))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(value))
        elif isinstance(value, str):
            found = pattern.search(value)
            if found:
                return found.group(), f"field {path or '(the top)'}"
    return None
