"""Integration fixtures: the three simulators on loopback and a gateway pointed at them."""

from __future__ import annotations

import pytest
import requests

from lienthong.pipeline.runner import Gateway
from lienthong.settings import PACKAGE_ROOT, Settings
from lienthong.store import Store
from simulators.cluster import SimulatorCluster

MAPPINGS = PACKAGE_ROOT / "mappings"


def make_cluster(**motcua) -> SimulatorCluster:
    settings = {"seed": 7, "total": 300, "mess_rate": 0.0, **motcua}
    return SimulatorCluster(motcua_settings=settings)


@pytest.fixture()
def cluster(request):
    marker = request.node.get_closest_marker("motcua")
    with make_cluster(**(marker.kwargs if marker else {})) as running:
        yield running


@pytest.fixture()
def store_url(tmp_path):
    """Integration tests run on SQLite; ``test_engine_postgres.py`` repeats the core path on PostgreSQL."""
    return f"sqlite:///{tmp_path / 'gateway.db'}"


@pytest.fixture()
def gateway(cluster, store_url, tmp_path, monkeypatch):
    for name, value in cluster.connection_env().items():
        monkeypatch.setenv(name, value)
    settings = Settings(data_dir=tmp_path, database_url=store_url, mappings_dir=MAPPINGS)
    gw = Gateway(settings, Store(store_url))
    yield gw
    gw.store.dispose()


def received(sim, **params) -> dict:
    return requests.get(f"{sim.url}/_sim/received", params=params, timeout=30).json()


def pytest_configure(config):
    config.addinivalue_line("markers", "motcua(**settings): settings of the one-stop simulator for this test")
