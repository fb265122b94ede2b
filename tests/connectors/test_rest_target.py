"""The generic REST target configured as the national portal (mappings/targets/dvcqg.yaml), over real HTTP."""

from __future__ import annotations

import pytest
import requests

from connectors.targets import Delivery, open_target
from lienthong.connections import connection_json
from lienthong.errors import ConfigError, CredentialsRefused, RetriableError
from lienthong.settings import PACKAGE_ROOT
from simulators.dvcqg import DvcqgApp
from simulators.server import RunningSimulator

MAPPINGS = PACKAGE_ROOT / "mappings"


@pytest.fixture(scope="module")
def portal():
    with RunningSimulator(DvcqgApp()) as sim:
        yield sim


@pytest.fixture()
def target(portal, monkeypatch):
    requests.post(f"{portal.url}/_sim/reset", timeout=5)
    monkeypatch.setenv(
        "AIRFLOW_CONN_DVCQG",
        connection_json(
            portal.url, "lienthong-demo", "demo-secret-dvcqg", dstcode="83", madonvi="000.00.00.H07"
        ),
    )
    t = open_target("dvcqg", MAPPINGS)
    yield t
    t.close()


def hoso(seq: int, **overrides) -> dict:
    record = {
        "MaHoSo": f"000.00.12.H07-250115-{seq:04d}",
        "MaTTHC": "1.001612",
        "TenTTHC": "Cấp giấy phép xây dựng",
        "KenhThucHien": "2",
        "ChuHoSo": "Nguyễn Thị Ánh Tuyết",
        "LoaiDoiTuong": "1",
        "NgayTiepNhan": "20250115083000",
        "NgayHenTra": "20250125170000",
        "TrangThaiHoSo": "2",
        "DinhDanhCHS": [{"LoaiDinhDanh": "1", "SoDinhDanh": "083190001234"}],
    }
    record.update(overrides)
    return record


def received(portal, mahoso: str) -> dict:
    return requests.get(f"{portal.url}/_sim/received", params={"mahoso": mahoso}, timeout=5).json()[
        "dossiers"
    ][mahoso]


def test_create_then_update_with_per_row_results(portal, target):
    results = target.send(
        "DongBoHoSoMC", [Delivery(1, "k1", hoso(1), False), Delivery(2, "k2", hoso(2), False)]
    )
    assert [r.ok for r in results] == [True, True]
    changed = hoso(1, TrangThaiHoSo="4")
    assert target.send("DongBoHoSoMC", [Delivery(3, "k1", changed, True)])[0].ok
    stored = received(portal, hoso(1)["MaHoSo"])
    assert stored["data"]["TrangThaiHoSo"] == "4" and stored["writes"] == 2 and stored["repeats"] == 0


def test_create_of_an_existing_dossier_is_resent_as_update(portal, target):
    target.send("DongBoHoSoMC", [Delivery(1, "k1", hoso(7), False)])
    # The gateway lost the answer of the first create (say): it sends a create again.
    result = target.send("DongBoHoSoMC", [Delivery(2, "k1", hoso(7, TrangThaiHoSo="4"), False)])[0]
    assert result.ok
    stored = received(portal, hoso(7)["MaHoSo"])
    assert stored["writes"] == 2 and stored["data"]["TrangThaiHoSo"] == "4"


def test_a_field_error_fails_only_its_row_and_names_the_field(portal, target):
    bad = hoso(3, NgayHenTra="2025-01-25")
    results = target.send("DongBoHoSoMC", [Delivery(1, "a", hoso(4), False), Delivery(2, "b", bad, False)])
    assert results[0].ok and not results[1].ok and not results[1].retryable
    assert "NgayHenTra" in results[1].message


def test_expired_session_logs_in_again(portal, target):
    target.send("DongBoHoSoMC", [Delivery(1, "k", hoso(5), False)])
    requests.post(f"{portal.url}/_sim/config", json={"expire_sessions_now": True}, timeout=5)
    assert target.send("DongBoHoSoMC", [Delivery(2, "k", hoso(6), False)])[0].ok
    assert target.auth.logins == 2


def test_progress_rows_are_flattened_into_items(portal, target):
    target.send("DongBoHoSoMC", [Delivery(1, "k", hoso(8), False)])
    steps = [
        {
            "MaHoSo": hoso(8)["MaHoSo"],
            "NguoiXuLy": "Trần Văn Bình",
            "ThoiDiemXuLy": f"2025011509{m:02d}00",
            "NoiDungXuLy": "Xử lý",
            "TrangThai": "4",
        }
        for m in range(3)
    ]
    results = target.send("CapNhatTienDoHoSoMC", [Delivery(2, "k", steps, False)])
    assert results[0].ok, results[0].message
    progress = requests.get(
        f"{portal.url}/_sim/received", params={"mahoso": hoso(8)["MaHoSo"]}, timeout=5
    ).json()
    assert len(progress["progress"][hoso(8)["MaHoSo"]]) == 3


@pytest.mark.parametrize("kind", ["http_503", "http_429", "reset", "http_502"])
def test_transport_faults_are_retriable(portal, target, kind):
    requests.post(f"{portal.url}/_sim/faults", json={"script": [kind], "paths": ["/api/service"]}, timeout=5)
    target.auth.token()  # log in first, so the scripted fault hits the service call
    with pytest.raises(RetriableError):
        target.send("DongBoHoSoMC", [Delivery(1, "k", hoso(9), False)])


def test_lookup_answers_what_the_portal_holds(portal, target):
    assert target.lookup(hoso(10)["MaHoSo"]) is None
    target.send("DongBoHoSoMC", [Delivery(1, "k", hoso(10), False)])
    assert target.lookup(hoso(10)["MaHoSo"])["MaHoSo"] == hoso(10)["MaHoSo"]


def test_wrong_credentials_are_a_clear_fatal_error(portal, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_DVCQG",
        connection_json(portal.url, "lienthong-demo", "wrong", dstcode="83", madonvi="x"),
    )
    t = open_target("dvcqg", MAPPINGS)
    with pytest.raises(CredentialsRefused, match="login refused for user 'lienthong-demo'") as caught:
        t.send("DongBoHoSoMC", [Delivery(1, "k", hoso(11), False)])
    assert "wrong" not in str(caught.value)


def test_unknown_operation_is_a_config_error(target):
    with pytest.raises(ConfigError, match="no operation 'Nope'"):
        target.send("Nope", [])
