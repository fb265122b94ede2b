"""Field validation of what the portal accepts: pure functions, one per rule, driven by tables.

Why so strict: the simulator exists to catch mapping bugs before a real portal does.  Every field of a
HoSo, TienDo or DVCTT is checked for presence, type, length, code list, format and Unicode form, then
cross-field rules (date order, identity number length by kind) run.  A problem is reported as
``Trường <path>: <rule>`` in Vietnamese, the way the real portal names the field it refused; the
offending *value* is never echoed, because messages end up in the gateway's logs and some fields
carry personal data (identity numbers, phone numbers).

Conventions (recorded in ``docs/simulators/dvcqg.md``): ``null`` and blank strings count as absent,
so optional dates may be sent as ``""`` as public clients do; code fields accept ``"1"`` or ``1``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from simulators.dvcqg import codes

#: A rule looks at a present value and returns ``None`` or what is wrong with it (Vietnamese).
Rule = Callable[[Any], str | None]
#: A cross-field check looks at a whole record and returns ``(field path, problem)`` pairs.
Check = Callable[[Mapping[str, Any]], list[tuple[str, str]]]

DATE_FORMAT = "%Y%m%d%H%M%S"
MAX_PROBLEMS_REPORTED = 10


# --- single-value rules --------------------------------------------------------------------------------
def is_text(value: Any) -> str | None:
    return None if isinstance(value, str) else "phải là chuỗi ký tự"


def is_nfc(value: str) -> str | None:
    """Decomposed (NFD) Vietnamese looks identical but compares unequal: the gateway must normalise."""
    if unicodedata.is_normalized("NFC", value):
        return None
    return "văn bản chưa chuẩn hoá Unicode NFC (dạng tổ hợp NFD phải được chuẩn hoá trước khi gửi)"


def max_length(limit: int) -> Rule:
    def rule(value: str) -> str | None:
        return f"vượt quá {limit} ký tự" if len(value) > limit else None

    rule.__name__ = f"max_length_{limit}"
    return rule


def matches(pattern: str, description: str) -> Rule:
    regex = re.compile(pattern)

    def rule(value: str) -> str | None:
        return None if regex.fullmatch(value) else description

    rule.__name__ = f"matches_{description}"
    return rule


def is_code(value: Any) -> str | None:
    """Codes travel as strings ("1") in public clients; integers are tolerated, booleans are not."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return "phải là mã dạng chuỗi hoặc số nguyên"
    return None


def one_of(code_list: Mapping[str, str]) -> Rule:
    allowed = ", ".join(code_list)

    def rule(value: str | int) -> str | None:
        return None if str(value) in code_list else f"giá trị không thuộc danh mục ({allowed})"

    rule.__name__ = "one_of"
    return rule


def is_datetime14(value: str) -> str | None:
    if not re.fullmatch(r"\d{14}", value):
        return "sai định dạng ngày (yyyyMMddHHmmss)"
    try:
        datetime.strptime(value, DATE_FORMAT)
    except ValueError:
        return "ngày giờ không tồn tại (yyyyMMddHHmmss)"
    return None


def is_phone(value: str) -> str | None:
    return None if re.fullmatch(r"0\d{9,10}", value) else "số điện thoại phải gồm số 0 đầu và 9–10 chữ số"


def is_email(value: str) -> str | None:
    return None if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) else "sai định dạng thư điện tử"


def is_http_url(value: str) -> str | None:
    return None if re.fullmatch(r"https?://\S+", value) else "phải là đường dẫn http hoặc https"


def is_non_negative_number(value: Any) -> str | None:
    """Amounts and durations: a JSON number or a decimal string (public clients send ``"Gia": "50000"``)."""
    if isinstance(value, bool):
        return "phải là số không âm"
    if isinstance(value, int | float):
        return None if math.isfinite(value) and value >= 0 else "phải là số không âm"
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value):
        return None
    return "phải là số không âm"


def text(limit: int, *more: Rule) -> tuple[Rule, ...]:
    """The rules of a text field: a string, in NFC, at most ``limit`` characters, then ``more``."""
    return (is_text, is_nfc, max_length(limit), *more)


def code(code_list: Mapping[str, str]) -> tuple[Rule, ...]:
    return (is_code, one_of(code_list))


DATE: tuple[Rule, ...] = (is_text, is_datetime14)
NUMBER: tuple[Rule, ...] = (is_non_negative_number,)
MA_TTHC = matches(r"\d\.\d{6}", "sai định dạng mã thủ tục (d.dddddd, ví dụ 1.001612)")
MA_HO_SO = matches(
    r"[0-9A-Za-z.]{3,40}-\d{6}-\d{4,6}",
    "sai định dạng mã hồ sơ ({mã cơ quan}-{yyMMdd}-{số thứ tự 4 chữ số}, ví dụ 000.00.12.H07-210615-0042)",
)
MA_CO_QUAN = matches(r"\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}", "sai định dạng mã cơ quan (ví dụ 000.00.12.H07)")


