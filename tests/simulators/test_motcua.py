"""The motcua simulator over real HTTP: tokens, paging, keyset stability under changes, data realism, mess, memory."""

from __future__ import annotations

import json
import re
import threading
import time
import unicodedata
from collections import Counter, defaultdict
from typing import Any

import psutil
import pytest
import requests

from simulators.motcua import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, TOKEN_PATH, MotcuaApp
from simulators.motcua.names import DISTRICTS
from simulators.server import RunningSimulator

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0700$")
DMY = re.compile(r"^\d{2}/\d{2}/\d{4}$")


class Client:
    """A minimal one-stop client: token, auto-renewal on 401, search pages."""

    def __init__(self, url: str, client_id: str = DEMO_CLIENT_ID, secret: str = DEMO_CLIENT_SECRET) -> None:
        self.url, self.client_id, self.secret = url, client_id, secret
        self.session = requests.Session()
        self.token: str | None = None

    def grant(self, **form: str) -> requests.Response:
        data = {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.secret}
        return self.session.post(self.url + TOKEN_PATH, data={**data, **form}, timeout=10)

    def get(self, path: str, **params: Any) -> requests.Response:
        for _ in range(2):
            if self.token is None:
                answer = self.grant()
                assert answer.status_code == 200, answer.text
                self.token = answer.json()["access_token"]
            response = self.session.get(
                self.url + path, params=params, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
            )
            if response.status_code != 401:
                return response
            self.token = None
        return response

    def page(self, path: str = "/pa/dossier/search", **params: Any) -> dict[str, Any]:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def offset_pull(self, size: int, between_pages: Any = None, **params: Any) -> list[dict[str, Any]]:
        out, page = [], 0
        while True:
            data = self.page(page=page, size=size, sort="updatedDate,asc", **params)
            out += data["content"]
            if data["last"]:
                return out
            if between_pages:
                between_pages(page)
            page += 1

    def keyset_pull(self, size: int, on_page: Any = None) -> tuple[list[dict[str, Any]], int]:
        """Keyset paging as the gateway does it: from the last updatedDate, skip what was seen at that instant."""
        cursor, at_cursor, delivered, calls = None, set(), [], 0
        while True:
            params = {"page": 0, "size": size, "sort": "updatedDate,asc"}
            if cursor:
                params["updated-from"] = cursor
            content = self.page(**params)["content"]
            calls += 1
            if on_page:
                on_page(calls)
            fresh = [d for d in content if not (d["updatedDate"] == cursor and d["id"] in at_cursor)]
            if not fresh:
                return delivered, calls
            delivered += fresh
            last = fresh[-1]["updatedDate"]
            seen_last = {d["id"] for d in fresh if d["updatedDate"] == last}
            at_cursor = seen_last | (at_cursor if last == cursor else set())
            cursor = last


@pytest.fixture()
def motcua_start():
    """Start motcua simulators with given settings; all are stopped at the end of the test."""
    running: list[RunningSimulator] = []

    def start(**settings: Any) -> RunningSimulator:
        sim = RunningSimulator(MotcuaApp(**settings)).start()
        running.append(sim)
        return sim

    yield start
    for sim in running:
        sim.stop()


@pytest.fixture(scope="module")
def motcua_clean():
    """One clean (mess_rate=0) simulator with the default 2,000 dossiers, read-only for the tests using it."""
    with RunningSimulator(MotcuaApp(mess_rate=0)) as sim:
        client = Client(sim.url)
        yield sim, client, client.page(size=500, page=0)["content"] + [
            d for p in range(1, 4) for d in client.page(size=500, page=p)["content"]
        ]


# --- tokens ------------------------------------------------------------------------------------
def test_token_grant_and_bad_credentials(motcua_start):
    sim = motcua_start()
    client = Client(sim.url)
    good = client.grant()
    assert good.status_code == 200
    body = good.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300 and body["access_token"]
    bad = Client(sim.url, secret="wrong").grant()
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert Client(sim.url, client_id="other").grant().json()["error"] == "invalid_client"
    assert client.grant(grant_type="password").json()["error"] == "unsupported_grant_type"
    basic = requests.post(sim.url + TOKEN_PATH, data={"grant_type": "client_credentials"},
                          auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET), timeout=5)
    assert basic.status_code == 200
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}):
        answer = requests.get(sim.url + "/pa/dossier/search", headers=headers, timeout=5)
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"
    ok = requests.get(sim.url + "/pa/dossier/search", headers={"Authorization": f"Bearer {body['access_token']}"},
                      timeout=5)
    assert ok.status_code == 200
    counts = requests.get(sim.url + "/_sim/received", timeout=5).json()["counts"]
    assert counts["token_grants"] == 2 and counts["token_rejections"] == 3 and counts["auth_failures"] == 3


