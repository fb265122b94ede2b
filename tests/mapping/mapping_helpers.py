"""Helpers shared by the mapping-engine tests (a module with a unique name: ``conftest`` is not importable
unambiguously when several folders have one)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "mappings"
FIXTURES = REPO / "tests" / "fixtures"
#: The day the tests pretend it is (Vietnam time), for age_under_years.
TODAY = datetime(2025, 6, 1, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def fixture_record(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))


def base_route(**overrides: Any) -> dict[str, Any]:
    """A minimal valid route; ``overrides`` replace top-level keys."""
    route: dict[str, Any] = {
        "route": "sample",
        "schedule": None,
        "source": {"connection": "motcua", "resource": "dossiers", "key": "code"},
        "target": {"name": "dvcqg", "operation": "DongBoHoSoMC", "key": "MaHoSo"},
        "fields": {"MaHoSo": "code"},
    }
    route.update(overrides)
    return route
