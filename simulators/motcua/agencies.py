"""The province's agencies and the officials who handle dossiers in each.

Thirteen agencies, like a real provincial one-stop system: seven departments (level 1), three district
People's Committees (level 2) and three commune People's Committees (level 3).  Each has a specialist
unit (where the review task happens), a leader title (the approval task), a share of the dossiers and
an on-time rate, so that service indicators computed downstream differ from agency to agency as they
do in real reports.  This is fixed reference data: it does not depend on the simulator's seed, so code
lists and mapping tests can name these codes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulators.motcua.names import FAMILY_NAMES, FEMALE_GIVEN, FEMALE_MIDDLE, MALE_GIVEN, MALE_MIDDLE


@dataclass(frozen=True)
class Official:
    id: str
    fullname: str


@dataclass(frozen=True)
class Agency:
    number: int
    id: str
    code: str
    name: str
    level: int  # 1 province, 2 district, 3 commune
    district: str | None  # district code for level 2/3 agencies
    ward: str | None  # ward code for level 3 agencies
    unit: str  # specialist unit that reviews dossiers
    leader: str  # title of whoever approves results
    dossier_weight: int  # relative share of the dossiers
    on_time_rate: float  # share of completed dossiers finished by the appointment
    officials: tuple[Official, ...]

    def ref(self) -> dict[str, object]:
        """The ``agency`` object embedded in dossiers and procedures."""
        return {"id": self.id, "code": self.code, "name": self.name, "level": self.level}


_RAW: tuple[tuple[str, str, int, str | None, str | None, str, str, int, float], ...] = (
    # code, name, level, district, ward, specialist unit, leader title, dossier weight, on-time rate
    ("000.00.15.H07", "Sở Tư pháp tỉnh Bến Tre", 1, None, None,
     "Phòng Hành chính tư pháp", "Phó Giám đốc Sở", 150, 0.97),
    ("000.00.12.H07", "Sở Xây dựng tỉnh Bến Tre", 1, None, None,
     "Phòng Quản lý xây dựng", "Phó Giám đốc Sở", 40, 0.86),
    ("000.00.13.H07", "Sở Tài nguyên và Môi trường tỉnh Bến Tre", 1, None, None,
     "Phòng Quản lý đất đai", "Phó Giám đốc Sở", 60, 0.78),
    ("000.00.03.H07", "Sở Kế hoạch và Đầu tư tỉnh Bến Tre", 1, None, None,
     "Phòng Đăng ký kinh doanh", "Phó Giám đốc Sở", 70, 0.99),
    ("000.00.09.H07", "Sở Giao thông vận tải tỉnh Bến Tre", 1, None, None,
     "Phòng Quản lý vận tải, phương tiện và người lái", "Phó Giám đốc Sở", 90, 0.95),
    ("000.00.10.H07", "Sở Lao động - Thương binh và Xã hội tỉnh Bến Tre", 1, None, None,
     "Phòng Người có công", "Phó Giám đốc Sở", 40, 0.90),
    ("000.00.17.H07", "Sở Y tế tỉnh Bến Tre", 1, None, None,
     "Phòng Nghiệp vụ Y", "Phó Giám đốc Sở", 30, 0.88),
    ("000.00.29.H07", "UBND thành phố Bến Tre", 2, "829", None,
     "Phòng Tư pháp", "Phó Chủ tịch UBND", 120, 0.93),
    ("000.00.36.H07", "UBND huyện Ba Tri", 2, "836", None,
     "Phòng Tư pháp", "Phó Chủ tịch UBND", 90, 0.89),
    ("000.00.31.H07", "UBND huyện Châu Thành", 2, "831", None,
     "Phòng Tư pháp", "Phó Chủ tịch UBND", 80, 0.91),
    ("000.29.08.H07", "UBND phường An Hội", 3, "829", "28777",
     "Công chức Tư pháp - Hộ tịch", "Chủ tịch UBND", 60, 0.98),
    ("000.36.02.H07", "UBND xã An Đức", 3, "836", "29185",
     "Công chức Tư pháp - Hộ tịch", "Chủ tịch UBND", 40, 0.96),
    ("000.31.02.H07", "UBND xã Tân Thạch", 3, "831", "28813",
     "Công chức Tư pháp - Hộ tịch", "Chủ tịch UBND", 40, 0.97),
)


def _official_name(rng: random.Random) -> str:
    family = rng.choice(FAMILY_NAMES)[0]
    if rng.random() < 0.5:
        return f"{family} {rng.choice(MALE_MIDDLE)} {rng.choice(MALE_GIVEN)}"
    return f"{family} {rng.choice(FEMALE_MIDDLE)} {rng.choice(FEMALE_GIVEN)}"


def _build() -> tuple[Agency, ...]:
    rng = random.Random(83_2025)  # fixed: reference data does not follow the simulator's seed
    agencies = []
    for number, (code, name, level, district, ward, unit, leader, weight, on_time) in enumerate(_RAW, start=1):
        officials = tuple(
            Official(id=f"6571b0f1{number:08x}{k:08x}", fullname=_official_name(rng)) for k in range(1, 9)
        )
        agencies.append(
            Agency(
                number=number, id=f"6571a9e0{number:016x}", code=code, name=name, level=level,
                district=district, ward=ward, unit=unit, leader=leader, dossier_weight=weight,
                on_time_rate=on_time, officials=officials,
            )
        )
    return tuple(agencies)


AGENCIES: tuple[Agency, ...] = _build()
AGENCY_BY_CODE: dict[str, Agency] = {a.code: a for a in AGENCIES}

#: The department whose online procedures echo the seed document's "97 of 121".
JUSTICE_DEPARTMENT_CODE = "000.00.15.H07"