def test_tokens_expire_after_their_lifetime_and_on_demand(motcua_start):
    sim = motcua_start(token_lifetime=1)
    token = Client(sim.url).grant().json()
    assert token["expires_in"] == 1
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(sim.url + "/pa/dossier/search", headers=headers, timeout=5).status_code == 200
    time.sleep(1.1)
    expired = requests.get(sim.url + "/pa/dossier/search", headers=headers, timeout=5)
    assert expired.status_code == 401 and expired.json() == {"error": "invalid_token",
                                                             "error_description": "Token is not active"}
    requests.post(sim.url + "/_sim/config", json={"token_lifetime": 300}, timeout=5)
    fresh = {"Authorization": f"Bearer {Client(sim.url).grant().json()['access_token']}"}
    assert requests.get(sim.url + "/pa/dossier/search", headers=fresh, timeout=5).status_code == 200
    assert requests.post(sim.url + "/_sim/config", json={"expire_tokens_now": True}, timeout=5).status_code == 200
    assert requests.get(sim.url + "/pa/dossier/search", headers=fresh, timeout=5).status_code == 401


# --- search ------------------------------------------------------------------------------------
def test_offset_pages_cover_everything_in_order(motcua_clean):
    _, client, everything = motcua_clean
    pages = client.offset_pull(size=300)
    assert [d["id"] for d in pages] == [d["id"] for d in everything]
    assert len({d["id"] for d in everything}) == len(everything) == 2000
    keys = [(d["updatedDate"], d["id"]) for d in everything]
    assert keys == sorted(keys)
    first = client.page(size=300, page=0)
    assert (first["totalElements"], first["totalPages"], first["number"], first["size"]) == (2000, 7, 0, 300)
    assert not first["last"] and client.page(size=300, page=6)["last"]
    assert client.page(size=300, page=7)["content"] == []


def test_ties_exist_but_stay_small(motcua_clean):
    _, _, everything = motcua_clean
    runs = Counter(d["updatedDate"] for d in everything)
    assert sum(1 for n in runs.values() if n > 1) >= 20
    assert max(runs.values()) <= 4


def test_date_bounds_are_inclusive_and_accept_client_forms(motcua_clean):
    sim, client, everything = motcua_clean
    tied = next(date for date, n in Counter(d["updatedDate"] for d in everything).items() if n >= 2)
    exact = client.page(size=50, **{"updated-from": tied, "updated-to": tied})
    assert [d["id"] for d in exact["content"]] == [d["id"] for d in everything if d["updatedDate"] == tied]
    low, high = everything[500]["updatedDate"], everything[899]["updatedDate"]
    window = client.page(size=500, **{"updated-from": low, "updated-to": high})
    expected = [d["id"] for d in everything if low <= d["updatedDate"] <= high]
    assert [d["id"] for d in window["content"]] == expected and window["totalElements"] == len(expected)
    utc = client.page(size=500, **{"updated-from": low[:-5] + "+07:00"})
    assert utc["totalElements"] == sum(1 for d in everything if d["updatedDate"] >= low)
    token = client.token
    raw = requests.get(f"{sim.url}/pa/dossier/search?size=1&updated-from={low}", timeout=5,  # "+" arrives as " "
                       headers={"Authorization": f"Bearer {token}"}).json()
    assert raw["totalElements"] == utc["totalElements"]
    assert client.page(size=1, **{"updated-from": "2025-07-01"})["totalElements"] == sum(
        1 for d in everything if d["updatedDate"] >= "2025-07-01")
    assert client.page(size=1, **{"updated-from": "2025-07-01T00:00:00Z"})["totalElements"] == sum(
        1 for d in everything if d["updatedDate"] >= "2025-07-01T07")
    assert client.get("/pa/dossier/search", **{"updated-from": "yesterday"}).status_code == 400


