"""Every transform of the registry, on its own: the value it gives, the failure it reports."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from mapping_helpers import TODAY

from lienthong.errors import ConfigError
from lienthong.mapping import transform_names
from lienthong.mapping.core import CompileContext, Fail
from lienthong.mapping.resources import Resources
from lienthong.mapping.transforms import compile_transform, normalise_phone


@pytest.fixture
def ctx(mappings_dir: Path) -> CompileContext:
    return CompileContext(resources=Resources(mappings_dir), now=lambda: TODAY)


def run(ctx: CompileContext, spec: Any, value: Any) -> Any:
    return compile_transform(spec, "t", ctx)(value)


def failure(ctx: CompileContext, spec: Any, value: Any) -> tuple[str, str]:
    with pytest.raises(Fail) as caught:
        run(ctx, spec, value)
    ((path, rule, message),) = caught.value.errors
    return rule, message


NFD = unicodedata.normalize("NFD", "Nguyễn Thị Mỹ Hạnh")


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ("nfc", NFD, "Nguyễn Thị Mỹ Hạnh"),
        ("nfc", 12, 12),
        ("strip", "  a b  ", "a b"),
        ("upper", "full", "FULL"),
        ("lower", "Hanh.Nguyen@Example.VN", "hanh.nguyen@example.vn"),
        ("digits", "0831-8500 1234", "083185001234"),
        ("digits", 83185001234, "83185001234"),
        ("int", "15", 15),
        ("int", 15.0, 15),
        ("int", 7, 7),
        ("str", 8, "8"),
        ("str", 75000.0, "75000"),
        ("str", "x", "x"),
        ("json", '{"a": [1, 2]}', {"a": [1, 2]}),
        ("json", {"already": "parsed"}, {"already": "parsed"}),
        ({"truncate": 5}, "Nguyễn Văn", "Nguyễ"),
        ({"truncate": 5}, NFD, "Nguyễ"),
        ({"truncate": 50}, "short", "short"),
        ({"length": 12}, "083185001234", "083185001234"),
        ({"max_length": 5}, "abcde", "abcde"),
        ({"pattern": r"\d\.\d{6}"}, "1.001612", "1.001612"),
        ({"one_of": [1, 2, 3]}, "2", "2"),
        ({"one_of": [1, 2, 3]}, 3, 3),
        ({"prefix": "TE1"}, "83", "TE183"),
        ({"format": "HS-{value}"}, 42, "HS-42"),
        ({"map": {"FULL": "TOAN_TRINH", "PARTIAL": "MOT_PHAN"}}, "PARTIAL", "MOT_PHAN"),
        ({"map": {1: "một", 2: "hai"}}, "2", "hai"),
        ({"codelist": "@codelists/status.csv"}, 3, "Đang xử lý"),
        ({"codelist": {"file": "@codelists/status.csv", "from": "id", "to": "code"}}, "0", "1"),
        ({"codelist": {"file": "@codelists/status.csv", "to": "code", "default": "?"}}, 99, "?"),
    ],
)
def test_transform_value(ctx: CompileContext, spec: Any, value: Any, expected: Any) -> None:
    assert run(ctx, spec, value) == expected


@pytest.mark.parametrize(
    ("spec", "value", "rule", "message"),
    [
        ("int", "12a", "int", "not an integer"),
        ("int", 1.5, "int", "not an integer"),
        ("json", "{broken", "json", "not valid JSON"),
        ({"length": 12}, "08318500123", "length", "expected 12 characters, got 11"),
        ({"max_length": 3}, "abcd", "max_length", "at most 3 characters, got 4"),
        ({"pattern": r"\d+"}, "12a", "pattern", r"does not match the pattern \d+"),
        ({"one_of": [1, 2]}, 5, "one_of", "not one of the allowed values (1, 2)"),
        ({"map": {"FULL": "TOAN_TRINH"}}, "NONE", "map", "value not in the map"),
        (
            {"codelist": "@codelists/status.csv"},
            99,
            "codelist",
            "unknown code (not in codelists/status.csv, column id)",
        ),
        ({"format": "{value:05d}"}, "abc", "format", "the value does not fit the format template"),
        ("phone", "12345", "phone", "not a valid phone number"),
        (
            {"datetime": {}},
            "14/01/2025",
            "datetime",
            "not a valid date-time (expected ISO 8601 with an offset)",
        ),
        ({"date": {"input": "%d/%m/%Y"}}, "31/02/2025", "date", "not a valid date (expected %d/%m/%Y)"),
    ],
)
def test_transform_failure(ctx: CompileContext, spec: Any, value: Any, rule: str, message: str) -> None:
    assert failure(ctx, spec, value) == (rule, message)


def test_failures_never_quote_the_value(ctx: CompileContext) -> None:
    secret = "08318500123"
    for spec in (
        {"length": 12},
        {"max_length": 3},
        "phone",
        {"pattern": "x"},
        {"one_of": ["1"]},
        "json",
        {"codelist": "@codelists/status.csv"},
        {"map": {"a": "b"}},
    ):
        assert secret not in failure(ctx, spec, secret)[1]


@pytest.mark.parametrize(
    "written",
    [
        "0912345678",
        "+84912345678",
        "84912345678",
        "+84 912 345 678",
        "0912.345.678",
        "(+84) 912-345-678",
        "+84 (0) 912 345 678",
        "912345678",
        912345678,
    ],
)
def test_phone_forms_become_zero_and_nine_digits(written: Any) -> None:
    assert normalise_phone(written) == "0912345678"


@pytest.mark.parametrize(
    "written",
    ["12345", "091234567", "09123456789", "+1 202 555 0100", "0012345678", "abcdefghij", "8491234567"],
)
def test_phone_rejects_what_is_not_a_vietnamese_number(written: str) -> None:
    assert normalise_phone(written) is None


@pytest.mark.parametrize(
    ("options", "value", "expected"),
    [
        ({}, "2025-01-14T08:30:00.000+0700", "20250114083000"),  # iGate's own form
        ({}, "2025-01-14T01:30:00Z", "20250114083000"),  # UTC -> Vietnam time
        ({}, "2025-01-13T20:30:00.000-0500", "20250114083000"),
        ({}, "2025-01-14T08:30:00+07:00", "20250114083000"),
        ({}, "2025-01-14T08:30:00", "20250114083000"),  # no offset: already local
        ({"tz": "UTC"}, "2025-01-14T08:30:00.000+0700", "20250114013000"),
        ({"format": "%d/%m/%Y %H:%M"}, "2025-01-14T23:30:00Z", "15/01/2025 06:30"),  # crosses midnight
        ({"format": "%Y-%m-%dT%H:%M:%S%z"}, "2025-01-14T01:30:00Z", "2025-01-14T08:30:00+0700"),
        ({"input": "%d/%m/%Y %H:%M"}, "14/01/2025 08:30", "20250114083000"),
        ({"input": "%Y%m%d%H%M%S%z"}, "20250114013000+0000", "20250114083000"),  # strptime path
    ],
)
def test_datetime_converts_to_vietnam_time(
    ctx: CompileContext, options: dict[str, Any], value: str, expected: str
) -> None:
    assert run(ctx, {"datetime": options}, value) == expected


def test_datetime_accepts_datetime_objects_and_bare_name(ctx: CompileContext) -> None:
    assert run(ctx, "datetime", datetime.fromisoformat("2025-01-14T01:30:00+00:00")) == "20250114083000"


@pytest.mark.parametrize(
    ("options", "value", "expected"),
    [
        ({"input": "%d/%m/%Y"}, "03/01/2025", "20250103"),
        ({"input": "%d/%m/%Y"}, "3/1/2025", "20250103"),
        ({"input": "%d/%m/%Y", "format": "%d-%m-%Y"}, "03/01/2025", "03-01-2025"),
        ({}, "2025-01-03", "20250103"),
        ({}, "2025-01-03T23:00:00.000+0700", "20250103"),
        ({"input": "%d %B %Y"}, "03 January 2025", "20250103"),  # strptime path
    ],
)
def test_date(ctx: CompileContext, options: dict[str, Any], value: str, expected: str) -> None:
    assert run(ctx, {"date": options}, value) == expected


def test_date_accepts_date_objects(ctx: CompileContext) -> None:
    assert run(ctx, {"date": {"format": "%d/%m/%Y %H"}}, date(2025, 1, 3)) == "03/01/2025 00"


def test_unknown_transform_lists_the_known_ones(ctx: CompileContext) -> None:
    with pytest.raises(ConfigError) as caught:
        compile_transform("shout", "fields.X.then[0]", ctx)
    assert caught.value.path == "fields.X.then[0]"
    assert "known: codelist, date, datetime, digits" in caught.value.message


def test_codelist_with_conflicting_duplicates_is_a_config_error(
    ctx: CompileContext, mappings_dir: Path
) -> None:
    (mappings_dir / "codelists" / "dup.csv").write_text("id,code\n1,2\n1,3\n", "utf-8")
    with pytest.raises(ConfigError, match="mapped twice"):
        compile_transform({"codelist": "@codelists/dup.csv"}, "t", ctx)


def test_every_registered_transform_is_covered_here() -> None:
    covered = {
        "nfc",
        "strip",
        "upper",
        "lower",
        "digits",
        "int",
        "str",
        "phone",
        "datetime",
        "date",
        "codelist",
        "map",
        "truncate",
        "length",
        "max_length",
        "pattern",
        "one_of",
        "prefix",
        "format",
        "json",
    }
    assert set(transform_names()) == covered


def test_extreme_dates_fail_as_field_errors_not_crashes(ctx: CompileContext) -> None:
    assert failure(ctx, {"datetime": {}}, "0001-01-01T00:00:00+07:00")[0] == "datetime"
    assert run(ctx, {"datetime": {}}, "9999-12-31T23:00:00+07:00") == "99991231230000"
