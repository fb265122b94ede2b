"""One classifier of answers (issue 16, finding 8): every connector's statuses, SOAP faults and
transport failures become one of four next actions, by ``isinstance``, never by an exception's text."""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import func, select

from connectors import answers
from connectors.answers import Action
from connectors.http import RedirectRefused, SchemeRefused, Timeouts, make_session
from connectors.targets import Delivery, load_spec, open_target
from connectors.targets.soap import SoapTarget
from lienthong.connections import connection_json, get_connection
from lienthong.errors import (
    CounterpartError,
    CredentialsRefused,
    FatalError,
    RetriableError,
    StopRun,
)
from lienthong.settings import PACKAGE_ROOT
from lienthong.store.models import OutboxRow
from lienthong.store.protection import TargetGuard
from simulators.bhxh import BhxhSimulator
from tests.connectors.test_soap_target import registration
from tests.security.hostile import Hostile, Reply

MAPPINGS = PACKAGE_ROOT / "mappings"


# --- the table -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "action"),
    [
        (200, None),
        (204, None),
        (301, Action.RETRY),
        (307, Action.RETRY),
        (400, Action.REJECT),
        (401, Action.STOP_RUN),
        (403, Action.STOP_RUN),
        (404, Action.REJECT),
        (405, Action.STOP_RUN),
        (407, Action.STOP_RUN),
        (408, Action.RETRY),
        (409, Action.REJECT),
        (422, Action.REJECT),
        (429, Action.RETRY),
        (500, Action.UNKNOWN),
        (501, Action.STOP_RUN),
        (502, Action.UNKNOWN),
        (503, Action.RETRY),
        (504, Action.UNKNOWN),
        (599, Action.UNKNOWN),
    ],
)
def test_statuses(status, action):
    verdict = answers.of_status(status)
    assert (verdict.action if verdict else None) is action
    if verdict is not None:
        assert str(status) in verdict.reason


def test_a_read_never_has_an_unknown_outcome():
    assert answers.of_status(500, write=False).action is Action.RETRY
    assert answers.of_status(429, retry_after=7).retry_after == 7


@pytest.mark.parametrize(
    ("code", "subcodes", "action", "credentials"),
    [
        ("soap:Client", (), Action.REJECT, False),
        ("soap-env:Sender", (), Action.REJECT, False),  # SOAP 1.2: was retried
        ("{http://www.w3.org/2003/05/soap-envelope}Sender", (), Action.REJECT, False),
        ("soap:Server", (), Action.UNKNOWN, False),
        ("env:Receiver", (), Action.UNKNOWN, False),
        ("soap:Client.Authentication", (), Action.STOP_RUN, True),
        ("wsse:FailedAuthentication", (), Action.STOP_RUN, True),
        ("env:Sender", ("wsse:InvalidSecurityToken",), Action.STOP_RUN, True),
        ("soap:VersionMismatch", (), Action.STOP_RUN, False),
        ("soap:MustUnderstand", (), Action.STOP_RUN, False),
        ("Whatever", (), Action.UNKNOWN, False),
        (None, (), Action.UNKNOWN, False),
    ],
)
def test_soap_faults_of_both_versions(code, subcodes, action, credentials):
    verdict = answers.of_fault(code, subcodes)
    assert verdict.action is action and verdict.credentials is credentials


def test_a_target_can_name_its_own_credential_fault_codes():
    plain = answers.of_fault("soap:Client", detail_codes={"XAC_THUC_THAT_BAI"})
    named = answers.of_fault(
        "soap:Client", detail_codes={"XAC_THUC_THAT_BAI"}, credential_codes={"XAC_THUC_THAT_BAI"}
    )
    assert plain.action is Action.REJECT and named.action is Action.STOP_RUN and named.credentials