def test_page_size_cap_is_configurable(motcua_start):
    sim = motcua_start(max_page_size=100)
    client = Client(sim.url)
    assert client.get("/pa/dossier/search", size=100).status_code == 200
    too_big = client.get("/pa/dossier/search", size=101)
    assert too_big.status_code == 400 and "maximum page size 100" in too_big.json()["message"]
    assert client.get("/pa/dossier/search", sort="code,desc").status_code == 400
    assert client.get("/pa/dossier/search", page=-1).status_code == 400


def test_detail_and_not_found(motcua_clean):
    _, client, everything = motcua_clean
    for dossier in everything[::400]:
        assert client.page(f"/pa/dossier/{dossier['id']}") == dossier
    for unknown in ("65a1f0c2e4b0a1b2c3000042", "nope", everything[0]["id"][:-8] + "ffffffff"):
        answer = client.get(f"/pa/dossier/{unknown}")
        assert answer.status_code == 404 and answer.json()["error"] == "not_found"


def test_same_seed_same_dossiers_other_seed_other_dossiers(motcua_start):
    a, b, c = motcua_start(), motcua_start(), motcua_start(seed=7)
    page = {"size": 200, "page": 3}
    first, second, other = (Client(s.url).page(**page)["content"] for s in (a, b, c))
    assert first == second
    assert {d["id"] for d in first}.isdisjoint(d["id"] for d in other)
    assert [d["applicant"]["data"]["fullname"] for d in first] != [d["applicant"]["data"]["fullname"] for d in other]


# --- keyset paging while the data changes ------------------------------------------------------
def test_keyset_paging_sees_every_dossier_while_another_thread_changes_data(motcua_start):
    sim = motcua_start(total_dossiers=3000, churn_rate=0.3)
    app: MotcuaApp = sim.app
    stop, changes = threading.Event(), Counter()

    def changer() -> None:
        session, k = requests.Session(), 0
        while not stop.is_set():
            k += 1
            target = app.dossier_id((k * 7919) % 3000)
            if k % 10 == 0:
                answer = session.post(f"{sim.url}/_sim/dossiers", json={"append": 3}, timeout=5)
                changes["append"] += answer.status_code == 200
            elif k % 7 == 0:
                changes["delete"] += session.delete(f"{sim.url}/_sim/dossiers/{target}", timeout=5).status_code == 200
            elif k % 5 == 0:
                answer = session.post(f"{sim.url}/_sim/dossiers/{target}/withdraw", timeout=5)
                changes["withdraw"] += answer.status_code == 200
            else:
                answer = session.post(f"{sim.url}/_sim/dossiers/{target}", json={"summary": f"Sửa lần {k}"}, timeout=5)
                changes["update"] += answer.status_code == 200
            time.sleep(0.002)

    def on_page(calls: int) -> None:
        if calls < 12:  # make sure changes really interleave with the first pages
            deadline = time.monotonic() + 5
            while sum(changes.values()) < 3 * calls and time.monotonic() < deadline:
                time.sleep(0.001)
        elif calls == 12:
            stop.set()
            thread.join(timeout=5)

    thread = threading.Thread(target=changer, daemon=True)
    thread.start()
    delivered, calls = Client(sim.url).keyset_pull(size=100, on_page=on_page)
    stop.set()
    thread.join(timeout=5)
    assert changes["append"] and changes["delete"] and changes["withdraw"] and changes["update"]
    assert app.received()["counts"]["churned"] > 0
    keys = [(d["updatedDate"], d["id"]) for d in delivered]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)  # in order, no version twice
    final = dict((i, u) for u, i in app.iter_dossier_keys())
    latest = {d["id"]: d["updatedDate"] for d in delivered}
    missing = [i for i, u in final.items() if latest.get(i) != u]
    assert not missing, f"{len(missing)} dossiers not seen in their final version"
    assert calls < len(delivered) / 100 + 20  # never stuck on ties


