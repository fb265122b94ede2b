"""The loader validates the whole route file and names the path of every kind of mistake."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mapping_helpers import base_route

from lienthong.errors import ConfigError
from lienthong.mapping import Route, load_route, load_routes


def _path_of_error(
    write_route: Callable[..., Path], mappings_dir: Path, route: dict[str, Any] | str
) -> str | None:
    with pytest.raises(ConfigError) as caught:
        load_route(write_route(route), mappings_dir)
    assert caught.value.file and caught.value.file.endswith("sample.yaml")
    return caught.value.path


def _field(spec: Any, name: str = "X") -> dict[str, Any]:
    return base_route(fields={"MaHoSo": "code", name: spec})


BAD_ROUTES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown top-level key", base_route(colour="blue"), "colour"),
    ("name differs from the file", base_route(route="other"), "route"),
    (
        "unknown resource",
        base_route(source={"connection": "motcua", "resource": "files", "key": "code"}),
        "source.resource",
    ),
    (
        "bad connection id",
        base_route(source={"connection": "mot cua", "resource": "dossiers", "key": "code"}),
        "source.connection",
    ),
    (
        "page size too large",
        base_route(source={"connection": "m", "resource": "dossiers", "key": "code", "page_size": 5000}),
        "source.page_size",
    ),
    (
        "source key not JMESPath",
        base_route(source={"connection": "m", "resource": "dossiers", "key": "a.[b"}),
        "source.key",
    ),
    (
        "no target definition",
        base_route(target={"name": "nowhere", "operation": "X", "key": "MaHoSo"}),
        "target.name",
    ),
    (
        "unknown target key",
        base_route(target={"name": "dvcqg", "operation": "X", "key": "MaHoSo", "url": "x"}),
        "target.url",
    ),
    (
        "schema file missing",
        base_route(target={"name": "dvcqg", "operation": "X", "key": "MaHoSo", "schema": "@schemas/no.json"}),
        "target.schema",
    ),
    ("bad schedule", base_route(schedule="every ten minutes"), "schedule"),
    ("unknown transform", _field({"path": "a", "then": ["shout"]}), "fields.X.then[0]"),
    (
        "misspelt datetime option",
        _field({"path": "appointmentDate", "then": [{"datetime": {"fmt": "%Y"}}]}, "NgayHenTra"),
        "fields.NgayHenTra.then[0].datetime.fmt",
    ),
    (
        "unknown time zone",
        _field({"path": "a", "then": [{"datetime": {"tz": "Mars/Base"}}]}),
        "fields.X.then[0].datetime.tz",
    ),
    (
        "bad date input format",
        _field({"path": "a", "then": [{"date": {"input": 12}}]}),
        "fields.X.then[0].date.input",
    ),
    (
        "truncate without a number",
        _field({"path": "a", "then": [{"truncate": "long"}]}),
        "fields.X.then[0].truncate",
    ),
    ("truncate without argument", _field({"path": "a", "then": ["truncate"]}), "fields.X.then[0]"),
    (
        "argument to a plain transform",
        _field({"path": "a", "then": [{"strip": 3}]}),
        "fields.X.then[0].strip",
    ),
    (
        "bad regular expression",
        _field({"path": "a", "then": [{"pattern": "(["}]}),
        "fields.X.then[0].pattern",
    ),
    (
        "format template without value",
        _field({"path": "a", "then": [{"format": "{other}"}]}),
        "fields.X.then[0].format",
    ),
    ("bare path not JMESPath", _field("a.[b"), "fields.X"),
    ("path not JMESPath", _field({"path": "a.[b"}), "fields.X.path"),
    ("two sources", _field({"path": "a", "const": 1}), "fields.X"),
    ("no source", _field({"then": ["strip"]}), "fields.X"),
    ("unknown spec key", _field({"path": "a", "colour": 1}), "fields.X.colour"),
    ("null default", _field({"path": "a", "default": None}), "fields.X.default"),
    ("null const", _field({"const": None}), "fields.X.const"),
    ("required not boolean", _field({"path": "a", "required": "yes"}), "fields.X.required"),
    ("not a spec", _field(12), "fields.X"),
    ("sep outside concat", _field({"path": "a", "sep": "-"}), "fields.X.sep"),
    ("each without fields", _field({"each": "tasks"}), "fields.X"),
    (
        "codelist file missing",
        _field({"path": "a", "then": [{"codelist": "@codelists/none.csv"}]}),
        "fields.X.then[0].codelist.file",
    ),
    (
        "codelist column missing",
        _field({"path": "a", "then": [{"codelist": {"file": "@codelists/status.csv", "to": "nope"}}]}),
        "fields.X.then[0].codelist.to",
    ),
    (
        "reference outside mappings",
        _field({"path": "a", "then": [{"codelist": "@../secret.csv"}]}),
        "fields.X.then[0].codelist.file",
    ),
    (
        "reference without @",
        _field({"path": "a", "then": [{"codelist": "codelists/status.csv"}]}),
        "fields.X.then[0].codelist.file",
    ),
    (
        "nested list object",
        _field(
            {"list": [{"object": {"S": {"path": "a", "then": ["digits", {"length": -1}]}}}]}, "DinhDanhCHS"
        ),
        "fields.DinhDanhCHS.list[0].object.S.then[1].length",
    ),
    (
        "each element field",
        _field({"each": "files", "fields": {"Ten": {"path": "name", "then": [{"max_length": "x"}]}}}),
        "fields.X.fields.Ten.then[0].max_length",
    ),
    (
        "fallback case not last",
        _field({"cases": [{"value": "a"}, {"when": {"path": "b", "exists": True}, "value": "c"}]}),
        "fields.X.cases[0]",
    ),
    ("condition with two tests", base_route(select=[{"path": "a", "in": [1], "equals": 1}]), "select[0]"),
    ("condition with unknown test", base_route(select=[{"path": "a", "bigger": 1}]), "select[0].bigger"),
    ("condition without path", base_route(select=[{"in": [1]}]), "select[0]"),
    (
        "any with siblings",
        base_route(select=[{"any": [{"path": "a", "exists": True}], "path": "b"}]),
        "select[0]",
    ),
    ("empty any", base_route(select=[{"any": []}]), "select[0].any"),
    (
        "as_of without age",
        base_route(select=[{"path": "a", "exists": True, "as_of": "b"}]),
        "select[0].as_of",
    ),
    (
        "age not a number",
        base_route(select=[{"path": "a", "age_under_years": "six"}]),
        "select[0].age_under_years",
    ),
    ("in list empty", base_route(select=[{"path": "a", "in": []}]), "select[0].in"),
    (
        "when in a field",
        _field({"path": "a", "when": {"path": "b", "exists": "yes"}}),
        "fields.X.when.exists",
    ),
    (
        "duplicate followup",
        base_route(
            followups=[
                {
                    "name": "p",
                    "target": {"name": "dvcqg", "operation": "O", "key": "K"},
                    "for_each": "tasks",
                    "fields": {"K": "item.a"},
                },
                {
                    "name": "p",
                    "target": {"name": "dvcqg", "operation": "O", "key": "K"},
                    "for_each": "tasks",
                    "fields": {"K": "item.a"},
                },
            ]
        ),
        "followups[1].name",
    ),
    (
        "followup for_each not JMESPath",
        base_route(
            followups=[
                {
                    "name": "p",
                    "target": {"name": "dvcqg", "operation": "O", "key": "K"},
                    "for_each": "[",
                    "fields": {"K": "item.a"},
                },
            ]
        ),
        "followups[0].for_each",
    ),
    (
        "followup field",
        base_route(
            followups=[
                {
                    "name": "p",
                    "target": {"name": "dvcqg", "operation": "O", "key": "K"},
                    "for_each": "tasks",
                    "fields": {"K": {"path": "item.a", "then": [{"nfc": 1}]}},
                },
            ]
        ),
        "followups[0].fields.K.then[0].nfc",
    ),
]


@pytest.mark.parametrize(
    ("route", "expected_path"), [(r, p) for _, r, p in BAD_ROUTES], ids=[n for n, _, _ in BAD_ROUTES]
)
def test_bad_key_is_a_config_error_naming_its_path(
    write_route: Callable[..., Path], mappings_dir: Path, route: dict[str, Any], expected_path: str
) -> None:
    assert _path_of_error(write_route, mappings_dir, route) == expected_path


def test_missing_required_top_level_key(write_route: Callable[..., Path], mappings_dir: Path) -> None:
    route = base_route()
    del route["fields"]
    with pytest.raises(ConfigError, match="missing required key 'fields'"):
        load_route(write_route(route), mappings_dir)


def test_error_message_names_the_file_path_and_the_allowed_keys(
    write_route: Callable[..., Path], mappings_dir: Path
) -> None:
    route = _field({"path": "appointmentDate", "then": [{"datetime": {"fmt": "%Y"}}]}, "NgayHenTra")
    with pytest.raises(ConfigError) as caught:
        load_route(write_route(route), mappings_dir)
    text = str(caught.value)
    assert "sample.yaml: fields.NgayHenTra.then[0].datetime.fmt: unknown key 'fmt'" in text
    assert "allowed: format, input, tz" in text


def test_yaml_duplicate_keys_are_refused(write_route: Callable[..., Path], mappings_dir: Path) -> None:
    text = (
        "route: sample\nsource: {connection: m, resource: dossiers, key: code}\n"
        "target: {name: dvcqg, operation: O, key: MaHoSo}\nfields:\n  MaHoSo: code\n  MaHoSo: id\n"
    )
    with pytest.raises(ConfigError, match=r"duplicate key 'MaHoSo' \(line 6\)"):
        load_route(write_route(text), mappings_dir)


def test_yaml_syntax_error_gives_the_line(write_route: Callable[..., Path], mappings_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"not valid YAML \(line 2, column 14\)"):
        load_route(write_route("route: sample\nfields: {a: }}\n"), mappings_dir)


def test_unsupported_schema_keyword_names_the_schema_file(
    write_route: Callable[..., Path], mappings_dir: Path
) -> None:
    (mappings_dir / "schemas" / "bad.json").write_text(
        '{"type": "object", "properties": {"A": {"oneOf": []}}}'
    )
    route = base_route(
        target={"name": "dvcqg", "operation": "O", "key": "MaHoSo", "schema": "@schemas/bad.json"}
    )
    with pytest.raises(ConfigError) as caught:
        load_route(write_route(route), mappings_dir)
    assert caught.value.file == "schemas/bad.json"
    assert caught.value.path == "#/properties/A/oneOf"


def test_load_by_name_and_all_routes(write_route: Callable[..., Path], mappings_dir: Path) -> None:
    write_route(base_route())
    write_route(base_route(route="second"), name="second")
    route = load_route("sample", mappings_dir)
    assert isinstance(route, Route)
    assert (route.name, route.source.resource, route.target.operation, route.schedule) == (
        "sample",
        "dossiers",
        "DongBoHoSoMC",
        None,
    )
    assert route.source.id == "id" and route.source.updated == "updatedDate" and route.source.page_size == 100
    assert set(load_routes(mappings_dir)) == {"sample", "second"}


def test_a_missing_route_is_a_config_error(mappings_dir: Path) -> None:
    with pytest.raises(ConfigError, match="route file not found"):
        load_route("nothing", mappings_dir)


def test_default_mappings_dir_comes_from_the_environment(
    write_route: Callable[..., Path], mappings_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_route(base_route())
    monkeypatch.setenv("LIENTHONG_MAPPINGS", str(mappings_dir))
    assert load_route("sample").mappings_dir == mappings_dir.resolve()


def test_cron_presets_and_expressions_are_accepted(
    write_route: Callable[..., Path], mappings_dir: Path
) -> None:
    for schedule in ("@daily", "*/10 * * * *", "0 7-17 * * 1-5"):
        assert load_route(write_route(base_route(schedule=schedule)), mappings_dir).schedule == schedule
