"""Declarative vs hand-written dossier mapping, measured side by side in one run.

The question this answers: what does the declarative layer (``mappings/dossier_sync.yaml`` compiled by
``lienthong.mapping``) cost compared with the same mapping written by hand in plain Python? Both map the
same generated dossiers (varied from ``tests/fixtures``: names, NFD text, phone forms, dates, statuses,
tasks, attachments, fees) to the same payloads; the run first checks that they produce identical
results for every record, then times them in interleaved repetitions (so drift of the machine's speed
hits all of them) and prints the medians and ratios of three pairs:

1. the shipped route (which also checks every payload against ``schemas/dvcqg_hoso.json`` and
   ``dvcqg_tiendo.json``) vs the hand-written mapper followed by the same checks written as ``if``s;
2. the route without its schemas vs the hand-written mapper alone;
3. the same, against a hand-written mapper that also uses the engine's date-formatting shortcut, to
   show how much of the result is the declarative layer itself.

    .venv/bin/python -m bench.bench_mapping [--records 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import random
import re
import statistics
import tempfile
import time
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from lienthong.mapping import CompiledRoute, load_route

ROOT = Path(__file__).resolve().parent.parent
MAPPINGS = ROOT / "mappings"
FIXTURES = ROOT / "tests" / "fixtures"

SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ"]
MIDDLE = ["Thị", "Văn", "Minh", "Ngọc", "Hoàng", "Thanh", "Quốc", "Thu"]
GIVEN = ["Hạnh", "Bình", "Khang", "Lan", "Trang", "Dũng", "Phương", "Ánh", "Tùng", "Yến"]


# --- the data ------------------------------------------------------------------------------------------
def generate(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` valid dossiers varied from the fixtures (about 3% NFD, a third with a +84/84 phone)."""
    rng = random.Random(seed)
    bases = [
        json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
        for name in ("dossier_normal", "dossier_birth")
    ]
    records = []
    for index in range(count):
        record = copy.deepcopy(bases[index % 2])
        day = 1 + index % 28
        record["id"] = f"{index:024x}"
        record["code"] = f"000.00.12.H07-2501{day:02d}-{index % 10000:04d}"
        record["applicant"]["data"]["fullname"] = (
            f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
        )
        record["applicant"]["data"]["identityNumber"] = f"083{rng.randrange(10**9):09d}"
        phone = f"9{rng.randrange(10**8):08d}"
        record["applicant"]["data"]["phoneNumber"] = rng.choice([f"0{phone}", f"+84{phone}", f"84{phone}"])
        record["dossierStatus"]["id"] = rng.randrange(10)
        record["applyMethod"]["id"] = rng.randint(1, 3)
        for field in ("appliedDate", "acceptedDate", "appointmentDate", "completedDate"):
            if record[field] and rng.random() < 0.9:
                record[field] = (
                    f"2025-01-{day:02d}T{rng.randrange(7, 18):02d}:{rng.randrange(60):02d}:00.000+0700"
                )
            elif field != "appliedDate":
                record[field] = None
        record["summary"] = record["summary"] * rng.choice([1, 1, 1, 20])
        record["tasks"] = record["tasks"] * rng.randint(1, 3)
        if rng.random() < 0.03:
            record = _nfd(record)
        records.append(record)
    return records


