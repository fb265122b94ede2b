"""Whatever a source sends, mapping ends in a payload, a filter reason or a MappingError: never a crash.

Fixture records are mutated at random (values replaced by other JSON types, emptied, deleted), with a
fixed seed, and pushed through the three shipped routes.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from mapping_helpers import MAPPINGS, TODAY, fixture_record

from lienthong.errors import MappingError
from lienthong.mapping import load_routes

ODD_VALUES: list[Any] = [None, "", " ", 0, -1, 1.5, True, [], {}, [1, "a"], {"x": 1}, "không phải số", "9" * 40,
                         "2025-13-45T99:99:99+0700", "31/02/2025", "+84", "\u0301"]  # fmt: skip


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutate(record: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    record = copy.deepcopy(record)
    for _ in range(rng.randint(1, 4)):
        path = rng.choice(_paths(record))
        parent = record
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and rng.random() < 0.2:
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
    return record


@pytest.mark.parametrize("seed", range(3))
def test_random_mutations_never_crash(seed: int) -> None:
    rng = random.Random(seed)
    routes = {name: route.compile(now=lambda: TODAY) for name, route in load_routes(MAPPINGS).items()}
    bases = {"dossier_sync": ["dossier_normal", "dossier_birth", "dossier_messy"],
             "birth_bhyt": ["dossier_birth"], "catalogue_sync": ["procedure"]}  # fmt: skip
    outcomes = {"mapped": 0, "filtered": 0, "error": 0}
    for name, fixtures in bases.items():
        route = routes[name]
        for _ in range(120):
            base = fixture_record(rng.choice(fixtures))
            if rng.random() < 0.5:  # reach inside the eForm too: mutate the parsed record
                base = route.prepare(base)
            raw = _mutate(base, rng)
            try:
                record = route.prepare(raw)
                selected, _ = route.select(record)
                if not selected:
                    outcomes["filtered"] += 1
                    continue
                route.map(record)
                outcomes["mapped"] += 1
            except MappingError as error:
                assert error.errors and error.route == name
                outcomes["error"] += 1
    assert outcomes["mapped"] and outcomes["error"]
