"""Field specs: sources, modifiers, omission of missing values, and how errors are collected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lienthong.errors import MappingError
from lienthong.mapping import CompiledRoute, MappedRecord

RECORD: dict[str, Any] = {
    "code": "HS-1",
    "id": "65a1f0c2e4b0a1b2c3000042",
    "updatedDate": "2025-01-22T10:00:00.000+0700",
    "name": "  Nguyễn Văn An ",
    "zero": 0,
    "no": False,
    "empty": "",
    "none": None,
    "nothing": [],
    "blank": {},
    "agency": {"code": "000.00.12.H07", "level": 1},
    "tags": ["a", "b"],
    "files": [
        {"id": 1, "name": "don.pdf", "url": "https://x/1"},
        {"id": 2, "name": None, "url": "https://x/2"},
        {"id": 3, "name": "ban-ve.pdf"},
    ],
    "tasks": [{"who": "Bình", "status": 2}, {"who": "Trang", "status": 1}],
    "identity": "08318500123",
}


def mapped(
    compile_route: Callable[..., CompiledRoute],
    fields: dict[str, Any],
    record: dict[str, Any] = RECORD,
    **extra: Any,
) -> dict[str, Any]:
    return compile_route(fields={"MaHoSo": "code", **fields}, **extra).map(record).payload


def errors(
    compile_route: Callable[..., CompiledRoute],
    fields: dict[str, Any],
    record: dict[str, Any] = RECORD,
    **extra: Any,
) -> list[tuple[str, str, str]]:
    with pytest.raises(MappingError) as caught:
        compile_route(fields={"MaHoSo": "code", **fields}, **extra).map(record)
    return [(error.field, error.rule, error.message) for error in caught.value.errors]


def test_missing_values_are_omitted_never_null(compile_route: Callable[..., CompiledRoute]) -> None:
    payload = mapped(
        compile_route, {f: f.lower() for f in ("Zero", "No", "Empty", "None", "Nothing", "Blank", "Absent")}
    )
    assert payload == {"MaHoSo": "HS-1", "Zero": 0, "No": False}


def test_bare_path_and_path_with_transforms(compile_route: Callable[..., CompiledRoute]) -> None:
    payload = mapped(
        compile_route, {"A": "agency.code", "B": {"path": "name", "then": ["strip", "upper"]}, "C": "tags[1]"}
    )
    assert payload == {"MaHoSo": "HS-1", "A": "000.00.12.H07", "B": "NGUYỄN VĂN AN", "C": "b"}


def test_transform_that_empties_a_value_makes_it_missing(compile_route: Callable[..., CompiledRoute]) -> None:
    assert (
        mapped(compile_route, {"A": {"path": "agency.code", "then": ["digits", {"truncate": 1}]}})["A"] == "0"
    )
    assert "A" not in mapped(compile_route, {"A": {"path": "name", "then": ["digits", {"length": 12}]}})


def test_const_concat_first_of(compile_route: Callable[..., CompiledRoute]) -> None:
    payload = mapped(
        compile_route,
        {
            "Const": {"const": "1"},
            "Key": {"concat": ["agency.code", "none", {"path": "agency.level", "then": ["str"]}], "sep": "|"},
            "Nothing": {"concat": ["none", "empty"]},
            "First": {"first_of": ["none", "empty", "agency.code", "code"]},
            "Literal": {"first_of": ["none", {"const": "mặc định"}]},
        },
    )
    assert payload["Const"] == "1"
    assert payload["Key"] == "000.00.12.H07|1"
    assert "Nothing" not in payload
    assert payload["First"] == "000.00.12.H07"
    assert payload["Literal"] == "mặc định"


def test_cases(compile_route: Callable[..., CompiledRoute]) -> None:
    spec = {
        "cases": [
            {"when": {"path": "agency.level", "in": [2, 3]}, "value": {"const": "local"}},
            {"when": {"path": "agency.level", "equals": 1}, "value": "agency.code"},
        ]
    }
    assert mapped(compile_route, {"Level": spec})["Level"] == "000.00.12.H07"
    assert "Level" not in mapped(compile_route, {"Level": spec}, {**RECORD, "agency": {"level": 9}})
    with_fallback = {"cases": [*spec["cases"], {"value": {"const": "other"}}]}
    assert (
        mapped(compile_route, {"Level": with_fallback}, {**RECORD, "agency": {"level": 9}})["Level"]
        == "other"
    )


def test_nested_object_and_its_omission(compile_route: Callable[..., CompiledRoute]) -> None:
    spec = {"object": {"Ma": "agency.code", "Cap": {"path": "agency.level", "then": ["str"]}}}
    assert mapped(compile_route, {"CoQuan": spec})["CoQuan"] == {"Ma": "000.00.12.H07", "Cap": "1"}
    assert "CoQuan" not in mapped(compile_route, {"CoQuan": spec}, {**RECORD, "agency": None})


def test_required_empty_object_is_an_error(compile_route: Callable[..., CompiledRoute]) -> None:
    spec = {"object": {"Ma": "agency.code"}, "required": True}
    assert errors(compile_route, {"CoQuan": spec}, {**RECORD, "agency": {}}) == [
        ("CoQuan", "required", "is required but missing")
    ]


def test_each_maps_elements_with_relative_paths_and_root(compile_route: Callable[..., CompiledRoute]) -> None:
    spec = {
        "each": "files",
        "fields": {"Id": {"path": "id", "then": ["str"]}, "Ten": "name", "Ho": "root.code", "Url": "url"},
    }
    assert mapped(compile_route, {"Tep": spec})["Tep"] == [
        {"Id": "1", "Ten": "don.pdf", "Ho": "HS-1", "Url": "https://x/1"},
        {"Id": "2", "Ho": "HS-1", "Url": "https://x/2"},
        {"Id": "3", "Ten": "ban-ve.pdf", "Ho": "HS-1"},
    ]
    assert "Tep" not in mapped(compile_route, {"Tep": spec}, {**RECORD, "files": []})
    assert "Tep" not in mapped(compile_route, {"Tep": spec}, {**RECORD, "files": None})


def test_each_errors_name_the_element(compile_route: Callable[..., CompiledRoute]) -> None:
    spec = {
        "each": "files",
        "fields": {"Ten": {"path": "name", "required": True}, "Url": {"path": "url", "required": True}},
    }
    assert errors(compile_route, {"Tep": spec}) == [
        ("Tep[1].Ten", "required", "is required but missing"),
        ("Tep[2].Url", "required", "is required but missing"),
    ]
    assert errors(compile_route, {"Tep": spec}, {**RECORD, "files": {"name": "x"}}) == [
        ("Tep", "each", "expected a list")
    ]


def test_fixed_list_and_when(compile_route: Callable[..., CompiledRoute]) -> None:
    spec = {
        "when": {"path": "identity", "exists": True},
        "list": [{"object": {"Loai": {"const": "1"}, "So": {"path": "identity", "then": ["digits"]}}}],
    }
    assert mapped(compile_route, {"DinhDanh": spec})["DinhDanh"] == [{"Loai": "1", "So": "08318500123"}]
    assert "DinhDanh" not in mapped(compile_route, {"DinhDanh": spec}, {**RECORD, "identity": None})
    shorthand = [
        {"const": "a"},
        "none",
        "agency.code",
    ]  # a YAML list is a fixed list; missing entries drop out
    assert mapped(compile_route, {"L": shorthand})["L"] == ["a", "000.00.12.H07"]


def test_default_and_required(compile_route: Callable[..., CompiledRoute]) -> None:
    payload = mapped(
        compile_route,
        {
            "A": {"path": "none", "default": "0"},
            "B": {"path": "empty", "default": [1]},
            "C": {"path": "code", "default": "x"},
        },
    )
    assert (payload["A"], payload["B"], payload["C"]) == ("0", [1], "HS-1")
    assert errors(compile_route, {"A": {"path": "none", "required": True}}) == [
        ("A", "required", "is required but missing")
    ]


def test_mutable_defaults_are_not_shared_between_payloads(
    compile_route: Callable[..., CompiledRoute],
) -> None:
    route = compile_route(fields={"MaHoSo": "code", "B": {"path": "none", "default": {"list": []}}})
    first = route.map(RECORD).payload
    first["B"]["list"].append("changed")
    assert route.map(RECORD).payload["B"] == {"list": []}


def test_all_errors_of_a_record_are_reported_and_never_its_values(
    compile_route: Callable[..., CompiledRoute],
) -> None:
    fields = {
        "DinhDanh": {
            "list": [
                {"object": {"So": {"path": "identity", "then": ["digits", {"length": 12}], "required": True}}}
            ]
        },
        "Phone": {"path": "name", "then": ["phone"]},
        "Must": {"path": "absent", "required": True},
        "Tep": {"each": "files", "fields": {"Ten": {"path": "name", "required": True}}},
    }
    with pytest.raises(MappingError) as caught:
        compile_route(fields={"MaHoSo": "code", **fields}).map(RECORD)
    assert [(e.field, e.rule) for e in caught.value.errors] == [
        ("DinhDanh[0].So", "length"),
        ("Phone", "phone"),
        ("Must", "required"),
        ("Tep[1].Ten", "required"),
    ]
    text = str(caught.value)
    assert text.startswith(
        "route sample, record HS-1: field DinhDanh[0].So, rule length: expected 12 characters, got 11"
    )
    assert "08318500123" not in text and "Nguyễn" not in text


def test_target_key_is_a_jmespath_over_the_payload(compile_route: Callable[..., CompiledRoute]) -> None:
    route = compile_route(
        target={"name": "dvcqg", "operation": "DongBoDVCTT", "key": "join('|', [MaTTHC, MaCoQuan])"},
        fields={"MaTTHC": {"const": "1.001612"}, "MaCoQuan": "agency.code"},
    )
    assert route.map(RECORD).key == "1.001612|000.00.12.H07"
    with pytest.raises(MappingError) as caught:
        route.map({**RECORD, "agency": {}})
    assert [(e.field, e.rule) for e in caught.value.errors] == [("join('|', [MaTTHC, MaCoQuan])", "key")]


def test_record_identity(compile_route: Callable[..., CompiledRoute]) -> None:
    route = compile_route(
        source={"connection": "motcua", "resource": "procedures", "key": "join('|', [code, agency.code])"}
    )
    assert route.record_key(RECORD) == "HS-1|000.00.12.H07"
    assert route.source_id(RECORD) == "65a1f0c2e4b0a1b2c3000042"
    assert route.updated(RECORD) == "2025-01-22T10:00:00.000+0700"
    with pytest.raises(MappingError) as caught:
        route.record_key({"id": "abc", "code": "HS-1"})
    assert caught.value.record_key == "abc"
    assert caught.value.errors[0].field == "source.key"


def test_followups_map_each_element_against_item_and_root(
    compile_route: Callable[..., CompiledRoute],
) -> None:
    followup = {
        "name": "progress",
        "target": {"name": "dvcqg", "operation": "CapNhatTienDoHoSoMC", "key": "MaHoSo"},
        "for_each": "tasks",
        "fields": {
            "MaHoSo": "root.code",
            "NguoiXuLy": {"path": "item.who", "then": [{"truncate": 3}]},
            "TrangThai": {"path": "item.status", "then": ["str"]},
            "Ma": "join('-', [root.code, item.who])",  # an expression: evaluated on {item, root}
        },
    }
    result = compile_route(followups=[followup]).map(RECORD)
    assert isinstance(result, MappedRecord)
    assert result.key == "HS-1"
    assert result.followups == {
        "progress": [
            {"MaHoSo": "HS-1", "NguoiXuLy": "Bìn", "TrangThai": "2", "Ma": "HS-1-Bình"},
            {"MaHoSo": "HS-1", "NguoiXuLy": "Tra", "TrangThai": "1", "Ma": "HS-1-Trang"},
        ]
    }
    assert compile_route(followups=[followup]).map({**RECORD, "tasks": None}).followups == {"progress": []}


def test_followup_errors_are_part_of_the_record_error(compile_route: Callable[..., CompiledRoute]) -> None:
    followup = {
        "name": "progress",
        "target": {"name": "dvcqg", "operation": "CapNhatTienDoHoSoMC", "key": "MaHoSo"},
        "for_each": "tasks",
        "fields": {"MaHoSo": "root.code", "TrangThai": {"path": "item.status", "then": [{"one_of": [1]}]}},
    }
    assert errors(compile_route, {}, followups=[followup]) == [
        ("followups.progress[0].TrangThai", "one_of", "not one of the allowed values (1)")
    ]


def test_schema_errors_come_after_mapping_and_are_not_repeated(
    compile_route: Callable[..., CompiledRoute], mappings_dir: Any
) -> None:
    (mappings_dir / "schemas" / "s.json").write_text(
        '{"type": "object", "additionalProperties": false, "required": ["MaHoSo", "Ten"],'
        ' "properties": {"MaHoSo": {"type": "string", "maxLength": 3}, "Ten": {"type": "string"},'
        ' "So": {"type": "string", "pattern": "^[0-9]{12}$"}}}',
        "utf-8",
    )
    target = {"name": "dvcqg", "operation": "O", "key": "MaHoSo", "schema": "@schemas/s.json"}
    found = errors(
        compile_route,
        {"Ten": {"path": "absent", "required": True}, "So": "identity", "Extra": {"const": 1}},
        target=target,
    )
    assert found == [
        ("Ten", "required", "is required but missing"),
        ("MaHoSo", "schema.maxLength", "at most 3 characters, got 4"),
        ("So", "schema.pattern", "does not match the pattern ^[0-9]{12}$"),
        ("Extra", "schema.additionalProperties", "is not allowed by the schema"),
    ]


def test_first_of_plain_paths_in_every_scope(compile_route: Callable[..., CompiledRoute]) -> None:
    followup = {
        "name": "steps",
        "target": {"name": "dvcqg", "operation": "O", "key": "MaHoSo"},
        "for_each": "tasks",
        "fields": {
            "MaHoSo": {"first_of": ["item.none", "root.code"]},
            "Ai": {"first_of": ["item.none", "join('/', [root.code, item.who])"], "then": ["upper"]},
        },
    }
    each = {"each": "files", "fields": {"Ten": {"first_of": ["name", "root.agency.code"], "required": True}}}
    result = compile_route(fields={"MaHoSo": "code", "Tep": each}, followups=[followup]).map(RECORD)
    assert result.payload["Tep"] == [{"Ten": "don.pdf"}, {"Ten": "000.00.12.H07"}, {"Ten": "ban-ve.pdf"}]
    assert result.followups["steps"] == [
        {"MaHoSo": "HS-1", "Ai": "HS-1/BÌNH"},
        {"MaHoSo": "HS-1", "Ai": "HS-1/TRANG"},
    ]


def test_generated_functions_keep_route_text_out_of_the_code(
    compile_route: Callable[..., CompiledRoute],
) -> None:
    # A key that would be code if it were pasted into the generated source is only ever a value.
    record = {"code": "HS-1", 'x"]; import os; os._exit(1); #': "safe"}
    route = compile_route(fields={"MaHoSo": "code", "Odd": '"x\\"]; import os; os._exit(1); #"'})
    assert route.map(record).payload == {"MaHoSo": "HS-1", "Odd": "safe"}


def test_a_very_long_transform_chain_still_compiles(compile_route: Callable[..., CompiledRoute]) -> None:
    chain = ["strip", "upper", "lower"] * 10
    assert mapped(compile_route, {"Ten": {"path": "name", "then": chain}})["Ten"] == "nguyễn văn an"
