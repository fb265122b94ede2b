"""Helpers for the mapping-engine tests: small routes written to a temporary mappings directory."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from mapping_helpers import MAPPINGS, TODAY, base_route

from lienthong.mapping import CompiledRoute, Route, load_route


@pytest.fixture
def mappings_dir(tmp_path: Path) -> Path:
    """An empty mappings directory with the two target definitions and a code list."""
    folder = tmp_path / "mappings"
    (folder / "targets").mkdir(parents=True)
    (folder / "codelists").mkdir()
    (folder / "schemas").mkdir()
    for target in ("dvcqg", "bhxh"):
        (folder / "targets" / f"{target}.yaml").write_text(f"target: {target}\n", "utf-8")
    (folder / "codelists" / "status.csv").write_text(
        "# a comment line\nid,name,code\n0,Mới,1\n3,Đang xử lý,4\n", "utf-8"
    )
    return folder


@pytest.fixture
def write_route(mappings_dir: Path) -> Callable[..., Path]:
    """Write a route (a dict, or YAML text) as ``<name>.yaml``; returns the file."""

    def write(route: dict[str, Any] | str, name: str = "sample") -> Path:
        text = route if isinstance(route, str) else yaml.safe_dump(route, allow_unicode=True, sort_keys=False)
        path = mappings_dir / f"{name}.yaml"
        path.write_text(text, "utf-8")
        return path

    return write


@pytest.fixture
def compile_route(write_route: Callable[..., Path], mappings_dir: Path) -> Callable[..., CompiledRoute]:
    """Write, load and compile a route built from :func:`base_route` with ``overrides``."""

    def build(**overrides: Any) -> CompiledRoute:
        route: Route = load_route(write_route(base_route(**overrides)), mappings_dir)
        return route.compile(now=lambda: TODAY)

    return build


@pytest.fixture
def shipped_mappings(tmp_path: Path) -> Path:
    """A copy of the repository's mappings/ (tests may edit it)."""
    folder = tmp_path / "shipped"
    shutil.copytree(MAPPINGS, folder)
    return folder
