"""A REST system and a SOAP system the gateway has never seen, added with YAML files and connections only.

``tests/integration/new_targets/`` mirrors a mappings folder: two target files (``records_api``: a
JSON batch API with a bearer token; ``archive_soap``: a WSDL 1.1 document/literal service), their
routes and the WSDL.  Each test lays it over a copy of the shipped ``mappings/`` (for the code lists)
and runs the unchanged gateway against the one-stop simulator and a fake archive.  The fakes below are
the *counterparts* (external systems), so they are Python; nothing of the gateway is.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import threading
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from lxml import etree
from sqlalchemy import select

from lienthong import states
from lienthong.connections import connection_json
from lienthong.errors import ConfigError, CredentialsRefused
from lienthong.pipeline.runner import Gateway
from lienthong.settings import Settings
from lienthong.store import Store
from lienthong.store.models import OutboxRow, Run
from simulators.cluster import MOTCUA_CLIENT_ID, MOTCUA_CLIENT_SECRET
from simulators.motcua import MotcuaApp
from simulators.server import BadRequest, RunningSimulator, SimApp, SimRequest, SimResponse
from tests.integration.conftest import MAPPINGS

NEW_TARGETS = Path(__file__).parent / "new_targets"
TOTAL = 60
TOKEN = "test-only-archive-token"
VN = ZoneInfo("Asia/Ho_Chi_Minh")
STATUS_TO_NATIONAL = {i: str(i + 1) for i in range(10)}  # codelists/motcua_status.csv: ids 0-9 -> 1-10
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "urn:lienthong:test:luutru:v1"


class RecordsApi(SimApp):
    """``POST /v2/records``: a bearer token, a JSON list of records, one result per record."""

    name = "records_api"

    def __init__(self, token: str, refuse: set[str] | None = None) -> None:
        super().__init__()
        self.token, self.refuse = token, refuse or set()
        self.lock = threading.Lock()
        self.records: dict[str, list[dict[str, Any]]] = {}  # code -> every version received
        self.batches: list[int] = []
        self.denied = 0
        self.route("POST", "/v2/records", self._store)

    def _store(self, request: SimRequest) -> SimResponse:
        if request.header("authorization") != f"Bearer {self.token}":
            with self.lock:
                self.denied += 1
            return SimResponse.json(
                {"error": "invalid_token", "message": "the bearer token is not valid"},
                401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        batch = request.json()
        if not isinstance(batch, list) or not all(isinstance(r, dict) and r.get("code") for r in batch):
            raise BadRequest("a JSON list of records, each with a code, is expected")
        results = []
        with self.lock:
            self.batches.append(len(batch))
            for record in batch:
                code = record["code"]
                if code in self.refuse:
                    results.append({"code": code, "status": "rejected", "message": "procedure not archived"})
                    continue
                results.append({"code": code, "status": "updated" if code in self.records else "created"})
                self.records.setdefault(code, []).append(record)
        return SimResponse.json({"results": results})


class ArchiveSoap(SimApp):
    """``/ws/LuuTru``: serves ``archive.wsdl`` at ``?wsdl`` and answers ``LuuHoSo`` (SOAP 1.1)."""

    name = "archive_soap"

    def __init__(self, refuse: set[str] | None = None) -> None:
        super().__init__()
        self.refuse = refuse or set()
        self.lock = threading.Lock()
        self.records: dict[str, list[dict[str, str | None]]] = {}
        self.actions: set[str] = set()
        self.wsdl_served = 0
        self.route("GET", "/ws/LuuTru", self._wsdl)
        self.route("POST", "/ws/LuuTru", self._call)

    def _wsdl(self, request: SimRequest) -> SimResponse:
        if "wsdl" not in {name.lower() for name in request.query}:
            return SimResponse.text("LuuTruService: SOAP 1.1 over POST; WSDL at ?wsdl\n")
        with self.lock:
            self.wsdl_served += 1
        text = (NEW_TARGETS / "schemas" / "archive.wsdl").read_text("utf-8")
        text = text.replace("http://localhost/ws/LuuTru", f"http://{request.header('host')}/ws/LuuTru")
        return SimResponse(200, text.encode("utf-8"), "text/xml; charset=utf-8")

    def _call(self, request: SimRequest) -> SimResponse:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
        try:
            root = etree.fromstring(request.body, parser=parser)
        except etree.XMLSyntaxError as exc:
            raise BadRequest(f"not XML: {exc.msg}") from None
        body = root.find(f"{{{SOAP_ENV}}}Body")
        operation = body[0] if body is not None and len(body) else None
        if operation is None or operation.tag != f"{{{TNS}}}LuuHoSo":
            raise BadRequest("a SOAP 1.1 envelope with one LuuHoSo element is expected")
        record = {etree.QName(child).localname: child.text for child in operation}
        code = record.get("maHoSo") or ""
        with self.lock:
            self.actions.add(request.header("soapaction", ""))
            if code in self.refuse:
                answer = {"maKetQua": "02", "moTa": "Thủ tục không thuộc diện lưu trữ"}
            else:
                self.records.setdefault(code, []).append(record)
                answer = {"maKetQua": "00", "soLuuTru": f"LT-{len(self.records):05d}"}
        envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
        result = etree.SubElement(
            etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body"), f"{{{TNS}}}LuuHoSoResponse", nsmap={None: TNS}
        )
        for name, value in answer.items():  # in the WSDL's sequence order
            etree.SubElement(result, f"{{{TNS}}}{name}").text = value
        xml = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
        return SimResponse(200, xml, "text/xml; charset=utf-8")


# --- fixtures ------------------------------------------------------------------------------------
@pytest.fixture()
def serve(monkeypatch):
    """Start a counterpart on a free port and point the connection ``conn_id`` at it."""
    with contextlib.ExitStack() as stack:

        def start(app: SimApp, conn_id: str, login: str | None = None, password: str | None = None) -> Any:
            sim = stack.enter_context(RunningSimulator(app))
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", connection_json(sim.url, login, password))
            return app

        yield start


@pytest.fixture()
def motcua(serve) -> MotcuaApp:
    return serve(
        MotcuaApp(seed=11, total=TOTAL, mess_rate=0.0), "motcua", MOTCUA_CLIENT_ID, MOTCUA_CLIENT_SECRET
    )


@pytest.fixture()
def mappings(tmp_path) -> Path:
    """The shipped mappings (code lists) with the new targets, routes and WSDL laid over them."""
    folder = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, folder)
    shutil.copytree(NEW_TARGETS, folder, dirs_exist_ok=True)
    return folder


@pytest.fixture()
def gateway(mappings, tmp_path, store_url):
    gw = Gateway(Settings(data_dir=tmp_path, database_url=store_url, mappings_dir=mappings), Store(store_url))
    yield gw
    gw.store.dispose()


# --- helpers -------------------------------------------------------------------------------------
def vn_time(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(VN).strftime("%Y%m%d%H%M%S")


def dossiers(app: MotcuaApp) -> list[dict[str, Any]]:
    return [app.get_dossier(app.dossier_id(i)) for i in range(TOTAL)]


def decompose_applicant(app: MotcuaApp, index: int) -> str:
    """Store dossier ``index``'s applicant name in NFD at the source (what some one-stop systems do)."""
    dossier = app.get_dossier(app.dossier_id(index))
    nfd = unicodedata.normalize("NFD", dossier["applicant"]["data"]["fullname"])
    assert nfd != unicodedata.normalize("NFC", nfd)
    app.update_dossier(dossier["id"], applicant={"data": {"fullname": nfd}})
    return dossier["code"]


