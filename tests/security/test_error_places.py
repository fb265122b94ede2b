"""Errors name the place (issue 16 finding 9, issue 10): ``scheme://host:port``, never credentials, a
path's query or a token; a token with a trailing newline is stripped, one with inner control
characters refused without being echoed."""

from __future__ import annotations

import json
import logging

import pytest

from connectors.http import Timeouts, make_session, origin
from connectors.motcua import MotcuaSource
from connectors.retry import RetryPolicy
from connectors.targets import Delivery, open_target
from connectors.targets.auth import build_auth
from lienthong.connections import connection_json, parse_connection
from lienthong.errors import ConfigError, CounterpartError, RetriableError
from lienthong.settings import PACKAGE_ROOT
from tests.connectors.test_rest_target import hoso
from tests.security.hostile import Hostile, Reply

MAPPINGS = PACKAGE_ROOT / "mappings"
PAGE = Reply(200, b'{"content": [], "last": true}', {"Content-Type": "application/json"})


def _source(url: str) -> MotcuaSource:
    connection = parse_connection("motcua", connection_json(url, "lienthong-demo", "the-client-secret"))
    return MotcuaSource(connection, retry=RetryPolicy(in_call_attempts=1))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:9/a/b?token=x", "http://127.0.0.1:9"),
        ("https://user:pw@lgsp.example.vn/api?session=1", "https://lgsp.example.vn:443"),
        ("http://[::1]:8080/x", "http://[::1]:8080"),
        ("http://host.example", "http://host.example:80"),
        ("http://host:notaport/", "<invalid URL>"),
    ],
)
def test_origin_keeps_scheme_host_and_port_only(url, expected):
    assert origin(url) == expected


def test_an_unreachable_token_endpoint_is_named():
    source = _source("http://127.0.0.1:9")
    with pytest.raises(RetriableError) as caught:
        next(source.pages("dossiers"))
    source.close()
    assert "token endpoint http://127.0.0.1:9/… unreachable (connection refused)" in str(caught.value)
    assert "the-client-secret" not in str(caught.value)


def test_an_unreachable_portal_login_is_named(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_DVCQG",
        json.dumps(
            {
                "host": "http://lienthong-demo:the-portal-password@127.0.0.1:9/base?k=v",
                "login": "u",
                "password": "p",
                "extra": {"dstcode": "83", "madonvi": "000.00.00.H07"},
            }
        ),
    )
    target = open_target("dvcqg", MAPPINGS)
    with pytest.raises(RetriableError) as caught:
        target.send("DongBoHoSoMC", [Delivery(1, "k1", hoso(1), False)])
    target.close()
    text = str(caught.value)
    assert "login failed: http://127.0.0.1:9 unreachable (connection refused)" in text
    assert "the-portal-password" not in text and "k=v" not in text and "/base" not in text


def test_a_token_with_a_trailing_newline_is_stripped(caplog):
    def script(request):
        if "token" in request.path:
            return Reply(200, b'{"access_token": "tok-123\\n", "expires_in": 300}', {})
        return PAGE

    with Hostile(script) as hostile:
        source = _source(hostile.url)
        assert [p.records for p in source.pages("dossiers")] == [[]]
        source.close()
        searches = [r for r in hostile.requests if "/search" in r.path]
    assert searches[0].headers["Authorization"] == "Bearer tok-123"


@pytest.mark.parametrize("token", ["zq7\\r\\nX-Injected: 1", "zq7 words", "", "   "])
def test_a_token_with_inner_control_characters_is_refused_and_never_echoed(token, caplog):
    caplog.set_level(logging.DEBUG)
    body = json.dumps({"access_token": json.loads(f'"{token}"'), "expires_in": 300}).encode()
    with Hostile(lambda r: Reply(200, body, {}) if "token" in r.path else PAGE) as hostile:
        source = _source(hostile.url)
        with pytest.raises(CounterpartError, match="no usable access_token") as caught:
            next(source.pages("dossiers"))
        source.close()
        assert not [r for r in hostile.requests if "/search" in r.path]
    if token.strip():
        assert "zq7" not in str(caught.value) and "zq7" not in caplog.text


def test_a_bearer_token_from_a_secrets_file_with_a_newline_is_stripped():
    connection = parse_connection("archive", connection_json("http://127.0.0.1:1", None, "s3cr3t-token\n"))
    with Hostile(lambda r: Reply(200, b"{}", {})) as hostile:
        session = make_session(Timeouts(connect=2, read=2))
        build_auth({"type": "bearer"}, connection, session, "records_api").apply_to_session(session)
        session.get(hostile.url + "/x")
        assert hostile.requests[0].headers["Authorization"] == "Bearer s3cr3t-token"


def test_a_bearer_token_with_inner_control_characters_is_a_configuration_error_without_the_value():
    connection = parse_connection("archive", connection_json("http://127.0.0.1:1", None, "abc\r\nX-Evil: 1"))
    with pytest.raises(ConfigError) as caught:
        build_auth({"type": "bearer"}, connection, make_session(), "records_api")
    assert "abc" not in str(caught.value) and "X-Evil" not in str(caught.value)
