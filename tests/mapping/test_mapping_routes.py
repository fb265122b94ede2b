"""The three shipped routes, on the fixture records: the exact payloads, field by field."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
from mapping_helpers import MAPPINGS, TODAY, fixture_record

from lienthong.errors import MappingError
from lienthong.mapping import CompiledRoute, MappedRecord, load_routes


@pytest.fixture(scope="module")
def routes() -> dict[str, CompiledRoute]:
    return {name: route.compile(now=lambda: TODAY) for name, route in load_routes(MAPPINGS).items()}


def run(route: CompiledRoute, raw: dict[str, Any]) -> MappedRecord:
    record = route.prepare(raw)
    assert route.select(record) == (True, None)
    return route.map(record)


def assert_fields(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Field by field (a failure names the field), then nothing more than expected."""
    for name, value in expected.items():
        assert actual.get(name) == value, name
    assert set(actual) == set(expected)


def test_the_shipped_routes_load(routes: dict[str, CompiledRoute]) -> None:
    assert set(routes) == {"dossier_sync", "catalogue_sync", "birth_bhyt"}
    assert [f.name for f in routes["dossier_sync"].followups] == ["progress"]


# --- dossier_sync ------------------------------------------------------------------------------------------
def test_normal_dossier_to_portal(routes: dict[str, CompiledRoute]) -> None:
    route = routes["dossier_sync"]
    raw = fixture_record("dossier_normal")
    assert route.record_key(raw) == "000.00.12.H07-250114-0042"
    assert route.source_id(raw) == "65a1f0c2e4b0a1b2c3000042"
    assert route.updated(raw) == "2025-01-22T10:00:00.000+0700"
    result = run(route, raw)
    assert result.key == "000.00.12.H07-250114-0042"
    assert_fields(
        result.payload,
        {
            "MaHoSo": "000.00.12.H07-250114-0042",
            "MaTTHC": "1.001612",
            "TenTTHC": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
            "MaLinhVuc": "G12",
            "TenLinhVuc": "Xây dựng",
            "KenhThucHien": "2",
            "ChuHoSo": "Nguyễn Thị Mỹ Hạnh",
            "LoaiDoiTuong": "1",
            "MaDoiTuong": "083185001234",
            "SoDienThoai": "0912345678",
            "Email": "hanh.nguyen@example.vn",
            "TrichYeuHoSo": "Đề nghị cấp giấy phép xây dựng nhà ở riêng lẻ tại phường 3, thành phố Bến Tre",
            "NgayNopHoSo": "20250114083000",
            "NgayTiepNhan": "20250114091000",
            "NgayHenTra": "20250124170000",
            "NgayKetThucXuLy": "20250122100000",
            "TrangThaiHoSo": "9",  # one-stop status 8 "Đã có kết quả"
            "DonViXuLy": "Sở Xây dựng tỉnh Bến Tre",
            "DinhDanhCHS": [{"LoaiDinhDanh": "1", "SoDinhDanh": "083185001234"}],
            "TaiLieuNop": [
                {
                    "TepDinhKemId": "65a1f0c2e4b0a1b2c30000f1",
                    "TenTepDinhKem": "don-de-nghi.pdf",
                    "DuongDanTaiTepTin": "https://motcua.bentre.gov.vn/files/65a1f0c2e4b0a1b2c30000f1",
                    "MaThanhPhanHoSo": "TP01",
                },
                {
                    "TepDinhKemId": "65a1f0c2e4b0a1b2c30000f2",
                    "TenTepDinhKem": "ban-ve-thiet-ke.pdf",
                    "DuongDanTaiTepTin": "https://motcua.bentre.gov.vn/files/65a1f0c2e4b0a1b2c30000f2",
                    "MaThanhPhanHoSo": "TP02",
                },
            ],
            "DanhSachLePhi": [{"MaPhiLePhi": "LP01", "TenPhiLePhi": "Lệ phí cấp giấy phép", "Gia": 75000}],
        },
    )
    first, second = result.followups["progress"]
    assert_fields(
        first,
        {
            "MaHoSo": "000.00.12.H07-250114-0042",
            "NguoiXuLy": "Trần Văn Bình",
            "ChucDanh": "Chuyên viên",
            "ThoiDiemXuLy": "20250114093000",
            "PhongBanXuLy": "Bộ phận một cửa",
            "NoiDungXuLy": "Tiếp nhận hồ sơ",
            "TrangThai": "2",
            "NgayBatDau": "20250114091000",
            "NgayKetThucTheoQuyDinh": "20250114170000",
        },
    )
    assert_fields(
        second,
        {  # still open: the time of the step is its start
            "MaHoSo": "000.00.12.H07-250114-0042",
            "NguoiXuLy": "Lê Thị Thu Trang",
            "ChucDanh": "Trưởng phòng",
            "ThoiDiemXuLy": "20250114093000",
            "PhongBanXuLy": "Phòng Quản lý xây dựng",
            "NoiDungXuLy": "Thẩm định hồ sơ",
            "TrangThai": "1",
            "NgayBatDau": "20250114093000",
            "NgayKetThucTheoQuyDinh": "20250121170000",
        },
    )


