"""The append path's fast field encoding gives exactly the canonical bytes the verifier recomputes."""

from __future__ import annotations

import random

from lienthong.audit import canonical

TEXTS = [
    "",
    "plain",
    "Nguyễn Văn An",
    'quote " and \\ backslash',
    "line\nbreak\ttab\x01\x1f",
    "\u2028",
    '{"a":1}',
    "😀",
]


def _value(rng: random.Random) -> str | None:
    if rng.random() < 0.2:
        return None
    return "".join(rng.choice(TEXTS) for _ in range(rng.randint(1, 3)))


def test_encode_fields_matches_the_canonical_encoding():
    rng = random.Random(7)
    for _ in range(2000):
        values = [_value(rng) for _ in range(9)]
        whole = canonical.encode([5, "2026-01-01T00:00:00.000000Z", *values]).decode()
        assert whole == '[5,"2026-01-01T00:00:00.000000Z",' + canonical.encode_fields(values) + "]"
    assert canonical.encode_fields([3, None, "x"]) == '3,null,"x"'
