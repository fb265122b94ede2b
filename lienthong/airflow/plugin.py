"""The gateway's status inside the Airflow API server: a FastAPI app that ``plugins/`` mounts.

``GET /lienthong/status``: per target the outbox backlog, the age of its oldest live row, dead
letters, delivery rate and circuit breaker; per route open quarantine and the last reconciliation;
the audit ledger's last verification. ``GET /lienthong/metrics``: the same gauges in Prometheus
text format, for a scrape job.

Airflow mounts plugin apps as they are: it does not protect them. So every endpoint here demands
Airflow's own credentials, the JWT its REST API v2 accepts (``Authorization: Bearer`` from
``POST /auth/token``, or the UI's ``_token`` cookie), validated by Airflow's auth manager (signature,
expiry, revocation), and asks the auth manager whether that user may read a custom view; anonymous or
invalid → 401, not allowed → 403.

The reconciliation (:mod:`lienthong.reconcile`) and ledger (:mod:`lienthong.audit`) parts are
imported when a request needs them; where a deployment lacks them the answer says "not available".
Nothing here shows a record's content or an error text that could carry personal data.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from lienthong.clock import utcnow

log = logging.getLogger(__name__)

NOT_AVAILABLE = "not available"
#: Window of the reconciliation shown per route (hours of pulls, up to now).
RECONCILE_HOURS = float(os.environ.get("LIENTHONG_STATUS_RECONCILE_HOURS", "24"))
VIEW_NAME = "lienthong"  # the custom view the auth manager is asked about

Authenticate = Callable[[Request], Awaitable[Any]]


def _token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get("_token") or None  # the Airflow UI's session cookie (same JWT)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def airflow_user(request: Request) -> Any:
    """The user of Airflow's JWT on this request, validated by the API server's auth manager."""
    from airflow.api_fastapi.app import get_auth_manager
    from jwt import InvalidTokenError

    token = _token_of(request)
    if not token:
        raise _unauthorized("Not authenticated: send Airflow's bearer token (POST /auth/token)")
    manager = get_auth_manager()
    try:
        user = await manager.get_user_from_token(token)
    except InvalidTokenError:  # includes an expired or revoked token
        raise _unauthorized("Invalid or expired token") from None
    if not manager.is_authorized_custom_view(method="GET", resource_name=VIEW_NAME, user=user):
        raise HTTPException(status_code=403, detail="Not allowed to read the gateway status")
    return user


class _LazyStore:
    """One store per API-server process, opened on first use (never at import: every Airflow
    component imports plugins, and none of them should connect for it)."""

    def __init__(self) -> None:
        self._store = None
        self._lock = threading.Lock()

    def __call__(self):  # noqa: ANN204
        with self._lock:
            if self._store is None:
                from lienthong.settings import Settings
                from lienthong.store import Store

                self._store = Store(Settings.from_env().database_url, migrate=False)
            return self._store


def gateway_report(store) -> dict[str, Any]:  # noqa: ANN001
    """What ``/status`` answers: numbers and names only."""
    from lienthong import metrics
    from lienthong.store.models import Run

    taken = metrics.collect(store)
    with store.session() as session:
        routes = sorted(set(session.execute(select(Run.route).distinct()).scalars()))
    return {
        "store": store.describe(),
        "metrics": taken.to_dict(),
        "targets": {
            t.target: {
                "backlog": t.backlog_total,
                "backlog_by_state": t.backlog,
                "oldest_live_seconds": round(t.oldest_live_seconds, 1),
                "dead_letters": t.dead,
                "delivered_per_second": round(t.rate, 3),
                "breaker": t.breaker,
            }
            for t in taken.targets
        },
        "dead_letters": sum(t.dead for t in taken.targets),
        "quarantine_open": taken.quarantine_open,
        "reconciliation": {route: _reconciliation(store, route) for route in routes},
        "ledger": _ledger(store),
    }


def _reconciliation(store, route: str) -> Any:  # noqa: ANN001
    try:
        from lienthong.reconcile import reconcile_interval
    except ImportError:
        return NOT_AVAILABLE
    start = utcnow() - timedelta(hours=RECONCILE_HOURS)
    result = reconcile_interval(store, route, start, None)
    data = result.to_dict() if hasattr(result, "to_dict") else dict(vars(result))
    data["window_hours"] = RECONCILE_HOURS
    return data


def _ledger(store) -> Any:  # noqa: ANN001
    try:
        from lienthong.audit import last_verification
    except ImportError:
        return NOT_AVAILABLE
    try:
        found = last_verification(store)
    except ImportError:  # the package is there, its verifier is not (yet)
        return NOT_AVAILABLE
    return found if found is not None else "never verified"


def create_app(
    store: Callable[[], Any] | None = None, *, authenticate: Authenticate = airflow_user
) -> FastAPI:
    """The plugin app. ``store`` returns the gateway store (default: from the environment, opened
    once); ``authenticate`` is Airflow's auth manager in production."""
    store_of = store or _LazyStore()
    app = FastAPI(
        title="Liên thông gateway status",
        description="Outbox backlog, dead letters, reconciliation, ledger verification, metrics.",
        dependencies=[Depends(authenticate)],
    )

    @app.exception_handler(DBAPIError)
    async def store_unavailable(_request: Request, exc: DBAPIError) -> JSONResponse:
        # The driver's message may carry the URL or a statement's values: log the kind only.
        log.error(
            "gateway store unavailable: %s", type(exc.orig).__name__ if exc.orig else type(exc).__name__
        )
        return JSONResponse(
            status_code=503,
            content={"detail": "gateway store not reachable or not migrated (see the API server log)"},
        )

    @app.get("/status")
    def status() -> dict[str, Any]:
        return gateway_report(store_of())

    @app.get("/metrics", response_class=PlainTextResponse)
    def prometheus() -> PlainTextResponse:
        from prometheus_client import CONTENT_TYPE_LATEST

        from lienthong import metrics

        return PlainTextResponse(
            metrics.to_prometheus(metrics.collect(store_of())), media_type=CONTENT_TYPE_LATEST
        )

    return app
