"""The one-stop source connector against the motcua simulator: OAuth2 refresh and keyset paging."""

from __future__ import annotations

import threading

import pytest
import requests

from connectors.motcua import KeysetMark, MotcuaSource
from lienthong.connections import connection_json, parse_connection
from lienthong.errors import CredentialsRefused
from simulators.motcua import MotcuaApp
from simulators.server import RunningSimulator


@pytest.fixture()
def motcua():
    with RunningSimulator(MotcuaApp(total=600, mess_rate=0.0, seed=5)) as sim:
        yield sim


def source_for(sim, secret: str = "demo-secret-motcua", page_size: int = 50) -> MotcuaSource:
    return MotcuaSource(
        parse_connection("motcua", connection_json(sim.url, "lienthong-demo", secret)), page_size=page_size
    )


def pull_all(source: MotcuaSource, mark: KeysetMark | None = None):
    records, last = [], mark
    for page in source.pages("dossiers", mark):
        records.extend(page.records)
        last = page.mark
    return records, last


def test_keyset_pull_reads_every_dossier_once_in_order(motcua):
    source = source_for(motcua)
    records, mark = pull_all(source)
    ids = [r["id"] for r in records]
    assert len(ids) == 600 and len(set(ids)) == 600
    assert [r["updatedDate"] for r in records] == sorted(r["updatedDate"] for r in records)
    # Nothing new: a pull from the mark finds nothing.
    again, _ = pull_all(source, mark)
    assert again == []


def test_changes_after_the_mark_are_pulled_and_only_they(motcua):
    source = source_for(motcua)
    records, mark = pull_all(source)
    changed = records[10]["id"]
    motcua.app.update_dossier(changed, summary="Đã cập nhật")
    appended = motcua.app.append_dossiers(3)
    news, _ = pull_all(source, mark)
    assert [r["id"] for r in news] == [changed, *appended]
    assert news[0]["summary"] == "Đã cập nhật"


def test_paging_stays_complete_while_dossiers_move(motcua):
    source = source_for(motcua, page_size=25)
    pages = source.pages("dossiers")
    first = next(pages)
    seen = {r["id"]: r["updatedDate"] for r in first.records}
    stop = threading.Event()

    def churn():
        index = 100
        while not stop.is_set() and index < 500:
            motcua.app.update_dossier(motcua.app.dossier_id(index), summary=f"đổi {index}")
            index += 37

    worker = threading.Thread(target=churn)
    worker.start()
    for page in pages:
        for r in page.records:
            seen[r["id"]] = r["updatedDate"]
    stop.set()
    worker.join()
    assert len(seen) == 600  # every dossier seen at least once, none skipped by the moves


def test_expired_tokens_are_refreshed(motcua):
    requests.post(f"{motcua.url}/_sim/config", json={"token_lifetime": 1}, timeout=5)
    source = source_for(motcua, page_size=100)
    pages = source.pages("dossiers")
    next(pages)
    requests.post(f"{motcua.url}/_sim/config", json={"expire_tokens_now": True}, timeout=5)
    rest = list(pages)
    assert sum(len(p.records) for p in rest) == 500
    assert source.auth.grants >= 2


def test_wrong_client_secret_stops_the_run_and_does_not_show_the_secret(motcua):
    with pytest.raises(CredentialsRefused) as caught:
        next(source_for(motcua, secret="not-the-secret").pages("dossiers"))
    assert "not-the-secret" not in str(caught.value) and "lienthong-demo" in str(caught.value)


def test_detail_of_a_deleted_dossier_is_none(motcua):
    source = source_for(motcua)
    victim = motcua.app.dossier_id(3)
    assert source.get("dossiers", victim)["id"] == victim
    motcua.app.delete_dossier(victim)
    assert source.get("dossiers", victim) is None


def test_transient_server_faults_are_retried_in_the_pull(motcua):
    requests.post(
        f"{motcua.url}/_sim/faults",
        json={"script": ["http_503", "reset", "http_429"], "retry_after": 0},
        timeout=5,
    )
    source = source_for(motcua, page_size=200)
    records, _ = pull_all(source)
    assert len(records) == 600
