"""Lifecycle fixtures: the simulators on loopback and a gateway on SQLite and on PostgreSQL.

``store_url`` is the root conftest's: parametrized on both backends, empty at the start of each test.
"""

from __future__ import annotations

import pytest
import requests

from lienthong.pipeline.runner import Gateway
from lienthong.settings import PACKAGE_ROOT, Settings
from lienthong.store import Store
from simulators.cluster import SimulatorCluster

MAPPINGS = PACKAGE_ROOT / "mappings"


@pytest.fixture()
def cluster():
    with SimulatorCluster(
        motcua_settings={"seed": 11, "total": 40, "mess_rate": 0.0, "birth_share": 0.0}
    ) as running:
        yield running


@pytest.fixture()
def gateway(cluster, store_url, tmp_path, monkeypatch):
    for name, value in cluster.connection_env().items():
        monkeypatch.setenv(name, value)
    settings = Settings(data_dir=tmp_path, database_url=store_url, mappings_dir=MAPPINGS)
    gw = Gateway(settings, Store(store_url))
    yield gw
    gw.store.dispose()


def received(sim, **params) -> dict:
    return requests.get(f"{sim.url}/_sim/received", params=params, timeout=60).json()


def sim_post(sim, path: str, body: dict) -> dict:
    answer = requests.post(f"{sim.url}{path}", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()
