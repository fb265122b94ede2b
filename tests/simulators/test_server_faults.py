"""The shared simulator server: each fault kind reaches a plain ``requests`` client as the real thing."""

from __future__ import annotations

import pytest
import requests

from simulators.server import RunningSimulator, SimApp, SimRequest, SimResponse


class CounterApp(SimApp):
    """A write endpoint that counts what it committed, so a test can see whether a write took effect."""

    name = "counter"

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.route("POST", "/write", self._write)
        self.route("GET", "/items/{item_id}", self._item)

    def _write(self, request: SimRequest) -> SimResponse:
        self.writes += 1
        return SimResponse.json({"writes": self.writes, "echo": request.json()})

    def _item(self, request: SimRequest) -> SimResponse:
        return SimResponse.json({"id": request.params["item_id"]})

    def received(self) -> dict:
        return {"writes": self.writes}

    def reset_state(self) -> None:
        self.writes = 0


@pytest.fixture()
def sim():
    with RunningSimulator(CounterApp()) as running:
        yield running


def script(sim, *kinds, **extra):
    answer = requests.post(f"{sim.url}/_sim/faults", json={"script": list(kinds), **extra}, timeout=5)
    assert answer.status_code == 200, answer.text


def test_normal_request_and_routing(sim):
    answer = requests.post(f"{sim.url}/write", json={"tên": "Nguyễn Văn Á"}, timeout=5)
    assert answer.json() == {"writes": 1, "echo": {"tên": "Nguyễn Văn Á"}}
    assert requests.get(f"{sim.url}/items/42", timeout=5).json() == {"id": "42"}
    assert requests.get(f"{sim.url}/nowhere", timeout=5).status_code == 404
    assert requests.get(f"{sim.url}/write", timeout=5).status_code == 405


@pytest.mark.parametrize("kind,status", [("http_500", 500), ("http_502", 502), ("http_503", 503), ("http_429", 429)])
def test_http_faults_do_not_process_the_request(sim, kind, status):
    script(sim, kind, retry_after=7)
    answer = requests.post(f"{sim.url}/write", json={}, timeout=5)
    assert answer.status_code == status
    if kind in ("http_429", "http_503"):
        assert answer.headers["Retry-After"] == "7"
    assert sim.app.writes == 0
    assert requests.post(f"{sim.url}/write", json={}, timeout=5).json()["writes"] == 1


def test_reset_reaches_the_client_as_a_connection_reset(sim):
    script(sim, "reset")
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        requests.post(f"{sim.url}/write", json={}, timeout=5)
    assert "reset" in str(caught.value).lower()
    assert sim.app.writes == 0


def test_drop_after_commit_applies_the_write_but_loses_the_answer(sim):
    script(sim, "drop_after_commit")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(f"{sim.url}/write", json={}, timeout=5)
    assert sim.app.writes == 1
    assert requests.get(f"{sim.url}/_sim/received", timeout=5).json() == {"writes": 1}


def test_stall_is_a_read_timeout(sim):
    script(sim, "stall", stall_seconds=1.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(f"{sim.url}/write", json={}, timeout=(2, 0.3))
    assert sim.app.writes == 0


def test_seeded_random_faults_are_reproducible(sim):
    def pattern():
        requests.post(f"{sim.url}/_sim/faults", json={"rate": 0.5, "kinds": ["http_503"], "seed": 11}, timeout=5)
        return [requests.post(f"{sim.url}/write", json={}, timeout=5).status_code for _ in range(30)]

    first = pattern()
    assert 503 in first and 200 in first
    assert pattern() == first
    snapshot = requests.get(f"{sim.url}/_sim/faults", timeout=5).json()
    assert snapshot["injected"]["http_503"] == 2 * first.count(503)  # counts since the last reset


def test_latency_and_reset_of_state(sim):
    requests.post(f"{sim.url}/_sim/faults", json={"latency_ms": 120}, timeout=5)
    answer = requests.post(f"{sim.url}/write", json={}, timeout=5)
    assert answer.elapsed.total_seconds() >= 0.11
    requests.post(f"{sim.url}/_sim/reset", timeout=5)
    assert sim.app.writes == 0
    assert requests.get(f"{sim.url}/_sim/faults", timeout=5).json()["config"]["latency_ms"] == 0


def test_bad_fault_config_is_refused_with_a_reason(sim):
    answer = requests.post(f"{sim.url}/_sim/faults", json={"rate": 0.2, "kinds": ["meteor"]}, timeout=5)
    assert answer.status_code == 400
    assert "meteor" in answer.json()["message"]
    answer = requests.post(f"{sim.url}/_sim/faults", json={"rat": 0.2}, timeout=5)
    assert "rat" in answer.json()["message"]


def test_keep_alive_serves_many_requests_on_one_connection(sim):
    with requests.Session() as session:
        for _ in range(20):
            session.post(f"{sim.url}/write", json={}, timeout=5)
    assert sim.app.writes == 20
