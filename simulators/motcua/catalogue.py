"""The procedure catalogue: a few hundred procedures across the thirteen agencies.

Fixed reference data (built from a constant seed, not the simulator's), because code lists in
``mappings/`` and tests refer to procedure and agency codes.  The justice department offers exactly
121 published online procedures (echoing the seed document's "97 of 121"), besides some not offered
online (``onlineLevel: NONE``) and some withdrawn (``status: 0``); other agencies have a realistic mix.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulators.motcua.agencies import AGENCIES, JUSTICE_DEPARTMENT_CODE, Agency
from simulators.motcua.procedure_names import (
    COMMUNE,
    DISTRICT,
    KNOWN_NATION_CODES,
    SECTORS_BY_AGENCY,
    expand,
)
from simulators.motcua.timeline import BLOCK, WORK_DAY_MS, WORKDAY_OPEN_MS, format_ms

BIRTH_NATION_CODES = ("1.001193", "1.000894")
JUSTICE_ONLINE_PUBLISHED = 121


@dataclass(frozen=True)
class Procedure:
    index: int
    id: str
    code: str
    nation_code: str
    name: str
    sector: tuple[str, str]  # (code, name)
    agency: Agency
    online_level: str  # FULL | PARTIAL | NONE
    processing_days: int
    fees: tuple[tuple[str, str, int], ...]
    files: tuple[tuple[str, str], ...]  # (procedureFileCode, filename)
    status: int
    updated_ms: int
    popularity: int

    @property
    def is_birth(self) -> bool:
        return self.nation_code in BIRTH_NATION_CODES

    def ref(self) -> dict[str, str]:
        """The ``procedure`` object embedded in a dossier."""
        return {"id": self.id, "code": self.code, "nationCode": self.nation_code, "name": self.name}

    def to_json(self) -> dict[str, object]:
        """The catalogue record served by ``/pa/procedure/search``."""
        return {
            "id": self.id,
            "code": self.code,
            "nationCode": self.nation_code,
            "name": self.name,
            "sector": {"code": self.sector[0], "name": self.sector[1]},
            "agency": self.agency.ref(),
            "level": self.agency.level,
            "onlineLevel": self.online_level,
            "processingDays": self.processing_days,
            "fees": [{"code": c, "name": n, "amount": a} for c, n, a in self.fees],
            "status": self.status,
            "updatedDate": format_ms(self.updated_ms),
        }


_POPULAR = (
    ("lý lịch tư pháp", 40), ("Chứng thực", 12), ("Giấy phép lái xe", 15), ("hộ kinh doanh", 6),
    ("quyền sử dụng đất", 8), ("Đăng ký kết hôn", 8), ("khai tử", 4), ("Đăng ký thành lập công ty", 6),
    ("nhà ở riêng lẻ", 8), ("trợ cấp thất nghiệp", 6), ("tình trạng hôn nhân", 8),
)
_FILES = (
    ("khai sinh", (("TP01", "to-khai-dang-ky-khai-sinh.pdf"), ("TP02", "giay-chung-sinh.pdf"),
                   ("TP03", "giay-to-tuy-than-nguoi-yeu-cau.pdf"))),
    ("lý lịch tư pháp", (("TP01", "to-khai-yeu-cau-cap-phieu-lltp.pdf"), ("TP02", "ban-chup-cccd.pdf"))),
    ("xây dựng", (("TP01", "don-de-nghi-cap-giay-phep.pdf"), ("TP02", "ban-ve-thiet-ke.pdf"),
                  ("TP03", "giay-chung-nhan-quyen-su-dung-dat.pdf"))),
    ("đất", (("TP01", "don-dang-ky.pdf"), ("TP02", "giay-chung-nhan-quyen-su-dung-dat.pdf"),
             ("TP03", "so-do-thua-dat.pdf"))),
    ("doanh nghiệp", (("TP01", "giay-de-nghi-dang-ky-doanh-nghiep.pdf"), ("TP02", "dieu-le-cong-ty.pdf"),
                      ("TP03", "danh-sach-thanh-vien.pdf"))),
    ("kinh doanh", (("TP01", "giay-de-nghi-dang-ky.pdf"), ("TP02", "ban-sao-cccd.pdf"))),
)
_GENERIC_FILES = (("TP01", "don-de-nghi.pdf"), ("TP02", "ban-sao-cccd.pdf"), ("TP03", "to-khai.pdf"))


def _files(name: str, sector: str) -> tuple[tuple[str, str], ...]:
    text = f"{name} {sector}".lower()
    for keyword, files in _FILES:
        if keyword.lower() in text:
            return files
    return _GENERIC_FILES


def _fees(rng: random.Random, name: str, birth: bool) -> tuple[tuple[str, str, int], ...]:
    if birth or rng.random() < 0.4:
        return ()
    subject = name.split(",")[0]
    fees = [("LP01", f"Lệ phí {subject[0].lower()}{subject[1:]}", rng.choice(
        (8_000, 10_000, 20_000, 50_000, 75_000, 100_000, 200_000, 500_000, 1_000_000)))]
    if rng.random() < 0.2:
        fees.append(("PHI01", "Phí thẩm định hồ sơ", rng.choice((150_000, 300_000, 500_000, 1_500_000))))
    return tuple(fees)


def _processing_days(rng: random.Random, name: str) -> int:
    if "khai sinh" in name or "Chứng thực" in name or "kết hôn" in name:
        return rng.choice((1, 1, 3))
    if "lý lịch tư pháp" in name:
        return 10
    if name in KNOWN_NATION_CODES and KNOWN_NATION_CODES[name] == "1.001612":
        return 20
    return rng.choice((1, 2, 3, 3, 5, 5, 7, 10, 10, 12, 15, 15, 20))


def _nation_codes(rng: random.Random, names: list[str]) -> dict[str, str]:
    codes = dict(KNOWN_NATION_CODES)
    used = set(codes.values())
    for name in names:
        if name in codes:
            continue
        while True:
            code = f"{rng.choice('1112')}.00{rng.randint(0, 4999):04d}"
            if code not in used:
                break
        used.add(code)
        codes[name] = code
    return codes


def _entries() -> list[tuple[Agency, str, str]]:
    """``(agency, sector, name)`` for every catalogue entry, in a fixed order."""
    entries = []
    for agency in AGENCIES:
        sectors = SECTORS_BY_AGENCY.get(agency.code) or (DISTRICT if agency.level == 2 else COMMUNE)
        entries.extend((agency, sector, name) for sector, name in expand(sectors))
    return entries


def _updated_dates(rng: random.Random, count: int) -> list[int]:
    """Sorted catalogue dates in 2025 office hours; a decision often publishes a few at the same instant."""
    stamps = sorted(
        WORKDAY_OPEN_MS[rng.randrange(len(WORKDAY_OPEN_MS))] + rng.randrange(WORK_DAY_MS) for _ in range(count)
    )
    run = 1
    for k in range(1, count):
        if run < BLOCK // 2 and rng.random() < 0.2:
            stamps[k] = stamps[k - 1]
            run += 1
        else:
            run = 1
    return stamps


def build_catalogue() -> tuple[Procedure, ...]:
    """The whole catalogue, ordered by ``(updatedDate, id)`` as the search serves it."""
    rng = random.Random(83_0007)
    entries = _entries()
    nation = _nation_codes(rng, [name for _, _, name in entries])
    sector_codes: dict[str, str] = {}
    justice = [k for k, (agency, _, _) in enumerate(entries) if agency.code == JUSTICE_DEPARTMENT_CODE]
    picked = rng.sample(justice, len(justice) - JUSTICE_ONLINE_PUBLISHED)
    justice_withdrawn = set(picked[: len(picked) * 2 // 5])
    justice_offline = set(picked[len(picked) * 2 // 5 :])
    stamps = _updated_dates(rng, len(entries))
    order = list(range(len(entries)))
    rng.shuffle(order)  # which entry gets which date: unrelated to the agency order
    procedures = []
    for k, (agency, sector, name) in enumerate(entries):
        code = nation[name]
        birth = code in BIRTH_NATION_CODES
        if agency.code == JUSTICE_DEPARTMENT_CODE:
            status = 0 if k in justice_withdrawn else 1
            online = "NONE" if k in justice_offline else rng.choice(("FULL", "FULL", "PARTIAL"))
        else:
            status = 0 if (not birth and rng.random() < 0.04) else 1
            online = "FULL" if birth else rng.choices(("FULL", "PARTIAL", "NONE"), (55, 30, 15))[0]
        popularity = rng.randint(1, 10) * next((boost for key, boost in _POPULAR if key in name), 1)
        sector_code = sector_codes.setdefault(sector, f"G{len(sector_codes) + 1:02d}")
        procedures.append(
            Procedure(
                index=k, id="", code=f"{code}.000.00.00.H07", nation_code=code, name=name,
                sector=(sector_code, sector), agency=agency, online_level=online,
                processing_days=_processing_days(rng, name), fees=_fees(rng, name, birth),
                files=_files(name, sector), status=status, updated_ms=stamps[order[k]], popularity=popularity,
            )
        )
    procedures.sort(key=lambda p: (p.updated_ms, p.index))
    # ids follow the served order so that ties on updatedDate are ordered by id
    return tuple(
        Procedure(**{**p.__dict__, "id": f"6571c0de{position:016x}"}) for position, p in enumerate(procedures)
    )


CATALOGUE: tuple[Procedure, ...] = build_catalogue()
BIRTH_PROCEDURES: tuple[Procedure, ...] = tuple(p for p in CATALOGUE if p.is_birth)
