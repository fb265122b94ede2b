"""Pure pieces of poison isolation and follow-up splitting (issue #17): page decoding, the staging
checks, the mapping's key width, the part-row split."""

from __future__ import annotations

import pytest

from connectors.json_page import decode_page
from lienthong.errors import FatalError
from lienthong.mapping.compiled import KEY_MAX
from lienthong.pipeline import followups
from lienthong.store import unstageable
from lienthong.store.models import OutboxRow


def test_a_page_with_bad_bytes_in_one_record_still_decodes() -> None:
    page = b'{"content":[{"id":"1","s":"ok"},{"id":"2","s":"a\xff\xfeb"},{"id":"3","s":"x\x01y"}]}'
    body = decode_page(page, "dossiers")
    good, bad, control = body["content"]
    assert unstageable.body_problem(good)[1] is None
    assert unstageable.body_problem(bad)[1] == "field s contains a byte that is not UTF-8 (0xFF)"
    assert unstageable.body_problem(control)[1] is None  # stored escaped; a payload check catches it


def test_a_page_that_is_not_json_fails_without_quoting_it() -> None:
    with pytest.raises(FatalError) as caught:
        decode_page(b'{"content": [083185001234', "dossiers")
    assert "083185001234" not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("000.00.12.H07-250114-0042", None),
        ("", None),  # empty: the record is staged under its id and quarantined by mapping
        ("K" * 201, "the record key is 201 characters long, more than the 200 the store keeps"),
        ("ab\x00", "the record key contains a NUL character (U+0000) at character 3"),
        ("a\ud800", "the record key contains an invalid code point (lone surrogate U+D800) at character 2"),
        ("a\x85", "the record key contains a control character (U+0085) at character 2"),
    ],
)
def test_key_columns(value: str, reason: str | None) -> None:
    assert unstageable.column_problem("the record key", value, unstageable.KEY_LENGTH) == reason


def test_body_checks() -> None:
    assert unstageable.body_problem([1])[1] == "the record is a JSON array, not an object"
    assert (
        unstageable.body_problem({"a": {"b\x00": 1}})[1]
        == "a field name under a contains a NUL character (U+0000)"
    )
    assert unstageable.body_problem({"a": "\\u0000 as text"})[1] is None  # the text, not a NUL
    assert "more than the 10 a record may have" in unstageable.body_problem({"a": "x" * 20}, limit=10)[1]
    deep: object = 1
    for _ in range(70):
        deep = [deep]
    assert "nested more than 64 levels deep (at a[0][0]" in unstageable.body_problem({"a": deep})[1]


def test_a_placeholder_is_recognised_and_a_record_never_is() -> None:
    import json

    body = json.loads(unstageable.placeholder_body("why", "1"))
    assert unstageable.placeholder_reason(body) == "why"
    assert unstageable.placeholder_reason({"0": unstageable.MARKER}) is None
    assert unstageable.lenient_hash({"a": "\ud800"}) == unstageable.lenient_hash({"a": "\ud800"})
    assert unstageable.fallback_key("65ff", "sha256:" + "0" * 64) == "id:65ff"
    assert unstageable.fallback_key("a\x00", "sha256:" + "ab" * 32) == "unusable:" + ("ab" * 16)


def test_the_mapping_key_width_is_the_outbox_column() -> None:
    assert OutboxRow.__table__.c.record_key.type.length == KEY_MAX == unstageable.KEY_LENGTH


@pytest.mark.parametrize(
    ("count", "sizes"), [(0, [0]), (10, [10]), (11, [10, 1]), (23, [10, 10, 3]), (250, [10] * 25)]
)
def test_split_keeps_order_and_sizes(count: int, sizes: list[int]) -> None:
    items = list(range(count))
    parts = followups.split(items, 10)
    assert [len(part) for part in parts] == sizes
    assert [item for part in parts for item in part] == items
    assert followups.split(items, None) == [items]
    assert followups.marker(1, len(parts)) == ("" if len(parts) == 1 else f"/part2of{len(parts)}")


def test_same_version_compares_every_part() -> None:
    group = [followups.PartRow(1, 4, "h1", "acknowledged"), followups.PartRow(2, 5, "h2", "pending")]
    assert followups.same_version(["h1", "h2"], "h2", 5, group)
    assert not followups.same_version(["h2"], "h2", 5, group)  # the last part alone is not the version
    assert not followups.same_version(["h1", "h2"], "h9", 6, group)  # a newer unsplit version since
    assert followups.same_version(["h9"], "h9", 6, group)


def test_payload_text_no_target_can_carry_is_named_by_field_and_code_point() -> None:
    from lienthong.mapping.compiled import _untransmittable

    payload = {"A": "Nguyễn\tVăn\r\n", "B": ["ok", "x\x00y"], "C": {"D": "\ufffe"}, "E": 5}
    assert sorted(_untransmittable(payload, "K")) == [
        ("B[1]", "text", "contains a NUL character (U+0000) at character 2"),
        ("C.D", "text", "contains a noncharacter (U+FFFE) at character 1"),
    ]
    assert _untransmittable(payload, "K" * 201)[0] == (
        "(key)",
        "key",
        "the target key is 201 characters long, more than 200",
    )
    assert _untransmittable({"A": "Nguyễn Văn A\t"}, "K") == []
