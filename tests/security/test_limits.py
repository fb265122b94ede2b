"""Limits on what a counterpart sends (issue 16, finding 6): a body size cap, a deadline per call,
no ``file://`` and no local file outside the mapping folder, and a paging guard."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from connectors.http import MIB, Limits, Timeouts
from connectors.motcua import KeysetMark, MotcuaSource
from connectors.retry import RetryPolicy
from connectors.targets import Delivery, load_spec, open_target
from connectors.targets.rest import RestTarget
from connectors.targets.soap import SoapTarget
from lienthong.connections import connection_json, get_connection, parse_connection
from lienthong.errors import ConfigError, CounterpartError, RetriableError
from lienthong.settings import PACKAGE_ROOT
from simulators.bhxh import DEFAULT_PASSWORD, DEFAULT_USERNAME, BhxhSimulator
from simulators.dvcqg import DvcqgApp
from simulators.server import RunningSimulator
from tests.connectors.test_rest_target import hoso
from tests.connectors.test_soap_target import registration
from tests.security.hostile import Hostile, Reply, byte_drip, endless_body

MAPPINGS = PACKAGE_ROOT / "mappings"
TOKEN = Reply(200, b'{"access_token": "tok", "expires_in": 300}', {"Content-Type": "application/json"})


class PeakRss:
    """The largest resident size of this process while the block runs (sampled every 5 ms)."""

    def __enter__(self) -> PeakRss:
        self.process = psutil.Process()
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.start) / MIB


def motcua_source(url: str, **extra) -> MotcuaSource:
    connection = parse_connection("motcua", connection_json(url, "lienthong-demo", "s3cret", **extra))
    return MotcuaSource(connection, page_size=100, retry=RetryPolicy(in_call_attempts=1))


# --- body size cap -----------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["token", "page"])
def test_a_1_gib_answer_from_the_source_is_refused_at_the_default_cap(where):
    def script(request):
        if "openid-connect/token" in request.path:
            return endless_body() if where == "token" else TOKEN
        return endless_body()

    with Hostile(script) as hostile, PeakRss() as rss:
        source = motcua_source(hostile.url)
        with pytest.raises(RetriableError, match="larger than the cap of 67108864 bytes"):
            next(source.pages("dossiers"))
        source.close()
    # The default cap is 64 MiB; the body and its joined copy bound the growth (2.5 GiB before).
    assert rss.growth_mib < 200, rss.growth_mib


def test_the_cap_is_configurable_per_connection():
    with Hostile(lambda r: TOKEN if "token" in r.path else endless_body()) as hostile, PeakRss() as rss:
        source = motcua_source(hostile.url, limits={"max_body_mib": 2})
        with pytest.raises(RetriableError, match=f"cap of {2 * MIB} bytes"):
            next(source.pages("dossiers"))
        source.close()
    assert rss.growth_mib < 40, rss.growth_mib


def test_a_declared_length_past_the_cap_is_refused_before_reading():
    big = Reply(200, b"{}", {"Content-Length": str(10 * 1024 * MIB)})

    def script(request):
        return TOKEN if "token" in request.path else big

    with Hostile(script) as hostile:
        source = motcua_source(hostile.url)
        started = time.monotonic()
        with pytest.raises(RetriableError, match="larger than the cap"):
            next(source.pages("dossiers"))
        assert time.monotonic() - started < 2
        source.close()


@pytest.fixture(scope="module")
def portal():
    with RunningSimulator(DvcqgApp()) as sim:
        yield sim


@pytest.fixture(scope="module")
def registry():
    with RunningSimulator(BhxhSimulator(seed=3, today="20250615")) as sim:
        yield sim


def rest_target(monkeypatch, url: str, **changes) -> RestTarget:
    monkeypatch.setenv(
        "AIRFLOW_CONN_DVCQG",
        connection_json(url, "lienthong-demo", "demo-secret-dvcqg", dstcode="83", madonvi="000.00.00.H07"),
    )
    spec = replace(load_spec("dvcqg", MAPPINGS), **changes)
    return RestTarget(spec, get_connection("dvcqg"))


@pytest.mark.parametrize("where", ["/api/login", "/api/service"])
def test_a_huge_portal_answer_is_a_failed_attempt_with_the_outcome_unknown(portal, monkeypatch, where):
    script = lambda r: endless_body() if where in r.path else None  # noqa: E731
    with Hostile(script, upstream=portal.url) as hostile, PeakRss() as rss:
        target = rest_target(monkeypatch, hostile.url, limits=Limits(max_body=4 * MIB))
        with pytest.raises(RetriableError, match="larger than the cap") as caught:
            target.send("DongBoHoSoMC", [Delivery(1, "k1", hoso(1), False)])
        target.close()
    assert rss.growth_mib < 60, rss.growth_mib
    # A write whose answer was refused may have taken effect; a login changes nothing.
    assert caught.value.outcome_unknown is (where == "/api/service")


def soap_target(monkeypatch, url: str, **changes) -> SoapTarget:
    monkeypatch.setenv("AIRFLOW_CONN_BHXH", connection_json(url, DEFAULT_USERNAME, DEFAULT_PASSWORD))
    spec = replace(load_spec("bhxh", MAPPINGS), **changes)
    return SoapTarget(spec, get_connection("bhxh"), MAPPINGS)


def test_a_huge_soap_answer_is_refused(registry, monkeypatch):
    script = lambda r: endless_body() if r.method == "POST" else None  # noqa: E731
    with Hostile(script, upstream=registry.url) as hostile, PeakRss() as rss:
        target = soap_target(monkeypatch, hostile.url, limits=Limits(max_body=4 * MIB))
        with pytest.raises(RetriableError, match="larger than the cap") as caught:
            target.send("DangKyTheBHYTTreEm", [Delivery(1, "LT-1", registration("LT-1"), False)])
        target.close()
    assert caught.value.outcome_unknown and rss.growth_mib < 60


# --- the deadline of a call ----------------------------------------------------------------------------
DRIP = Timeouts(connect=2, read=1, total=2)


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_byte_drip_from_the_source_ends_at_the_deadline(headers_too):
    script = lambda r: TOKEN if "token" in r.path else byte_drip(0.2, headers_too)  # noqa: E731
    with Hostile(script) as hostile:
        source = motcua_source(hostile.url, timeouts={"connect": 2, "read": 1, "total": 2})
        started = time.monotonic()
        with pytest.raises(RetriableError, match="deadline of 2 s"):
            next(source.pages("dossiers"))
        elapsed = time.monotonic() - started
        source.close()
    assert 1.5 < elapsed < 4, elapsed  # a read timeout of 1 s alone would have waited for ever


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_byte_drip_from_the_portal_ends_at_the_deadline(portal, monkeypatch, headers_too):
    script = lambda r: byte_drip(0.2, headers_too) if "/api/service" in r.path else None  # noqa: E731
    with Hostile(script, upstream=portal.url) as hostile:
        target = rest_target(monkeypatch, hostile.url, timeouts=DRIP)
        started = time.monotonic()
        with pytest.raises(RetriableError, match="deadline") as caught:
            target.send("DongBoHoSoMC", [Delivery(1, "k1", hoso(1), False)])
        elapsed = time.monotonic() - started
        target.close()
    assert elapsed < 4, elapsed
    assert caught.value.outcome_unknown


def test_a_byte_drip_from_the_soap_endpoint_ends_at_the_deadline(registry, monkeypatch):
    script = lambda r: byte_drip(0.2) if r.method == "POST" else None  # noqa: E731
    with Hostile(script, upstream=registry.url) as hostile:
        target = soap_target(monkeypatch, hostile.url, timeouts=DRIP)
        started = time.monotonic()
        with pytest.raises(RetriableError, match="deadline"):
            target.send("DangKyTheBHYTTreEm", [Delivery(1, "LT-1", registration("LT-1"), False)])
        elapsed = time.monotonic() - started
        target.close()
    assert elapsed < 4, elapsed


def test_the_deadline_leaves_a_fast_call_alone_and_the_pool_usable(portal, monkeypatch):
    target = rest_target(monkeypatch, portal.url, timeouts=Timeouts(connect=2, read=2, total=3))
    try:
        for seq in range(5):
            assert target.send("DongBoHoSoMC", [Delivery(seq, f"k{seq}", hoso(100 + seq), False)])[0].ok
    finally:
        target.close()


# --- no file://, no local file outside the mapping folder ---------------------------------------------
WSDL = """<?xml version="1.0"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
             targetNamespace="urn:evil">
  <types>
    <xsd:schema targetNamespace="urn:evil">
      <xsd:import namespace="urn:other" schemaLocation="{location}"/>
    </xsd:schema>
  </types>