# --- schemas ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """How one field is checked: presence, its rules in order, and for a list its item schema."""

    rules: tuple[Rule, ...] = ()
    required: bool = False
    items: Schema | None = None
    max_items: int = 0


@dataclass(frozen=True)
class Schema:
    name: str
    fields: Mapping[str, Field]
    checks: tuple[Check, ...] = field(default=())


def parse_date(record: Mapping[str, Any], name: str) -> datetime | None:
    """The field as a datetime, or None when absent or malformed (its own rule reports that)."""
    value = record.get(name)
    if not isinstance(value, str) or is_datetime14(value) is not None:
        return None
    return datetime.strptime(value, DATE_FORMAT)


def not_before(name: str, other: str) -> Check:
    def check(record: Mapping[str, Any]) -> list[tuple[str, str]]:
        mine, theirs = parse_date(record, name), parse_date(record, other)
        if mine and theirs and mine < theirs:
            return [(name, f"không được trước {other}")]
        return []

    check.__name__ = f"{name}_not_before_{other}"
    return check


def not_after(name: str, other: str) -> Check:
    def check(record: Mapping[str, Any]) -> list[tuple[str, str]]:
        mine, theirs = parse_date(record, name), parse_date(record, other)
        if mine and theirs and mine > theirs:
            return [(name, f"không được sau {other}")]
        return []

    check.__name__ = f"{name}_not_after_{other}"
    return check


#: Identity kinds whose number has a fixed count of digits, with the message naming the document.
IDENTITY_DIGITS: dict[str, tuple[int, str]] = {
    "1": (12, "CCCD phải gồm 12 chữ số"),
    "2": (9, "CMND phải gồm 9 chữ số"),
}