def test_offset_paging_skips_a_dossier_when_an_earlier_one_moves(motcua_start):
    """Why the gateway pages by keyset: the same change makes offset paging miss a dossier."""
    sim = motcua_start(mess_rate=0, total_dossiers=300)
    client, app = Client(sim.url), sim.app
    moved = []

    def move_one(page: int) -> None:
        moved.append(app.update_dossier(app.dossier_id(page), summary="đã sửa")["id"])

    by_offset = {d["id"] for d in client.offset_pull(size=50, between_pages=move_one)}
    final_ids = {i for _, i in app.iter_dossier_keys()}
    assert final_ids - by_offset, "offset paging should have skipped at least one dossier"
    app.update_dossier(app.dossier_id(42), summary="lại sửa")
    keyset, _ = client.keyset_pull(size=50)
    assert {d["id"] for d in keyset} == final_ids


# --- realistic data ----------------------------------------------------------------------------
def _cccd_ok(number: str, year: int, gender: int) -> bool:
    century = 0 if year < 2000 else 2
    return bool(re.fullmatch(r"0\d{11}", number)) and number[3] == str(century + gender - 1) and (
        number[4:6] == f"{year % 100:02d}")


def test_dossiers_look_real(motcua_clean):
    _, _, everything = motcua_clean
    statuses = Counter(d["dossierStatus"]["id"] for d in everything)
    assert set(statuses) == {0, 1, 2, 3, 4, 5, 7, 8, 9} and statuses.most_common(1)[0][0] == 9
    assert len({d["code"] for d in everything}) == len(everything)
    on_time: dict[str, list[bool]] = defaultdict(list)
    for d in everything:
        assert re.fullmatch(r"[0-9a-f]{24}", d["id"])
        agency, applied = d["agency"], d["appliedDate"]
        assert re.fullmatch(rf"{re.escape(agency['code'])}-{applied[2:4]}{applied[5:7]}{applied[8:10]}-\d{{4,}}", d["code"])
        assert re.fullmatch(r"\d{3}\.\d{2}\.\d{2}\.H07", agency["code"]) and agency["level"] in (1, 2, 3)
        assert d["procedure"]["code"] == d["procedure"]["nationCode"] + ".000.00.00.H07"
        assert re.fullmatch(r"[12]\.\d{6}", d["procedure"]["nationCode"])
        data = d["applicant"]["data"]
        year = int(data["birthday"][:4])
        assert _cccd_ok(data["identityNumber"], year, data["gender"])
        assert re.fullmatch(r"0\d{9}", data["phoneNumber"])
        assert unicodedata.is_normalized("NFC", data["fullname"]) and unicodedata.is_normalized("NFC", d["summary"])
        address = data["address"]
        assert address["provinceCode"] == "83"
        assert address["wardCode"] in {code for code, _ in DISTRICTS[address["districtCode"]][2]}
        dates = [d[k] for k in ("appliedDate", "acceptedDate", "appointmentDate", "completedDate", "returnedDate",
                                "updatedDate") if d[k]]
        dates += [t[k] for t in d["tasks"] for k in ("startDate", "endDate", "dueDate") if t[k]]
        assert all(ISO.match(x) and x.startswith("2025-") for x in dates)
        assert d["appliedDate"] <= (d["acceptedDate"] or d["appliedDate"]) <= (d["appointmentDate"] or "9")
        events = [d[k] for k in ("appliedDate", "acceptedDate", "completedDate", "returnedDate") if d[k]]
        assert max(events) <= d["updatedDate"]
        status = d["dossierStatus"]["id"]
        open_tasks = [t for t in d["tasks"] if t["endDate"] is None]
        assert all(t["status"]["id"] == 1 for t in open_tasks)
        assert (status == 0) == (d["tasks"] == []) and (status in (3, 4, 5)) == bool(open_tasks)
        assert (status == 9) == (d["returnedDate"] is not None) and (status in (8, 9)) == (d["completedDate"] is not None)
        if status == 9:
            assert d["tasks"][-1]["endDate"] == d["returnedDate"] == d["updatedDate"]
        assert all(f["paid"] == (status not in (0, 2, 5)) for f in d["fees"])
        if d["completedDate"] and d["appointmentDate"]:
            on_time[agency["code"]].append(d["completedDate"] <= d["appointmentDate"])
    rates = [sum(v) / len(v) for v in on_time.values() if len(v) >= 30]
    assert len(on_time) >= 12 and 0 < min(rates) < max(rates) - 0.1 and max(rates) < 1
    assert any(ord(c) > 127 for d in everything[:50] for c in d["applicant"]["data"]["fullname"])