</definitions>
"""


@pytest.mark.parametrize("location", ["file:///dev/zero", "file:///etc/passwd"])
def test_a_remote_wsdl_importing_a_local_file_is_refused(monkeypatch, location):
    wsdl = Reply(200, WSDL.format(location=location).encode(), {"Content-Type": "text/xml"})
    with Hostile(lambda r: wsdl) as hostile, PeakRss() as rss:
        monkeypatch.setenv(
            "AIRFLOW_CONN_BHXH", connection_json(hostile.url, DEFAULT_USERNAME, DEFAULT_PASSWORD)
        )
        started = time.monotonic()
        with pytest.raises(CounterpartError, match="scheme 'file' is refused"):
            open_target("bhxh", MAPPINGS)
    assert time.monotonic() - started < 5 and rss.growth_mib < 50


def _mapping_folder(tmp_path: Path, wsdl: str) -> Path:
    folder = tmp_path / "mappings"
    (folder / "targets").mkdir(parents=True)
    (folder / "schemas").mkdir()
    spec = (MAPPINGS / "targets" / "bhxh.yaml").read_text(encoding="utf-8")
    spec = spec.replace('wsdl: "${conn.base_url}/ws/TheBHYT?wsdl"', f"wsdl: {json.dumps(wsdl)}")
    (folder / "targets" / "bhxh.yaml").write_text(spec, encoding="utf-8")
    return folder


def test_a_wsdl_path_outside_the_mapping_folder_is_refused(tmp_path, monkeypatch):
    folder = _mapping_folder(tmp_path, "@../../../../../../etc/passwd")
    monkeypatch.setenv("AIRFLOW_CONN_BHXH", connection_json("http://127.0.0.1:9", "u", "p"))
    with pytest.raises(ConfigError, match="outside the mapping folder"):
        open_target("bhxh", folder)


@pytest.mark.parametrize("location", ["/etc/hostname", "../../outside.xsd", "file:///etc/hostname"])
def test_a_local_wsdl_importing_outside_the_mapping_folder_is_refused(tmp_path, monkeypatch, location):
    (tmp_path / "outside.xsd").write_text("<schema xmlns='http://www.w3.org/2001/XMLSchema'/>")
    folder = _mapping_folder(tmp_path, "@schemas/evil.wsdl")
    (folder / "schemas" / "evil.wsdl").write_text(WSDL.format(location=location), encoding="utf-8")
    monkeypatch.setenv("AIRFLOW_CONN_BHXH", connection_json("http://127.0.0.1:9", "u", "p"))
    refused = "outside the mapping folder|scheme 'file'|references an external document"
    with pytest.raises((ConfigError, CounterpartError), match=refused):
        open_target("bhxh", folder)


# --- the paging guard ----------------------------------------------------------------------------------
def record(n: int, at: str = "2025-01-14T08:30:00.000+0700") -> dict:
    return {"id": f"id-{n:05d}", "code": f"C{n}", "updatedDate": at}


def honest_source(records: list[dict]):
    """A one-stop search that pages honestly over (updatedDate, id) from ``updated-from``."""
    from urllib.parse import parse_qs, urlsplit

    from connectors.motcua import parse_source_time

    ordered = sorted(records, key=lambda r: (parse_source_time(r["updatedDate"]), r["id"]))

    def script(request):
        if "token" in request.path:
            return TOKEN
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        since = query.get("updated-from")
        chosen = [
            r
            for r in ordered
            if since is None or parse_source_time(r["updatedDate"]) >= parse_source_time(since)
        ]
        page, size = int(query["page"]), int(query["size"])
        content = chosen[page * size : (page + 1) * size]
        body = {"content": content, "last": (page + 1) * size >= len(chosen), "totalElements": len(chosen)}
        return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    return script


def test_a_source_that_never_ends_stops_the_pull_naming_the_source():
    same = {"content": [record(n) for n in range(100)], "last": False, "totalElements": 10**9}
    page = Reply(200, json.dumps(same).encode(), {"Content-Type": "application/json"})
    end = Reply(200, b'{"content": [], "last": true}', {"Content-Type": "application/json"})
    served = {"n": 0}

    def script(request):
        if "token" in request.path:
            return TOKEN
        served["n"] += 1
        return page if served["n"] < 50 else end  # without a guard the test fails instead of hanging

    with Hostile(script) as hostile:
        source = motcua_source(hostile.url)
        pulled = 0
        with pytest.raises(
            CounterpartError, match=r"one-stop system http://127\.0\.0\.1:\d+ \(dossiers\)"
        ) as caught:
            for got in source.pages("dossiers"):
                pulled += len(got.records)
        searches = [r for r in hostile.requests if "/search" in r.path]
        source.close()
    # One repeat is allowed when the keyset moves (a run of equal timestamps is asked for again from
    # its own instant), then the guard stops it: 3,378 requests in 90 s before.
    assert pulled == 100 and len(searches) == 3
    assert "brought no record not already seen" in str(caught.value)


def test_a_source_cycling_between_two_pages_is_stopped():
    pages = [
        {"content": [record(n) for n in range(100)], "last": False},
        {"content": [record(n, "2025-01-14T09:00:00.000+0700") for n in range(100, 200)], "last": False},
    ]
    count = {"n": 0}

    def script(request):
        if "token" in request.path:
            return TOKEN
        body = pages[count["n"] % 2] if count["n"] < 50 else {"content": [], "last": True}
        count["n"] += 1
        return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    with Hostile(script) as hostile:
        source = motcua_source(hostile.url)
        with pytest.raises(CounterpartError):
            list(source.pages("dossiers"))
        source.close()
    assert count["n"] <= 4


def test_a_run_of_equal_timestamps_longer_than_a_page_is_still_read_whole():
    records = [record(n) for n in range(250)] + [
        record(n, "2025-01-15T08:30:00.000+0700") for n in range(250, 260)
    ]
    with Hostile(honest_source(records)) as hostile:
        source = motcua_source(hostile.url)
        got, mark = [], None
        for page in source.pages("dossiers"):
            got.extend(r["id"] for r in page.records)
            mark = page.mark
        assert sorted(got) == sorted(r["id"] for r in records) and len(got) == 260
        # Resumed from a mark in the middle of the run of 250 (150 ids taken): pages of ids already
        # taken are stepped through, not mistaken for a source that repeats itself.
        middle = KeysetMark(updated=records[0]["updatedDate"], ids={r["id"] for r in records[:150]})
        rest = [r["id"] for page in source.pages("dossiers", middle) for r in page.records]
        assert sorted(rest) == sorted(r["id"] for r in records[150:])
        assert [r for page in source.pages("dossiers", mark) for r in page.records] == []
        source.close()


def _gzip_bomb(size: int) -> bytes:
    import zlib

    packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # 31: a gzip stream
    zeros = b"\0" * (1 << 20)
    parts = [packer.compress(zeros) for _ in range(size >> 20)]
    return b"".join(parts) + packer.flush()


def test_a_compressed_answer_counts_at_its_real_size():
    bomb = _gzip_bomb(64 * MIB)  # about 64 KiB on the wire
    reply = Reply(200, bomb, {"Content-Encoding": "gzip", "Content-Type": "application/json"})
    with Hostile(lambda r: TOKEN if "token" in r.path else reply) as hostile, PeakRss() as rss:
        source = motcua_source(hostile.url, limits={"max_body_mib": 8})
        with pytest.raises(RetriableError, match=f"cap of {8 * MIB} bytes"):
            next(source.pages("dossiers"))
        source.close()
    assert len(bomb) < 2 * MIB and rss.growth_mib < 60, rss.growth_mib


def test_the_default_deadline():
    assert Timeouts().deadline == 65  # connect 5 + 2 × read 30
    assert Timeouts(connect=2, read=0.5).deadline == 60  # a short read timeout is no short deadline
    assert Timeouts.from_config({"connect": 1, "read": 1, "total": 7}).deadline == 7
