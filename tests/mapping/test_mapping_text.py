"""Unicode NFC before mapping, and the JSON-string fields parsed by ``prepare``."""

from __future__ import annotations

import copy
import json
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pytest

from lienthong.errors import MappingError
from lienthong.mapping import CompiledRoute
from lienthong.mapping.text import is_nfc_record, nfc_deep, normalise_record


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


NAME = "Nguyễn Thị Mỹ Hạnh"


def test_an_nfd_record_maps_to_nfc(compile_route: Callable[..., CompiledRoute]) -> None:
    route = compile_route(
        fields={
            "MaHoSo": "code",
            "ChuHoSo": "applicant.fullname",
            "Tep": {"each": "files", "fields": {"Ten": "@"}},
        }
    )
    raw = {"code": "HS-1", "applicant": {"fullname": nfd(NAME)}, "files": [nfd("đơn đề nghị.pdf")]}
    payload = route.map(route.prepare(raw)).payload
    assert payload["ChuHoSo"] == NAME and unicodedata.is_normalized("NFC", payload["ChuHoSo"])
    assert payload["Tep"] == [{"Ten": "đơn đề nghị.pdf"}]
    assert raw["applicant"]["fullname"] == nfd(NAME)  # the raw record is not modified


def test_prepare_returns_an_nfc_record_as_it_is(compile_route: Callable[..., CompiledRoute]) -> None:
    raw = {"code": "HS-1", "name": NAME, "n": 1, "tasks": [{"x": None}]}
    assert compile_route().prepare(raw) is raw


@pytest.mark.parametrize(
    "value",
    [
        {"a": nfd(NAME)},
        [1, {"b": [nfd(NAME)]}],
        {nfd("khóa"): "x"},
        ({"t": nfd(NAME)},),
        OrderedDict(a=nfd(NAME)),
        {"deep": {"deeper": {"deepest": [None, 1.5, True, nfd("ấp")]}}},
    ],
)
def test_any_nfd_string_or_key_is_found_and_normalised(value: Any) -> None:
    assert not is_nfc_record(value)
    normalised = normalise_record(value)
    assert is_nfc_record(normalised)
    assert normalised == nfc_deep(copy.deepcopy(value))


def test_records_without_text_or_with_ascii_only_are_nfc() -> None:
    assert is_nfc_record({"a": 1, "b": [None, 2.5, True], "c": "plain"})
    assert is_nfc_record(NAME) and not is_nfc_record(nfd(NAME))


def test_int_keys_are_kept(compile_route: Callable[..., CompiledRoute]) -> None:
    assert normalise_record({1: nfd("ấp")}) == {1: "ấp"}


def test_parse_json_fields(write_route: Any, mappings_dir: Any) -> None:
    from mapping_helpers import base_route

    from lienthong.mapping import load_route

    route = load_route(
        write_route(
            base_route(
                source={
                    "connection": "motcua",
                    "resource": "dossiers",
                    "key": "code",
                    "parse_json": ["eForm"],
                },
                fields={"MaHoSo": "code", "Ten": "eForm.hoTich.treEm.hoTen"},
            )
        ),
        mappings_dir,
    ).compile()
    raw = {
        "code": "HS-1",
        "eForm": json.dumps({"hoTich": {"treEm": {"hoTen": nfd("Lê Minh Khang")}}}, ensure_ascii=False),
    }
    record = route.prepare(raw)
    assert record["eForm"] == {"hoTich": {"treEm": {"hoTen": "Lê Minh Khang"}}}
    assert route.map(record).payload["Ten"] == "Lê Minh Khang"
    assert isinstance(raw["eForm"], str)  # the raw record is untouched
    assert route.prepare(record) == record  # preparing twice changes nothing
    assert route.prepare({"code": "HS-2", "eForm": None})["eForm"] is None  # null stays null
    assert route.prepare({"code": "HS-2", "eForm": "  "})["eForm"] is None
    with pytest.raises(MappingError) as caught:
        route.prepare({"code": "HS-3", "eForm": '{"hoTich": '})
    assert (caught.value.record_key, caught.value.errors[0].field, caught.value.errors[0].rule) == (
        "HS-3",
        "eForm",
        "json",
    )
