"""Synthetic people: names with diacritics, CCCD numbers with the real structure, phones, addresses.

Everything is drawn from a caller's ``random.Random`` so that a dossier stays a pure function of
(seed, index).  The tables are flattened weighted tuples, so each draw is a single ``pick``:
generation speed matters (the search must serve thousands of dossiers per second).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulators.motcua.names import (
    COMPANY_BRANDS,
    COMPANY_KINDS,
    COMPANY_TRADES,
    DISTRICT_WEIGHTS,
    DISTRICTS,
    EMAIL_DOMAINS,
    FAMILY_NAMES,
    FEMALE_GIVEN,
    FEMALE_MIDDLE,
    HAMLETS,
    MALE_GIVEN,
    MALE_MIDDLE,
    ORGANISATIONS,
    OTHER_BIRTH_PROVINCES,
    PHONE_PREFIXES,
    PROVINCE_CODE,
    STREETS,
    ascii_fold,
    expand_weights,
)
from simulators.motcua.timeline import below, between, pick

FAMILIES = expand_weights(FAMILY_NAMES)
DISTRICT_CHOICES = expand_weights(DISTRICT_WEIGHTS)
_ASCII = {name: ascii_fold(name).lower() for name in (*MALE_GIVEN, *FEMALE_GIVEN, *(f for f, _ in FAMILY_NAMES))}
REFERENCE_YEAR = 2025


@dataclass(frozen=True)
class Person:
    family: str
    fullname: str
    gender: int  # 1 male, 2 female
    year: int
    month: int
    day: int
    identity: str  # 12-digit CCCD

    @property
    def birthday(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    @property
    def birthday_dmy(self) -> str:
        return f"{self.day:02d}/{self.month:02d}/{self.year:04d}"


def cccd(rng: random.Random, gender: int, year: int, province: str | None = None) -> str:
    """A 12-digit CCCD: birth province (mostly 083), century+gender digit, 2-digit year, 6 digits."""
    if province is None:
        province = "083" if rng.random() < 0.85 else pick(rng, OTHER_BIRTH_PROVINCES)
    century = 0 if year < 2000 else 2
    return f"{province}{century + gender - 1}{year % 100:02d}{below(rng, 1_000_000):06d}"


def person(
    rng: random.Random,
    *,
    gender: int | None = None,
    min_age: int = 18,
    max_age: int = 75,
    family: str | None = None,
    year: int | None = None,
) -> Person:
    """A person born in Bến Tre or nearby, with a name matching the gender."""
    if gender is None:
        gender = 1 if rng.random() < 0.5 else 2
    family = family or pick(rng, FAMILIES)
    if gender == 1:
        middle, given = pick(rng, MALE_MIDDLE), pick(rng, MALE_GIVEN)
    else:
        middle, given = pick(rng, FEMALE_MIDDLE), pick(rng, FEMALE_GIVEN)
    if rng.random() < 0.25:  # a second middle name: "Nguyễn Thị Mỹ Hạnh"
        middle = f"{middle} {pick(rng, MALE_MIDDLE[3:] if gender == 1 else FEMALE_MIDDLE[3:])}"
    if year is None:
        year = REFERENCE_YEAR - between(rng, min_age, max_age)
    month, day = between(rng, 1, 12), between(rng, 1, 28)
    return Person(
        family=family, fullname=f"{family} {middle} {given}", gender=gender, year=year, month=month, day=day,
        identity=cccd(rng, gender, year),
    )


def phone(rng: random.Random) -> str:
    """A 10-digit Vietnamese mobile number in the domestic form ``0xxxxxxxxx``."""
    return f"{pick(rng, PHONE_PREFIXES)}{below(rng, 10_000_000):07d}"


def email(rng: random.Random, fullname: str) -> str | None:
    """An e-mail for about 60% of people, built from the name without diacritics."""
    if rng.random() >= 0.6:
        return None
    parts = fullname.split()
    given = _ASCII.get(parts[-1]) or ascii_fold(parts[-1]).lower()
    family = _ASCII.get(parts[0]) or ascii_fold(parts[0]).lower()
    return f"{given}.{family}{below(rng, 100):02d}@{pick(rng, EMAIL_DOMAINS)}"


def address(rng: random.Random, district: str | None = None, ward: str | None = None) -> dict[str, str]:
    """A Bến Tre address: street and number in town wards, hamlet in rural communes."""
    district = district or pick(rng, DISTRICT_CHOICES)
    _, urban, wards = DISTRICTS[district]
    if ward is None:
        ward_code, ward_name = pick(rng, wards)
    else:
        ward_code, ward_name = next((w for w in wards if w[0] == ward), wards[0])
    if urban and ward_name.startswith("Phường"):
        detail = f"Số {between(rng, 1, 250)}, đường {pick(rng, STREETS)}"
    elif rng.random() < 0.4:
        detail = f"Tổ {between(rng, 1, 20)}, {pick(rng, HAMLETS)}"
    else:
        detail = pick(rng, HAMLETS)
    return {"provinceCode": PROVINCE_CODE, "districtCode": district, "wardCode": ward_code, "detail": detail}


def organisation(rng: random.Random, applicant_type: int) -> str:
    """Name of an enterprise (type 2), a state body (3) or another organisation (4)."""
    if applicant_type == 2:
        return f"{pick(rng, COMPANY_KINDS)} {pick(rng, COMPANY_TRADES)} {pick(rng, COMPANY_BRANDS)}"
    return pick(rng, ORGANISATIONS)
