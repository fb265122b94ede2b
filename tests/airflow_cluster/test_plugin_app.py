"""The status plugin's app through FastAPI's TestClient, with Airflow's real auth manager
(SimpleAuthManager: its JWT signer, validator and revocation list) and a real store with known rows.

Airflow keeps revoked token ids in its metadata database: here a throw-away SQLite holding only that
table (the cluster tier checks the same app through the real API server on PostgreSQL)."""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("airflow")

from fastapi.testclient import TestClient  # noqa: E402

from lienthong.clock import utcnow  # noqa: E402
from lienthong.store.models import OutboxRow, TargetState  # noqa: E402

SECRET = "test-only-jwt-secret-for-the-plugin-app-" + "0123456789abcdef" * 4  # ≥ 64 bytes (HS512)


@pytest.fixture()
def auth_manager(tmp_path, monkeypatch):
    import airflow.settings
    from airflow.api_fastapi import app as airflow_app
    from airflow.api_fastapi.auth.managers.base_auth_manager import BaseAuthManager
    from airflow.models.revoked_token import RevokedToken
    from sqlalchemy import create_engine
    from sqlalchemy.orm import scoped_session, sessionmaker

    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"admin": "pw-admin", "viewer": "pw-viewer"}))
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", SECRET)
    monkeypatch.setenv(
        "AIRFLOW__CORE__AUTH_MANAGER",
        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    )
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,viewer:viewer")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords))
    engine = create_engine(f"sqlite:///{tmp_path / 'airflow-meta.db'}")
    RevokedToken.__table__.create(engine)
    monkeypatch.setattr(airflow.settings, "Session", scoped_session(sessionmaker(bind=engine)))
    for cached in (BaseAuthManager._get_token_signer, BaseAuthManager._get_token_validator):
        cached.__func__.cache_clear()  # they capture the secret on first use
    monkeypatch.setattr(airflow_app._AuthManagerState, "instance", None)
    manager = airflow_app.create_auth_manager()
    manager.init()
    yield manager
    for cached in (BaseAuthManager._get_token_signer, BaseAuthManager._get_token_validator):
        cached.__func__.cache_clear()
    engine.dispose()


def _token(manager, username="admin", role="admin") -> str:  # noqa: ANN001
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return manager.generate_jwt(SimpleAuthManagerUser(username=username, role=role))


@pytest.fixture()
def client(store, auth_manager):
    from lienthong.airflow.plugin import create_app

    now = utcnow()
    rows = []
    for n, state in enumerate(["pending"] * 4 + ["retry_scheduled"] + ["dead"] * 3 + ["acknowledged"] * 6):
        rows.append(
            OutboxRow(
                route="dossier_sync", target="dvcqg", operation="DongBoHoSoMC", record_key=f"K{n}", seq=1,
                payload="{}", payload_hash=f"h{n}", item_count=1, mapping_version="v", state=state,
                idempotency_key=f"k{n}", attempts=0, created_at=now, updated_at=now,
                acknowledged_at=now if state == "acknowledged" else None,
            )
        )  # fmt: skip
    with store.session() as session:
        session.add_all(rows)
        session.add(TargetState(target="dvcqg", breaker="half_open", failures=5, changed_at=now))
    with TestClient(create_app(lambda: store)) as test_client:
        yield test_client


def test_anonymous_calls_are_refused_with_401(client):
    for path in ("/status", "/metrics"):
        answer = client.get(path)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        assert "dvcqg" not in answer.text


def test_a_token_airflow_did_not_sign_is_refused(client, auth_manager):
    import jwt

    good = _token(auth_manager)
    claims = jwt.decode(good, options={"verify_signature": False})
    forged = jwt.encode(
        claims, "another-secret-" + "f" * 64, algorithm=jwt.get_unverified_header(good)["alg"]
    )
    assert client.get("/status", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    assert client.get("/status", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401


def test_expired_and_revoked_tokens_are_refused(client, auth_manager):
    import jwt

    good = _token(auth_manager)
    claims = jwt.decode(good, options={"verify_signature": False})
    claims.update(iat=int(time.time()) - 7200, nbf=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    expired = jwt.encode(claims, SECRET, algorithm=jwt.get_unverified_header(good)["alg"])
    assert client.get("/status", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    assert client.get("/status", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    auth_manager.revoke_token(good)  # what Airflow's logout does
    assert client.get("/status", headers={"Authorization": f"Bearer {good}"}).status_code == 401


def test_status_with_a_token_matches_the_store(client, auth_manager):
    answer = client.get(
        "/status", headers={"Authorization": f"Bearer {_token(auth_manager, 'viewer', 'viewer')}"}
    )
    assert answer.status_code == 200
    body = answer.json()
    dvcqg = body["targets"]["dvcqg"]
    assert dvcqg["backlog"] == 5
    assert dvcqg["backlog_by_state"] == {"pending": 4, "in_flight": 0, "retry_scheduled": 1, "blocked": 0}
    assert dvcqg["dead_letters"] == 3
    assert dvcqg["breaker"] == "half_open"
    assert dvcqg["delivered_per_second"] == pytest.approx(6 / 300, abs=1e-3)
    assert body["dead_letters"] == 3
    assert "reconciliation" in body and "ledger" in body


def test_the_ui_cookie_works_like_the_bearer_token(client, auth_manager):
    client.cookies.set("_token", _token(auth_manager))
    assert client.get("/status").status_code == 200


def test_metrics_in_prometheus_format(client, auth_manager):
    from prometheus_client.parser import text_string_to_metric_families

    answer = client.get("/metrics", headers={"Authorization": f"Bearer {_token(auth_manager)}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }
    assert samples[("lienthong_outbox_backlog", (("state", "pending"), ("target", "dvcqg")))] == 4
    assert samples[("lienthong_outbox_dead", (("target", "dvcqg"),))] == 3
    assert samples[("lienthong_breaker_state", (("target", "dvcqg"),))] == 1


def test_a_store_without_tables_answers_503_without_details(auth_manager, tmp_path):
    from lienthong.airflow.plugin import create_app
    from lienthong.store import Store

    empty = Store(f"sqlite:///{tmp_path / 'empty.db'}", migrate=False)
    with TestClient(create_app(lambda: empty)) as test_client:
        answer = test_client.get("/status", headers={"Authorization": f"Bearer {_token(auth_manager)}"})
    empty.dispose()
    assert answer.status_code == 503
    assert "sqlite" not in answer.text and "empty.db" not in answer.text