def identity_number_fits_kind(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    kind, number = record.get("LoaiDinhDanh"), record.get("SoDinhDanh")
    rule = IDENTITY_DIGITS.get(str(kind)) if kind is not None else None
    if rule and isinstance(number, str) and not re.fullmatch(rf"\d{{{rule[0]}}}", number):
        return [("SoDinhDanh", rule[1])]
    return []


DINH_DANH = Schema(
    "DinhDanhCHS",
    {
        "LoaiDinhDanh": Field(code(codes.LOAI_DINH_DANH), required=True),
        "SoDinhDanh": Field(text(50), required=True),
    },
    checks=(identity_number_fits_kind,),
)
TAI_LIEU = Schema(
    "TaiLieuNop",
    {
        "TepDinhKemId": Field(text(100)),
        "TenTepDinhKem": Field(text(1000), required=True),
        "DuongDanTaiTepTin": Field(text(2000, is_http_url), required=True),
        "MaThanhPhanHoSo": Field(text(100)),
    },
)
LE_PHI = Schema(
    "PhiLePhi",
    {
        "MaPhiLePhi": Field(text(50)),
        "TenPhiLePhi": Field(text(500), required=True),
        "Gia": Field(NUMBER, required=True),
    },
)

HO_SO = Schema(
    "HoSo",
    {
        "MaHoSo": Field(text(50, MA_HO_SO), required=True),
        "MaTTHC": Field((is_text, MA_TTHC), required=True),
        "TenTTHC": Field(text(1000), required=True),
        "MaLinhVuc": Field(text(50)),
        "TenLinhVuc": Field(text(500)),
        "KenhThucHien": Field(code(codes.KENH_THUC_HIEN), required=True),
        "ChuHoSo": Field(text(250), required=True),
        "LoaiDoiTuong": Field(code(codes.LOAI_DOI_TUONG), required=True),
        "MaDoiTuong": Field(text(50)),
        "SoDienThoai": Field(text(15, is_phone)),
        "Email": Field(text(100, is_email)),
        "TrichYeuHoSo": Field(text(1000)),
        "NgayNopHoSo": Field(DATE),
        "NgayTiepNhan": Field(DATE, required=True),
        "NgayHenTra": Field(DATE),
        "NgayKetThucXuLy": Field(DATE),
        "NgayTra": Field(DATE),
        "TrangThaiHoSo": Field(code(codes.TRANG_THAI_HO_SO), required=True),
        "DonViXuLy": Field(text(500)),
        "HinhThuc": Field(code(codes.HINH_THUC)),
        "DinhDanhCHS": Field(items=DINH_DANH, max_items=10),
        "TaiLieuNop": Field(items=TAI_LIEU, max_items=200),
        "DanhSachLePhi": Field(items=LE_PHI, max_items=50),
    },
    checks=(
        not_after("NgayNopHoSo", "NgayTiepNhan"),
        not_before("NgayHenTra", "NgayTiepNhan"),
        not_before("NgayKetThucXuLy", "NgayTiepNhan"),
        not_before("NgayTra", "NgayTiepNhan"),
    ),
)

TIEN_DO = Schema(
    "TienDo",
    {
        "MaHoSo": Field(text(50, MA_HO_SO), required=True),
        "NguoiXuLy": Field(text(50), required=True),
        "ChucDanh": Field(text(100)),
        "ThoiDiemXuLy": Field(DATE, required=True),
        "PhongBanXuLy": Field(text(250)),
        "NoiDungXuLy": Field(text(2000)),
        "TrangThai": Field(code(codes.TRANG_THAI_HO_SO), required=True),
        "NgayBatDau": Field(DATE),
        "NgayKetThucTheoQuyDinh": Field(DATE),
    },
    # No order between NgayBatDau and NgayKetThucTheoQuyDinh: a step started after its regulated
    # deadline is a late step, and the portal must accept it to count it as late.
    checks=(),
)

DVCTT = Schema(
    "DVCTT",
    {
        "MaTTHC": Field((is_text, MA_TTHC), required=True),
        "TenTTHC": Field(text(1000), required=True),
        "MaCoQuan": Field((is_text, MA_CO_QUAN), required=True),
        "TenCoQuan": Field(text(500), required=True),
        "CapThucHien": Field(code(codes.CAP_THUC_HIEN), required=True),
        "MucDo": Field(code(codes.MUC_DO), required=True),
        "ThoiHanGiaiQuyet": Field(NUMBER, required=True),
        "PhiLePhi": Field(items=LE_PHI, max_items=50),
        "TrangThai": Field(code(codes.TRANG_THAI_DVCTT), required=True),
        "NgayCapNhat": Field(DATE, required=True),
    },
)


# --- the walker ----------------------------------------------------------------------------------------
def is_absent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check_record(
    schema: Schema, record: Any, path: str = "", reject_unknown: bool = True
) -> list[tuple[str, str]]:
    """Every ``(field path, problem)`` of one record against ``schema``, in field order."""
    if not isinstance(record, dict):
        return [(path or schema.name, "phải là đối tượng JSON")]
    prefix = f"{path}." if path else ""
    problems: list[tuple[str, str]] = []
    if reject_unknown:
        problems += [(prefix + name, "không có trong đặc tả") for name in record if name not in schema.fields]
    for name, spec in schema.fields.items():
        value = record.get(name)
        if is_absent(value):
            if spec.required:
                problems.append((prefix + name, "bắt buộc, không được để trống"))
            continue
        if spec.items is not None:
            problems += _check_list(spec, value, prefix + name, reject_unknown)
            continue
        for rule in spec.rules:
            problem = rule(value)
            if problem:
                problems.append((prefix + name, problem))
                break
    # Cross-field checks skip malformed values themselves; a field already refused is not reported twice.
    refused = {field_path for field_path, _ in problems}
    for check in schema.checks:
        problems += [(prefix + name, why) for name, why in check(record) if prefix + name not in refused]
    return problems


def _check_list(spec: Field, value: Any, path: str, reject_unknown: bool) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        return [(path, "phải là danh sách")]
    if spec.max_items and len(value) > spec.max_items:
        return [(path, f"tối đa {spec.max_items} phần tử")]
    problems: list[tuple[str, str]] = []
    assert spec.items is not None
    for index, item in enumerate(value):
        problems += check_record(spec.items, item, f"{path}[{index}]", reject_unknown)
    return problems


def format_problems(problems: list[tuple[str, str]]) -> str:
    """``Trường X: ...; Trường Y: ...``, capped so one broken record cannot flood a log line."""
    shown = [f"Trường {path}: {problem}" for path, problem in problems[:MAX_PROBLEMS_REPORTED]]
    if len(problems) > MAX_PROBLEMS_REPORTED:
        shown.append(f"và {len(problems) - MAX_PROBLEMS_REPORTED} lỗi khác")
    return "; ".join(shown)


def validate(schema: Schema, record: Any, reject_unknown: bool = True) -> str | None:
    """The Vietnamese error message for ``record``, or ``None`` when the portal accepts it."""
    problems = check_record(schema, record, reject_unknown=reject_unknown)
    return format_problems(problems) if problems else None
