"""The core path on the production store: PostgreSQL at 127.0.0.1:5432."""

from __future__ import annotations

import pytest

from lienthong import states
from tests.conftest import _reset_pg
from tests.integration.conftest import received

pytestmark = pytest.mark.postgres


@pytest.fixture()
def store_url(pg_database):
    from lienthong.store import Store

    Store(pg_database).dispose()
    _reset_pg(pg_database)
    return pg_database


@pytest.mark.motcua(mess_rate=0.1)
def test_every_route_on_postgresql(cluster, gateway):
    assert gateway.store.is_postgres
    summaries = {name: gateway.run(name) for name in ("catalogue_sync", "dossier_sync", "birth_bhyt")}
    for summary in summaries.values():
        assert summary.checks() == []
        assert summary.rows[states.ACKNOWLEDGED] > 0
    portal = received(cluster.dvcqg)
    dossier = summaries["dossier_sync"]
    assert len(portal["dossiers"]) == dossier.transform.mapped
    assert all(entry["writes"] == 1 and entry["repeats"] == 0 for entry in portal["dossiers"].values())
    assert len(received(cluster.bhxh)["registrations"]) == summaries["birth_bhyt"].rows[states.ACKNOWLEDGED]
    again = gateway.run("dossier_sync")
    assert again.extract.pulled == 0 and again.deliver.calls == 0
