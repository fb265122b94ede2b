"""The BHXH registry simulator, driven the way the gateway will drive it: a zeep client built from the
WSDL the simulator serves, with WS-Security, over real HTTP on loopback.  Attacks and malformed
envelopes go through ``requests`` as raw bytes, because zeep would never send them."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
import zeep
from lxml import etree
from zeep import xsd
from zeep.exceptions import Fault, TransportError
from zeep.wsse.username import UsernameToken

from simulators.bhxh import DEFAULT_PASSWORD, DEFAULT_USERNAME, BhxhSimulator
from simulators.bhxh.registry import card_end
from simulators.server import RunningSimulator

TNS = "http://baohiemxahoi.gov.vn/theBHYT/v1"
BINDING = f"{{{TNS}}}TheBHYTBinding"
TODAY = "20250615"  # the simulator's fixed registration day in these tests
SAFE = zeep.Settings(forbid_dtd=True, forbid_entities=True, forbid_external=True)


# --- fixtures and helpers --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sim():
    with RunningSimulator(BhxhSimulator(seed=7, today=TODAY)) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(sim):
    requests.post(f"{sim.url}/_sim/reset", timeout=5)
    configure(sim, overload_rate=0.0, today=TODAY, province=None, max_body_bytes=256 * 1024, seed=7)


def configure(sim, **settings):
    answer = requests.post(f"{sim.url}/_sim/config", json=settings, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()


def make_client(sim, wsse=None, **token):
    if wsse is None:
        wsse = UsernameToken(DEFAULT_USERNAME, DEFAULT_PASSWORD, **token)
    return zeep.Client(f"{sim.url}/ws/TheBHYT?wsdl", wsse=wsse or None, settings=SAFE)


@pytest.fixture(scope="module")
def client(sim):
    return make_client(sim)


def received(sim):
    return requests.get(f"{sim.url}/_sim/received", timeout=5).json()


def request(key="LT-0001", **changes):
    """A valid registration (mapped from the eForm of shape.md), with nested ``changes`` applied."""
    data = {
        "maHoSoLT": key,
        "maHoSoMC": "000.00.12.H07-250114-0042",
        "maTinh": "83",
        "treEm": {
            "hoTen": "Lê Minh Khang",
            "ngaySinh": "20250103",
            "gioiTinh": "1",
            "soDinhDanh": "083225001234",
        },
        "me": {"hoTen": "Nguyễn Thị Mỹ Hạnh", "soDinhDanh": "083190004567"},
        "cha": {"hoTen": "Lê Văn Tâm", "soDinhDanh": "083188007890"},
        "noiCuTru": {
            "maTinh": "83",
            "maHuyen": "829",
            "maXa": "28756",
            "diaChiChiTiet": "Số 12, đường Đồng Khởi",
        },
        "giayChungSinh": {"so": "125/2025", "quyenSo": "01", "ngayCap": "20250104", "maCSKCB": "83001"},
        "maDKBD": "83001",
    }
    for path, value in changes.items():
        node = data
        *parents, last = path.split("__")
        for part in parents:
            node = node[part]
        node[last] = value
    return data


def raw_envelope(client, operation="DangKyTheBHYTTreEm", token=None, **fields) -> bytes:
    """The envelope zeep would send, with a PasswordText token, as bytes a test may then tamper with."""
    bare = zeep.Client(wsdl=client.wsdl, settings=SAFE)  # create_message applies the client's own wsse
    envelope = bare.create_message(bare.service, operation, **fields)
    (token or UsernameToken(DEFAULT_USERNAME, DEFAULT_PASSWORD)).apply(envelope, {})
    return etree.tostring(envelope, encoding="utf-8")


def post_raw(sim, body: bytes, action: str = "DangKyTheBHYTTreEm") -> requests.Response:
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{TNS}/{action}"'}
    return requests.post(f"{sim.url}/ws/TheBHYT", data=body, headers=headers, timeout=10)


def fault_of(answer: requests.Response) -> dict[str, str | None]:
    doc = etree.fromstring(answer.content, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    fault = doc.find(
        "{http://schemas.xmlsoap.org/soap/envelope/}Body/{http://schemas.xmlsoap.org/soap/envelope/}Fault"
    )
    assert fault is not None, answer.text
    return {
        "code": fault.findtext("faultcode"),
        "string": fault.findtext("faultstring"),
        "field": fault.findtext(f"detail/{{{TNS}}}LoiDuLieu/{{{TNS}}}truongDuLieu"),
        "error": fault.findtext(f"detail/{{{TNS}}}LoiDuLieu/{{{TNS}}}maLoi"),
    }


def detail_fields(fault: Fault) -> list[str]:
    return [e.text for e in fault.detail.iter(f"{{{TNS}}}truongDuLieu")]


def years_ago(today: date, years: int, days: int = 0) -> str:
    return f"{today.replace(year=today.year - years) + timedelta(days=days):%Y%m%d}"


# --- WSDL ------------------------------------------------------------------------------------------
def test_wsdl_is_served_with_its_own_address_and_builds_a_zeep_client(sim, client):
    answer = requests.get(f"{sim.url}/ws/TheBHYT?wsdl", timeout=5)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/xml")
    doc = etree.fromstring(answer.content)
    location = doc.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address").get("location")
    assert location == f"{sim.url}/ws/TheBHYT"
    assert client.service._binding_options["address"] == location
    operations = set(client.wsdl.bindings[BINDING]._operations)
    assert operations == {"DangKyTheBHYTTreEm", "TraCuuTheBHYT"}
    assert "WSDL" in requests.get(f"{sim.url}/ws/TheBHYT", timeout=5).text


def test_public_url_setting_names_the_address_behind_a_proxy(sim):
    configure(sim, public_url="https://ngsp.example.gov.vn:8443/bhxh")
    try:
        wsdl = requests.get(f"{sim.url}/ws/TheBHYT?WSDL", timeout=5).text
        assert 'location="https://ngsp.example.gov.vn:8443/bhxh/ws/TheBHYT"' in wsdl
    finally:
        configure(sim, public_url=None)


def test_create_service_sends_to_the_address_the_gateway_chooses(sim, client):
    with RunningSimulator(BhxhSimulator(today=TODAY)) as other:
        service = client.create_service(BINDING, f"{other.url}/ws/TheBHYT")
        answer = service.DangKyTheBHYTTreEm(**request("LT-ELSEWHERE"))
        assert answer.maKetQua == "000"
        assert "LT-ELSEWHERE" in received(other)["registrations"]
    assert received(sim)["registrations"] == {}


# --- registration ----------------------------------------------------------------------------------
def test_registration_issues_a_card_in_the_public_format(sim, client):
    answer = client.service.DangKyTheBHYTTreEm(**request())
    assert answer.maKetQua == "000" and answer.moTa
    assert len(answer.maSoBhxh) == 10 and answer.maSoBhxh.isdigit()
    assert len(answer.maThe) == 15
    assert answer.maThe == f"TE183{answer.maSoBhxh}"
    assert (answer.gtTheTu, answer.gtTheDen, answer.maDKBD) == ("20250103", "20310102", "83001")
    state = received(sim)["registrations"]["LT-0001"]
    assert (state["writes"], state["repeats"]) == (1, 0)
    assert state["card"]["maThe"] == answer.maThe
    assert state["request"]["treEm"] == request()["treEm"]


def test_a_child_born_on_29_february_is_covered_until_28_february(client):
    answer = client.service.DangKyTheBHYTTreEm(
        **request("LT-LEAP", treEm__ngaySinh="20240229", giayChungSinh__ngayCap="20240301")
    )
    assert (answer.gtTheTu, answer.gtTheDen) == ("20240229", "20300228")


@pytest.mark.parametrize(
    "birth,end",
    [("20250103", "20310102"), ("20240229", "20300228"), ("20200301", "20260228"), ("20191231", "20251230")],
)
def test_card_end_is_the_day_before_the_sixth_birthday(birth, end):
    as_date = date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
    assert f"{card_end(as_date):%Y%m%d}" == end


def test_repeat_with_the_same_key_returns_the_same_card_whatever_changed(sim, client):
    first = client.service.DangKyTheBHYTTreEm(**request())
    changed = request(treEm__hoTen="Lê Minh Khôi", maDKBD="83002", cha=xsd.SkipValue)
    second = client.service.DangKyTheBHYTTreEm(**changed)
    assert second.maKetQua == "001"
    assert (second.maThe, second.maSoBhxh, second.maDKBD) == (first.maThe, first.maSoBhxh, "83001")
    state = received(sim)
    assert state["registrations"]["LT-0001"]["request"]["treEm"]["hoTen"] == "Lê Minh Khang"
    assert (state["totals"]["writes"], state["totals"]["repeats"]) == (1, 1)


def test_card_numbers_are_deterministic_per_seed_and_unique(sim, client):
    first = [
        client.service.DangKyTheBHYTTreEm(**request(f"LT-{i}", treEm__soDinhDanh=xsd.SkipValue)).maThe
        for i in range(20)
    ]
    assert len(set(first)) == 20
    requests.post(f"{sim.url}/_sim/reset", timeout=5)
    again = [
        client.service.DangKyTheBHYTTreEm(**request(f"LT-{i}", treEm__soDinhDanh=xsd.SkipValue)).maThe
        for i in range(20)
    ]
    assert again == first
    requests.post(f"{sim.url}/_sim/reset", timeout=5)
    configure(sim, seed=8)
    assert client.service.DangKyTheBHYTTreEm(**request("LT-0")).maThe != first[0]


def test_newborn_without_identity_number_and_without_father_is_registered(sim, client):
    answer = client.service.DangKyTheBHYTTreEm(**request(treEm__soDinhDanh=xsd.SkipValue, cha=xsd.SkipValue))
    assert answer.maKetQua == "000"
    assert "cha" not in received(sim)["registrations"]["LT-0001"]["request"]


def test_a_second_key_for_a_child_who_has_a_card_answers_002_with_that_card(sim, client):
    first = client.service.DangKyTheBHYTTreEm(**request("LT-A"))
    second = client.service.DangKyTheBHYTTreEm(**request("LT-B"))
    assert second.maKetQua == "002" and second.maThe == first.maThe
    state = received(sim)
    assert list(state["registrations"]) == ["LT-A"]
    assert state["duplicates"] == {"LT-B": {"existingMaHoSoLT": "LT-A", "count": 1}}


# --- lookup ----------------------------------------------------------------------------------------
def test_lookup_by_card_number_and_by_identity_number(sim, client):
    card = client.service.DangKyTheBHYTTreEm(**request())
    for answer in (
        client.service.TraCuuTheBHYT(maThe=card.maThe),
        client.service.TraCuuTheBHYT(soDinhDanh="083225001234"),
    ):
        assert answer.maKetQua == "000"
        the = answer.the
        assert (the.maThe, the.maSoBhxh, the.hoTen, the.ngaySinh) == (
            card.maThe,
            card.maSoBhxh,
            "Lê Minh Khang",
            "20250103",
        )
        assert (the.gtTheTu, the.gtTheDen, the.maHoSoLT, the.ngayCapThe) == (
            "20250103",
            "20310102",
            "LT-0001",
            TODAY,
        )
        assert the.conHieuLuc is True and the.trangThaiThe == "Còn hiệu lực"
    configure(sim, today="20310103")
    assert client.service.TraCuuTheBHYT(maThe=card.maThe).the.conHieuLuc is False


def test_lookup_of_an_unknown_card_answers_404(sim, client):
    answer = client.service.TraCuuTheBHYT(maThe="TE1830000000001")
    assert (answer.maKetQua, answer.the) == ("404", None)
    assert client.service.TraCuuTheBHYT(soDinhDanh="083225009999").maKetQua == "404"
    assert received(sim)["totals"]["lookups_not_found"] == 2


@pytest.mark.parametrize(
    "fields,field",
    [({"maThe": "TE18312"}, "maThe"), ({"soDinhDanh": "08322500"}, "soDinhDanh"), ({}, "maThe")],
)
def test_lookup_input_is_validated(client, fields, field):
    with pytest.raises(Fault) as caught:
        client.service.TraCuuTheBHYT(**fields)
    assert caught.value.code == "soap:Client"
    assert caught.value.message.startswith(f"{field}: ")


def test_without_a_fixed_day_the_registry_uses_the_date_in_vietnam(sim, client):
    configure(sim, today=None)
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    born = f"{today:%Y%m%d}"
    answer = client.service.DangKyTheBHYTTreEm(**request(treEm__ngaySinh=born, giayChungSinh__ngayCap=born))
    assert (answer.maKetQua, answer.gtTheTu) == ("000", born)


# --- validation: one rule per case -----------------------------------------------------------------
NFD_NAME = "Le\u0302 Minh Khang"  # "Lê" with a combining circumflex

VALIDATION_CASES = [
    # (changes to the valid request, field named, words of the message)
    ({"maHoSoLT": xsd.SkipValue}, "maHoSoLT", "thiếu thông tin bắt buộc"),
    ({"maHoSoLT": "LT 0001 ?"}, "maHoSoLT", "chỉ gồm"),
    ({"maHoSoMC": ""}, "maHoSoMC", "thiếu thông tin bắt buộc"),
    ({"me": xsd.SkipValue}, "me", "thiếu thông tin bắt buộc"),
    ({"treEm__hoTen": "   "}, "treEm/hoTen", "thiếu thông tin bắt buộc"),
    ({"treEm__hoTen": "Lê " + "A" * 100}, "treEm/hoTen", "dài quá 100"),
    ({"treEm__hoTen": NFD_NAME}, "treEm/hoTen", "NFC"),
    ({"treEm__ngaySinh": "2025-01-03"}, "treEm/ngaySinh", "sai định dạng yyyyMMdd"),
    ({"treEm__ngaySinh": "03/01/2025"}, "treEm/ngaySinh", "sai định dạng yyyyMMdd"),
    ({"treEm__ngaySinh": "20250230"}, "treEm/ngaySinh", "không có thật"),
    ({"treEm__ngaySinh": "20250616"}, "treEm/ngaySinh", "sau ngày hiện tại"),
    ({"treEm__ngaySinh": "20190615", "giayChungSinh__ngayCap": "20190616"}, "treEm/ngaySinh", "đủ 6 tuổi"),
    ({"treEm__gioiTinh": "3"}, "treEm/gioiTinh", "1 (nam) hoặc 2 (nữ)"),
    ({"treEm__gioiTinh": "nam"}, "treEm/gioiTinh", "1 (nam) hoặc 2 (nữ)"),
    ({"treEm__soDinhDanh": "08322500123"}, "treEm/soDinhDanh", "12 chữ số"),
    ({"me__soDinhDanh": xsd.SkipValue}, "me/soDinhDanh", "thiếu thông tin bắt buộc"),
    ({"me__soDinhDanh": "0831900045AB"}, "me/soDinhDanh", "12 chữ số"),
    ({"cha__hoTen": ""}, "cha/hoTen", "thiếu thông tin bắt buộc"),
    ({"maTinh": "8"}, "maTinh", "2 chữ số"),
    ({"noiCuTru__maTinh": "84"}, "noiCuTru/maTinh", "không khớp"),
    ({"noiCuTru__maHuyen": "82"}, "noiCuTru/maHuyen", "3 chữ số"),
    ({"noiCuTru__maXa": "2875"}, "noiCuTru/maXa", "5 chữ số"),
    ({"giayChungSinh__ngayCap": "20250102"}, "giayChungSinh/ngayCap", "trước ngày sinh"),
    ({"giayChungSinh__ngayCap": "2025014"}, "giayChungSinh/ngayCap", "sai định dạng yyyyMMdd"),
    ({"giayChungSinh__maCSKCB": "8300"}, "giayChungSinh/maCSKCB", "5 chữ số"),
    ({"maDKBD": "83A01"}, "maDKBD", "5 chữ số"),
]


@pytest.mark.parametrize(
    "changes,field,words", VALIDATION_CASES, ids=[c[1] + ":" + c[2] for c in VALIDATION_CASES]
)
def test_each_validation_rule_answers_a_client_fault_naming_the_field(sim, client, changes, field, words):
    with pytest.raises(Fault) as caught:
        client.service.DangKyTheBHYTTreEm(**request(**changes))
    fault = caught.value
    assert fault.code == "soap:Client"
    assert fault.message.startswith(f"{field}: ") and words in fault.message
    assert detail_fields(fault) == [field]
    for value in changes.values():
        if isinstance(value, str) and len(value) >= 4:
            assert value not in fault.message  # personal data is never echoed
    assert received(sim)["registrations"] == {}


def test_a_child_who_turns_six_tomorrow_is_still_registered(client):
    answer = client.service.DangKyTheBHYTTreEm(
        **request(treEm__ngaySinh="20190616", giayChungSinh__ngayCap="20190617")
    )
    assert (answer.maKetQua, answer.gtTheDen) == ("000", "20250615")


def test_the_under_six_rule_does_not_block_a_repeat(sim, client):
    first = client.service.DangKyTheBHYTTreEm(
        **request(treEm__ngaySinh="20190616", giayChungSinh__ngayCap="20190617")
    )
    configure(sim, today="20250620")
    again = client.service.DangKyTheBHYTTreEm(
        **request(treEm__ngaySinh="20190616", giayChungSinh__ngayCap="20190617")
    )
    assert (again.maKetQua, again.maThe) == ("001", first.maThe)


def test_every_field_error_is_listed_in_the_detail(client):
    with pytest.raises(Fault) as caught:
        client.service.DangKyTheBHYTTreEm(**request(treEm__gioiTinh="3", noiCuTru__maXa="1", maDKBD=""))
    assert caught.value.message.startswith("treEm/gioiTinh: ") and "(và 2 lỗi khác)" in caught.value.message
    assert detail_fields(caught.value) == ["treEm/gioiTinh", "noiCuTru/maXa", "maDKBD"]


def test_province_setting_refuses_other_provinces(client, sim):
    configure(sim, province="83")
    other = request(maTinh="79", noiCuTru__maTinh="79")
    with pytest.raises(Fault) as caught:
        client.service.DangKyTheBHYTTreEm(**other)
    assert caught.value.message.startswith("maTinh: ") and "83" in caught.value.message
    assert client.service.DangKyTheBHYTTreEm(**request()).maKetQua == "000"


@pytest.mark.parametrize(
    "tamper,field",
    [
        (lambda payload: etree.SubElement(payload, f"{{{TNS}}}ghiChu"), "ghiChu"),
        (lambda payload: etree.SubElement(payload, "maDKBD"), "maDKBD"),  # no namespace
        (
            lambda payload: payload.append(etree.fromstring(f'<t:maTinh xmlns:t="{TNS}">83</t:maTinh>')),
            "maTinh",
        ),
        (
            lambda payload: payload.find(f"{{{TNS}}}treEm/{{{TNS}}}hoTen").append(
                etree.Element(f"{{{TNS}}}x")
            ),
            "treEm/hoTen",
        ),
    ],
    ids=["unknown", "unqualified", "duplicated", "children-in-a-leaf"],
)
def test_elements_the_wsdl_does_not_declare_are_refused(sim, client, tamper, field):
    doc = etree.fromstring(raw_envelope(client, **request()))
    tamper(doc.find(f".//{{{TNS}}}DangKyTheBHYTTreEm"))
    answer = post_raw(sim, etree.tostring(doc))
    fault = fault_of(answer)
    assert answer.status_code == 500
    assert (fault["code"], fault["field"], fault["error"]) == ("soap:Client", field, "LOI_CAU_TRUC")
    assert received(sim)["registrations"] == {}


# --- WS-Security -----------------------------------------------------------------------------------
def test_password_digest_with_nonce_and_created_is_accepted(sim):
    digest_client = make_client(sim, use_digest=True)
    assert digest_client.service.DangKyTheBHYTTreEm(**request()).maKetQua == "000"
    assert digest_client.service.TraCuuTheBHYT(soDinhDanh="083225001234").maKetQua == "000"


def _stale() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=10)


@pytest.mark.parametrize(
    "token",
    [
        lambda: False,  # no Security header at all
        lambda: UsernameToken(DEFAULT_USERNAME, "wrong-secret"),
        lambda: UsernameToken("someone-else", DEFAULT_PASSWORD),
        lambda: UsernameToken(DEFAULT_USERNAME),  # no Password element
        lambda: UsernameToken(DEFAULT_USERNAME, "wrong-secret", use_digest=True),
        lambda: UsernameToken(DEFAULT_USERNAME, DEFAULT_PASSWORD, use_digest=True, created=_stale()),
    ],
    ids=["missing", "wrong-password", "wrong-user", "no-password", "digest-wrong-password", "digest-stale"],
)
def test_missing_or_wrong_credentials_answer_a_client_fault(sim, token):
    with pytest.raises(Fault) as caught:
        make_client(sim, wsse=token()).service.DangKyTheBHYTTreEm(**request())
    assert (caught.value.code, caught.value.message) == ("soap:Client", "Xác thực thất bại")
    assert received(sim)["registrations"] == {}


def test_a_digest_nonce_cannot_be_replayed(sim):
    replaying = make_client(sim, use_digest=True, nonce="the-same-nonce-every-time")
    assert replaying.service.TraCuuTheBHYT(maThe="TE1830000000001").maKetQua == "404"
    with pytest.raises(Fault) as caught:
        replaying.service.TraCuuTheBHYT(maThe="TE1830000000001")
    assert caught.value.message == "Xác thực thất bại"


def test_the_refusal_never_echoes_the_password_and_unknown_types_are_refused(sim, client):
    wrong = raw_envelope(client, token=UsernameToken(DEFAULT_USERNAME, "hunter2-wrong"), **request())
    answer = post_raw(sim, wrong)
    assert fault_of(answer)["string"] == "Xác thực thất bại"
    assert b"hunter2" not in answer.content and b"demo-secret" not in answer.content
    odd = raw_envelope(client, **request()).replace(b"#PasswordText", b"#PasswordPlain")
    assert fault_of(post_raw(sim, odd))["error"] == "XAC_THUC_THAT_BAI"


def test_a_token_with_two_passwords_is_refused(sim, client):
    envelope = etree.fromstring(
        raw_envelope(client, token=UsernameToken(DEFAULT_USERNAME, "wrong"), **request())
    )
    UsernameToken(DEFAULT_USERNAME, DEFAULT_PASSWORD).apply(envelope, {})  # adds a second Username+Password
    token = envelope.find(".//{*}UsernameToken")
    assert len(token.findall("{*}Password")) == 2
    assert fault_of(post_raw(sim, etree.tostring(envelope)))["string"] == "Xác thực thất bại"
    assert received(sim)["registrations"] == {}


def test_credentials_can_be_changed_and_are_never_shown(sim, client):
    settings = configure(sim, password="rotated-secret")
    try:
        assert "password" not in settings and DEFAULT_PASSWORD not in str(settings)
        with pytest.raises(Fault):
            client.service.TraCuuTheBHYT(maThe="TE1830000000001")
        rotated = make_client(sim, wsse=UsernameToken(DEFAULT_USERNAME, "rotated-secret"))
        assert rotated.service.TraCuuTheBHYT(maThe="TE1830000000001").maKetQua == "404"
    finally:
        configure(sim, password=DEFAULT_PASSWORD)


# --- hostile and malformed documents ---------------------------------------------------------------
def _with_doctype(client, doctype: str, key_text: str) -> bytes:
    body = raw_envelope(client, **request("LT-PLACEHOLDER")).decode("utf-8")
    return (doctype + body.replace("LT-PLACEHOLDER", key_text)).encode("utf-8")


ATTACKS = {
    "internal-entity": ('<!DOCTYPE soap-env:Envelope [<!ENTITY k "LT-ENTITY-EXPANDED">]>', "&k;"),
    "external-entity": ('<!DOCTYPE soap-env:Envelope [<!ENTITY k SYSTEM "file:///etc/passwd">]>', "&k;"),
    "billion-laughs": (
        '<!DOCTYPE soap-env:Envelope [<!ENTITY a "LOL-LOL-LOL-LOL">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
        + "]>",
        "&j;",
    ),
    "external-dtd": ('<!DOCTYPE soap-env:Envelope SYSTEM "http://203.0.113.9/evil.dtd">', "LT-0001"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_doctype_is_refused_and_no_entity_is_expanded(sim, client, attack):
    doctype, key_text = ATTACKS[attack]
    answer = post_raw(sim, _with_doctype(client, doctype, key_text))
    fault = fault_of(answer)
    assert answer.status_code == 500
    assert (fault["code"], fault["string"], fault["error"]) == (
        "soap:Client",
        "DTD không được phép",
        "DTD_KHONG_DUOC_PHEP",
    )
    assert b"LT-ENTITY-EXPANDED" not in answer.content and b"root:" not in answer.content
    assert b"LOL-LOL" not in answer.content
    assert answer.elapsed.total_seconds() < 2
    assert received(sim)["registrations"] == {}


def test_a_doctype_in_utf16_is_refused_too(sim, client):
    doctype, key_text = ATTACKS["internal-entity"]
    text = _with_doctype(client, doctype, key_text).decode("utf-8")
    answer = post_raw(sim, ('<?xml version="1.0" encoding="UTF-16"?>' + text).encode("utf-16"))
    assert fault_of(answer)["string"] == "DTD không được phép"
    assert received(sim)["registrations"] == {}


def test_the_parser_refuses_a_doctype_even_past_the_byte_scan(monkeypatch):
    from simulators.bhxh import soap

    monkeypatch.setattr(soap, "_DOCTYPE_MARKERS", ())
    document = b'<!DOCTYPE x [<!ENTITY k "EXPANDED">]><x>&k;</x>'
    with pytest.raises(soap.SoapFault) as caught:
        soap.parse_envelope(document, 10_000)
    assert caught.value.faultstring == "DTD không được phép"


def test_an_undeclared_entity_is_malformed_xml(sim, client):
    answer = post_raw(
        sim, raw_envelope(client, **request("LT-PLACEHOLDER")).replace(b"LT-PLACEHOLDER", b"&k;")
    )
    assert (fault_of(answer)["code"], fault_of(answer)["error"]) == ("soap:Client", "LOI_XML")
    assert received(sim)["registrations"] == {}


def test_an_oversized_body_is_refused_with_413(sim, client):
    body = raw_envelope(client, **request())
    padded = body.replace(b"<soap-env:Body>", b"<soap-env:Body><!--" + b"x" * (300 * 1024) + b"-->")
    answer = post_raw(sim, padded)
    assert answer.status_code == 413
    assert fault_of(answer)["error"] == "THONG_DIEP_QUA_LON"
    configure(sim, max_body_bytes=1024)
    with pytest.raises(Fault) as caught:  # zeep reads the SOAP fault of a 413 too
        client.service.DangKyTheBHYTTreEm(**request())
    assert caught.value.code == "soap:Client" and "1024" in caught.value.message
    assert received(sim)["registrations"] == {}


def _envelope(inner: str, header: str = "", ns: str = "http://schemas.xmlsoap.org/soap/envelope/") -> bytes:
    return (
        f'<s:Envelope xmlns:s="{ns}" xmlns:t="{TNS}"><s:Header>{header}</s:Header>'
        f"<s:Body>{inner}</s:Body></s:Envelope>"
    ).encode()


@pytest.mark.parametrize(
    "body,action,code,error",
    [
        (
            _envelope("<t:TraCuuTheBHYT/>", ns="http://www.w3.org/2003/05/soap-envelope"),
            "TraCuuTheBHYT",
            "soap:VersionMismatch",
            "SAI_PHIEN_BAN_SOAP",
        ),
        (b"<TraCuuTheBHYT/>", "TraCuuTheBHYT", "soap:Client", "LOI_XML"),
        (b"not xml at all", "TraCuuTheBHYT", "soap:Client", "LOI_XML"),
        (b"", "TraCuuTheBHYT", "soap:Client", "LOI_XML"),
        (_envelope("<t:TraCuuTheBHYT/><t:TraCuuTheBHYT/>"), "TraCuuTheBHYT", "soap:Client", "LOI_XML"),
        (
            _envelope("", header='<x:Trace xmlns:x="urn:x" s:mustUnderstand="1"/>'),
            "TraCuuTheBHYT",
            "soap:MustUnderstand",
            "HEADER_KHONG_HO_TRO",
        ),
    ],
    ids=["soap12", "no-envelope", "not-xml", "empty", "two-operations", "must-understand"],
)
def test_malformed_envelopes_answer_faults(sim, body, action, code, error):
    fault = fault_of(post_raw(sim, body, action))
    assert (fault["code"], fault["error"]) == (code, error)


def test_unknown_operation_and_mismatched_soapaction_are_client_faults(sim, client):
    unknown = raw_envelope(client, "TraCuuTheBHYT", maThe="TE1830000000001").replace(
        b"TraCuuTheBHYT", b"XoaTheBHYT"
    )
    fault = fault_of(post_raw(sim, unknown, "XoaTheBHYT"))
    assert (fault["code"], fault["error"]) == ("soap:Client", "THAO_TAC_KHONG_HO_TRO")
    lookup = raw_envelope(client, "TraCuuTheBHYT", maThe="TE1830000000001")
    assert fault_of(post_raw(sim, lookup, "DangKyTheBHYTTreEm"))["error"] == "SAI_SOAPACTION"
    plain = requests.post(
        f"{sim.url}/ws/TheBHYT", data=lookup, headers={"Content-Type": "text/xml"}, timeout=5
    )
    assert plain.status_code == 200 and b"<tns:maKetQua>404</tns:maKetQua>" in plain.content


# --- server faults and overload --------------------------------------------------------------------
def script(sim, *kinds):
    answer = requests.post(f"{sim.url}/_sim/faults", json={"script": list(kinds)}, timeout=5)
    assert answer.status_code == 200, answer.text


def test_injected_soap_server_fault_is_a_real_soap_fault(sim, client):
    script(sim, "soap_server")
    with pytest.raises(Fault) as caught:
        client.service.DangKyTheBHYTTreEm(**request())
    assert caught.value.code == "soap:Server"
    assert received(sim)["registrations"] == {}
    assert client.service.DangKyTheBHYTTreEm(**request()).maKetQua == "000"  # the retry succeeds
    script(sim, "soap_server")
    raw = post_raw(sim, raw_envelope(client, **request()))
    assert raw.status_code == 500 and raw.headers["Content-Type"].startswith("text/xml")
    assert fault_of(raw)["code"] == "soap:Server"


def test_other_injected_faults_stay_plain_http(sim, client):
    script(sim, "http_503")
    with pytest.raises(TransportError) as caught:
        client.service.TraCuuTheBHYT(maThe="TE1830000000001")
    assert caught.value.status_code == 503


def test_overload_rate_answers_server_faults_reproducibly(sim, client):
    configure(sim, overload_rate=1.0)
    with pytest.raises(Fault) as caught:
        client.service.DangKyTheBHYTTreEm(**request())
    assert (caught.value.code, caught.value.message) == (
        "soap:Server",
        "Hệ thống đang quá tải, vui lòng thử lại sau",
    )
    assert received(sim)["registrations"] == {}

    def pattern():
        requests.post(f"{sim.url}/_sim/reset", timeout=5)  # re-seeds the overload draw
        configure(sim, overload_rate=0.5, seed=3)
        outcome = []
        for _ in range(24):
            try:
                client.service.TraCuuTheBHYT(maThe="TE1830000000001")
                outcome.append("ok")
            except Fault as fault:
                assert fault.code == "soap:Server"
                outcome.append("overload")
        return outcome

    first = pattern()
    assert "ok" in first and "overload" in first
    assert pattern() == first
    assert received(sim)["totals"]["overloads"] == first.count("overload")


# --- concurrency -----------------------------------------------------------------------------------
def test_concurrent_registrations_of_one_key_make_one_card(sim):
    workers = 8
    clients = [make_client(sim) for _ in range(workers)]
    barrier = threading.Barrier(workers)
    answers: list = []
    errors: list = []

    def register(worker_client):
        barrier.wait()
        try:
            answers.append(worker_client.service.DangKyTheBHYTTreEm(**request("LT-RACE")))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len({a.maThe for a in answers}) == 1
    assert sorted(a.maKetQua for a in answers) == ["000"] + ["001"] * (workers - 1)
    state = received(sim)["registrations"]["LT-RACE"]
    assert (state["writes"], state["repeats"]) == (1, workers - 1)


# --- control API and logs --------------------------------------------------------------------------
def test_settings_are_validated(sim):
    for bad in (
        {"overload_rate": 2},
        {"province": "8"},
        {"today": "20250230"},
        {"colour": "red"},
        {"seed": "x"},
    ):
        answer = requests.post(f"{sim.url}/_sim/config", json=bad, timeout=5)
        assert answer.status_code == 400, bad
        assert next(iter(bad)) in answer.json()["message"]
    settings = requests.get(f"{sim.url}/_sim/config", timeout=5).json()
    assert settings["username"] == DEFAULT_USERNAME and "password" not in settings


def test_personal_data_and_secrets_never_reach_the_simulator_logs(sim, client, caplog):
    caplog.set_level(logging.DEBUG)
    client.service.DangKyTheBHYTTreEm(**request())
    with pytest.raises(Fault):
        client.service.DangKyTheBHYTTreEm(**request("LT-2", me__soDinhDanh="08319000456"))
    with pytest.raises(Fault):
        make_client(sim, wsse=UsernameToken(DEFAULT_USERNAME, "hunter2-wrong")).service.TraCuuTheBHYT(
            maThe="TE1830000000001"
        )
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("simulators"))
    assert "WS-Security refused" in ours
    for secret in ("083225001234", "083190004567", "08319000456", "hunter2", DEFAULT_PASSWORD, "Khang"):
        assert secret not in ours


def test_the_documented_example_request_is_accepted(sim):
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "simulators" / "bhxh.md").read_text("utf-8")
    example = doc.split("## Example request", 1)[1].split("```xml\n", 1)[1].split("```", 1)[0]
    answer = post_raw(sim, example.encode("utf-8"))
    assert answer.status_code == 200, answer.text
    card = etree.fromstring(answer.content).find(f".//{{{TNS}}}maThe").text
    assert len(card) == 15 and card.startswith("TE183")
