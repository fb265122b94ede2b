"""The compiled JSON Schema subset: each keyword's check, its error path and rule name."""

from __future__ import annotations

from typing import Any

import pytest

from lienthong.errors import ConfigError
from lienthong.mapping.schema import compile_schema


def check(schema: dict[str, Any] | bool, value: Any) -> list[tuple[str, str, str]]:
    return compile_schema(schema, "schemas/test.json")(value)


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        ({"type": "string"}, 1, [("", "schema.type", "expected string, got integer")]),
        ({"type": ["string", "null"]}, None, []),
        ({"type": "integer"}, 2.0, []),
        ({"type": "integer"}, True, [("", "schema.type", "expected integer, got boolean")]),
        ({"type": "number", "minimum": 0}, -1, [("", "schema.minimum", "must be at least 0")]),
        (
            {"maximum": 10, "exclusiveMinimum": 0},
            0,
            [("", "schema.exclusiveMinimum", "must be greater than 0")],
        ),
        ({"exclusiveMaximum": 10}, 10, [("", "schema.exclusiveMaximum", "must be less than 10")]),
        (
            {"type": "string", "minLength": 2, "maxLength": 3},
            "abcd",
            [("", "schema.maxLength", "at most 3 characters, got 4")],
        ),
        ({"type": "string", "minLength": 2}, "a", [("", "schema.minLength", "at least 2 characters, got 1")]),
        (
            {"type": "string", "pattern": "^[0-9]{2}$"},
            "8a",
            [("", "schema.pattern", "does not match the pattern ^[0-9]{2}$")],
        ),
        ({"pattern": "[0-9]"}, "a1b", []),  # unanchored, as JSON Schema says
        ({"enum": ["1", "2"]}, 1, [("", "schema.enum", "not one of the allowed values (1, 2)")]),
        ({"type": "string", "enum": ["1", "2"]}, "2", []),
        ({"enum": [1, True]}, 1, []),
        ({"const": True}, 1, [("", "schema.const", "must be True")]),
        (False, "x", [("", "schema.false", "is not allowed by the schema")]),
        (True, "x", []),
        (
            {"type": "array", "maxItems": 1, "items": {"type": "string"}},
            ["a", 2],
            [
                ("", "schema.maxItems", "at most 1 items, got 2"),
                ("[1]", "schema.type", "expected string, got integer"),
            ],
        ),
        ({"minItems": 1}, [], [("", "schema.minItems", "at least 1 items, got 0")]),
    ],
)
def test_keywords(schema: Any, value: Any, expected: list[tuple[str, str, str]]) -> None:
    assert check(schema, value) == expected


def test_objects_report_paths_of_nested_failures() -> None:
    schema = {
        "type": "object",
        "required": ["MaHoSo", "DinhDanhCHS"],
        "additionalProperties": False,
        "properties": {
            "MaHoSo": {"type": "string"},
            "DinhDanhCHS": {"type": "array", "items": {"$ref": "#/$defs/dinhDanh"}},
            "Open": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
        "$defs": {
            "dinhDanh": {
                "type": "object",
                "required": ["LoaiDinhDanh", "SoDinhDanh"],
                "properties": {
                    "LoaiDinhDanh": {"enum": ["1"]},
                    "SoDinhDanh": {"type": "string", "pattern": "^[0-9]{12}$"},
                },
            }
        },
    }
    value = {
        "DinhDanhCHS": [{"LoaiDinhDanh": "1", "SoDinhDanh": "083185001234"}, {"SoDinhDanh": "0831"}],
        "Open": {"a": 1, "b": "x"},
        "Extra": 1,
    }
    assert check(schema, value) == [
        ("MaHoSo", "schema.required", "is required"),
        ("DinhDanhCHS[1].LoaiDinhDanh", "schema.required", "is required"),
        ("DinhDanhCHS[1].SoDinhDanh", "schema.pattern", "does not match the pattern ^[0-9]{12}$"),
        ("Open.b", "schema.type", "expected integer, got string"),
        ("Extra", "schema.additionalProperties", "is not allowed by the schema"),
    ]
    assert check(schema, []) == [("", "schema.type", "expected object, got array")]


def test_ref_applies_beside_its_siblings_and_may_recurse() -> None:
    schema = {"$ref": "#/$defs/code", "enum": ["1"], "$defs": {"code": {"type": "string"}}}
    assert check(schema, 1) == [
        ("", "schema.type", "expected string, got integer"),
        ("", "schema.enum", "not one of the allowed values (1)"),
    ]
    tree = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
            }
        },
        "$ref": "#/$defs/node",
    }
    assert check(tree, {"name": "a", "children": [{"name": "b", "children": [{"name": 3}]}]}) == [
        ("children[0].children[0].name", "schema.type", "expected string, got integer")
    ]


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ({"properties": {"A": {"oneOf": []}}}, "#/properties/A/oneOf"),
        ({"type": "text"}, "#/type"),
        ({"maxLength": -1}, "#/maxLength"),
        ({"pattern": "(["}, "#/pattern"),
        ({"$ref": "http://example.com/s.json"}, "#/$ref"),
        ({"$ref": "#/$defs/none"}, "#/$ref"),
        ({"enum": []}, "#/enum"),
        ({"required": "A"}, "#/required"),
        ({"properties": {"A": 3}}, "#/properties/A"),
    ],
)
def test_schema_mistakes_are_config_errors(schema: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        compile_schema(schema, "schemas/test.json")
    assert (caught.value.file, caught.value.path) == ("schemas/test.json", path)


def test_annotations_are_accepted() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "t",
        "description": "d",
        "format": "date-time",
        "examples": ["x"],
        "$comment": "c",
        "type": "string",
    }
    assert check(schema, "anything") == []