def outbox_rows(gateway: Gateway, route: str) -> dict[str, tuple[str, str | None, Any]]:
    """record key -> (state, last_error, kept response) of the route's outbox rows."""
    with gateway.store.session() as session:
        found = session.execute(select(OutboxRow).where(OutboxRow.route == route)).scalars()
        return {r.record_key: (r.state, r.last_error, json.loads(r.response or "null")) for r in found}


def code_of(app: MotcuaApp, index: int) -> str:
    return app.get_dossier(app.dossier_id(index))["code"]


# --- REST ----------------------------------------------------------------------------------------
def test_rest_target_syncs_field_by_field_in_batches_then_sends_nothing(motcua, serve, gateway):
    api = serve(RecordsApi(TOKEN), "records_api", password=TOKEN)
    nfd_code = decompose_applicant(motcua, 3)
    summary = gateway.run("archive_sync")
    assert summary.checks() == [] and summary.transform.mapped == TOTAL
    assert summary.rows[states.ACKNOWLEDGED] == TOTAL
    assert api.denied == 0  # every call carried the connection's token
    assert sum(api.batches) == TOTAL and max(api.batches) == 25 and len(api.batches) == 3
    assert any(not d.get("acceptedDate") for d in dossiers(motcua))  # the omitted-field case is covered
    for dossier in dossiers(motcua):
        (got,) = api.records[dossier["code"]]
        name = unicodedata.normalize("NFC", dossier["applicant"]["data"]["fullname"])
        expected = {
            "code": dossier["code"],
            "procedure": dossier["procedure"]["nationCode"],
            "status": STATUS_TO_NATIONAL[dossier["dossierStatus"]["id"]],
            "applicant": {"name": name},
        }
        if dossier.get("acceptedDate"):  # optional: omitted, never null, for a dossier not yet received
            expected["receivedAt"] = vn_time(dossier["acceptedDate"])
        assert got == expected
    assert unicodedata.is_normalized("NFC", api.records[nfd_code][0]["applicant"]["name"])

    again = gateway.run("archive_sync")
    assert again.extract.pulled == 0 and again.transform.rows_created == 0 and again.deliver.calls == 0
    assert len(api.batches) == 3