@pytest.mark.parametrize(
    ("action", "credentials", "cls"),
    [
        (Action.STOP_RUN, True, CredentialsRefused),
        (Action.STOP_RUN, False, CounterpartError),
        (Action.REJECT, False, FatalError),
        (Action.RETRY, False, RetriableError),
        (Action.UNKNOWN, False, RetriableError),
    ],
)
def test_each_action_has_its_own_error_class_and_they_are_siblings(action, credentials, cls):
    error = answers.Verdict(action, "why", credentials=credentials).error("place", target="t")
    assert type(error) is cls and str(error) == "target t: place: why"
    assert isinstance(error, RetriableError) is (action in (Action.RETRY, Action.UNKNOWN))
    assert isinstance(error, FatalError) is (action is Action.REJECT)
    assert isinstance(error, StopRun) is (action is Action.STOP_RUN)
    if isinstance(error, RetriableError):
        assert error.outcome_unknown is (action is Action.UNKNOWN)


# --- transport exceptions, by class --------------------------------------------------------------------
def _raised(call) -> BaseException:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - any: the classifier is under test
        call()
    return caught.value


def test_a_refused_connection_is_a_retry_that_certainly_did_not_take_effect():
    session = make_session(Timeouts(connect=2, read=2))
    exc = _raised(lambda: session.post("http://127.0.0.1:9/api/service?session=abc", json={}))
    verdict = answers.of_exception(exc)
    assert verdict.action is Action.RETRY and verdict.reason == "unreachable (connection refused)"
    error = answers.error_for(exc, "dvcqg (http://127.0.0.1:9)", target="dvcqg")
    assert "session=abc" not in str(error) and "/api/service" not in str(error)


def test_an_unknown_host_is_a_retry():
    session = make_session(Timeouts(connect=2, read=2))
    exc = _raised(lambda: session.get("http://no-such-host.invalid/"))
    assert answers.of_exception(exc).action is Action.RETRY


def test_a_connection_dropped_after_the_request_is_an_unknown_outcome_for_a_write():
    def drop(handler):
        handler.close_connection = True
        handler.connection.close()

    with Hostile(lambda r: drop) as hostile:
        session = make_session(Timeouts(connect=2, read=2))
        exc = _raised(lambda: session.post(hostile.url + "/api/service", json={"x": 1}))
    assert answers.of_exception(exc, write=True).action is Action.UNKNOWN
    assert answers.of_exception(exc, write=False).action is Action.RETRY


def test_the_text_of_an_exception_is_never_trusted():
    # Says "Connection refused" but is not one: the request may have been sent.
    liar = requests.ConnectionError("NewConnectionError: Connection refused")
    assert answers.of_exception(liar).action is Action.UNKNOWN


def test_other_exceptions_are_not_classified_but_rise():
    assert answers.of_exception(ValueError("bug")) is None
    with pytest.raises(ValueError, match="bug"):
        answers.error_for(ValueError("bug"), "place")


def test_our_own_refusals():
    session = make_session()
    assert isinstance(_raised(lambda: session.get("file:///etc/passwd")), SchemeRefused)
    assert answers.of_exception(SchemeRefused("file:///etc/passwd")).action is Action.STOP_RUN
    redirect = RedirectRefused("http://127.0.0.1:1/x?secret=1", 307, "http://evil.example:8080/a?b=c")
    verdict = answers.of_exception(redirect)
    assert verdict.action is Action.RETRY and "http://evil.example:8080" in verdict.reason
    assert "secret" not in verdict.reason and "b=c" not in verdict.reason


