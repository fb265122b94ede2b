"""Alerts: a failed task (after its retries) or dead letters found by ``reconcile``.

An alert is logged, and POSTed as JSON to the webhook of the Airflow connection ``lienthong_alerts``
when it is defined (``AIRFLOW_CONN_LIENTHONG_ALERTS``: host = the URL, optional password = a bearer
token).  The body names the DAG, task, run and route and the error's class; the error text is
masked and cut short — never a payload, a secret or personal data.  Sending an alert never raises:
a broken webhook must not turn a report into a second failure.
"""

from __future__ import annotations

import logging
from typing import Any

from lienthong.masking import mask_text

log = logging.getLogger(__name__)

ALERT_CONNECTION = "lienthong_alerts"
MAX_MESSAGE = 300


def send_alert(body: dict[str, Any], conn_id: str = ALERT_CONNECTION, timeout: float = 5.0) -> bool:
    """Log the alert and POST it to the webhook if one is configured; True when the webhook took it."""
    from lienthong.connections import get_connection
    from lienthong.errors import ConfigError

    log.error("ALERT %s", " ".join(f"{key}={value}" for key, value in body.items()))
    try:
        conn = get_connection(conn_id)
    except ConfigError:
        return False  # no webhook configured: the log line is the alert
    import requests

    headers = {"Authorization": f"Bearer {conn.password}"} if conn.password else {}
    try:
        answer = requests.post(conn.base_url, json=body, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        log.warning("alert webhook %s unreachable: %s", conn_id, type(exc).__name__)
        return False
    if answer.status_code >= 300:
        log.warning("alert webhook %s answered HTTP %s", conn_id, answer.status_code)
        return False
    return True


def failure_body(context: dict[str, Any]) -> dict[str, Any]:
    """What a failure alert says, from an Airflow task context (Task SDK: ``ti``, ``dag_run``, ...)."""
    ti = context.get("ti") or context.get("task_instance")
    exc = context.get("exception")
    message = mask_text(str(exc))[:MAX_MESSAGE] if exc is not None else None
    dag_run = context.get("dag_run")
    return {
        "event": "task_failed",
        "dag_id": getattr(ti, "dag_id", None),
        "route": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "map_index": getattr(ti, "map_index", None),
        "try_number": getattr(ti, "try_number", None),
        "run_id": getattr(ti, "run_id", None) or getattr(dag_run, "run_id", None),
        "error": type(exc).__name__ if exc is not None else None,
        "message": message,
    }


def on_task_failure(context: dict[str, Any]) -> None:
    """``on_failure_callback`` of every task of the route DAGs: called once the task's retries are spent."""
    try:
        send_alert(failure_body(context))
    except Exception:  # noqa: BLE001 - a callback must never raise
        log.exception("could not send the failure alert")
