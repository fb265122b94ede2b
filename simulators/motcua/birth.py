"""The civil-status form (``eForm``) of a birth-registration dossier.

iGate keeps the form as a JSON *string* inside the dossier, with the civil-status field names
(``hoTich.treEm.hoTen`` ...) and ``dd/MM/yyyy`` dates.  The child is born shortly before the
application, the mother is always on the form, the father usually (about 85%), and the requester is
one of them.  The form's address is the commune of the registering agency.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from simulators.motcua.agencies import Agency
from simulators.motcua.names import HOSPITALS
from simulators.motcua.people import Person, address, cccd, person
from simulators.motcua.timeline import MS_PER_DAY, between, format_day, pick

_DISTRICT_HOSPITAL = {"829": "83001", "831": "83010", "836": "83011", "833": "83012", "834": "83013"}
_HOSPITAL_NAMES = dict(HOSPITALS)


@dataclass(frozen=True)
class BirthForm:
    requester: Person
    relation: str  # "Mẹ" or "Cha"
    child_name: str
    address: dict[str, str]
    eform: str  # the JSON string served as ``eForm``


def birth_form(rng: random.Random, applied_ms: int, agency: Agency) -> BirthForm:
    """A complete, consistent ``hoTich`` form for a child born 1-45 days before ``applied_ms``."""
    mother = person(rng, gender=2, min_age=18, max_age=42)
    father = person(rng, gender=1, min_age=20, max_age=50) if rng.random() < 0.85 else None
    child_gender = 1 if rng.random() < 0.51 else 2
    birth_ms = applied_ms - between(rng, 1, 45) * MS_PER_DAY
    birth_day = format_day(birth_ms)
    child_year = int(birth_day[-4:])
    child = person(rng, gender=child_gender, family=(father or mother).family, year=child_year)
    child_id = cccd(rng, child_gender, child_year, "083")
    if agency.district in _DISTRICT_HOSPITAL and rng.random() < 0.6:
        clinic = _DISTRICT_HOSPITAL[agency.district]
    else:
        clinic = pick(rng, HOSPITALS)[0]
    issued_ms = min(birth_ms + between(rng, 0, 3) * MS_PER_DAY, applied_ms)
    home = address(rng, agency.district, agency.ward)
    requester, relation = (father, "Cha") if father is not None and rng.random() < 0.3 else (mother, "Mẹ")
    form: dict[str, object] = {
        "treEm": {
            "hoTen": child.fullname, "ngaySinh": birth_day, "gioiTinh": str(child_gender),
            "noiSinh": _HOSPITAL_NAMES[clinic], "soDinhDanh": child_id,
        },
        "me": {"hoTen": mother.fullname, "soDinhDanh": mother.identity, "ngaySinh": mother.birthday_dmy},
    }
    if father is not None:
        form["cha"] = {"hoTen": father.fullname, "soDinhDanh": father.identity, "ngaySinh": father.birthday_dmy}
    form["nguoiYeuCau"] = {"hoTen": requester.fullname, "soDinhDanh": requester.identity, "quanHe": relation}
    form["noiCuTru"] = {
        "maTinh": home["provinceCode"], "maHuyen": home["districtCode"], "maXa": home["wardCode"],
        "diaChiChiTiet": home["detail"],
    }
    form["giayChungSinh"] = {
        "so": f"{between(rng, 1, 2400)}/{child_year}", "quyenSo": f"{between(rng, 1, 6):02d}",
        "ngayCap": format_day(issued_ms), "maCSKCB": clinic,
    }
    form["maDKBD"] = clinic if rng.random() < 0.7 else pick(rng, HOSPITALS)[0]
    eform = json.dumps({"hoTich": form}, ensure_ascii=False, separators=(",", ":"))
    return BirthForm(requester=requester, relation=relation, child_name=child.fullname, address=home, eform=eform)