def test_birth_registrations_carry_a_consistent_eform(motcua_clean):
    _, _, everything = motcua_clean
    births = [d for d in everything if d["procedure"]["nationCode"] in ("1.001193", "1.000894")]
    assert 0.06 <= len(births) / len(everything) <= 0.14
    assert all(d["eForm"] is None for d in everything if d not in births)
    fathers = 0
    for d in births:
        form = json.loads(d["eForm"])["hoTich"]
        child, mother = form["treEm"], form["me"]
        assert d["agency"]["level"] == 3 and child["gioiTinh"] in ("1", "2") and DMY.match(child["ngaySinh"])
        day, month, year = (int(x) for x in child["ngaySinh"].split("/"))
        born = f"{year:04d}-{month:02d}-{day:02d}"
        assert born < d["appliedDate"][:10] and int(d["appliedDate"][:4]) * 12 + int(d["appliedDate"][5:7]) - (
            year * 12 + month) <= 2
        assert _cccd_ok(child["soDinhDanh"], year, int(child["gioiTinh"])) and child["soDinhDanh"].startswith("083")
        assert _cccd_ok(mother["soDinhDanh"], int(mother["ngaySinh"][-4:]), 2)
        fathers += "cha" in form
        requester = form["nguoiYeuCau"]
        assert requester["quanHe"] in ("Mẹ", "Cha") and requester["hoTen"] == d["applicant"]["data"]["fullname"]
        assert form["noiCuTru"]["maXa"] == d["applicant"]["data"]["address"]["wardCode"]
        assert DMY.match(form["giayChungSinh"]["ngayCap"]) and form["maDKBD"].startswith("83")
    assert 0.7 <= fathers / len(births) < 1


# --- mess --------------------------------------------------------------------------------------
def test_mess_is_served_at_the_configured_rate_and_is_findable(motcua_start):
    sim = motcua_start(mess_rate=0.4)
    app, client = sim.app, Client(sim.url)
    everything, _ = client.keyset_pull(size=500)  # keyset: "deleted" ones vanish once served, nothing shifts
    kinds = {d["id"]: app.mess_kind(app.index_of(d["id"])) for d in everything}
    share = sum(1 for k in kinds.values() if k) / len(everything)
    assert 0.35 <= share <= 0.45
    by_kind = Counter(kinds.values())
    for d in everything:
        kind, data = kinds[d["id"]], d["applicant"]["data"]
        nfd = not unicodedata.is_normalized("NFC", data["fullname"] + d["summary"])
        assert nfd == (kind == "nfd")
        if kind == "nfd":
            assert unicodedata.normalize("NFC", data["fullname"]) != data["fullname"]
        assert data["phoneNumber"].startswith("+84") == (kind == "phone_plus84")
        assert re.fullmatch(r"84\d{9}", data["phoneNumber"]) is not None or kind != "phone_84"
        assert (len(d["summary"]) > 1000) == (kind == "long_summary")
        assert (len(data["identityNumber"]) != 12) == (kind == "identity_length")
        assert len(data["identityNumber"]) in (11, 12, 13)
        assert (d["dossierStatus"]["id"] == 6) == (kind == "withdrawn")
        if kind == "missing_dates" and d["dossierStatus"]["id"] not in (0, 2):
            assert d["acceptedDate"] is None or d["appointmentDate"] is None
    assert all(by_kind[k] > 10 for k in ("nfd", "phone_plus84", "long_summary", "identity_length", "deleted"))
    deleted = [i for i, k in kinds.items() if k == "deleted"]
    assert all(client.get(f"/pa/dossier/{i}").status_code == 404 for i in deleted[:5])
    second = {d["id"] for d in client.keyset_pull(size=500)[0]}
    assert len(everything) == 2000 and second == set(kinds) - set(deleted)
    found = requests.get(f"{sim.url}/_sim/mess", params={"kind": "identity_length", "limit": 3}, timeout=5).json()
    assert len(found["ids"]) == 3 and all(kinds[i] == "identity_length" for i in found["ids"])


