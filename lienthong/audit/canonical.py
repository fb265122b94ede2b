"""The canonical byte encoding of a ledger entry, and its hash.

An entry is encoded as a JSON array of its fields in this fixed order::

    [seq, at, event, route, record_key, target, operation, mapping_version, actor, outcome, detail]

- ``seq`` an integer; ``at`` the UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six digits);
- the text fields as JSON strings, or ``null`` when absent;
- ``detail`` as a JSON *string* holding the detail object's own canonical JSON (sorted keys): the
  verifier hashes the stored text as it is, never re-serialising it;
- serialised with no whitespace (``separators=(",", ":")``), non-ASCII kept as UTF-8
  (``ensure_ascii=False``), so the bytes are the UTF-8 encoding of that text.

The entry's hash is ``sha256(prev_hash ‖ "\\n" ‖ canonical bytes)`` in lowercase hex, where
``prev_hash`` is the previous entry's hash as 64 ASCII hex digits (the first entry uses 64 zeros).
Any change to a field changes the hash; any deletion, insertion or reordering breaks a ``prev_hash``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

GENESIS = "0" * 64
FIELDS = (
    "seq",
    "at",
    "event",
    "route",
    "record_key",
    "target",
    "operation",
    "mapping_version",
    "actor",
    "outcome",
    "detail",
)

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_sha256 = hashlib.sha256


def format_at(at: datetime) -> str:
    return at.isoformat(timespec="microseconds") + "Z"


_detail_dumps = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
).encode


def detail_text(detail: dict[str, Any]) -> str:
    return _detail_dumps(detail)


def encode(values: tuple | list) -> bytes:
    """The canonical bytes of an entry given its field values in :data:`FIELDS` order (``at`` as text)."""
    return _dumps(list(values)).encode("utf-8")


_quote = json.encoder.encode_basestring  # the C escaper JSONEncoder(ensure_ascii=False) uses


def encode_fields(values: tuple | list) -> str:
    """``encode(values)`` as text without its brackets, for values that are text or None: the same
    characters, built without an encoder object per call (the append path encodes every entry)."""
    parts = []
    for value in values:
        if value is None:
            parts.append("null")
        elif isinstance(value, str):
            parts.append(_quote(value))
        else:
            parts.append(_dumps(value))
    return ",".join(parts)


def entry_hash(prev_hash: str, values: tuple | list) -> str:
    return _sha256(prev_hash.encode("ascii") + b"\n" + encode(values)).hexdigest()
