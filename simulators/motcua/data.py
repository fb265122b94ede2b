"""Dossier ``i`` as a pure function of (seed, i): the deterministic generator behind the search.

One ``random.Random`` per dossier, seeded from (seed, index), draws everything in a fixed order:
procedure, status, timings, applicant (the mess kind comes from a separate hash of (seed, index)).  ``updatedDate`` comes from
:class:`~simulators.motcua.timeline.Timeline` and every other date is laid out backwards from it, so
dates are consistent (applied <= accepted <= appointment; completed before *or* after the
appointment with the agency's on-time rate) and ``updatedDate`` is the last thing that happened.
Rendered JSON is kept in a small LRU cache (detail reads after a search, keyset overlaps).
"""

from __future__ import annotations

import json
import random
from functools import lru_cache
from typing import Any

from simulators.motcua.agencies import AGENCIES
from simulators.motcua.birth import birth_form
from simulators.motcua.catalogue import BIRTH_PROCEDURES, CATALOGUE, Procedure
from simulators.motcua.mess import MessPlan, apply_mess
from simulators.motcua.people import address, email, organisation, person, phone
from simulators.motcua.timeline import (
    MS_PER_DAY,
    TIMELINE_START_MS,
    Timeline,
    below,
    format_day,
    format_ms,
    mix64,
    office_close,
    pick,
    unit,
    working_days_to_ms,
)

STATUS_NAMES: dict[int, str] = {
    0: "Mới đăng ký", 1: "Đã tiếp nhận", 2: "Từ chối tiếp nhận", 3: "Đang xử lý", 4: "Yêu cầu bổ sung hồ sơ",
    5: "Chờ thực hiện nghĩa vụ tài chính", 6: "Công dân rút hồ sơ", 7: "Dừng xử lý", 8: "Đã có kết quả",
    9: "Đã trả kết quả",
}
APPLY_METHODS: dict[int, str] = {1: "Trực tiếp", 2: "Trực tuyến", 3: "Qua dịch vụ bưu chính công ích"}
TASK_STATUS: dict[int, str] = {1: "Đang xử lý", 2: "Hoàn thành"}
#: Status shares in per-mille (status 6, withdrawn, only comes from the ``withdrawn`` mess kind).
STATUS_WEIGHTS: tuple[tuple[int, int], ...] = (
    (9, 640), (8, 90), (3, 100), (1, 40), (4, 30), (5, 20), (0, 40), (2, 25), (7, 15),
)
_STATUS_CHOICES = tuple(s for s, w in STATUS_WEIGHTS for _ in range(w))
_AGENCY_CHOICES = tuple(a for a in AGENCIES for _ in range(a.dossier_weight))
_PROCEDURES_BY_AGENCY: dict[str, tuple[Procedure, ...]] = {
    a.code: tuple(
        p for p in CATALOGUE for _ in range(p.popularity)
        if p.agency.code == a.code and p.status == 1 and not p.is_birth
    )
    for a in AGENCIES
}
_BIRTH_CHOICES = tuple(
    p for p in BIRTH_PROCEDURES for _ in range((7 if p.nation_code == "1.001193" else 3) * p.agency.dossier_weight)
)
_APPLICANT_TYPES = (1,) * 85 + (2,) * 10 + (3,) * 2 + (4,) * 3
_HOUR = 3_600_000