def test_birth_dossier_to_portal(routes: dict[str, CompiledRoute]) -> None:
    result = run(routes["dossier_sync"], fixture_record("dossier_birth"))
    assert_fields(
        result.payload,
        {
            "MaHoSo": "000.00.25.H07-250106-0007",
            "MaTTHC": "1.000894",
            "TenTTHC": "Đăng ký khai sinh, đăng ký thường trú, cấp thẻ bảo hiểm y tế cho trẻ em dưới 6 tuổi",
            "MaLinhVuc": "G05",
            "TenLinhVuc": "Hộ tịch",
            "KenhThucHien": "1",
            "ChuHoSo": "Phạm Thị Lan",
            "LoaiDoiTuong": "1",
            "MaDoiTuong": "083190004567",
            "SoDienThoai": "0987654321",  # written 84987654321
            "TrichYeuHoSo": "Đăng ký khai sinh cho cháu Lê Minh Khang",
            "NgayNopHoSo": "20250106140500",
            "NgayTiepNhan": "20250106142000",
            "NgayHenTra": "20250109170000",
            "NgayKetThucXuLy": "20250108160000",
            "NgayTra": "20250109081500",
            "TrangThaiHoSo": "10",
            "DonViXuLy": "UBND phường 5, thành phố Bến Tre",
            "DinhDanhCHS": [{"LoaiDinhDanh": "1", "SoDinhDanh": "083190004567"}],
        },
    )  # no attachments, no fees, no email: those fields are left out
    assert result.followups == {
        "progress": [
            {
                "MaHoSo": "000.00.25.H07-250106-0007",
                "NguoiXuLy": "Võ Thị Ngọc Hân",
                "ChucDanh": "Công chức tư pháp - hộ tịch",
                "ThoiDiemXuLy": "20250108160000",
                "PhongBanXuLy": "UBND phường 5",
                "NoiDungXuLy": "Tiếp nhận và giải quyết",
                "TrangThai": "2",
                "NgayBatDau": "20250106142000",
                "NgayKetThucTheoQuyDinh": "20250109170000",
            }
        ]
    }


def test_messy_dossier_with_an_11_digit_identity_number_is_quarantined(
    routes: dict[str, CompiledRoute],
) -> None:
    route = routes["dossier_sync"]
    raw = fixture_record("dossier_messy")
    with pytest.raises(MappingError) as caught:
        route.map(route.prepare(raw))
    error = caught.value
    assert (error.route, error.record_key) == ("dossier_sync", "000.00.12.H07-250115-0099")
    assert [(e.field, e.rule, e.message) for e in error.errors] == [
        ("DinhDanhCHS[0].SoDinhDanh", "length", "expected 12 characters, got 11"),
    ]
    assert raw["applicant"]["data"]["identityNumber"] not in str(error)
    assert raw["applicant"]["data"]["identityNumber"] not in repr(error.errors)


