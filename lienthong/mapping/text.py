"""Unicode NFC for whole records, done once and cheaply.

Vietnamese text arrives composed (NFC) from most clients and decomposed (NFD) from some (macOS input,
copy-paste from PDFs). Both look identical, compare unequal, and the national portal rejects NFD, so the
record is normalised before any mapping (DESIGN.md). Almost every record is NFC already, so the common
case must cost almost nothing: one read-only walk where each string costs a C-level ``isascii()`` (ids,
codes and dates) or ``unicodedata.is_normalized`` (Vietnamese text, a quick check in C), and no copy.
Only a record that fails the check is rebuilt. (Measured on dossiers: the walk takes about a third of
serialising the record to JSON and checking that text, the other obvious way.)
"""

from __future__ import annotations

import unicodedata
from typing import Any

_is_normalized = unicodedata.is_normalized


def nfc(text: str) -> str:
    """``text`` in NFC; ASCII and already-composed text are returned as they are."""
    if text.isascii() or _is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


def is_nfc_record(record: Any) -> bool:
    """True when every string and key in ``record`` is NFC.

    An explicit stack rather than recursion, strings checked inline, and all keys of the record
    checked at once at the end (one ``join``): each of these halves a cost that is paid per record.
    """
    if isinstance(record, str):
        return record.isascii() or _is_normalized("NFC", record)
    if not isinstance(record, dict | list | tuple):
        return True
    stack = [record]
    keys: list[Any] = []
    pop, push, add_keys = stack.pop, stack.append, keys.extend
    while stack:
        value = pop()
        if isinstance(value, dict):
            add_keys(value)
            items = value.values()
        else:
            items = value
        for item in items:
            kind = type(item)
            if kind is str:
                if not item.isascii() and not _is_normalized("NFC", item):
                    return False
            elif kind is dict or kind is list:
                push(item)
            elif kind not in _SCALAR_TYPES:  # subclasses and tuples: the general way
                if isinstance(item, str):
                    if not _is_normalized("NFC", item):
                        return False
                elif isinstance(item, dict | list | tuple):
                    push(item)
    try:
        joined = "".join(keys)
    except TypeError:  # a non-text key: let the copy sort it out
        return False
    return joined.isascii() or _is_normalized("NFC", joined)


_SCALAR_TYPES = frozenset({int, float, bool, type(None)})


def nfc_deep(value: Any) -> Any:
    """A copy of ``value`` with every string and key in NFC (only called on records that need it)."""
    if isinstance(value, str):
        return nfc(value)
    if isinstance(value, dict):
        return {nfc(key) if isinstance(key, str) else key: nfc_deep(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [nfc_deep(item) for item in value]
    return value


def normalise_record(record: Any) -> Any:
    """``record`` itself when it is already NFC (the usual case, no copy), else an NFC copy."""
    return record if is_nfc_record(record) else nfc_deep(record)