def test_a_wrong_token_fails_the_run_clearly_and_loses_no_row(motcua, serve, gateway):
    """Refused credentials are not the records' fault: the run fails with one clear error, the rows
    stay pending (no dead letters to replay), and the next run after the fix delivers them."""
    api = serve(RecordsApi(TOKEN), "records_api", password="not-the-archive-token")
    with pytest.raises(CredentialsRefused) as caught:
        gateway.run("archive_sync")
    message = str(caught.value)
    assert "records_api" in message and "HTTP 401" in message and "not-the-archive-token" not in message
    assert api.denied >= 1 and api.records == {}
    rows = outbox_rows(gateway, "archive_sync")
    assert len(rows) == TOTAL and {state for state, _, _ in rows.values()} == {states.PENDING}
    with gateway.store.session() as session:
        run = session.execute(select(Run).order_by(Run.id.desc())).scalars().first()
        assert run.status == "failed" and "HTTP 401" in run.error


def test_a_record_the_archive_refuses_ends_dead_alone(motcua, serve, gateway):
    refused = code_of(motcua, 7)
    api = serve(RecordsApi(TOKEN, refuse={refused}), "records_api", password=TOKEN)
    gateway.run("archive_sync")
    rows = outbox_rows(gateway, "archive_sync")
    assert rows.pop(refused)[:2] == (states.DEAD, "procedure not archived")
    assert {state for state, _, _ in rows.values()} == {states.ACKNOWLEDGED}
    assert len(api.records) == TOTAL - 1 and refused not in api.records


# --- SOAP ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("wsdl", ["served", "local_file"])
def test_soap_target_syncs_field_by_field_then_sends_nothing(motcua, serve, gateway, mappings, wsdl):
    refused = code_of(motcua, 7)
    archive = serve(ArchiveSoap(refuse={refused}), "archive_soap")
    if wsdl == "local_file":  # the same target file, reading the WSDL from the mappings folder
        target = mappings / "targets" / "archive_soap.yaml"
        text = re.sub(r"^wsdl: .*$", 'wsdl: "@schemas/archive.wsdl"', target.read_text("utf-8"), flags=re.M)
        target.write_text(text, "utf-8")
    nfd_code = decompose_applicant(motcua, 3)
    summary = gateway.run("archive_soap_sync")
    assert summary.checks() == [] and summary.transform.mapped == TOTAL
    assert archive.actions == {'"urn:lienthong:test:luutru:v1/LuuHoSo"'}
    for dossier in dossiers(motcua):
        if dossier["code"] == refused:
            continue
        (got,) = archive.records[dossier["code"]]
        expected = {
            "maHoSo": dossier["code"],
            "maTTHC": dossier["procedure"]["nationCode"],
            "trangThai": STATUS_TO_NATIONAL[dossier["dossierStatus"]["id"]],
            "tenNguoiNop": unicodedata.normalize("NFC", dossier["applicant"]["data"]["fullname"]),
        }
        if dossier.get("acceptedDate"):  # minOccurs=0: left out, not sent empty
            expected["ngayTiepNhan"] = vn_time(dossier["acceptedDate"])
        assert got == expected
    assert unicodedata.is_normalized("NFC", archive.records[nfd_code][0]["tenNguoiNop"])

    rows = outbox_rows(gateway, "archive_soap_sync")
    state, error, kept = rows.pop(refused)
    assert state == states.DEAD and "maKetQua=02" in error and kept["moTa"].startswith("Thủ tục")
    assert {state for state, _, _ in rows.values()} == {states.ACKNOWLEDGED}
    assert all(kept["soLuuTru"].startswith("LT-") for _, _, kept in rows.values())
    assert refused not in archive.records and len(archive.records) == TOTAL - 1

    again = gateway.run("archive_soap_sync")
    assert again.extract.pulled == 0 and again.deliver.calls == 0
    assert sum(len(versions) for versions in archive.records.values()) == TOTAL - 1
    assert archive.wsdl_served == (1 if wsdl == "served" else 0)  # read once, then cached


def test_a_route_field_the_wsdl_does_not_have_is_reported(motcua, serve, gateway, mappings):
    serve(ArchiveSoap(), "archive_soap")
    route = mappings / "archive_soap_sync.yaml"
    route.write_text(route.read_text("utf-8").replace("tenNguoiNop:", "tenNguoiNopp:"), "utf-8")
    try:
        gateway.run("archive_soap_sync")
    except ConfigError as exc:  # refusing the route against the WSDL up front is as good as dead rows
        assert "tenNguoiNopp" in str(exc)
        return
    # Every record refused alike is a configuration fault, not a pile of dead letters: the run fails
    # naming the answer, the rows wait (pending) for the fixed mapping (lienthong.pipeline.config_faults).
    rows = outbox_rows(gateway, "archive_soap_sync")
    assert {state for state, _, _ in rows.values()} == {states.PENDING}
    with gateway.store.session() as session:
        run = session.execute(select(Run).order_by(Run.id.desc())).scalars().first()
    assert run.status == "failed" and "tenNguoiNopp" in run.error and "check the configuration" in run.error
