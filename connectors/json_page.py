"""Decoding a source's JSON page so that one record's bad bytes do not fail the page (issue #17).

Bytes that are not UTF-8 are kept as lone surrogates (``surrogateescape``), control characters
inside strings are accepted (``strict=False``): the page parses, and staging finds the damage in
the one record that carries it and quarantines that record (``lienthong.store.unstageable``).
Only a page that is not JSON at all fails, with a message that quotes none of it.
"""

from __future__ import annotations

import json
from typing import Any

from lienthong.errors import FatalError


def decode_page(content: bytes, what: str) -> Any:
    """The parsed JSON document of a page; FatalError (target ``motcua``) when it is not JSON."""
    text = content.decode("utf-8", "surrogateescape")
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return json.loads(text, strict=False)
    except (ValueError, RecursionError) as exc:
        detail = f"{type(exc).__name__} at character {getattr(exc, 'pos', '?')}"
        raise FatalError(
            f"one-stop system answered the {what} request with a page that is not JSON ({detail}, "
            f"{len(content):,} bytes)",
            target="motcua",
        ) from None
