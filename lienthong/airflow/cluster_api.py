"""Airflow's REST API v2 as the native cluster, its tests and its benchmark use it: a bearer token from
SimpleAuthManager's ``POST /auth/token``, trigger a DAG run and wait for it, read task instances,
create pools. Plain ``requests``: nothing here imports Airflow (the caller is not an Airflow process).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import requests


class AirflowRest:
    def __init__(
        self, base_url: str, password: Callable[[], str], diagnostics: Callable[[], str] = str
    ) -> None:
        self.base_url = base_url
        self._password = password
        self._diagnostics = diagnostics  # log tails for error messages

    def token(self, username: str = "admin", password: str | None = None) -> str:
        """A JWT from ``POST /auth/token``: the bearer token of the REST API v2 (and the status plugin)."""
        answer = requests.post(
            f"{self.base_url}/auth/token",
            json={"username": username, "password": password or self._password()},
            timeout=30,
        )
        answer.raise_for_status()
        return answer.json()["access_token"]

    def api(self, method: str, path: str, token: str, **kwargs: Any) -> Any:
        answer = requests.request(
            method,
            f"{self.base_url}{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
            **kwargs,
        )
        if answer.status_code >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {answer.status_code} {answer.text[:300]}")
        return answer.json() if answer.content else None

    def run_dag(self, dag_id: str, *, timeout: float, conf: dict[str, Any] | None = None) -> dict[str, Any]:
        """Wait until the DAG is parsed, unpause it, trigger a run, wait for it to end; the final run.
        On a timeout the error names the states of its task instances and the components' log tails."""
        token = self.token()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.api("GET", f"/api/v2/dags/{dag_id}", token)
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"DAG {dag_id} never appeared\n{self._diagnostics()}") from None
                time.sleep(2)
        self.api("PATCH", f"/api/v2/dags/{dag_id}", token, json={"is_paused": False})
        body = {"logical_date": None, "conf": conf or {}}
        run = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", token, json=body)
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}"
        while run["state"] not in ("success", "failed"):
            if time.monotonic() > deadline:
                tasks = sorted(
                    {(t["task_id"], t["state"]) for t in self.task_instances(dag_id, run["dag_run_id"])}
                )
                raise TimeoutError(
                    f"DAG run {run['dag_run_id']} still {run['state']} after {timeout:.0f}s; "
                    f"tasks: {tasks}\n{self._diagnostics()}"
                )
            time.sleep(2)
            run = self.api("GET", path, token)
        return run

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        token = self.token()
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        while True:
            page = self.api("GET", path, token, params={"limit": 100, "offset": len(found)})
            found += page["task_instances"]
            if not page["task_instances"] or len(found) >= page["total_entries"]:
                return found

    def apply_pools(self, specs: Iterable[Any]) -> None:
        """Create or update pools (``name``, ``slots``, ``description`` attributes or keys)."""
        token = self.token()
        for spec in specs:
            item = spec if isinstance(spec, dict) else vars(spec)
            body = {"name": item["name"], "slots": int(item["slots"]),
                    "description": item.get("description", ""), "include_deferred": False}  # fmt: skip
            try:
                self.api("PATCH", f"/api/v2/pools/{item['name']}", token, json=body)
            except RuntimeError:
                self.api("POST", "/api/v2/pools", token, json=body)