def test_mess_rate_zero_gives_clean_data(motcua_start):
    sim = motcua_start(mess_rate=0, total_dossiers=1500)
    client = Client(sim.url)
    first, second = client.offset_pull(size=500), client.offset_pull(size=500)
    assert [d["id"] for d in first] == [d["id"] for d in second] and len(first) == 1500
    for d in first:
        data = d["applicant"]["data"]
        assert unicodedata.is_normalized("NFC", json.dumps(d, ensure_ascii=False))
        assert re.fullmatch(r"0\d{9}", data["phoneNumber"]) and len(data["identityNumber"]) == 12
        assert len(d["summary"]) <= 1000 and d["dossierStatus"]["id"] != 6
        assert d["dossierStatus"]["id"] in (0, 2) or (d["acceptedDate"] and d["appointmentDate"])
    assert sim.app.find_mess("nfd") == []


# --- catalogue ---------------------------------------------------------------------------------
def test_procedure_catalogue_paging_and_the_121_department(motcua_start):
    sim = motcua_start()
    client = Client(sim.url)
    procedures, page = [], 0
    while True:
        data = client.page("/pa/procedure/search", page=page, size=100, sort="updatedDate,asc")
        procedures += data["content"]
        if data["last"]:
            break
        page += 1
    assert 200 <= len(procedures) == data["totalElements"] <= 600
    keys = [(p["updatedDate"], p["id"]) for p in procedures]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    per_agency: dict[str, Counter] = defaultdict(Counter)
    for p in procedures:
        assert p["code"] == f"{p['nationCode']}.000.00.00.H07" and p["level"] == p["agency"]["level"]
        assert p["onlineLevel"] in ("FULL", "PARTIAL", "NONE") and p["status"] in (0, 1) and p["processingDays"] >= 1
        online = p["status"] == 1 and p["onlineLevel"] != "NONE"
        per_agency[p["agency"]["name"]]["online" if online else ("withdrawn" if not p["status"] else "offline")] += 1
    assert len(per_agency) >= 12
    justice = per_agency["Sở Tư pháp tỉnh Bến Tre"]
    assert justice["online"] == 121 and justice["withdrawn"] > 0 and justice["offline"] > 0
    assert {"1.001193", "1.000894"} <= {p["nationCode"] for p in procedures}
    assert {p["agency"]["level"] for p in procedures} == {1, 2, 3}
    target = procedures[0]
    changed = requests.post(f"{sim.url}/_sim/procedures/{target['id']}", json={"status": 0}, timeout=5).json()
    assert changed["procedure"]["updatedDate"] > procedures[-1]["updatedDate"]
    newest = client.page("/pa/procedure/search", size=5, **{"updated-from": changed["procedure"]["updatedDate"]})
    assert [p["id"] for p in newest["content"]] == [target["id"]] and newest["content"][0]["status"] == 0
    assert client.page(f"/pa/procedure/{target['id']}")["status"] == 0


