"""Selection: which records a route takes, and the reason it gives for one it leaves out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lienthong.errors import MappingError
from lienthong.mapping import CompiledRoute

RECORD: dict[str, Any] = {
    "code": "000.00.12.H07-250114-0042",
    "dossierStatus": {"id": 8},
    "procedure": {"nationCode": "1.001193"},
    "applicant": {"data": {"identityNumber": "083185001234", "email": ""}},
    "child": {"born": "02/06/2019"},
    "appliedDate": "2025-01-14T08:30:00.000+0700",
}


def selected(
    compile_route: Callable[..., CompiledRoute], *conditions: Any, record: dict[str, Any] = RECORD
) -> tuple[bool, str | None]:
    return compile_route(select=list(conditions)).select(record)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"path": "dossierStatus.id", "in": [8, 9]}, True),
        ({"path": "dossierStatus.id", "in": ["8", "9"]}, True),  # values compare as text
        ({"path": "dossierStatus.id", "in": [1, 2]}, False),
        ({"path": "dossierStatus.id", "in": "@codelists/status.csv"}, False),  # first column: 0, 3
        (
            {"path": "procedure.nationCode", "in": {"file": "@codelists/birth.csv", "column": "nationCode"}},
            True,
        ),
        ({"path": "procedure.nationCode", "not_in": ["1.001612"]}, True),
        ({"path": "procedure.missing", "not_in": ["1.001612"]}, True),
        ({"path": "dossierStatus.id", "equals": 8}, True),
        ({"path": "dossierStatus.id", "not_equals": "8"}, False),
        ({"path": "applicant.data.identityNumber", "exists": True}, True),
        ({"path": "applicant.data.email", "exists": True}, False),  # "" is missing
        ({"path": "applicant.data.email", "exists": False}, True),
        ({"path": "code", "matches": r"000\.00\.12\.H07-\d{6}-\d{4}"}, True),
        ({"path": "code", "matches": r"000"}, False),  # the whole value must match
        ({"path": "code", "then": [{"truncate": 3}], "equals": "000"}, True),
        ({"any": [{"path": "dossierStatus.id", "in": [1]}, {"path": "dossierStatus.id", "in": [8]}]}, True),
        ({"all": [{"path": "dossierStatus.id", "in": [8]}, {"path": "code", "exists": False}]}, False),
        ({"not": {"path": "dossierStatus.id", "in": [8]}}, False),
    ],
)
def test_conditions(
    compile_route: Callable[..., CompiledRoute], mappings_dir: Path, condition: dict[str, Any], expected: bool
) -> None:
    (mappings_dir / "codelists" / "birth.csv").write_text("name,nationCode\nKhai sinh,1.001193\n", "utf-8")
    assert selected(compile_route, condition)[0] is expected


@pytest.mark.parametrize(
    ("born", "expected"),
    [
        ("02/06/2019", True),
        ("01/06/2019", False),
        ("31/12/2024", True),
        ("01/06/2010", False),
        ("29/02/2020", True),
    ],
)
def test_age_under_years_counts_on_today_in_vietnam(
    compile_route: Callable[..., CompiledRoute], born: str, expected: bool
) -> None:
    # The tests' today is 2025-06-01: a child born 2019-06-01 turned 6 that day, one born the next day has not.
    condition = {"path": "child.born", "then": [{"date": {"input": "%d/%m/%Y"}}], "age_under_years": 6}
    assert selected(compile_route, condition, record={**RECORD, "child": {"born": born}})[0] is expected


def test_age_under_years_as_of_a_record_date(compile_route: Callable[..., CompiledRoute]) -> None:
    condition = {
        "path": "child.born",
        "then": [{"date": {"input": "%d/%m/%Y"}}],
        "age_under_years": 6,
        "as_of": "appliedDate",
    }
    assert selected(compile_route, condition, record={**RECORD, "child": {"born": "15/01/2019"}})[0] is True
    assert selected(compile_route, condition, record={**RECORD, "child": {"born": "14/01/2019"}})[0] is False


def test_reason_names_the_failing_condition_without_values(
    compile_route: Callable[..., CompiledRoute],
) -> None:
    ok, reason = selected(
        compile_route,
        {"path": "procedure.nationCode", "in": ["1.001193"]},
        {"path": "dossierStatus.id", "in": "@codelists/status.csv"},
        {"path": "child.born", "then": [{"date": {"input": "%d/%m/%Y"}}], "age_under_years": 6},
    )
    assert ok is False
    assert reason == "select[1] not met: dossierStatus.id in @codelists/status.csv"
    assert "8" not in reason.replace("select[1]", "")


def test_reasons_of_combinators_and_age(compile_route: Callable[..., CompiledRoute]) -> None:
    _, reason = selected(
        compile_route,
        {"any": [{"path": "a", "exists": True}, {"path": "b", "equals": 1, "when_missing": False}]},
    )
    assert reason == "select[0] not met: any of (a is present; b equals 1)"
    _, reason = selected(
        compile_route, {"path": "child.born", "then": [{"date": {"input": "%d/%m/%Y"}}], "age_under_years": 5}
    )
    assert reason == "select[0] not met: child.born under 5 years old"


def test_no_select_takes_everything(compile_route: Callable[..., CompiledRoute]) -> None:
    assert compile_route().select(RECORD) == (True, None)


def test_unreadable_value_in_a_condition_is_a_mapping_error(
    compile_route: Callable[..., CompiledRoute],
) -> None:
    route = compile_route(
        select=[{"path": "child.born", "then": [{"date": {"input": "%d/%m/%Y"}}], "age_under_years": 6}]
    )
    with pytest.raises(MappingError) as caught:
        route.select({**RECORD, "child": {"born": "2019-06-02?"}})
    (error,) = caught.value.errors
    assert (error.field, error.rule) == ("child.born", "date")  # the source path, not select[0]
    assert caught.value.record_key == RECORD["code"]


def test_missing_value_of_an_age_condition_cannot_be_decided(
    compile_route: Callable[..., CompiledRoute],
) -> None:
    """Missing data is not "out of scope" (issue #17): the record is quarantined naming the path."""
    condition = {"path": "child.born", "then": [{"date": {"input": "%d/%m/%Y"}}], "age_under_years": 6}
    with pytest.raises(MappingError) as caught:
        selected(compile_route, condition, record={"code": "x"})
    (error,) = caught.value.errors
    assert (error.field, error.rule) == ("child.born", "missing")
    assert "select[" not in str(caught.value)
    # Said explicitly, a missing value may still mean "not selected".
    explicit = {**condition, "when_missing": "false"}
    assert selected(compile_route, explicit, record={"code": "x"}) == (
        False,
        "select[0] not met: child.born under 6 years old",
    )


def test_birth_date_out_of_range_is_a_mapping_error(compile_route: Callable[..., CompiledRoute]) -> None:
    route = compile_route(
        select=[{"path": "child.born", "then": [{"date": {"input": "%d/%m/%Y"}}], "age_under_years": 6}]
    )
    with pytest.raises(MappingError) as caught:
        route.select({**RECORD, "child": {"born": "01/01/9998"}})
    assert caught.value.errors[0].rule == "age_under_years"
