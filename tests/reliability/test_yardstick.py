"""The tier's own instruments, tested small and fast: the phase file, the portal's lost-answer and
history counts (over real HTTP on loopback), and the rules that judge the source and the repeats."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from lienthong import phases
from simulators.cluster import DVCQG_PASSWORD, DVCQG_USERNAME, SimulatorCluster
from simulators.dvcqg import DvcqgApp
from simulators.dvcqg.state import Store as PortalStore
from simulators.faults import FaultConfig
from simulators.server import RunningSimulator
from tests.reliability.conftest import MAPPINGS, worker_env
from tests.reliability.yardstick import repeat_figures, repeat_problems, source_problems


def test_the_phase_file_holds_the_last_phase_and_nothing_is_written_without_the_variable(
    tmp_path, monkeypatch
):
    path = tmp_path / "phase"
    monkeypatch.delenv(phases.ENV_PHASE_FILE, raising=False)
    phases.report(phases.PULL)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv(phases.ENV_PHASE_FILE, str(path))
    for phase in (phases.START_UP, phases.PULL, phases.MAP):
        phases.report(phase)
        assert phases.read(path) == phase
    assert sorted(p.name for p in tmp_path.iterdir()) == ["phase"]  # no temporary file left behind
    monkeypatch.setenv(phases.ENV_PHASE_FILE, str(tmp_path / "missing-dir" / "phase"))
    phases.report(phases.DONE)  # an unwritable file does not fail the run


def test_a_process_reports_its_phases_through_the_gateway(tmp_path):
    """The runner's hooks, in a real process against the simulators: every phase, in order."""
    code = (
        "from lienthong import phases\n"
        "seen = []\n"
        "report = phases.report\n"
        "phases.report = lambda phase: (seen.append(phase), report(phase))\n"
        "from lienthong.pipeline.runner import Gateway\n"
        "Gateway().run('dossier_sync', concurrency=1, wait_for_retries=0)\n"
        "print(','.join(seen))\n"
    )
    settings = {"seed": 7, "total": 5, "mess_rate": 0.0}
    with SimulatorCluster(motcua_settings=settings) as cluster:
        env = worker_env(
            f"sqlite:///{tmp_path / 'store.db'}",
            MAPPINGS,
            cluster.connection_env(),
            tmp_path / "home",
            **{phases.ENV_PHASE_FILE: str(tmp_path / "phase")},
        )
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert cluster.dvcqg.app.received()["totals"]["dossiers"] == 5
    assert done.stdout.strip().splitlines()[-1].split(",") == list(phases.PHASES)
    assert phases.read(tmp_path / "phase") == phases.DONE


@pytest.fixture()
def portal():
    with RunningSimulator(DvcqgApp()) as sim:
        yield sim


def _session(url: str) -> str:
    answer = requests.post(
        url + "/api/login",
        json={"username": DVCQG_USERNAME, "password": DVCQG_PASSWORD},
        headers={"dstcode": "83"},
        timeout=10,
    )
    return answer.json()["session"]


def _lookup(url: str, session: str, timeout: float = 10) -> requests.Response:
    body = {"session": session, "service": "TraCuuHoSo", "madonvi": "000.00.00.H07", "mahoso": "X-1"}
    return requests.post(url + "/api/service", json=body, timeout=timeout)


def test_the_portal_counts_answers_lost_after_the_request_took_effect(portal):
    session = _session(portal.url)
    portal.app.faults.configure(FaultConfig(script=["drop_after_commit", "reset", "http_500"]))
    for _ in range(3):
        with pytest.raises(requests.RequestException):
            _lookup(portal.url, session).raise_for_status()
    # Only the drop happened after the request was processed: one answer lost, one lookup item.
    assert portal.app.faults.snapshot()["answers_lost"] == {"drop_after_commit": 1}
    assert portal.app.received()["totals"]["answers_lost"] == {"TraCuuHoSo": 1}

    # A client that stops waiting before the answer (its read timeout) loses it too.
    portal.app.faults.configure(FaultConfig(latency_ms=400))
    with pytest.raises(requests.Timeout):
        _lookup(portal.url, session, timeout=0.1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "client_gone" not in portal.app.faults.snapshot()["answers_lost"]:
        time.sleep(0.05)
    assert portal.app.faults.snapshot()["answers_lost"] == {"drop_after_commit": 1, "client_gone": 1}
    assert portal.app.received()["totals"]["answers_lost"] == {"TraCuuHoSo": 2}
    # An answer that reached its client is not counted.
    portal.app.faults.configure(FaultConfig())
    assert _lookup(portal.url, session).json()["error_code"] == "-2"
    assert portal.app.received()["totals"]["answers_lost"] == {"TraCuuHoSo": 2}


def test_the_portal_keeps_the_content_of_every_effective_write_in_order():
    store = PortalStore()
    store.create_dossier({"MaHoSo": "K", "TrichYeuHoSo": "a"})
    store.update_dossier({"MaHoSo": "K", "TrichYeuHoSo": "b"})
    store.update_dossier({"MaHoSo": "K", "TrichYeuHoSo": "b"})  # a repeat: not a write
    entry = store.snapshot(history=True)["dossiers"]["K"]
    assert [d["TrichYeuHoSo"] for d in entry["history"]] == ["a", "b"]
    assert (entry["writes"], entry["repeats"]) == (2, 1)
    assert "history" not in store.snapshot()["dossiers"]["K"]


def _source(code: str, summary: str) -> dict:
    return {
        "code": code,
        "summary": summary,
        "procedure": {"name": "Thủ tục"},
        "dossierStatus": {"id": 0},
    }


def _held(*summaries: str) -> dict:
    history = [
        {"MaHoSo": "K", "TrichYeuHoSo": s, "TenTTHC": "Thủ tục", "TrangThaiHoSo": "1"} for s in summaries
    ]
    return {"data": history[-1], "history": history}


def test_source_problems_name_missing_stale_foreign_and_out_of_order_keys():
    source = {"K": _source("K", "v3"), "M": _source("M", "v1")}
    edits = {"K": ["v1", "v2", "v3"]}
    assert (
        source_problems(source, {"dossiers": {"K": _held("v1", "v3"), "M": _held_as("M", "v1")}}, edits) == {}
    )
    found = source_problems(source, {"dossiers": {"K": _held("v1", "v3", "v2"), "Z": _held("v1")}}, edits)
    assert found == {
        "source keys missing at the portal": ["M"],
        "portal content older than the source's latest version": [
            "K: TrichYeuHoSo differ from the source's latest version"
        ],
        "versions applied out of order": ["K: source versions written in the order [1, 3, 2]"],
        "portal keys the source does not have": ["Z"],
    }


def _held_as(key: str, summary: str) -> dict:
    held = _held(summary)
    for data in held["history"]:
        data["MaHoSo"] = key
    return held


def test_repeats_are_bounded_by_the_answers_lost():
    portal = {
        "totals": {"dossier_repeats": 5, "progress_repeats": 9, "answers_lost": {"DongBoHoSoMC": 5}},
        "rejected": {"-3": 4},
    }
    figures = repeat_figures(portal, extra_lost={"CapNhatTienDoHoSoMC": 6})
    assert figures["dossier_answers_lost"] == 5 and figures["progress_answers_lost"] == 6
    assert repeat_problems(figures) == ["dossiers: 5 exact repeats + 4 '-3' answers > 5 lost answers + 3"]
    assert repeat_problems(figures, allowance=3) == repeat_problems(figures)
    assert repeat_problems(repeat_figures({"totals": {}, "rejected": {}}), allowance=0) == []