def test_messy_dossier_is_cleaned_up(routes: dict[str, CompiledRoute]) -> None:
    raw = fixture_record("dossier_messy")
    raw["applicant"]["data"]["identityNumber"] = "083185001230"  # the one thing the mapping cannot repair
    result = run(routes["dossier_sync"], raw)
    summary = result.payload["TrichYeuHoSo"]
    assert len(summary) == 1000 and summary == unicodedata.normalize("NFC", raw["summary"]).strip()[:1000]
    assert_fields(
        result.payload,
        {
            "MaHoSo": "000.00.12.H07-250115-0099",
            "MaTTHC": "1.001612",
            "TenTTHC": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
            "MaLinhVuc": "G12",
            "TenLinhVuc": "Xây dựng",
            "KenhThucHien": "3",
            "ChuHoSo": "Đặng Thị Ngọc Ánh",  # NFD and padded in the source
            "LoaiDoiTuong": "1",
            "MaDoiTuong": "083185001230",
            "SoDienThoai": "0912345678",  # written +84 912 345 678
            "TrichYeuHoSo": summary,  # 1,900 NFD characters in the source
            "NgayNopHoSo": "20250115084500",  # 01:45Z is 08:45 in Vietnam
            "NgayTiepNhan": "20250115084500",  # not received yet: the submission time
            "TrangThaiHoSo": "1",
            "DonViXuLy": "Sở Xây dựng tỉnh Bến Tre",
            "DinhDanhCHS": [{"LoaiDinhDanh": "1", "SoDinhDanh": "083185001230"}],
            "TaiLieuNop": [
                {
                    "TepDinhKemId": "65a1f0c2e4b0a1b2c30000f9",
                    "TenTepDinhKem": "đơn đề nghị.pdf",
                    "DuongDanTaiTepTin": "https://motcua.bentre.gov.vn/files/65a1f0c2e4b0a1b2c30000f9",
                }
            ],
        },
    )  # empty email, missing dates and null fees are left out
    assert unicodedata.is_normalized("NFC", json.dumps(result.payload, ensure_ascii=False))
    assert result.followups == {
        "progress": [
            {
                "MaHoSo": "000.00.12.H07-250115-0099",
                "NguoiXuLy": "Huỳnh Nguyễn Hoàng Phương Thảo Nguyên Khánh Linh Đ",  # 50 characters
                "ThoiDiemXuLy": "20250115085000",
                "PhongBanXuLy": "Bộ phận một cửa",
                "NoiDungXuLy": "Tiếp nhận hồ sơ",
                "TrangThai": "1",
                "NgayBatDau": "20250115085000",
            }
        ]
    }


def test_unknown_status_id_is_a_codelist_error(routes: dict[str, CompiledRoute]) -> None:
    raw = fixture_record("dossier_normal")
    raw["dossierStatus"]["id"] = 42
    with pytest.raises(MappingError) as caught:
        run(routes["dossier_sync"], raw)
    assert [(e.field, e.rule) for e in caught.value.errors] == [("TrangThaiHoSo", "codelist")]


def test_bad_phone_and_missing_identity(routes: dict[str, CompiledRoute]) -> None:
    raw = fixture_record("dossier_normal")
    raw["applicant"]["data"]["identityNumber"] = None
    assert "DinhDanhCHS" not in run(routes["dossier_sync"], raw).payload
    raw["applicant"]["data"]["phoneNumber"] = "12345"
    with pytest.raises(MappingError) as caught:
        run(routes["dossier_sync"], raw)
    assert [(e.field, e.rule, e.message) for e in caught.value.errors] == [
        ("SoDienThoai", "phone", "not a valid phone number")
    ]


# --- birth_bhyt --------------------------------------------------------------------------------------------
def test_birth_registration_to_bhxh(routes: dict[str, CompiledRoute]) -> None:
    result = run(routes["birth_bhyt"], fixture_record("dossier_birth"))
    assert result.key == "000.00.25.H07-250106-0007"
    assert result.followups == {}
    payload = result.payload
    assert payload["maHoSoLT"] == "000.00.25.H07-250106-0007"
    assert payload["maHoSoMC"] == "65a1f0c2e4b0a1b2c3000077"
    assert payload["maTinh"] == "83"
    assert payload["treEm"] == {
        "hoTen": "Lê Minh Khang",
        "ngaySinh": "20250103",
        "gioiTinh": "1",
        "soDinhDanh": "083225001234",
    }
    assert payload["me"] == {"hoTen": "Phạm Thị Lan", "soDinhDanh": "083190004567"}
    assert payload["cha"] == {"hoTen": "Lê Văn Hùng", "soDinhDanh": "083188007890"}
    assert payload["noiCuTru"] == {
        "maTinh": "83",
        "maHuyen": "829",
        "maXa": "28756",
        "diaChiChiTiet": "Số 5, hẻm 12, đường Hùng Vương, phường 5",
    }
    assert payload["giayChungSinh"] == {
        "so": "125/2025",
        "quyenSo": "01",
        "ngayCap": "20250104",
        "maCSKCB": "83001",
    }
    assert payload["maDKBD"] == "83001"
    assert list(payload) == [
        "maHoSoLT",
        "maHoSoMC",
        "maTinh",
        "treEm",
        "me",
        "cha",
        "noiCuTru",
        "giayChungSinh",
        "maDKBD",
    ]


