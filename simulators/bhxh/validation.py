"""Reading and checking the body of a BHXH request, with Vietnamese messages that name the field.

Two steps, because they fail differently:

1. :func:`read_element` turns the operation element into a nested dict of strings, refusing what the
   WSDL does not declare (unknown or duplicated elements, elements outside the service namespace,
   child elements where text is expected).  Such a document is not a request at all; the first problem
   is answered at once.
2. ``validate_*`` applies the business rules to that dict and collects *every* field error, so a
   gateway sees all of them in the fault ``detail`` at once instead of one per round trip.  The
   faultstring names the first, e.g. ``treEm/ngaySinh: sai định dạng yyyyMMdd``.

Messages never repeat the offending value: identity numbers and names are personal data, and a fault
text ends up in logs.  Conventions: surrounding whitespace is stripped; an empty element counts as
absent; a ``cha`` element whose children are all empty counts as no father given.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

from lxml import etree

from simulators.bhxh.soap import TNS, SoapFault, client_fault

LEAF = None

REGISTRATION_SHAPE: dict[str, Any] = {
    "maHoSoLT": LEAF,
    "maHoSoMC": LEAF,
    "maTinh": LEAF,
    "treEm": {"hoTen": LEAF, "ngaySinh": LEAF, "gioiTinh": LEAF, "soDinhDanh": LEAF},
    "me": {"hoTen": LEAF, "soDinhDanh": LEAF},
    "cha": {"hoTen": LEAF, "soDinhDanh": LEAF},
    "noiCuTru": {"maTinh": LEAF, "maHuyen": LEAF, "maXa": LEAF, "diaChiChiTiet": LEAF},
    "giayChungSinh": {"so": LEAF, "quyenSo": LEAF, "ngayCap": LEAF, "maCSKCB": LEAF},
    "maDKBD": LEAF,
}
LOOKUP_SHAPE: dict[str, Any] = {"maThe": LEAF, "soDinhDanh": LEAF}

MISSING = "thiếu thông tin bắt buộc"
BAD_DATE_FORMAT = "sai định dạng yyyyMMdd"
NOT_NFC = "văn bản phải ở dạng Unicode NFC"

_DIGITS = {n: re.compile(rf"\d{{{n}}}", re.ASCII) for n in (2, 3, 5, 8, 12)}
_DOSSIER_ID = re.compile(r"[A-Za-z0-9._:/-]{1,50}", re.ASCII)
_CARD = re.compile(r"[A-Z]{2}\d{13}", re.ASCII)
_SEX = re.compile(r"[12]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# --- step 1: structure -------------------------------------------------------------------------
def read_element(element: etree._Element, shape: dict[str, Any], path: str = "") -> dict[str, Any]:
    """Children of ``element`` as ``{name: text or nested dict}``, following ``shape``."""
    result: dict[str, Any] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue  # comments
        qname = etree.QName(child)
        where = f"{path}{qname.localname}"
        if qname.namespace != TNS or qname.localname not in shape:
            raise client_fault("phần tử không được khai báo trong WSDL", "LOI_CAU_TRUC", field=where)
        if qname.localname in result:
            raise client_fault("phần tử xuất hiện nhiều lần", "LOI_CAU_TRUC", field=where)
        sub_shape = shape[qname.localname]
        if sub_shape is LEAF:
            if any(isinstance(c.tag, str) for c in child):
                raise client_fault("không được chứa phần tử con", "LOI_CAU_TRUC", field=where)
            result[qname.localname] = child.text or ""
        else:
            result[qname.localname] = read_element(child, sub_shape, f"{where}/")
    return result


# --- step 2: rules -----------------------------------------------------------------------------
def parse_date(text: str) -> date | None:
    """``yyyyMMdd`` to a date, or None when it is not eight digits of a real calendar day."""
    if not _DIGITS[8].fullmatch(text):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


class _Checker:
    """Collects field errors while building the cleaned request (only present fields are kept)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.clean: dict[str, Any] = {}
        self.errors: list[tuple[str, str]] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append((path, message))

    def raw(self, path: str) -> str | None:
        node: Any = self.data
        for part in path.split("/"):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        if isinstance(node, dict):
            return None
        return node if node.strip() else None

    def keep(self, path: str, value: Any) -> None:
        node = self.clean
        *parents, last = path.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value

    def text(self, path: str, max_len: int, required: bool = True) -> str | None:
        raw = self.raw(path)
        if raw is None:
            if required:
                self.error(path, MISSING)
            return None
        if unicodedata.normalize("NFC", raw) != raw:
            self.error(path, NOT_NFC)
            return None
        value = raw.strip()
        if _CONTROL.search(value):
            self.error(path, "chứa ký tự điều khiển")
        elif len(value) > max_len:
            self.error(path, f"dài quá {max_len} ký tự")
        else:
            self.keep(path, value)
            return value
        return None

    def code(self, path: str, regex: re.Pattern[str], message: str, required: bool = True) -> str | None:
        raw = self.raw(path)
        if raw is None:
            if required:
                self.error(path, MISSING)
            return None
        value = raw.strip()
        if not regex.fullmatch(value):
            self.error(path, message)
            return None
        self.keep(path, value)
        return value

    def digits(self, path: str, count: int, required: bool = True) -> str | None:
        return self.code(path, _DIGITS[count], f"phải gồm đúng {count} chữ số", required)

    def day(self, path: str, today: date) -> date | None:
        raw = self.raw(path)
        if raw is None:
            self.error(path, MISSING)
            return None
        value = raw.strip()
        if not _DIGITS[8].fullmatch(value):
            self.error(path, BAD_DATE_FORMAT)
            return None
        parsed = parse_date(value)
        if parsed is None:
            self.error(path, "ngày không có thật trong lịch")
            return None
        if parsed > today:
            self.error(path, "ngày không được sau ngày hiện tại")
            return None
        self.keep(path, value)
        return parsed

    def group(self, name: str) -> bool:
        """True when the required group element is there; otherwise record one error for it."""
        if isinstance(self.data.get(name), dict):
            return True
        self.error(name, MISSING)
        return False

    def present(self, group: str) -> bool:
        node = self.data.get(group)
        return isinstance(node, dict) and any(isinstance(v, str) and v.strip() for v in node.values())

    def fail_if_errors(self) -> None:
        if self.errors:
            first_path, first_message = self.errors[0]
            raise SoapFault(
                "Client", first_message, error_code="LOI_DU_LIEU", field=first_path, errors=list(self.errors)
            )