# --- through the SOAP connector and the delivery loop ----------------------------------------------------
DOCTYPE_ANSWER = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&lol2;</soap:Body></soap:Envelope>
"""


def _doctype_on_post(request):
    return Reply(200, DOCTYPE_ANSWER, {"Content-Type": "text/xml"}) if request.method == "POST" else None


@pytest.fixture(scope="module")
def registry():
    from simulators.server import RunningSimulator

    with RunningSimulator(BhxhSimulator(seed=3, today="20250615")) as sim:
        yield sim


def _soap(monkeypatch, url: str, password: str = "demo-secret-bhxh", mappings=MAPPINGS) -> SoapTarget:
    monkeypatch.setenv("AIRFLOW_CONN_BHXH", connection_json(url, "lienthong-demo", password))
    return SoapTarget(load_spec("bhxh", mappings), get_connection("bhxh"), mappings)


def test_a_doctype_in_a_soap_answer_is_a_failed_attempt(registry, monkeypatch):
    script = _doctype_on_post
    with Hostile(script, upstream=registry.url) as hostile:
        target = _soap(monkeypatch, hostile.url)
        with pytest.raises(RetriableError, match="DOCTYPE") as caught:
            target.send("DangKyTheBHYTTreEm", [Delivery(1, "LT-1", registration("LT-1"), False)])
        target.close()
    assert caught.value.outcome_unknown


def test_a_soap_401_stops_the_run_instead_of_killing_the_row(registry, monkeypatch):
    script = lambda r: Reply(401, b"", {}) if r.method == "POST" else None  # noqa: E731
    with Hostile(script, upstream=registry.url) as hostile:
        target = _soap(monkeypatch, hostile.url)
        with pytest.raises(CredentialsRefused, match="401"):
            target.send(
                "DangKyTheBHYTTreEm",
                [
                    Delivery(1, "LT-1", registration("LT-1"), False),
                    Delivery(2, "LT-2", registration("LT-2"), False),
                ],
            )
        target.close()


def test_the_registry_refusing_the_ws_security_password_stops_the_run(registry, monkeypatch):
    target = _soap(monkeypatch, registry.url, password="not-the-password")
    try:
        with pytest.raises(CredentialsRefused, match="authentication refused") as caught:
            target.send("DangKyTheBHYTTreEm", [Delivery(1, "LT-9", registration("LT-9"), False)])
    finally:
        target.close()
    assert "not-the-password" not in str(caught.value)
    held = requests.get(f"{registry.url}/_sim/received", timeout=5).json()["registrations"]
    assert "LT-9" not in held


@pytest.mark.motcua(total=30)
def test_doctype_answers_count_as_attempts_and_open_the_breaker(cluster, gateway, monkeypatch):
    """Before: the error escaped the classification, rows went back to pending with 0 attempts, were
    sent again for ever, and the breaker never opened."""
    good = json.loads(cluster.connection_env()["AIRFLOW_CONN_BHXH"])
    script = _doctype_on_post
    with Hostile(script, upstream=cluster.bhxh.url) as hostile:
        monkeypatch.setenv("AIRFLOW_CONN_BHXH", json.dumps({**good, "host": hostile.url}))
        gateway.run("birth_bhyt", wait_for_retries=0)
        posts = [r for r in hostile.requests if r.method == "POST"]
    with gateway.store.session() as session:
        rows = session.execute(
            select(OutboxRow.state, OutboxRow.attempts, func.count())
            .where(OutboxRow.target == "bhxh")
            .group_by(OutboxRow.state, OutboxRow.attempts)
        ).all()
    by_state: dict[str, int] = {}
    for state, attempts, count in rows:
        by_state[state] = by_state.get(state, 0) + count
        if state == "retry_scheduled":
            assert attempts >= 1
    assert by_state and by_state.get("acknowledged", 0) == 0 and by_state.get("dead", 0) == 0
    assert by_state.get("retry_scheduled", 0) > 0
    spec = load_spec("bhxh", MAPPINGS)
    state = TargetGuard(gateway.store, "bhxh", spec.breaker, spec.rate_limit).state()
    assert state["breaker"] != "closed"  # five failed calls in a row open it
    assert len(posts) <= spec.breaker.failures + 3  # then the calls stop


def test_a_wsdl_with_a_doctype_stops_the_run(monkeypatch):
    wsdl = DOCTYPE_ANSWER.replace(b"soap:Envelope", b"definitions")
    with Hostile(lambda r: Reply(200, wsdl, {"Content-Type": "text/xml"})) as hostile:
        monkeypatch.setenv("AIRFLOW_CONN_BHXH", connection_json(hostile.url, "lienthong-demo", "pw"))
        with pytest.raises(
            CounterpartError, match="WSDL could not be loaded from http://127.0.0.1:.*DOCTYPE"
        ):
            open_target("bhxh", MAPPINGS)