def _birth(**changes: Any) -> dict[str, Any]:
    raw = fixture_record("dossier_birth")
    form = json.loads(raw["eForm"])
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = form["hoTich"]
        for part in parents:
            node = node[part]
        if value is None:
            del node[leaf]
        else:
            node[leaf] = value
    raw["eForm"] = json.dumps(form, ensure_ascii=False)
    return raw


def test_birth_without_father_or_child_number(routes: dict[str, CompiledRoute]) -> None:
    payload = run(routes["birth_bhyt"], _birth(cha=None, treEm__soDinhDanh=None)).payload
    assert "cha" not in payload
    assert payload["treEm"] == {"hoTen": "Lê Minh Khang", "ngaySinh": "20250103", "gioiTinh": "1"}


def test_birth_mother_number_of_wrong_length(routes: dict[str, CompiledRoute]) -> None:
    route = routes["birth_bhyt"]
    with pytest.raises(MappingError) as caught:
        run(route, _birth(me__soDinhDanh="0831900045"))
    assert [(e.field, e.rule, e.message) for e in caught.value.errors] == [
        ("me.soDinhDanh", "length", "expected 12 characters, got 10")
    ]
    assert "0831900045" not in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (
            fixture_record("dossier_normal"),
            "select[0] not met: procedure.nationCode in @codelists/birth_procedures.csv",
        ),
        (
            {**fixture_record("dossier_birth"), "dossierStatus": {"id": 3, "name": "Đang xử lý"}},
            "select[1] not met: dossierStatus.id in @codelists/birth_ready_statuses.csv",
        ),
        (
            _birth(treEm__ngaySinh="31/05/2019"),
            "select[2] not met: eForm.hoTich.treEm.ngaySinh under 6 years old",
        ),
    ],
)
def test_birth_selection(routes: dict[str, CompiledRoute], raw: dict[str, Any], reason: str) -> None:
    route = routes["birth_bhyt"]
    assert route.select(route.prepare(raw)) == (False, reason)


# --- catalogue_sync ----------------------------------------------------------------------------------------
def test_procedure_to_portal_catalogue(routes: dict[str, CompiledRoute]) -> None:
    route = routes["catalogue_sync"]
    raw = fixture_record("procedure")
    assert route.record_key(raw) == "1.001612|000.00.12.H07"
    result = run(route, raw)
    assert result.key == "1.001612|000.00.12.H07"
    assert_fields(
        result.payload,
        {
            "MaTTHC": "1.001612",
            "TenTTHC": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
            "MaCoQuan": "000.00.12.H07",
            "TenCoQuan": "Sở Xây dựng tỉnh Bến Tre",
            "CapThucHien": "1",
            "MucDo": "MOT_PHAN",
            "ThoiHanGiaiQuyet": 15,
            "PhiLePhi": [
                {"MaPhiLePhi": "LP01", "TenPhiLePhi": "Lệ phí cấp giấy phép", "Gia": 75000},
                {"MaPhiLePhi": "PT02", "TenPhiLePhi": "Phí thẩm định thiết kế", "Gia": 150000.0},
            ],
            "TrangThai": "1",
            "NgayCapNhat": "20250110164530",
        },
    )


def test_catalogue_levels_and_withdrawal(routes: dict[str, CompiledRoute]) -> None:
    route = routes["catalogue_sync"]
    full = {**fixture_record("procedure"), "onlineLevel": "FULL", "status": 0, "nationCode": None}
    assert route.record_key(full) == "1.001612.000.00.00.H07|000.00.12.H07"  # stable without a nationCode too
    payload = run(route, full).payload  # no nationCode: the provincial code is looked up
    assert (payload["MucDo"], payload["TrangThai"], payload["MaTTHC"]) == ("TOAN_TRINH", "0", "1.001612")
    none = {**fixture_record("procedure"), "onlineLevel": "NONE"}
    assert route.select(route.prepare(none)) == (
        False,
        "select[0] not met: onlineLevel in [FULL, PARTIAL]",
    )
