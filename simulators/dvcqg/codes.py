"""Answer codes, messages and code lists of the national portal simulator.

The real portal answers every service call with HTTP 200 and puts the outcome in ``error_code`` (a
*string*) and a Vietnamese ``message``; clients branch on the code and sometimes on the message text
(a public client resends a create as an update when the message contains "đã tồn tại").  Keeping the
codes and texts in one module lets the docs, the tests and the handlers agree on them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# --- service answer codes (strings, as the portal sends them) ----------------------------------------
OK = "0"
INVALID = "-1"
NOT_FOUND = "-2"
EXISTS = "-3"
SESSION_EXPIRED = "-401"
INTERNAL = "-500"

MESSAGES: dict[str, str] = {
    OK: "Thành công",
    INVALID: "Dữ liệu không hợp lệ",
    NOT_FOUND: "Không tìm thấy dữ liệu",
    EXISTS: "Hồ sơ đã tồn tại",
    SESSION_EXPIRED: "Phiên làm việc đã hết hạn",
    INTERNAL: "Lỗi hệ thống, vui lòng thử lại sau",
}

DOSSIER_EXISTS = "Hồ sơ đã tồn tại"
DOSSIER_MISSING = "Hồ sơ không tồn tại"
PROGRESS_BEFORE_DOSSIER = "Hồ sơ không tồn tại trên Cổng, phải đồng bộ hồ sơ trước khi cập nhật tiến độ"

# --- login answer codes (integers: the login answer carries ``"error_code": 0`` on success) ------
LOGIN_OK = 0
LOGIN_INVALID = -1  # malformed body, missing or wrong dstcode
LOGIN_DENIED = -403  # wrong username or password

# --- code lists ---------------------------------------------------------------------------------------
#: TrangThaiHoSo, also used by the TrangThai of a progress record (the public client sends "2" for
#: "Tiếp nhận hồ sơ" and "9" for "Kết thúc xử lý hồ sơ").
TRANG_THAI_HO_SO: dict[str, str] = {
    "1": "Mới đăng ký",
    "2": "Được tiếp nhận",
    "3": "Không được tiếp nhận",
    "4": "Đang xử lý",
    "5": "Yêu cầu bổ sung giấy tờ",
    "6": "Yêu cầu thực hiện nghĩa vụ tài chính",
    "7": "Công dân yêu cầu rút hồ sơ",
    "8": "Dừng xử lý",
    "9": "Đã xử lý xong",
    "10": "Đã trả kết quả",
}
KENH_THUC_HIEN: dict[str, str] = {"1": "Trực tiếp", "2": "Trực tuyến", "3": "Qua bưu chính công ích"}
LOAI_DOI_TUONG: dict[str, str] = {
    "1": "Công dân",
    "2": "Doanh nghiệp",
    "3": "Cơ quan nhà nước",
    "4": "Tổ chức khác",
}
#: Identity document kinds; 1 and 2 carry a fixed number of digits.
LOAI_DINH_DANH: dict[str, str] = {
    "1": "Căn cước công dân (12 chữ số)",
    "2": "Chứng minh nhân dân (9 chữ số)",
    "3": "Giấy tờ khác",
}
#: HinhThuc: how the result is handed back (our design: the field is public, its list is not).
HINH_THUC: dict[str, str] = {"0": "Trả kết quả tại bộ phận một cửa", "1": "Trả kết quả qua bưu chính"}
CAP_THUC_HIEN: dict[str, str] = {"1": "Cấp tỉnh", "2": "Cấp huyện", "3": "Cấp xã"}
MUC_DO: dict[str, str] = {
    "TOAN_TRINH": "Dịch vụ công trực tuyến toàn trình",
    "MOT_PHAN": "Dịch vụ công trực tuyến một phần",
}
TRANG_THAI_DVCTT: dict[str, str] = {"1": "Đang cung cấp", "0": "Ngừng cung cấp"}


# --- agency list (LayDanhMucCoQuan) ----------------------------------------------------------------
AGENCIES_FILE = Path(__file__).with_name("agencies.csv")


@dataclass(frozen=True)
class Agency:
    """One row of the agency catalogue the portal answers to ``LayDanhMucCoQuan``."""

    code: str
    name: str
    level: int  # 1 province, 2 district, 3 commune
    parent: str

    def to_dict(self) -> dict[str, object]:
        return {
            "MaCoQuan": self.code,
            "TenCoQuan": self.name,
            "CapCoQuan": self.level,
            "MaCoQuanCha": self.parent,
        }


@lru_cache(maxsize=4)
def load_agencies(path: Path = AGENCIES_FILE) -> tuple[Agency, ...]:
    """Read the agency list once; it is data (a CSV beside this module), so a deployment can edit it."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle)
        return tuple(
            Agency(
                code=row["MaCoQuan"],
                name=row["TenCoQuan"],
                level=int(row["CapCoQuan"]),
                parent=row["MaCoQuanCha"],
            )
            for row in rows
        )
