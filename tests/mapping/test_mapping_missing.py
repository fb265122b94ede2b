"""Missing data in conditions (issue #17 item 5): cannot-decide is a quarantine, only false filters.

``when_missing: quarantine|false|true`` per condition; defaults: value-needing tests quarantine in
``select`` and are false in a field's ``when``/``cases``; ``not_in``, ``not_equals`` and ``exists``
take a missing value as a real answer.  Combinators are three-valued.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lienthong.errors import ConfigError, MappingError
from lienthong.mapping import CompiledRoute

RECORD: dict[str, Any] = {"code": "000.00.12.H07-250114-0042", "status": {"id": 8}, "form": None}


def outcome(route: CompiledRoute, record: dict[str, Any]) -> str:
    """``selected``, ``filtered`` or ``quarantined:<field>:<rule>``."""
    try:
        held, _ = route.select(record)
    except MappingError as error:
        return "quarantined:" + ",".join(f"{e.field}:{e.rule}" for e in error.errors)
    return "selected" if held else "filtered"


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"path": "form.child.born", "in": [1]}, "quarantined:form.child.born:missing"),
        ({"path": "form.child.born", "equals": 1}, "quarantined:form.child.born:missing"),
        ({"path": "form.child.born", "matches": "x"}, "quarantined:form.child.born:missing"),
        ({"path": "form.child.born", "age_under_years": 6}, "quarantined:form.child.born:missing"),
        # a missing value is a real answer to these, as before
        ({"path": "form.child.born", "not_in": [1]}, "selected"),
        ({"path": "form.child.born", "not_equals": 1}, "selected"),
        ({"path": "form.child.born", "exists": False}, "selected"),
        ({"path": "form.child.born", "exists": True}, "filtered"),
        # explicit
        ({"path": "form.child.born", "in": [1], "when_missing": "false"}, "filtered"),
        ({"path": "form.child.born", "in": [1], "when_missing": "true"}, "selected"),
        (
            {"path": "form.child.born", "not_in": [1], "when_missing": "quarantine"},
            "quarantined:form.child.born:missing",
        ),
        (
            {"path": "form.child.born", "exists": True, "when_missing": "quarantine"},
            "quarantined:form.child.born:missing",
        ),
        # present values decide as before
        ({"path": "status.id", "in": [8]}, "selected"),
        ({"path": "status.id", "in": [9]}, "filtered"),
        # malformed: an object where a code is compared cannot be decided
        ({"path": "status", "in": [8]}, "quarantined:status:malformed"),
        ({"path": "status", "not_in": [8]}, "quarantined:status:malformed"),
        # three-valued combinators
        ({"any": [{"path": "form.x", "in": [1]}, {"path": "status.id", "in": [8]}]}, "selected"),
        (
            {"any": [{"path": "form.x", "in": [1]}, {"path": "status.id", "in": [9]}]},
            "quarantined:form.x:missing",
        ),
        ({"all": [{"path": "form.x", "in": [1]}, {"path": "status.id", "in": [9]}]}, "filtered"),
        (
            {"all": [{"path": "form.x", "in": [1]}, {"path": "status.id", "in": [8]}]},
            "quarantined:form.x:missing",
        ),
        ({"not": {"path": "form.x", "in": [1]}}, "quarantined:form.x:missing"),
    ],
)
def test_select_with_missing_data(
    compile_route: Callable[..., CompiledRoute], condition: dict[str, Any], expected: str
) -> None:
    assert outcome(compile_route(select=[condition]), RECORD) == expected


def test_the_quarantine_names_the_source_path_and_the_condition_never_a_value(
    compile_route: Callable[..., CompiledRoute],
) -> None:
    route = compile_route(
        select=[{"path": "status.id", "in": [8]}, {"path": "form.child.born", "age_under_years": 6}]
    )
    with pytest.raises(MappingError) as caught:
        route.select(RECORD)
    message = str(caught.value)
    assert "field form.child.born, rule missing" in message
    assert "form.child.born under 6 years old" in message
    assert "select[" not in message


def test_when_missing_is_checked_when_the_route_loads(compile_route: Callable[..., CompiledRoute]) -> None:
    with pytest.raises(ConfigError) as caught:
        compile_route(select=[{"path": "a", "in": [1], "when_missing": "maybe"}])
    assert "select[0].when_missing" in str(caught.value)


def test_a_field_when_keeps_false_for_missing(compile_route: Callable[..., CompiledRoute]) -> None:
    """In a field's ``when`` a missing value means "leave the field out", unless said otherwise."""
    fields = {
        "MaHoSo": {"path": "code"},
        "Ghi": {"const": "x", "when": {"path": "form.kind", "equals": "a"}},
    }
    route = compile_route(fields=fields)
    assert route.map(RECORD).payload == {"MaHoSo": RECORD["code"]}
    strict = compile_route(
        fields={
            **fields,
            "Ghi": {"const": "x", "when": {"path": "form.kind", "equals": "a", "when_missing": "quarantine"}},
        }
    )
    with pytest.raises(MappingError) as caught:
        strict.map(RECORD)
    assert [(e.field, e.rule) for e in caught.value.errors] == [("Ghi.form.kind", "missing")]


# --- the shipped routes ------------------------------------------------------------------------------
def _shipped(name: str) -> CompiledRoute:
    from mapping_helpers import MAPPINGS, TODAY

    from lienthong.mapping import load_routes

    return load_routes(MAPPINGS)[name].compile(now=lambda: TODAY)


@pytest.mark.parametrize("eform", [None, "", "{}", '{"hoTich": {"treEm": {}}}'])
def test_a_birth_registration_without_its_form_is_quarantined_not_filtered(eform: Any) -> None:
    from mapping_helpers import fixture_record

    route = _shipped("birth_bhyt")
    raw = {**fixture_record("dossier_birth"), "eForm": eform}
    with pytest.raises(MappingError) as caught:
        route.select(route.prepare(raw))
    (error,) = caught.value.errors
    assert (error.field, error.rule) == ("eForm.hoTich.treEm.ngaySinh", "missing")


def test_a_dossier_of_another_procedure_is_still_filtered_by_the_birth_route() -> None:
    from mapping_helpers import fixture_record

    route = _shipped("birth_bhyt")
    held, reason = route.select(route.prepare(fixture_record("dossier_normal")))
    assert held is False and reason.startswith("select[0] not met: procedure.nationCode in")
