"""No call of the gateway follows a redirect (issue 16, finding 1).

Each connector talks to a hostile front of a real simulator that answers one kind of call with a
redirect (301, 302, 303, 307, 308) to a collector under another host name.  Nothing may reach the
collector (no client secret, portal password, WS-Security password, session token or record), the
call fails with an error naming the status and the Location's host, and no row is acknowledged.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from connectors.motcua import MotcuaSource
from connectors.retry import RetryPolicy
from connectors.targets import Delivery, open_target
from lienthong.connections import connection_json, parse_connection
from lienthong.errors import RetriableError
from lienthong.settings import PACKAGE_ROOT
from lienthong.store.models import OutboxRow
from simulators.bhxh import DEFAULT_PASSWORD, DEFAULT_USERNAME, BhxhSimulator
from simulators.dvcqg import DvcqgApp
from simulators.motcua import MotcuaApp
from simulators.server import RunningSimulator
from tests.connectors.test_rest_target import hoso
from tests.connectors.test_soap_target import registration
from tests.security.hostile import Collector, Hostile, Reply, redirect

MAPPINGS = PACKAGE_ROOT / "mappings"
STATUSES = [301, 302, 303, 307, 308]


@pytest.fixture(scope="module")
def collector():
    with Collector() as running:
        yield running


@pytest.fixture(scope="module")
def sims():
    with (
        RunningSimulator(MotcuaApp(total=30, mess_rate=0.0, seed=5)) as motcua,
        RunningSimulator(DvcqgApp()) as dvcqg,
        RunningSimulator(BhxhSimulator(seed=3, today="20250615")) as bhxh,
    ):
        yield {"motcua": motcua, "dvcqg": dvcqg, "bhxh": bhxh}


def _redirecting(upstream: str, path_part: str, status: int, to: str) -> Hostile:
    return Hostile(
        lambda r: redirect(status, to + r.path) if path_part in r.path else None, upstream=upstream
    )


def _assert_refused(error: BaseException, status: int, collector: Collector) -> None:
    text = str(error)
    assert f"HTTP {status}" in text and f"localhost:{collector.port}" in text, text
    assert "never followed" in text
    assert collector.requests == []


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("where", ["openid-connect/token", "/pa/dossier/search"])
def test_the_source_follows_no_redirect(sims, collector, status, where):
    with _redirecting(sims["motcua"].url, where, status, f"http://localhost:{collector.port}") as front:
        source = MotcuaSource(
            parse_connection("motcua", connection_json(front.url, "lienthong-demo", "demo-secret-motcua")),
            retry=RetryPolicy(in_call_attempts=1),
        )
        try:
            with pytest.raises(RetriableError) as caught:
                next(source.pages("dossiers"))
        finally:
            source.close()
    _assert_refused(caught.value, status, collector)
    assert "demo-secret-motcua" not in str(caught.value)


def _portal_env(monkeypatch, url: str) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_DVCQG",
        connection_json(url, "lienthong-demo", "demo-secret-dvcqg", dstcode="83", madonvi="000.00.00.H07"),
    )


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("where", ["/api/login", "/api/service"])
def test_the_rest_target_follows_no_redirect_and_acknowledges_nothing(
    sims, collector, monkeypatch, status, where
):
    with _redirecting(sims["dvcqg"].url, where, status, f"http://localhost:{collector.port}") as front:
        _portal_env(monkeypatch, front.url)
        target = open_target("dvcqg", MAPPINGS)
        try:
            with pytest.raises(RetriableError) as caught:
                target.send("DongBoHoSoMC", [Delivery(1, "k1", hoso(1), False)])
        finally:
            target.close()
    _assert_refused(caught.value, status, collector)


@pytest.mark.parametrize("status", STATUSES)
def test_the_soap_target_follows_no_redirect(sims, collector, monkeypatch, status):
    # The WSDL (GET) comes from the real registry; the SOAP call (POST) meets the redirect.
    to = f"http://localhost:{collector.port}"
    script = lambda r: redirect(status, to + r.path) if r.method == "POST" else None  # noqa: E731
    with Hostile(script, upstream=sims["bhxh"].url) as front:
        monkeypatch.setenv(
            "AIRFLOW_CONN_BHXH", connection_json(front.url, DEFAULT_USERNAME, DEFAULT_PASSWORD)
        )
        target = open_target("bhxh", MAPPINGS)
        try:
            with pytest.raises(RetriableError) as caught:
                target.send("DangKyTheBHYTTreEm", [Delivery(1, "LT-1", registration("LT-1"), False)])
        finally:
            target.close()
    _assert_refused(caught.value, status, collector)


@pytest.mark.parametrize("status", [302, 307])
def test_the_wsdl_download_follows_no_redirect(sims, collector, monkeypatch, status):
    with Hostile(lambda r: redirect(status, f"http://localhost:{collector.port}/evil.wsdl")) as front:
        monkeypatch.setenv(
            "AIRFLOW_CONN_BHXH", connection_json(front.url, DEFAULT_USERNAME, DEFAULT_PASSWORD)
        )
        with pytest.raises(RetriableError) as caught:
            open_target("bhxh", MAPPINGS)
    _assert_refused(caught.value, status, collector)
    assert "WSDL" in str(caught.value)


@pytest.mark.motcua(total=12)
@pytest.mark.parametrize("status", [302, 307])
def test_a_route_run_behind_a_redirecting_portal_acknowledges_nothing(
    cluster, gateway, collector, monkeypatch, status
):
    """End to end: the rows stay unacknowledged, the attempts are counted, nothing reaches the collector."""
    good = json.loads(cluster.connection_env()["AIRFLOW_CONN_DVCQG"])
    with _redirecting(
        cluster.dvcqg.url, "/api/service", status, f"http://localhost:{collector.port}"
    ) as front:
        monkeypatch.setenv("AIRFLOW_CONN_DVCQG", json.dumps({**good, "host": front.url}))
        summary = gateway.run("dossier_sync", wait_for_retries=0)
    with gateway.store.session() as session:
        states = dict(session.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state)).all())
        attempts = session.execute(
            select(func.min(OutboxRow.attempts)).where(OutboxRow.state == "retry_scheduled")
        ).scalar_one()
    assert states.get("acknowledged", 0) == 0 and states.get("dead", 0) == 0
    # The failed attempts count (towards the budget and the breaker); the rows behind them wait.
    assert states.get("retry_scheduled", 0) > 0 and attempts >= 1
    assert collector.requests == []
    assert summary.deliver is not None and summary.deliver.outcomes.get("acknowledged", 0) == 0


@pytest.mark.parametrize("status", STATUSES)
def test_a_rest_target_without_answer_codes_acknowledges_no_redirect(
    tmp_path, collector, monkeypatch, status
):
    """With no ``response`` section the HTTP status alone decides: a 3xx must not read as success."""
    folder = tmp_path / "mappings"
    (folder / "targets").mkdir(parents=True)
    (folder / "targets" / "bare.yaml").write_text(
        "target: bare\nkind: rest\nconnection: bare\nrequest: {method: POST, path: /in}\n"
        "operations: {put: {batch_size: 2}}\n",
        encoding="utf-8",
    )
    answers = {"/in": redirect(status, f"http://localhost:{collector.port}/in")}
    with Hostile(lambda r: answers.get(r.path)) as front:
        monkeypatch.setenv("AIRFLOW_CONN_BARE", connection_json(front.url))
        target = open_target("bare", folder)
        try:
            with pytest.raises(RetriableError) as caught:
                target.send("put", [Delivery(1, "a", {"n": 1}, False), Delivery(2, "b", {"n": 2}, False)])
            answers["/in"] = Reply(200, b"")
            assert [r.ok for r in target.send("put", [Delivery(3, "c", {"n": 3}, False)])] == [True]
        finally:
            target.close()
    _assert_refused(caught.value, status, collector)