# --- control API -------------------------------------------------------------------------------
def test_overlay_changes_over_http(motcua_start):
    sim = motcua_start(mess_rate=0)
    client, url = Client(sim.url), sim.url
    everything = client.offset_pull(size=500)
    newest = everything[-1]["updatedDate"]
    target = everything[10]
    patched = requests.post(f"{url}/_sim/dossiers/{target['id']}",
                            json={"summary": "Đã cập nhật", "applicant": {"data": {"phoneNumber": "0900000000"}}},
                            timeout=5).json()["dossier"]
    assert patched["updatedDate"] > newest and patched["applicant"]["data"]["fullname"] == target["applicant"]["data"][
        "fullname"]
    detail = client.page(f"/pa/dossier/{target['id']}")
    assert detail["summary"] == "Đã cập nhật" and detail["applicant"]["data"]["phoneNumber"] == "0900000000"
    appended = requests.post(f"{url}/_sim/dossiers", json={"append": 3}, timeout=5).json()["appended"]
    withdrawn = requests.post(f"{url}/_sim/dossiers/{everything[20]['id']}/withdraw", timeout=5).json()["dossier"]
    assert withdrawn["dossierStatus"] == {"id": 6, "name": "Công dân rút hồ sơ"}
    assert requests.delete(f"{url}/_sim/dossiers/{everything[30]['id']}", timeout=5).status_code == 200
    assert requests.delete(f"{url}/_sim/dossiers/{everything[30]['id']}", timeout=5).status_code == 404
    assert client.get(f"/pa/dossier/{everything[30]['id']}").status_code == 404
    tail = client.page(size=50, **{"updated-from": newest})["content"]
    assert [d["id"] for d in tail] == [everything[-1]["id"], target["id"], *appended, everything[20]["id"]]
    assert all(d["dossierStatus"]["id"] in (0, 1) for d in tail[2:5])
    after = client.offset_pull(size=500)
    assert len(after) == 2000 + 3 - 1 and everything[30]["id"] not in {d["id"] for d in after}
    assert requests.post(f"{url}/_sim/dossiers/{'0' * 24}", json={"summary": "x"}, timeout=5).status_code == 404
    assert requests.post(f"{url}/_sim/dossiers/{target['id']}", json={"updatedDate": "x"}, timeout=5).status_code == 400
    assert requests.post(f"{url}/_sim/dossiers", json={"append": -1}, timeout=5).status_code == 400
    received = requests.get(f"{url}/_sim/received", timeout=5).json()
    overlay = received["overlay"]
    assert overlay["changed"] == [target["id"], everything[20]["id"]] and overlay["appended"] == appended
    assert overlay["deleted"] == [everything[30]["id"]] and received["counts"]["detail_not_found"] == 1
    requests.post(f"{url}/_sim/reset", timeout=5)
    assert len(client.offset_pull(size=500)) == 2000
    assert client.page(f"/pa/dossier/{target['id']}") == target


def test_config_validation_and_data_settings(motcua_start):
    sim = motcua_start()
    url, client = sim.url, Client(sim.url)
    for bad in ({"nope": 1}, {"mess_rate": 2}, {"total_dossiers": "many"}, {"mess_kinds": ["bogus"]}):
        assert requests.post(f"{url}/_sim/config", json=bad, timeout=5).status_code == 400
    before = client.page(size=1)["content"][0]
    settings = requests.post(f"{url}/_sim/config", json={"seed": 99, "total": 150}, timeout=5).json()
    assert settings["seed"] == 99 and settings["total_dossiers"] == 150 and settings["client_secret"] == "***"
    after = client.page(size=1)
    assert after["totalElements"] == 150 and after["content"][0]["id"] != before["id"]
    requests.post(f"{url}/_sim/config", json={"client_secret": "another-secret"}, timeout=5)
    assert client.grant().status_code == 401 and Client(url, secret="another-secret").grant().status_code == 200


def test_shared_faults_apply_to_the_search(motcua_start):
    sim = motcua_start()
    client = Client(sim.url)
    client.page(size=1)
    requests.post(f"{sim.url}/_sim/faults", json={"script": ["http_503"], "paths": ["/pa/"]}, timeout=5)
    assert client.get("/pa/dossier/search", size=1).status_code == 503
    assert client.get("/pa/dossier/search", size=1).status_code == 200


# --- scale -------------------------------------------------------------------------------------
def test_a_million_dossiers_without_holding_them(motcua_start):
    sim = motcua_start(total_dossiers=1_000_000)
    app: MotcuaApp = sim.app
    process = psutil.Process()
    before = process.memory_info().rss
    count, previous = 0, ("", "")
    for key in app.iter_dossier_keys():
        assert key >= previous
        previous, count = key, count + 1
    assert count == 1_000_000
    for index in range(0, 1_000_000, 50_000):  # bodies too, through the (bounded) cache
        app.get_dossier(app.dossier_id(index))
    client = Client(sim.url)
    started = time.perf_counter()
    deep = client.page(size=500, page=150, **{"updated-from": "2025-10-01", "updated-to": "2025-10-31T23:59:59Z"})
    assert time.perf_counter() - started < 2 and len(deep["content"]) == 500
    assert all("2025-10-01" <= d["updatedDate"][:10] <= "2025-11-01" for d in deep["content"])
    grown = (process.memory_info().rss - before) / 1e6
    assert grown < 30, f"RSS grew by {grown:.1f} MB"
