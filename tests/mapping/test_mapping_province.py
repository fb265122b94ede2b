"""A second province, configured by editing files only: other status ids, another eForm layout and
date format. The payloads must come out the same as with the shipped configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mapping_helpers import TODAY, fixture_record

from lienthong.mapping import load_route

# This province numbers its statuses 10..19, calls the form "khaiSinh" and writes dates as yyyy-MM-dd.
STATUS_SHIFT = 10


def _reformat(day: str) -> str:
    d, m, y = day.split("/")
    return f"{y}-{m}-{d}"


def _other_province_record(raw: dict[str, Any]) -> dict[str, Any]:
    raw = json.loads(json.dumps(raw))
    raw["dossierStatus"]["id"] += STATUS_SHIFT
    if raw.get("eForm"):
        form = json.loads(raw["eForm"])["hoTich"]
        form["treEm"]["ngaySinh"] = _reformat(form["treEm"]["ngaySinh"])
        form["giayChungSinh"]["ngayCap"] = _reformat(form["giayChungSinh"]["ngayCap"])
        raw["eForm"] = json.dumps({"khaiSinh": form}, ensure_ascii=False)
    return raw


def _edit_files(folder: Path) -> None:
    status = folder / "codelists" / "motcua_status.csv"
    lines = status.read_text("utf-8").splitlines()
    edited = [
        line
        if line.startswith("#") or line.startswith("id,")
        else f"{int(line.split(',')[0]) + STATUS_SHIFT},{line.split(',', 1)[1]}"
        for line in lines
    ]
    status.write_text("\n".join(edited) + "\n", "utf-8")
    (folder / "codelists" / "birth_ready_statuses.csv").write_text(
        "id,name\n18,Đã có kết quả\n19,Đã trả kết quả\n", "utf-8"
    )
    route = folder / "birth_bhyt.yaml"
    text = (
        route.read_text("utf-8")
        .replace("eForm.hoTich.", "eForm.khaiSinh.")
        .replace('input: "%d/%m/%Y"', 'input: "%Y-%m-%d"')
    )
    route.write_text(text, "utf-8")


def test_second_province_by_editing_files_only(shipped_mappings: Path, tmp_path: Path) -> None:
    expected = {}
    for name in ("dossier_sync", "birth_bhyt"):
        route = load_route(name, shipped_mappings).compile(now=lambda: TODAY)
        expected[name] = route.map(route.prepare(fixture_record("dossier_birth")))
    _edit_files(shipped_mappings)
    for name in ("dossier_sync", "birth_bhyt"):
        route = load_route(name, shipped_mappings).compile(now=lambda: TODAY)
        record = route.prepare(_other_province_record(fixture_record("dossier_birth")))
        assert route.select(record) == (True, None)
        assert route.map(record) == expected[name]
