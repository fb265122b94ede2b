"""The generic SOAP target configured as the BHXH registry (mappings/targets/bhxh.yaml), over real HTTP."""

from __future__ import annotations

import pytest
import requests

from connectors.targets import Delivery, open_target
from lienthong.connections import connection_json
from lienthong.errors import FatalError, RetriableError
from lienthong.settings import PACKAGE_ROOT
from simulators.bhxh import DEFAULT_PASSWORD, DEFAULT_USERNAME, BhxhSimulator
from simulators.server import RunningSimulator

MAPPINGS = PACKAGE_ROOT / "mappings"


@pytest.fixture(scope="module")
def registry():
    # The WSDL advertises an address nobody listens on, as behind the national service bus:
    # the target must send to the address of its connection.
    app = BhxhSimulator(seed=3, today="20250615", public_url="http://ngsp.invalid:9/ws/TheBHYT")
    with RunningSimulator(app) as sim:
        yield sim


@pytest.fixture()
def target(registry, monkeypatch):
    requests.post(f"{registry.url}/_sim/reset", timeout=5)
    monkeypatch.setenv("AIRFLOW_CONN_BHXH", connection_json(registry.url, DEFAULT_USERNAME, DEFAULT_PASSWORD))
    t = open_target("bhxh", MAPPINGS)
    yield t
    t.close()


def registration(key: str, **child) -> dict:
    return {
        "maHoSoLT": key,
        "maHoSoMC": "65a1f0c2e4b0a1b2c3000042",
        "maTinh": "83",
        "treEm": {"hoTen": "Lê Minh Khang", "ngaySinh": "20250103", "gioiTinh": "1", **child},
        "me": {"hoTen": "Nguyễn Thị Mỹ Hạnh", "soDinhDanh": "083190004567"},
        "noiCuTru": {
            "maTinh": "83",
            "maHuyen": "829",
            "maXa": "28756",
            "diaChiChiTiet": "Số 12, đường Đồng Khởi",
        },
        "giayChungSinh": {"so": "125/2025", "quyenSo": "01", "ngayCap": "20250104", "maCSKCB": "83001"},
        "maDKBD": "83001",
    }


def test_registration_returns_the_card_fields_it_keeps(registry, target):
    result = target.send("DangKyTheBHYTTreEm", [Delivery(1, "LT-1", registration("LT-1"), False)])[0]
    assert result.ok
    assert result.response["maKetQua"] == "000"
    assert len(result.response["maThe"]) == 15 and result.response["maThe"].startswith("TE183")
    assert result.response["gtTheDen"] == "20310102"
    held = requests.get(f"{registry.url}/_sim/received", timeout=5).json()["registrations"]["LT-1"]
    assert held["request"]["treEm"]["hoTen"] == "Lê Minh Khang" and held["writes"] == 1


def test_a_repeat_is_success_with_the_same_card(registry, target):
    first = target.send("DangKyTheBHYTTreEm", [Delivery(1, "LT-2", registration("LT-2"), False)])[0]
    again = target.send("DangKyTheBHYTTreEm", [Delivery(2, "LT-2", registration("LT-2"), False)])[0]
    assert (
        again.ok
        and again.response["maKetQua"] == "001"
        and again.response["maThe"] == first.response["maThe"]
    )
    held = requests.get(f"{registry.url}/_sim/received", timeout=5).json()["registrations"]["LT-2"]
    assert (held["writes"], held["repeats"]) == (1, 1)


def test_client_fault_is_permanent_and_names_the_field(target):
    with pytest.raises(FatalError, match="soap:Client.*ngaySinh"):
        target.send(
            "DangKyTheBHYTTreEm", [Delivery(1, "LT-3", registration("LT-3", ngaySinh="2025-01-03"), False)]
        )


@pytest.mark.parametrize("kind", ["soap_server", "http_503", "reset", "drop_after_commit"])
def test_server_side_trouble_is_retriable(registry, target, kind):
    requests.post(f"{registry.url}/_sim/faults", json={"script": [kind], "methods": ["POST"]}, timeout=5)
    with pytest.raises(RetriableError):
        target.send("DangKyTheBHYTTreEm", [Delivery(1, "LT-4", registration("LT-4"), False)])


def test_overload_is_retriable(registry, target):
    requests.post(f"{registry.url}/_sim/config", json={"overload_rate": 1.0}, timeout=5)
    try:
        with pytest.raises(RetriableError, match="soap:Server"):
            target.send("DangKyTheBHYTTreEm", [Delivery(1, "LT-5", registration("LT-5"), False)])
    finally:
        requests.post(f"{registry.url}/_sim/config", json={"overload_rate": 0.0}, timeout=5)


def test_the_wsdl_is_loaded_once_per_process(target):
    second = open_target("bhxh", MAPPINGS)
    try:
        assert second.client is target.client
    finally:
        second.close()
