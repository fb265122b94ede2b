"""Refused credentials are the operator's problem, not the records': the run fails loudly, no row
dies, and the next run with the right secret delivers everything."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from lienthong.errors import CredentialsRefused
from lienthong.store.models import OutboxRow
from tests.integration.conftest import received


@pytest.mark.motcua(total=40)
def test_a_refused_portal_login_fails_the_run_and_leaves_every_row_pending(cluster, gateway, monkeypatch):
    good = json.loads(cluster.connection_env()["AIRFLOW_CONN_DVCQG"])
    monkeypatch.setenv("AIRFLOW_CONN_DVCQG", json.dumps({**good, "password": "not-the-portal-secret"}))

    with pytest.raises(CredentialsRefused) as refused:
        gateway.run("dossier_sync", wait_for_retries=0)
    assert "not-the-portal-secret" not in str(refused.value)

    with gateway.store.session() as session:
        states = dict(
            session.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state)).all()
        )
    assert states.get("dead", 0) == 0
    assert states.get("pending", 0) > 0
    assert received(cluster.dvcqg, summary=1)["totals"]["dossiers"] == 0

    monkeypatch.setenv("AIRFLOW_CONN_DVCQG", json.dumps(good))
    summary = gateway.run("dossier_sync")
    assert summary.status == "succeeded"
    assert received(cluster.dvcqg, summary=1)["totals"]["dossiers"] == 40