def validate_registration(data: dict[str, Any], today: date, province: str | None = None) -> dict[str, Any]:
    """Check a ``DangKyTheBHYTTreEm`` request; return the cleaned request or raise the Client fault.

    ``province``: when set, the only ``maTinh`` this registry serves.  The under-six rule is not checked
    here: it applies to a *new* registration only (see :mod:`simulators.bhxh.registry`).
    """
    check = _Checker(data)
    check.code("maHoSoLT", _DOSSIER_ID, "chỉ gồm chữ, số và . _ - / : (tối đa 50 ký tự)")
    check.code("maHoSoMC", _DOSSIER_ID, "chỉ gồm chữ, số và . _ - / : (tối đa 50 ký tự)")
    ma_tinh = check.digits("maTinh", 2)
    if ma_tinh and province and ma_tinh != province:
        check.error("maTinh", f"hệ thống này chỉ tiếp nhận hồ sơ của tỉnh {province}")

    birth = None
    if check.group("treEm"):
        check.text("treEm/hoTen", 100)
        birth = check.day("treEm/ngaySinh", today)
        check.code("treEm/gioiTinh", _SEX, "chỉ nhận 1 (nam) hoặc 2 (nữ)")
        check.digits("treEm/soDinhDanh", 12, required=False)
    if check.group("me"):
        check.text("me/hoTen", 100)
        check.digits("me/soDinhDanh", 12)
    if check.present("cha"):
        check.text("cha/hoTen", 100)
        check.digits("cha/soDinhDanh", 12, required=False)
    if check.group("noiCuTru"):
        residence_province = check.digits("noiCuTru/maTinh", 2)
        if ma_tinh and residence_province and residence_province != ma_tinh:
            check.error("noiCuTru/maTinh", "không khớp với maTinh của hồ sơ")
        check.digits("noiCuTru/maHuyen", 3)
        check.digits("noiCuTru/maXa", 5)
        check.text("noiCuTru/diaChiChiTiet", 500, required=False)
    if check.group("giayChungSinh"):
        check.text("giayChungSinh/so", 30)
        check.text("giayChungSinh/quyenSo", 30, required=False)
        issued = check.day("giayChungSinh/ngayCap", today)
        if birth and issued and issued < birth:
            check.error("giayChungSinh/ngayCap", "ngày cấp giấy chứng sinh trước ngày sinh")
        check.digits("giayChungSinh/maCSKCB", 5)
    check.digits("maDKBD", 5)

    check.fail_if_errors()
    return check.clean


def validate_lookup(data: dict[str, Any]) -> tuple[str, str]:
    """Check a ``TraCuuTheBHYT`` request; return ``("maThe" | "soDinhDanh", value)`` (maThe wins)."""
    check = _Checker(data)
    if check.raw("maThe") is not None:
        value = check.code("maThe", _CARD, "sai định dạng mã thẻ (15 ký tự, vd. TE183...)")
        key = "maThe"
    elif check.raw("soDinhDanh") is not None:
        value = check.digits("soDinhDanh", 12)
        key = "soDinhDanh"
    else:
        check.error("maThe", "cần maThe hoặc soDinhDanh")
        value, key = None, "maThe"
    check.fail_if_errors()
    assert value is not None
    return key, value
