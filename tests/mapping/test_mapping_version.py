"""A compiled route's version: the hash of its YAML and of every file it references."""

from __future__ import annotations

import re
from pathlib import Path

from lienthong.mapping import load_route


def version_of(mappings: Path, name: str = "dossier_sync") -> str:
    return load_route(name, mappings).compile().version


def test_version_is_a_stable_sha256(shipped_mappings: Path) -> None:
    version = version_of(shipped_mappings)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", version)
    assert version_of(shipped_mappings) == version


def test_version_changes_when_a_referenced_code_list_changes(shipped_mappings: Path) -> None:
    before = {
        name: version_of(shipped_mappings, name) for name in ("dossier_sync", "birth_bhyt", "catalogue_sync")
    }
    status = shipped_mappings / "codelists" / "motcua_status.csv"
    status.write_text(status.read_text("utf-8").replace("9,Đã trả kết quả,10", "9,Đã trả kết quả,9"), "utf-8")
    assert version_of(shipped_mappings, "dossier_sync") != before["dossier_sync"]
    # routes that do not reference that code list keep their version
    assert version_of(shipped_mappings, "birth_bhyt") == before["birth_bhyt"]
    assert version_of(shipped_mappings, "catalogue_sync") == before["catalogue_sync"]


def test_version_changes_with_the_yaml_and_with_a_schema(shipped_mappings: Path) -> None:
    before = version_of(shipped_mappings)
    route = shipped_mappings / "dossier_sync.yaml"
    route.write_text(
        route.read_text("utf-8").replace('schedule: "*/10 * * * *"', 'schedule: "*/5 * * * *"'), "utf-8"
    )
    after_yaml = version_of(shipped_mappings)
    assert after_yaml != before
    schema = shipped_mappings / "schemas" / "dvcqg_tiendo.json"
    schema.write_text(schema.read_text("utf-8").replace('"maxLength": 100', '"maxLength": 150'), "utf-8")
    assert version_of(shipped_mappings) != after_yaml


def test_version_ignores_files_the_route_does_not_reference(shipped_mappings: Path) -> None:
    before = version_of(shipped_mappings)
    (shipped_mappings / "codelists" / "unrelated.csv").write_text("a,b\n1,2\n", "utf-8")
    (shipped_mappings / "targets" / "dvcqg.yaml").write_text("target: dvcqg\n# edited\n", "utf-8")
    assert version_of(shipped_mappings) == before


def test_referenced_files_are_listed(shipped_mappings: Path) -> None:
    compiled = load_route("dossier_sync", shipped_mappings).compile()
    assert compiled.referenced_files == (
        "codelists/motcua_status.csv",
        "codelists/procedure_codes.csv",
        "codelists/task_status.csv",
        "schemas/dvcqg_hoso.json",
        "schemas/dvcqg_tiendo.json",
    )