def _nfd(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFD", value)
    if isinstance(value, dict):
        return {key: _nfd(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nfd(item) for item in value]
    return value


# --- the same mapping, by hand -------------------------------------------------------------------------
def handwritten_mapper(
    mappings: Path, fast_dates: bool = False
) -> Callable[[dict[str, Any]], tuple[str, dict[str, Any], dict[str, Any]]]:
    """dossier_sync written the way one would without the engine (code lists read from the same CSVs).

    ``fast_dates`` gives it the engine's own date trick (no conversion of a time already at +07:00, a
    ``%``-template instead of ``strftime``), to show how much of the result is the declarative layer
    itself and how much the engine's faster date formatting.
    """

    def table(name: str, source: str, target: str) -> dict[str, str]:
        lines = [
            line
            for line in (mappings / "codelists" / name).read_text("utf-8").splitlines()
            if not line.startswith("#")
        ]
        return {row[source]: row[target] for row in csv.DictReader(lines)}

    statuses = table("motcua_status.csv", "id", "TrangThaiHoSo")
    task_statuses = table("task_status.csv", "id", "TrangThai")
    national = table("procedure_codes.csv", "code", "nationCode")
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    non_digits = re.compile(r"[^0-9]")
    separators = re.compile(r"[\s.\-()]")

    def text(value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        if not value.isascii():
            value = unicodedata.normalize("NFC", value)
        value = value.strip()
        return value or None

    vietnam = timedelta(hours=7)

    def when(value: Any) -> str | None:
        if not value:
            return None
        return datetime.fromisoformat(value).astimezone(zone).strftime("%Y%m%d%H%M%S")

    def when_fast(value: Any) -> str | None:
        if not value:
            return None
        moment = datetime.fromisoformat(value)
        if moment.utcoffset() != vietnam:
            moment = moment.astimezone(zone)
        return "%04d%02d%02d%02d%02d%02d" % (  # noqa: UP031 - the fast form, on purpose
            moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second,
        )  # fmt: skip

    if fast_dates:
        when = when_fast  # noqa: F811

    def phone(value: Any) -> str | None:
        if not value:
            return None
        digits = separators.sub("", str(value))
        if digits.startswith("+84"):
            digits = digits[3:]
        elif digits.startswith("84") and len(digits) == 11:
            digits = digits[2:]
        elif digits.startswith("0"):
            digits = digits[1:]
        if len(digits) != 9 or not digits.isdigit():
            raise ValueError("SoDienThoai: not a valid phone number")
        return "0" + digits

    def put(out: dict[str, Any], name: str, value: Any) -> None:
        if value is not None and value != "" and value != []:
            out[name] = value

    def map_dossier(record: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        procedure = record.get("procedure") or {}
        sector = record.get("sector") or {}
        agency = record.get("agency") or {}
        applicant = (record.get("applicant") or {}).get("data") or {}
        out: dict[str, Any] = {}
        put(out, "MaHoSo", text(record.get("code")))
        put(out, "MaTTHC", procedure.get("nationCode") or national[procedure["code"]])
        put(out, "TenTTHC", text(procedure.get("name")))
        put(out, "MaLinhVuc", text(sector.get("code")))
        put(out, "TenLinhVuc", text(sector.get("name")))
        channel = str(record["applyMethod"]["id"])
        if channel not in ("1", "2", "3"):
            raise ValueError("KenhThucHien: not one of the allowed values")
        out["KenhThucHien"] = channel
        put(out, "ChuHoSo", text(applicant.get("fullname")))
        kind = str(record["applicantType"])
        if kind not in ("1", "2", "3", "4"):
            raise ValueError("LoaiDoiTuong: not one of the allowed values")
        out["LoaiDoiTuong"] = kind
        identity = applicant.get("identityNumber")
        put(out, "MaDoiTuong", text(identity))
        put(out, "SoDienThoai", phone(applicant.get("phoneNumber")))
        email = text(applicant.get("email"))
        put(out, "Email", email.lower() if email else None)
        summary = text(record.get("summary"))
        put(out, "TrichYeuHoSo", summary[:1000] if summary else None)
        put(out, "NgayNopHoSo", when(record.get("appliedDate")))
        put(out, "NgayTiepNhan", when(record.get("acceptedDate") or record.get("appliedDate")))
        put(out, "NgayHenTra", when(record.get("appointmentDate")))
        put(out, "NgayKetThucXuLy", when(record.get("completedDate")))
        put(out, "NgayTra", when(record.get("returnedDate")))
        out["TrangThaiHoSo"] = statuses[str(record["dossierStatus"]["id"])]
        put(out, "DonViXuLy", text(agency.get("name")))
        if identity:
            number = non_digits.sub("", identity)
            if len(number) != 12:
                raise ValueError(f"DinhDanhCHS[0].SoDinhDanh: expected 12 characters, got {len(number)}")
            out["DinhDanhCHS"] = [{"LoaiDinhDanh": "1", "SoDinhDanh": number}]
        files = []
        for item in record.get("attachments") or []:
            entry: dict[str, Any] = {}
            put(entry, "TepDinhKemId", str(item["id"]) if item.get("id") else None)
            put(entry, "TenTepDinhKem", text(item.get("filename")))
            put(entry, "DuongDanTaiTepTin", text(item.get("url")))
            put(entry, "MaThanhPhanHoSo", item.get("procedureFileCode"))
            files.append(entry)
        put(out, "TaiLieuNop", files)
        fees = []
        for item in record.get("fees") or []:
            entry = {}
            put(entry, "MaPhiLePhi", item.get("code"))
            put(entry, "TenPhiLePhi", text(item.get("name")))
            put(entry, "Gia", item.get("amount"))
            fees.append(entry)
        put(out, "DanhSachLePhi", fees)
        progress = []
        for task in record.get("tasks") or []:
            step: dict[str, Any] = {"MaHoSo": out["MaHoSo"]}
            name = text((task.get("assignee") or {}).get("fullname"))
            put(step, "NguoiXuLy", name[:50] if name else None)
            put(step, "ChucDanh", text(task.get("position")))
            put(step, "ThoiDiemXuLy", when(task.get("endDate") or task.get("startDate")))
            put(step, "PhongBanXuLy", text(task.get("department")))
            put(step, "NoiDungXuLy", text(task.get("name")))
            step["TrangThai"] = task_statuses[str(task["status"]["id"])]
            put(step, "NgayBatDau", when(task.get("startDate")))
            put(step, "NgayKetThucTheoQuyDinh", when(task.get("dueDate")))
            progress.append(step)
        return out["MaHoSo"], out, {"progress": progress}

    return map_dossier


# --- the same target checks, by hand ----------------------------------------------------------------------
MA_HO_SO = re.compile(r"[0-9A-Za-z.]{3,40}-[0-9]{6}-[0-9]{4,6}")
DATE14 = re.compile(r"[0-9]{14}")
HOSO_REQUIRED = (
    "MaHoSo",
    "MaTTHC",
    "TenTTHC",
    "KenhThucHien",
    "ChuHoSo",
    "LoaiDoiTuong",
    "NgayTiepNhan",
    "TrangThaiHoSo",
)
HOSO_TEXT = {
    "MaHoSo": 50,
    "MaTTHC": 20,
    "TenTTHC": 1000,
    "MaLinhVuc": 50,
    "TenLinhVuc": 500,
    "ChuHoSo": 250,
    "MaDoiTuong": 50,
    "SoDienThoai": 15,
    "Email": 100,
    "TrichYeuHoSo": 1000,
    "DonViXuLy": 500,
}
HOSO_CODES = {
    "KenhThucHien": {"1", "2", "3"},
    "LoaiDoiTuong": {"1", "2", "3", "4"},
    "TrangThaiHoSo": {str(code) for code in range(1, 11)},
}
HOSO_DATES = ("NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra")
TIENDO_TEXT = {"MaHoSo": 50, "NguoiXuLy": 50, "ChucDanh": 100, "PhongBanXuLy": 250, "NoiDungXuLy": 2000}
TIENDO_DATES = ("ThoiDiemXuLy", "NgayBatDau", "NgayKetThucTheoQuyDinh")
TIENDO_REQUIRED = ("MaHoSo", "NguoiXuLy", "ThoiDiemXuLy", "TrangThai")


def check_hoso(dossier: dict[str, Any]) -> list[str]:
    """What schemas/dvcqg_hoso.json checks, written as plain ``if``s."""
    problems = [f"{name}: required" for name in HOSO_REQUIRED if name not in dossier]
    for name, limit in HOSO_TEXT.items():
        value = dossier.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            problems.append(f"{name}: too long")
    for name, allowed in HOSO_CODES.items():
        if name in dossier and dossier[name] not in allowed:
            problems.append(f"{name}: not in the code list")
    for name in HOSO_DATES:
        if name in dossier and not DATE14.fullmatch(dossier[name]):
            problems.append(f"{name}: not yyyyMMddHHmmss")
    if not MA_HO_SO.fullmatch(dossier.get("MaHoSo", "")):
        problems.append("MaHoSo: pattern")
    if not re.fullmatch(r"[0-9]\.[0-9]{6}", dossier.get("MaTTHC", "")):
        problems.append("MaTTHC: pattern")
    if "SoDienThoai" in dossier and not re.fullmatch(r"0[0-9]{9,10}", dossier["SoDienThoai"]):
        problems.append("SoDienThoai: pattern")
    if "Email" in dossier and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", dossier["Email"]):
        problems.append("Email: pattern")
    for item in dossier.get("DinhDanhCHS", []):
        if item.get("LoaiDinhDanh") not in ("1", "2", "3") or not re.fullmatch(
            r"[0-9A-Za-z]+", item.get("SoDinhDanh", "")
        ):
            problems.append("DinhDanhCHS: invalid")
    for item in dossier.get("TaiLieuNop", []):
        if not item.get("TenTepDinhKem") or not re.fullmatch(
            r"https?://\S+", item.get("DuongDanTaiTepTin", "")
        ):
            problems.append("TaiLieuNop: invalid")
    for item in dossier.get("DanhSachLePhi", []):
        if not item.get("TenPhiLePhi") or not isinstance(item.get("Gia"), int | float) or item["Gia"] < 0:
            problems.append("DanhSachLePhi: invalid")
    return problems


def check_tiendo(step: dict[str, Any]) -> list[str]:
    """What schemas/dvcqg_tiendo.json checks, written as plain ``if``s."""
    problems = [f"{name}: required" for name in TIENDO_REQUIRED if name not in step]
    for name, limit in TIENDO_TEXT.items():
        value = step.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            problems.append(f"{name}: too long")
    for name in TIENDO_DATES:
        if name in step and not DATE14.fullmatch(step[name]):
            problems.append(f"{name}: not yyyyMMddHHmmss")
    if step.get("TrangThai") not in HOSO_CODES["TrangThaiHoSo"]:
        problems.append("TrangThai: not in the code list")
    if not MA_HO_SO.fullmatch(step.get("MaHoSo", "")):
        problems.append("MaHoSo: pattern")
    return problems


def handwritten_checked(
    mappings: Path,
) -> Callable[[dict[str, Any]], tuple[str, dict[str, Any], dict[str, Any]]]:
    """The hand-written mapper followed by the hand-written target checks (refusing like the route)."""
    map_dossier = handwritten_mapper(mappings)

    def run(record: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        key, dossier, followups = map_dossier(record)
        problems = check_hoso(dossier)
        for step in followups["progress"]:
            problems += check_tiendo(step)
        if problems:
            raise ValueError("; ".join(problems))
        return key, dossier, followups

    return run


# --- the run ---------------------------------------------------------------------------------------------
def route_without_schema(workdir: Path) -> CompiledRoute:
    """dossier_sync with its schema checks removed (a copy of mappings/ in ``workdir``)."""
    import shutil

    copy_dir = workdir / "mappings"
    shutil.copytree(MAPPINGS, copy_dir)
    route_file = copy_dir / "dossier_sync.yaml"
    raw = yaml.safe_load(route_file.read_text("utf-8"))
    raw["target"].pop("schema", None)
    for followup in raw.get("followups", []):
        followup["target"].pop("schema", None)
    route_file.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "utf-8")
    return load_route(route_file).compile()


def declarative(
    compiled: CompiledRoute,
) -> Callable[[dict[str, Any]], tuple[str, dict[str, Any], dict[str, Any]]]:
    prepare, map_record = compiled.prepare, compiled.map

    def run(record: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        mapped = map_record(prepare(record))
        return mapped.key, mapped.payload, mapped.followups

    return run


def timed(mapper: Callable[[dict[str, Any]], Any], records: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    for record in records:
        mapper(record)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    records = generate(args.records)
    with tempfile.TemporaryDirectory() as workdir:
        mappers = {
            "declarative, shipped route (mapping + schema checks)": declarative(
                load_route(MAPPINGS / "dossier_sync.yaml").compile()
            ),
            "hand-written, mapping + the same checks": handwritten_checked(MAPPINGS),
            "declarative, route without its schemas": declarative(route_without_schema(Path(workdir))),
            "hand-written, mapping only": handwritten_mapper(MAPPINGS),
            "hand-written, mapping only, engine's date formatting": handwritten_mapper(
                MAPPINGS, fast_dates=True
            ),
        }
    names = list(mappers)
    pairs = [(names[0], names[1]), (names[2], names[3]), (names[2], names[4])]
    for record in records:  # the comparison is only fair if the outputs are the same
        expected = mappers[names[3]](record)
        for name in (*names[:3], names[4]):
            if mappers[name](record) != expected:
                raise SystemExit(f"{name!r} and the hand-written mapper disagree on record {record['code']}")

    times: dict[str, list[float]] = {name: [] for name in names}
    for repetition in range(args.repeat):
        order = names if repetition % 2 == 0 else list(reversed(names))
        for name in order:
            times[name].append(timed(mappers[name], records))

    print(f"dossier_sync mapping, {len(records):,} records, {args.repeat} interleaved repetitions (median):")
    ratios = {}
    for declared, hand in pairs:
        for name in (declared, hand):
            median = statistics.median(times[name])
            print(f"  {name:<60} {median:7.3f} s  {median / len(records) * 1e6:6.1f} µs/record")
        ratios[hand] = statistics.median(times[declared]) / statistics.median(times[hand])
        print(f"  {'ratio declarative / hand-written':<60} {ratios[hand]:7.2f}x")
    return ratios


if __name__ == "__main__":
    main()