class DossierGenerator:
    """Generates dossiers by index for one set of data settings."""

    def __init__(
        self, seed: int, count: int, mess_rate: float = 0.03, mess_kinds: tuple[str, ...] | None = None,
        birth_share: float = 0.10,
    ) -> None:
        self.seed = seed
        self.count = count
        self.birth_share = birth_share
        self.timeline = Timeline(seed, count)
        self.mess = MessPlan(mess_rate, mess_kinds)
        self._rng_base = (seed & 0xFFFF_FFFF) << 32
        self._mess_key = mix64(seed ^ 0x3E55)
        tag = mix64(seed) & 0xFFFF_FFFF_FFFF
        self.id_prefix = f"65{tag:012x}d0"  # 16 hex chars; + 8 hex of the index = 24 (a Mongo-style id)
        self._task_prefix = f"66{tag:012x}"  # 14 hex chars; + index + 2-digit position
        self._file_prefix = f"67{tag:012x}"
        self.render = lru_cache(maxsize=2048)(self._render)

    # --- ids -----------------------------------------------------------------------------------
    def dossier_id(self, index: int) -> str:
        return f"{self.id_prefix}{index:08x}"

    def index_of(self, dossier_id: str) -> int | None:
        """The generation index of an id of this seed, or None for anything else."""
        if len(dossier_id) != 24 or not dossier_id.startswith(self.id_prefix):
            return None
        try:
            return int(dossier_id[16:], 16)
        except ValueError:
            return None

    def mess_kind(self, index: int) -> str | None:
        """Which mess dossier ``index`` gets: from a hash of (seed, index), independent of its body's draws,
        so it is cheap to ask (no generation) and the rest of the dossier is the same at any mess rate."""
        h = mix64(self._mess_key ^ index)
        return self.mess.kind(unit(h), unit(mix64(h)))

    # --- generation ----------------------------------------------------------------------------
    def _render(self, index: int) -> bytes:
        return json.dumps(self.generate(index), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def generate(self, index: int, anchor_ms: int | None = None, fresh: bool = False) -> dict[str, Any]:
        """Dossier ``index``; ``anchor_ms`` overrides ``updatedDate`` (appended dossiers, ``fresh``)."""
        rng = random.Random(self._rng_base + index)
        kind = self.mess_kind(index)
        birth = rng.random() < self.birth_share
        if birth:
            procedure = pick(rng, _BIRTH_CHOICES)
        else:
            procedure = pick(rng, _PROCEDURES_BY_AGENCY[pick(rng, _AGENCY_CHOICES).code])
        agency = procedure.agency
        status = pick(rng, _STATUS_CHOICES)
        if fresh:
            status = 0 if rng.random() < 0.5 else 1
        if kind == "withdrawn":
            status = 6
        if procedure.online_level == "NONE":
            method = 3 if rng.random() < 0.1 else 1
        else:
            method = 2 if rng.random() < 0.65 else (3 if rng.random() < 0.07 else 1)
        if status == 0:
            method = 2  # "new" means applied online and not yet received by the one-stop desk
        updated = anchor_ms if anchor_ms is not None else self.timeline.updated_ms(index)
        t = _timings(rng, procedure, method, status, agency.on_time_rate, updated, clamp=anchor_ms is None)

        if birth:
            form = birth_form(rng, t["applied"], agency)
            applicant_type, who, fullname = 1, form.requester, form.requester.fullname
            home = form.address
            summary = (
                f"Đăng ký khai sinh cho cháu {form.child_name}" if procedure.nation_code == "1.001193"
                else f"Đăng ký khai sinh, đăng ký thường trú, cấp thẻ BHYT cho cháu {form.child_name}"
            )
            eform: str | None = form.eform
        else:
            applicant_type = pick(rng, _APPLICANT_TYPES)
            who = person(rng)
            fullname = who.fullname if applicant_type == 1 else organisation(rng, applicant_type)
            local = agency.level > 1 and rng.random() < 0.9
            home = address(rng, agency.district if local else None, agency.ward if local else None)
            summary = _summary(rng, procedure.name, fullname, who.gender, applicant_type)
            eform = None

        dates = {ms: format_ms(ms) for ms in t.values()}  # each instant formatted once (tasks reuse them)
        dates[updated] = format_ms(updated)
        dossier: dict[str, Any] = {
            "id": self.dossier_id(index),
            "code": f"{agency.code}-{format_day(t['applied'], 'code')}-{index + 1:04d}",
            "procedure": procedure.ref(),
            "sector": {"code": procedure.sector[0], "name": procedure.sector[1]},
            "agency": agency.ref(),
            "applicantType": applicant_type,
            "applicant": {"data": {
                "fullname": fullname, "identityNumber": who.identity, "birthday": who.birthday,
                "gender": who.gender, "phoneNumber": phone(rng), "email": email(rng, who.fullname),
                "address": home,
            }},
            "applyMethod": {"id": method, "name": APPLY_METHODS[method]},
            "appliedDate": dates[t["applied"]],
            "acceptedDate": dates.get(t.get("accepted")),
            "appointmentDate": dates.get(t.get("appointment")),
            "completedDate": dates.get(t.get("completed")),
            "returnedDate": dates.get(t.get("returned")),
            "dossierStatus": {"id": status, "name": STATUS_NAMES[status]},
            "summary": summary,
            "attachments": self._attachments(rng, index, procedure),
            "fees": [
                {"code": c, "name": n, "amount": a, "paid": status not in (0, 2, 5)} for c, n, a in procedure.fees
            ],
            "tasks": self._tasks(rng, index, status, agency, t, dates),
            "updatedDate": dates[updated],
            "eForm": eform,
        }
        if kind is not None:
            apply_mess(kind, dossier, rng)
        return dossier

    def _attachments(self, rng: random.Random, index: int, procedure: Procedure) -> list[dict[str, str]]:
        files = procedure.files if rng.random() < 0.8 else procedure.files[:-1]
        out = []
        for k, (code, filename) in enumerate(files):
            file_id = f"{self._file_prefix}{index:08x}{k:02x}"
            out.append({
                "id": file_id, "filename": filename,
                "url": f"https://motcua.bentre.gov.vn/files/{file_id}/{filename}", "procedureFileCode": code,
            })
        return out

    def _tasks(
        self, rng: random.Random, index: int, status: int, agency: Any, t: dict[str, int], dates: dict[int, str]
    ) -> list[dict]:
        if status == 0:
            return []
        officials = agency.officials
        leaders = "Ban Giám đốc Sở" if agency.level == 1 else "Lãnh đạo UBND"
        steps = [("Tiếp nhận hồ sơ", "Bộ phận một cửa", "Chuyên viên", officials[below(rng, 3)],
                  t["applied"], t["received"], t["applied"] + 8 * _HOUR)]
        if status >= 3:
            review_due = t["accepted"] + (t["appointment"] - t["accepted"]) * 6 // 10
            steps.append(("Thẩm định hồ sơ", agency.unit, "Chuyên viên", officials[3 + below(rng, 3)],
                          t["review_start"], t.get("review_end"), review_due))
        if status in (5, 8, 9):
            approve_due = t["appointment"] - (t["appointment"] - t["accepted"]) // 10
            steps.append(("Phê duyệt kết quả", leaders, agency.leader, officials[6 + below(rng, 2)],
                          t["review_end"], t.get("completed"), approve_due))
        if status == 9:
            steps.append(("Trả kết quả", "Bộ phận một cửa", "Chuyên viên", officials[below(rng, 3)],
                          t["completed"], t["returned"], t["appointment"]))
        tasks = []
        for k, (name, department, position, official, start, end, due) in enumerate(steps):
            tasks.append({
                "id": f"{self._task_prefix}{index:08x}{k:02x}", "name": name,
                "assignee": {"id": official.id, "fullname": official.fullname},
                "position": position, "department": department, "startDate": dates[start],
                "endDate": None if end is None else dates[end], "dueDate": format_ms(due),
                "status": {"id": 2 if end is not None else 1, "name": TASK_STATUS[2 if end is not None else 1]},
            })
        return tasks


def _timings(
    rng: random.Random, procedure: Procedure, method: int, status: int, on_time: float, updated: int, clamp: bool
) -> dict[str, int]:
    """Absolute instants (epoch ms) of a dossier's life, the last of them being ``updated``."""
    if method == 2:
        received = rng.uniform(0.5, 26) * _HOUR
    elif method == 3:
        received = rng.uniform(1, 3) * MS_PER_DAY
    else:
        received = rng.uniform(5, 40) * 60_000
    appointment = received + working_days_to_ms(procedure.processing_days) + rng.uniform(0, 2) * _HOUR
    span = appointment - received
    if rng.random() < on_time:
        completed = received + span * rng.uniform(0.35, 0.97)
    else:
        completed = appointment + rng.uniform(0.1, 8) * MS_PER_DAY
    review_start = received + rng.uniform(10, 240) * 60_000
    review_end = review_start + (completed - review_start) * rng.uniform(0.5, 0.85)
    returned = completed + rng.uniform(0.05, 4) * MS_PER_DAY
    midway = received + span * rng.uniform(0.1, 0.8)
    offsets: dict[str, float] = {"applied": 0.0, "received": received}
    if status not in (0, 2):
        offsets.update(accepted=received, appointment=appointment, review_start=review_start)
    last = {
        0: 0.0, 1: received, 2: received, 3: review_start, 4: max(midway, review_start), 5: review_end,
        6: max(midway, review_start), 7: max(midway, review_start), 8: completed, 9: returned,
    }[status]
    if status in (6, 7):
        offsets["review_end"] = last  # the review step ended with the withdrawal / the stop
    if status in (5, 8, 9):
        offsets["review_end"] = review_end
    if status in (8, 9):
        offsets["completed"] = completed
    if status == 9:
        offsets["returned"] = returned
    scale = 1.0
    if clamp and last and updated - last < TIMELINE_START_MS:
        # the first days of the year: compress the story so that it starts in 2025
        scale = (updated - TIMELINE_START_MS) * rng.uniform(0.3, 1.0) / last
    start = updated - last * scale
    # round(), not int(): the last event must land exactly on ``updated``
    out = {k: min(round(start + v * scale), updated) if v <= last else round(start + v * scale)
           for k, v in offsets.items()}
    if "appointment" in out:
        out["appointment"] = max(office_close(out["appointment"]), out["accepted"])
    return out


def _summary(rng: random.Random, name: str, fullname: str, gender: int, applicant_type: int) -> str:
    lowered = name[0].lower() + name[1:]
    roll = rng.random()
    if roll < 0.35:
        return name
    if roll < 0.65:
        return f"Đề nghị {lowered}"
    if applicant_type == 1:
        return f"Hồ sơ {lowered} của {'ông' if gender == 1 else 'bà'} {fullname}"
    return f"Hồ sơ {lowered} của {fullname}"
