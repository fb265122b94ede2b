"""The national portal simulator (``dvcqg``) over real HTTP: login, per-item batches, validation, counting."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import unicodedata
from typing import Any

import pytest
import requests

from simulators.dvcqg import DvcqgApp, validation
from simulators.dvcqg.sessions import SessionStore
from simulators.dvcqg.settings import DEFAULTS
from simulators.server import RunningSimulator

DST = {"dstcode": "83"}
DELETE = object()


@pytest.fixture(scope="module")
def sim():
    with RunningSimulator(DvcqgApp()) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(sim):
    """Every test starts from an empty store, no faults and the default settings."""
    requests.post(f"{sim.url}/_sim/reset", timeout=5)
    defaults = {k: v for k, v in DEFAULTS.items()}
    assert requests.post(f"{sim.url}/_sim/config", json=defaults, timeout=5).status_code == 200
    yield


class Portal:
    """A minimal client of the simulator, as the gateway's connector would talk to it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.session = self.login()["session"]

    def login(self, username="lienthong-demo", password="demo-secret-dvcqg", headers=DST) -> dict:
        answer = self.http.post(
            f"{self.url}/api/login",
            json={"username": username, "password": password},
            headers=headers,
            timeout=5,
        )
        assert answer.status_code == 200
        return answer.json()

    def call(self, service: str, **fields: Any) -> dict:
        body = {"session": self.session, "madonvi": "000.00.00.H07", "service": service, **fields}
        answer = self.http.post(f"{self.url}/api/service", json=body, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def create(self, *dossiers: dict) -> dict:
        return self.call("DongBoHoSoMC", isUpdating="False", data=list(dossiers))

    def update(self, *dossiers: dict) -> dict:
        return self.call("DongBoHoSoMC", isUpdating="True", data=list(dossiers))

    def progress(self, *records: dict) -> dict:
        return self.call("CapNhatTienDoHoSoMC", data=list(records))

    def catalogue(self, *entries: dict) -> dict:
        return self.call("DongBoDVCTT", data=list(entries))


@pytest.fixture()
def portal(sim):
    return Portal(sim.url)


def received(sim, **query) -> dict:
    return requests.get(f"{sim.url}/_sim/received", params=query, timeout=10).json()


def dossier(seq: int = 1, **overrides: Any) -> dict:
    record = {
        "MaHoSo": f"000.00.12.H07-210615-{seq:04d}",
        "MaTTHC": "1.001612",
        "TenTTHC": "Đăng ký khai sinh",
        "MaLinhVuc": "HOTICH",
        "TenLinhVuc": "Hộ tịch",
        "KenhThucHien": "2",
        "ChuHoSo": "Nguyễn Thị Ánh Tuyết",
        "LoaiDoiTuong": "1",
        "MaDoiTuong": "",
        "SoDienThoai": "0912345678",
        "Email": "tuyet@example.vn",
        "TrichYeuHoSo": "Đăng ký khai sinh cho con",
        "NgayNopHoSo": "20210615080000",
        "NgayTiepNhan": "20210615083000",
        "NgayHenTra": "20210618170000",
        "NgayKetThucXuLy": "",
        "NgayTra": "",
        "TrangThaiHoSo": "2",
        "DonViXuLy": "Sở Lao động - Thương binh và Xã hội",
        "HinhThuc": "0",
        "DinhDanhCHS": [{"LoaiDinhDanh": "1", "SoDinhDanh": "083190001234"}],
        "TaiLieuNop": [
            {
                "TepDinhKemId": "f-1",
                "TenTepDinhKem": "Tờ khai đăng ký khai sinh.pdf",
                "DuongDanTaiTepTin": "https://motcua.bentre.gov.vn/files/f-1",
                "MaThanhPhanHoSo": "TP01",
            }
        ],
        "DanhSachLePhi": [{"MaPhiLePhi": "LP01", "TenPhiLePhi": "Lệ phí đăng ký", "Gia": "0"}],
    }
    record.update(overrides)
    return record


def progress(seq: int = 1, **overrides: Any) -> dict:
    record = {
        "MaHoSo": f"000.00.12.H07-210615-{seq:04d}",
        "NguoiXuLy": "Trần Văn Bình",
        "ChucDanh": "Chuyên viên",
        "ThoiDiemXuLy": "20210615090000",
        "PhongBanXuLy": "Phòng Hộ tịch",
        "NoiDungXuLy": "Tiếp nhận hồ sơ",
        "TrangThai": "2",
        "NgayBatDau": "20210615083000",
        "NgayKetThucTheoQuyDinh": "20210618170000",
    }
    record.update(overrides)
    return record


def service_entry(**overrides: Any) -> dict:
    record = {
        "MaTTHC": "1.001612",
        "TenTTHC": "Đăng ký khai sinh",
        "MaCoQuan": "000.00.03.H07",
        "TenCoQuan": "Sở Tư pháp",
        "CapThucHien": "1",
        "MucDo": "TOAN_TRINH",
        "ThoiHanGiaiQuyet": 3,
        "PhiLePhi": [{"MaPhiLePhi": "LP01", "TenPhiLePhi": "Lệ phí", "Gia": 8000}],
        "TrangThai": "1",
        "NgayCapNhat": "20210601000000",
    }
    record.update(overrides)
    return record


def set_path(record: dict, path: str, value: Any) -> None:
    """Set (or delete, with ``DELETE``) a field addressed like ``DinhDanhCHS[0].SoDinhDanh``."""
    steps = [int(s) if s.isdigit() else s for s in re.findall(r"[^.\[\]]+", path)]
    target: Any = record
    for step in steps[:-1]:
        target = target[step]
    if value is DELETE:
        del target[steps[-1]]
    else:
        target[steps[-1]] = value


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


# --- login and sessions ------------------------------------------------------------------------------------
def test_login_gives_a_session_that_opens_the_service(portal):
    answer = portal.login()
    assert answer["error_code"] == 0 and re.fullmatch(r"[0-9a-f]{32}", answer["session"])
    assert portal.call("LayDanhMucCoQuan")["error_code"] == "0"


@pytest.mark.parametrize(
    "username,password,headers,code,message",
    [
        ("lienthong-demo", "wrong", DST, -403, "Tên đăng nhập hoặc mật khẩu không đúng"),
        ("someone", "demo-secret-dvcqg", DST, -403, "Tên đăng nhập hoặc mật khẩu không đúng"),
        ("lienthong-demo", "demo-secret-dvcqg", {}, -1, "Thiếu mã địa phương"),
        ("lienthong-demo", "demo-secret-dvcqg", {"dstcode": "84"}, -1, "dstcode"),
        ("", "", DST, -1, "Thiếu tên đăng nhập hoặc mật khẩu"),
    ],
)
def test_bad_login_answers_http_200_with_a_code_and_no_session(
    portal, username, password, headers, code, message
):
    answer = portal.login(username, password, headers)
    assert answer["error_code"] == code
    assert message in answer["message"]
    assert "session" not in answer


def test_expired_session_answers_minus_401_and_a_new_login_works(sim, portal):
    requests.post(f"{sim.url}/_sim/config", json={"session_lifetime": 0.3}, timeout=5)
    portal.session = portal.login()["session"]
    time.sleep(0.45)
    answer = portal.create(dossier())
    assert answer == {"error_code": "-401", "message": "Phiên làm việc đã hết hạn", "result": None}
    portal.session = portal.login()["session"]
    assert portal.create(dossier())["error_code"] == "0"
    assert received(sim)["rejected"] == {"-401": 1}


def test_session_store_expires_on_its_clock():
    now = [100.0]
    store = SessionStore(lifetime=60, clock=lambda: now[0])
    token = store.open()
    now[0] += 59.9
    assert store.is_valid(token) and store.active() == 1
    now[0] += 0.2
    assert not store.is_valid(token) and store.active() == 0
    assert not store.is_valid(None)


def test_expire_sessions_now_and_unknown_session(sim, portal):
    settings = requests.post(f"{sim.url}/_sim/config", json={"expire_sessions_now": True}, timeout=5).json()
    assert settings["active_sessions"] == 0
    assert portal.call("LayDanhMucCoQuan")["error_code"] == "-401"
    portal.session = "not-a-session"
    assert portal.call("LayDanhMucCoQuan")["error_code"] == "-401"
    portal.session = portal.login()["session"]
    assert portal.call("LayDanhMucCoQuan")["error_code"] == "0"


def test_unknown_service_wrong_unit_and_bad_body_are_refused_in_band(sim, portal):
    answer = portal.call("XoaHoSo")
    assert (
        answer["error_code"] == "-1"
        and "Trường service" in answer["message"]
        and "XoaHoSo" in answer["message"]
    )
    body = {"session": portal.session, "madonvi": "000.00.99.H07", "service": "LayDanhMucCoQuan"}
    answer = requests.post(f"{sim.url}/api/service", json=body, timeout=5).json()
    assert answer["error_code"] == "-1" and "Trường madonvi" in answer["message"]
    raw = requests.post(f"{sim.url}/api/service", data=b"not json", timeout=5)
    assert raw.status_code == 200 and raw.json()["error_code"] == "-1"
    assert portal.call("DongBoHoSoMC", isUpdating="maybe", data=[dossier()])["message"].startswith(
        "Trường isUpdating"
    )


# --- dossiers: create, exists, update, missing -------------------------------------------------------------
def test_create_exists_update_and_update_missing(sim, portal):
    created = portal.create(dossier(1))
    assert created == {
        "error_code": "0",
        "message": "Thành công",
        "result": [{"MaHoSo": dossier(1)["MaHoSo"], "error_code": "0", "message": "Thành công"}],
    }
    again = portal.create(dossier(1, TrangThaiHoSo="4"))
    assert again["error_code"] == "-3" and again["message"] == "Hồ sơ đã tồn tại"
    changed = dossier(1, TrangThaiHoSo="4")
    assert portal.update(changed)["error_code"] == "0"
    assert portal.call("TraCuuHoSo", mahoso=changed["MaHoSo"])["result"] == changed
    missing = portal.update(dossier(2))
    assert missing["error_code"] == "-2" and missing["result"][0]["error_code"] == "-2"
    state = received(sim)
    assert list(state["dossiers"]) == [changed["MaHoSo"]]
    assert state["rejected"] == {"-3": 1, "-2": 1}


def test_mixed_batch_stores_valid_items_and_reports_each_in_order(sim, portal):
    portal.create(dossier(9))
    batch = [dossier(1), dossier(2, NgayHenTra="18/06/2021"), dossier(3), dossier(9), "not an object"]
    answer = portal.create(*batch)
    assert answer["error_code"] == "-1"
    assert answer["message"].startswith("3/5 hồ sơ không được ghi nhận, 2 thành công")
    assert "Trường NgayHenTra: sai định dạng ngày (yyyyMMddHHmmss)" in answer["message"]
    outcome = [(r["MaHoSo"], r["error_code"]) for r in answer["result"]]
    assert outcome == [
        (dossier(1)["MaHoSo"], "0"),
        (dossier(2)["MaHoSo"], "-1"),
        (dossier(3)["MaHoSo"], "0"),
        (dossier(9)["MaHoSo"], "-3"),
        (None, "-1"),
    ]
    assert answer["result"][4]["message"] == "Trường data[4]: phải là đối tượng JSON"
    stored = received(sim)["dossiers"]
    assert sorted(stored) == sorted(dossier(n)["MaHoSo"] for n in (1, 3, 9))
    assert portal.call("TraCuuHoSo", mahoso=dossier(2)["MaHoSo"])["error_code"] == "-2"


def test_batch_limits_refuse_the_whole_call(sim, portal):
    too_many = portal.create(*[dossier(n) for n in range(1, 52)])
    assert too_many["error_code"] == "-1" and "tối đa 50 hồ sơ" in too_many["message"]
    assert received(sim, summary=1)["totals"]["dossiers"] == 0
    assert portal.create(*[dossier(n) for n in range(1, 51)])["error_code"] == "0"
    assert portal.call("DongBoHoSoMC", isUpdating="False", data=[])["error_code"] == "-1"
    requests.post(f"{sim.url}/_sim/config", json={"max_dossiers_per_call": 2}, timeout=5)
    assert "tối đa 2 hồ sơ" in portal.update(dossier(1), dossier(2), dossier(3))["message"]


# --- validation: one case per rule, each naming the field ------------------------------------------------
DOSSIER_CASES = [
    *[
        (name, DELETE, "bắt buộc, không được để trống")
        for name in (
            "MaHoSo",
            "MaTTHC",
            "TenTTHC",
            "ChuHoSo",
            "KenhThucHien",
            "LoaiDoiTuong",
            "NgayTiepNhan",
            "TrangThaiHoSo",
        )
    ],
    ("ChuHoSo", "   ", "bắt buộc, không được để trống"),
    ("MaHoSoCu", "x", "không có trong đặc tả"),
    ("ChuHoSo", 123, "phải là chuỗi ký tự"),
    ("KenhThucHien", True, "phải là mã dạng chuỗi hoặc số nguyên"),
    ("ChuHoSo", "Á" * 251, "vượt quá 250 ký tự"),
    ("TrichYeuHoSo", "a" * 1001, "vượt quá 1000 ký tự"),
    ("TenTTHC", "a" * 1001, "vượt quá 1000 ký tự"),
    ("MaLinhVuc", "a" * 51, "vượt quá 50 ký tự"),
    ("TenLinhVuc", "a" * 501, "vượt quá 500 ký tự"),
    ("MaDoiTuong", "a" * 51, "vượt quá 50 ký tự"),
    ("DonViXuLy", "a" * 501, "vượt quá 500 ký tự"),
    ("Email", "a" * 95 + "@x.vn0", "vượt quá 100 ký tự"),
    ("KenhThucHien", "4", "giá trị không thuộc danh mục (1, 2, 3)"),
    ("LoaiDoiTuong", "5", "giá trị không thuộc danh mục (1, 2, 3, 4)"),
    ("TrangThaiHoSo", "11", "giá trị không thuộc danh mục (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)"),
    ("HinhThuc", "2", "giá trị không thuộc danh mục (0, 1)"),
    ("MaTTHC", "1.001612.000.00.00.H07", "sai định dạng mã thủ tục"),
    ("MaHoSo", "HS-0001", "sai định dạng mã hồ sơ"),
    ("NgayHenTra", "2021-06-18 17:00", "sai định dạng ngày (yyyyMMddHHmmss)"),
    ("NgayTiepNhan", "20210231083000", "ngày giờ không tồn tại (yyyyMMddHHmmss)"),
    ("NgayTra", 20210618170000, "phải là chuỗi ký tự"),
    ("SoDienThoai", "+84912345678", "số điện thoại phải gồm số 0 đầu và 9–10 chữ số"),
    ("SoDienThoai", "09123", "số điện thoại phải gồm số 0 đầu và 9–10 chữ số"),
    ("Email", "tuyet@example", "sai định dạng thư điện tử"),
    ("ChuHoSo", nfd("Nguyễn Thị Ánh Tuyết"), "văn bản chưa chuẩn hoá Unicode NFC"),
    ("NgayNopHoSo", "20210616080000", "không được sau NgayTiepNhan"),
    ("NgayHenTra", "20210614170000", "không được trước NgayTiepNhan"),
    ("NgayKetThucXuLy", "20210601000000", "không được trước NgayTiepNhan"),
    ("NgayTra", "20210601000000", "không được trước NgayTiepNhan"),
    ("DinhDanhCHS", {"LoaiDinhDanh": "1"}, "phải là danh sách"),
    ("DinhDanhCHS", [{"LoaiDinhDanh": "1", "SoDinhDanh": "083190001234"}] * 11, "tối đa 10 phần tử"),
    ("DinhDanhCHS[0].SoDinhDanh", "08319000123", "CCCD phải gồm 12 chữ số"),
    ("DinhDanhCHS[0].SoDinhDanh", "08319000123A", "CCCD phải gồm 12 chữ số"),
    ("DinhDanhCHS[0].LoaiDinhDanh", "9", "giá trị không thuộc danh mục (1, 2, 3)"),
    ("DinhDanhCHS[0].LoaiDinhDanh", DELETE, "bắt buộc, không được để trống"),
    ("DinhDanhCHS[0].NoiCap", "Cục Cảnh sát", "không có trong đặc tả"),
    ("TaiLieuNop[0]", "tờ khai", "phải là đối tượng JSON"),
    ("TaiLieuNop[0].DuongDanTaiTepTin", DELETE, "bắt buộc, không được để trống"),
    ("TaiLieuNop[0].DuongDanTaiTepTin", "ftp://files/f-1", "phải là đường dẫn http hoặc https"),
    ("TaiLieuNop[0].TenTepDinhKem", nfd("Tờ khai.pdf"), "văn bản chưa chuẩn hoá Unicode NFC"),
    ("DanhSachLePhi[0].Gia", "-5", "phải là số không âm"),
    ("DanhSachLePhi[0].TenPhiLePhi", DELETE, "bắt buộc, không được để trống"),
]


@pytest.mark.parametrize(
    "path,value,problem", DOSSIER_CASES, ids=[f"{c[0]}:{c[2][:28]}" for c in DOSSIER_CASES]
)
def test_each_dossier_rule_names_the_field(sim, portal, path, value, problem):
    record = dossier(7)
    set_path(record, path, value)
    answer = portal.create(record)
    assert answer["error_code"] == "-1"
    assert answer["message"].startswith(f"Trường {path}: {problem}"), answer["message"]
    assert ";" not in answer["message"]  # exactly this one problem
    assert answer["result"][0]["error_code"] == "-1"
    assert received(sim, summary=1)["totals"]["dossiers"] == 0


def test_cmnd_needs_nine_digits_and_other_kinds_are_free_text(portal):
    record = dossier(1, DinhDanhCHS=[{"LoaiDinhDanh": 2, "SoDinhDanh": "083190001234"}])
    assert portal.create(record)["message"] == "Trường DinhDanhCHS[0].SoDinhDanh: CMND phải gồm 9 chữ số"
    record["DinhDanhCHS"] = [
        {"LoaiDinhDanh": 2, "SoDinhDanh": "321654987"},
        {"LoaiDinhDanh": "3", "SoDinhDanh": "B1234567"},
    ]
    assert portal.create(record)["error_code"] == "0"


def test_messages_never_echo_personal_data(portal):
    record = dossier(
        1, SoDienThoai="+84911222333", DinhDanhCHS=[{"LoaiDinhDanh": "1", "SoDinhDanh": "0831900099"}]
    )
    message = portal.create(record)["message"]
    assert "SoDienThoai" in message and "SoDinhDanh" in message
    assert "911222333" not in message and "0831900099" not in message


def test_several_problems_are_reported_together_and_capped():
    record = {name: None for name in validation.HO_SO.fields} | {f"Extra{i}": 1 for i in range(5)}
    message = validation.validate(validation.HO_SO, record)
    assert message.count("Trường ") == validation.MAX_PROBLEMS_REPORTED
    assert message.endswith("và 3 lỗi khác")
    assert validation.validate(validation.HO_SO, dossier()) is None


def test_nfc_text_and_blank_optional_fields_are_accepted_and_stored_unchanged(portal):
    record = dossier(1, ChuHoSo="Huỳnh Thị Ngọc Hường", NgayTra="", SoDienThoai=None, KenhThucHien=1)
    assert portal.create(record)["error_code"] == "0"
    assert portal.call("TraCuuHoSo", mahoso=record["MaHoSo"])["result"] == record


def test_unknown_fields_can_be_tolerated_by_setting(sim, portal):
    requests.post(f"{sim.url}/_sim/config", json={"reject_unknown_fields": False}, timeout=5)
    assert portal.create(dossier(1, GhiChu="ghi chú"))["error_code"] == "0"


PROGRESS_CASES = [
    ("NguoiXuLy", "a" * 51, "vượt quá 50 ký tự"),
    ("NguoiXuLy", DELETE, "bắt buộc, không được để trống"),
    ("ThoiDiemXuLy", DELETE, "bắt buộc, không được để trống"),
    ("ThoiDiemXuLy", "2021-06-15T09:00:00", "sai định dạng ngày (yyyyMMddHHmmss)"),
    ("MaHoSo", "123", "sai định dạng mã hồ sơ"),
    ("TrangThai", "0", "giá trị không thuộc danh mục (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)"),
    ("ChucDanh", "a" * 101, "vượt quá 100 ký tự"),
    ("PhongBanXuLy", "a" * 251, "vượt quá 250 ký tự"),
    ("NoiDungXuLy", "a" * 2001, "vượt quá 2000 ký tự"),
    ("NoiDungXuLy", nfd("Tiếp nhận hồ sơ"), "văn bản chưa chuẩn hoá Unicode NFC"),
    ("NgayBatDau", "20211301000000", "ngày giờ không tồn tại (yyyyMMddHHmmss)"),
    ("KetQua", "x", "không có trong đặc tả"),
]


@pytest.mark.parametrize(
    "path,value,problem", PROGRESS_CASES, ids=[f"{c[0]}:{c[2][:28]}" for c in PROGRESS_CASES]
)
def test_each_progress_rule_names_the_field(sim, portal, path, value, problem):
    portal.create(dossier(1))
    record = progress(1)
    set_path(record, path, value)
    answer = portal.progress(record)
    assert answer["error_code"] == "-1"
    assert answer["message"].startswith(f"Trường {path}: {problem}"), answer["message"]
    assert ";" not in answer["message"]  # exactly this one problem
    assert received(sim, summary=1)["totals"]["progress_records"] == 0


CATALOGUE_CASES = [
    ("MaTTHC", "1.1612", "sai định dạng mã thủ tục"),
    ("TenCoQuan", DELETE, "bắt buộc, không được để trống"),
    ("MaCoQuan", "H07", "sai định dạng mã cơ quan"),
    ("CapThucHien", "4", "giá trị không thuộc danh mục (1, 2, 3)"),
    ("MucDo", "MUC_DO_4", "giá trị không thuộc danh mục (TOAN_TRINH, MOT_PHAN)"),
    ("TrangThai", "2", "giá trị không thuộc danh mục (1, 0)"),
    ("ThoiHanGiaiQuyet", -1, "phải là số không âm"),
    ("ThoiHanGiaiQuyet", "ba ngày", "phải là số không âm"),
    ("NgayCapNhat", "20210601", "sai định dạng ngày (yyyyMMddHHmmss)"),
    ("PhiLePhi[0].Gia", True, "phải là số không âm"),
    ("PhiLePhi", [{"TenPhiLePhi": "Lệ phí", "Gia": 1}] * 51, "tối đa 50 phần tử"),
]


@pytest.mark.parametrize(
    "path,value,problem", CATALOGUE_CASES, ids=[f"{c[0]}:{c[2][:28]}" for c in CATALOGUE_CASES]
)
def test_each_catalogue_rule_names_the_field(sim, portal, path, value, problem):
    record = service_entry()
    set_path(record, path, value)
    answer = portal.catalogue(record)
    assert answer["error_code"] == "-1"
    assert answer["message"].startswith(f"Trường {path}: {problem}"), answer["message"]
    assert ";" not in answer["message"]  # exactly this one problem
    assert received(sim, summary=1)["totals"]["catalogue_entries"] == 0


# --- progress ------------------------------------------------------------------------------------------------
def test_progress_needs_its_dossier_and_at_most_ten_per_call(sim, portal):
    early = portal.progress(progress(1))
    assert early["error_code"] == "-2" and "phải đồng bộ hồ sơ trước" in early["message"]
    portal.create(dossier(1))
    steps = [progress(1, ThoiDiemXuLy=f"202106151{n:01d}0000") for n in range(11)]
    assert "tối đa 10 tiến độ" in portal.progress(*steps)["message"]
    assert received(sim, summary=1)["totals"]["progress_records"] == 0
    answer = portal.progress(*steps[:10])
    assert answer["error_code"] == "0" and len(answer["result"]) == 10
    assert answer["result"][0] == {
        "MaHoSo": dossier(1)["MaHoSo"],
        "ThoiDiemXuLy": "20210615100000",
        "NguoiXuLy": "Trần Văn Bình",
        "error_code": "0",
        "message": "Thành công",
    }


def test_progress_identity_is_time_and_handler(sim, portal):
    portal.create(dossier(1))
    portal.progress(progress(1), progress(1, NguoiXuLy="Lê Thị Cúc"))
    portal.progress(progress(1))  # exact repeat
    portal.progress(
        progress(1, NoiDungXuLy="Tiếp nhận, chuyển phòng chuyên môn")
    )  # same identity, new content
    records = received(sim, mahoso=dossier(1)["MaHoSo"])["progress"][dossier(1)["MaHoSo"]]
    assert [(r["data"]["NguoiXuLy"], r["writes"], r["repeats"]) for r in records] == [
        ("Trần Văn Bình", 2, 1),
        ("Lê Thị Cúc", 1, 0),
    ]
    assert records[0]["data"]["NoiDungXuLy"] == "Tiếp nhận, chuyển phòng chuyên môn"


# --- lookups ---------------------------------------------------------------------------------------------------
def test_lookup_found_not_found_and_missing_key(portal):
    portal.create(dossier(1))
    found = portal.call("TraCuuHoSo", mahoso=dossier(1)["MaHoSo"])
    assert found["error_code"] == "0" and found["result"] == dossier(1)
    assert portal.call("TraCuuHoSo", mahoso="000.00.12.H07-210615-9999")["error_code"] == "-2"
    assert portal.call("TraCuuHoSo")["message"] == "Trường mahoso: bắt buộc, không được để trống"


def test_agency_list_holds_bentre_departments_and_districts(portal):
    agencies = portal.call("LayDanhMucCoQuan")["result"]
    names = {a["TenCoQuan"]: a for a in agencies}
    assert "UBND huyện Ba Tri" in names and "Sở Tư pháp" in names and "UBND tỉnh Bến Tre" in names
    assert names["UBND huyện Ba Tri"]["CapCoQuan"] == 2
    assert sum(1 for a in agencies if a["TenCoQuan"].startswith("Sở ")) >= 15
    assert all(re.fullmatch(r"\d{3}\.\d{2}\.\d{2}\.H07", a["MaCoQuan"]) for a in agencies)
    codes_seen = {a["MaCoQuan"] for a in agencies}
    assert len(codes_seen) == len(agencies)
    assert all(a["MaCoQuanCha"] in codes_seen for a in agencies if a["MaCoQuanCha"])


# --- catalogue ---------------------------------------------------------------------------------------------------
def test_catalogue_upserts_by_procedure_and_agency(sim, portal):
    first = service_entry()
    other_agency = service_entry(MaCoQuan="000.00.36.H07", TenCoQuan="UBND huyện Ba Tri", CapThucHien="2")
    answer = portal.catalogue(first, other_agency)
    assert [(r["MaTTHC"], r["MaCoQuan"], r["error_code"]) for r in answer["result"]] == [
        ("1.001612", "000.00.03.H07", "0"),
        ("1.001612", "000.00.36.H07", "0"),
    ]
    portal.catalogue(first)
    portal.catalogue(service_entry(TrangThai="0"))
    catalogue = received(sim)["catalogue"]
    entry = catalogue["1.001612|000.00.03.H07"]
    assert (entry["writes"], entry["repeats"], entry["data"]["TrangThai"]) == (2, 1, "0")
    assert catalogue["1.001612|000.00.36.H07"]["writes"] == 1
    assert "tối đa 50 thủ tục" in portal.catalogue(*[first] * 51)["message"]


# --- counting, received, reset -------------------------------------------------------------------------------------
def test_writes_repeats_and_versions(sim, portal):
    original = dossier(1)
    portal.create(original)
    portal.update(original)  # identical: a repeat, not a write
    state = received(sim, mahoso=original["MaHoSo"])["dossiers"][original["MaHoSo"]]
    expected_hash = hashlib.sha256(
        json.dumps(original, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    ).hexdigest()
    assert (state["writes"], state["repeats"], state["versions"]) == (1, 1, [expected_hash])
    portal.update(dossier(1, TrangThaiHoSo="9", NgayKetThucXuLy="20210617100000"))
    state = received(sim, mahoso=original["MaHoSo"])["dossiers"][original["MaHoSo"]]
    assert (state["writes"], state["repeats"], len(state["versions"])) == (2, 1, 2)
    assert state["versions"][0] == expected_hash != state["versions"][1]
    assert state["data"]["TrangThaiHoSo"] == "9"


def test_received_summary_filter_and_reset(sim, portal):
    portal.create(dossier(1), dossier(2))
    portal.progress(progress(1))
    portal.create(dossier(1))  # -3
    summary = received(sim, summary=1)
    assert set(summary) == {"totals", "rejected"}
    totals = summary["totals"]
    assert (totals["dossiers"], totals["dossier_writes"], totals["progress_records"]) == (2, 2, 1)
    assert summary["rejected"] == {"-3": 1} and totals["calls"]["DongBoHoSoMC"] == 2
    one = received(sim, mahoso=dossier(1)["MaHoSo"])
    assert list(one["dossiers"]) == [dossier(1)["MaHoSo"]] and list(one["progress"]) == [dossier(1)["MaHoSo"]]
    assert received(sim, mahoso="nothing")["dossiers"] == {}
    requests.post(f"{sim.url}/_sim/reset", timeout=5)
    after = received(sim)
    assert after["dossiers"] == {} and after["progress"] == {} and after["totals"]["dossiers"] == 0
    assert portal.call("TraCuuHoSo", mahoso=dossier(1)["MaHoSo"])["error_code"] == "-2"


def test_concurrent_writers_keep_counts_exact(sim):
    threads_n, own_n, shared_n = 6, 15, 20
    setup = Portal(sim.url)
    shared = [dossier(1000 + n) for n in range(shared_n)]
    for start in range(0, shared_n, 10):
        assert setup.create(*shared[start : start + 10])["error_code"] == "0"
    changed = [dict(d, TrangThaiHoSo="4") for d in shared]
    race = dossier(9999)
    outcomes: list[str] = []
    lock = threading.Lock()

    def writer(worker: int) -> None:
        client = Portal(sim.url)
        for n in range(own_n):
            assert client.create(dossier(worker * 100 + n + 1))["error_code"] == "0"
        for start in range(0, shared_n, 5):
            assert client.update(*changed[start : start + 5])["error_code"] == "0"
        code = client.create(race)["error_code"]
        with lock:
            outcomes.append(code)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    state = received(sim)
    assert sorted(outcomes) == ["-3"] * (threads_n - 1) + ["0"]
    for record in changed:
        entry = state["dossiers"][record["MaHoSo"]]
        assert (entry["writes"], entry["repeats"]) == (2, threads_n - 1)
        assert entry["data"] == record
    totals = state["totals"]
    assert totals["dossiers"] == shared_n + threads_n * own_n + 1
    assert totals["dossier_writes"] == 2 * shared_n + threads_n * own_n + 1
    assert totals["dossier_repeats"] == shared_n * (threads_n - 1)
    assert state["rejected"] == {"-3": threads_n - 1}


# --- faults -----------------------------------------------------------------------------------------------------------
def test_drop_after_commit_stores_the_dossier_although_the_client_got_no_answer(sim, portal):
    requests.post(
        f"{sim.url}/_sim/faults", json={"script": ["drop_after_commit"], "paths": ["/api/service"]}, timeout=5
    )
    with pytest.raises(requests.exceptions.ConnectionError):
        portal.create(dossier(1))
    assert list(received(sim)["dossiers"]) == [dossier(1)["MaHoSo"]]
    assert portal.create(dossier(1))["error_code"] == "-3"  # the client's retry learns it is there
    assert portal.update(dossier(1))["error_code"] == "0"  # and resends as an update: a repeat
    entry = received(sim)["dossiers"][dossier(1)["MaHoSo"]]
    assert (entry["writes"], entry["repeats"]) == (1, 1)


def test_http_fault_does_not_store(sim, portal):
    requests.post(f"{sim.url}/_sim/faults", json={"script": ["http_503"]}, timeout=5)
    answer = portal.http.post(
        f"{sim.url}/api/service",
        json={
            "session": portal.session,
            "madonvi": "000.00.00.H07",
            "service": "DongBoHoSoMC",
            "isUpdating": "False",
            "data": [dossier(1)],
        },
        timeout=5,
    )
    assert answer.status_code == 503
    assert received(sim, summary=1)["totals"]["dossiers"] == 0


def test_internal_error_rate_answers_minus_500_seeded_and_stores_nothing(sim, portal):
    requests.post(f"{sim.url}/_sim/config", json={"internal_error_rate": 1.0}, timeout=5)
    answer = portal.create(dossier(1))
    assert answer["error_code"] == "-500" and answer["message"] == "Lỗi hệ thống, vui lòng thử lại sau"
    assert received(sim, summary=1)["totals"]["dossiers"] == 0

    def pattern() -> list[str]:
        requests.post(f"{sim.url}/_sim/config", json={"internal_error_rate": 0.5, "seed": 5}, timeout=5)
        return [portal.call("LayDanhMucCoQuan")["error_code"] for _ in range(20)]

    first = pattern()
    assert "-500" in first and "0" in first and pattern() == first


def test_settings_are_checked_and_the_password_is_not_shown(sim):
    bad = requests.post(f"{sim.url}/_sim/config", json={"session_lifetim": 5}, timeout=5)
    assert bad.status_code == 400 and "session_lifetim" in bad.json()["message"]
    for body in ({"internal_error_rate": 2}, ["seed"], {"expire_sessions_now": "yes"}):
        assert requests.post(f"{sim.url}/_sim/config", json=body, timeout=5).status_code == 400
    shown = requests.get(f"{sim.url}/_sim/config", timeout=5).json()
    assert shown["username"] == "lienthong-demo" and "password" not in shown
    with pytest.raises(ValueError):
        DvcqgApp(max_progress_per_call=0)


def test_constructor_settings_and_custom_credentials():
    app = DvcqgApp(username="bentre", password="another-demo", dstcode="84", madonvi="000.00.36.H07")
    with RunningSimulator(app) as running:
        login = requests.post(
            f"{running.url}/api/login",
            json={"username": "bentre", "password": "another-demo"},
            headers={"dstcode": "84"},
            timeout=5,
        ).json()
        assert login["error_code"] == 0

        def call(madonvi: str) -> str:
            body = {"session": login["session"], "madonvi": madonvi, "service": "LayDanhMucCoQuan"}
            return requests.post(f"{running.url}/api/service", json=body, timeout=5).json()["error_code"]

        assert call("000.00.36.H07") == "0"
        assert call("000.00.00.H07") == "-1"
        assert requests.get(f"{running.url}/_sim/config", timeout=5).json()["dstcode"] == "84"
