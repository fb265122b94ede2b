"""A configuration can never acknowledge what no request carried (issue #15, "silent loss"): a request
template that carries one record per call is refused with batches of several, and an answer whose
result list does not cover the records sent acknowledges none of them.  Against a real HTTP server on
loopback that keeps every body it received."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.targets import Delivery, open_target
from lienthong.connections import connection_json
from lienthong.errors import ConfigError, RetriableError


class Recorder:
    """A records API: keeps each JSON body; answers per-item results, or a scripted short list."""

    def __init__(self) -> None:
        self.bodies: list = []
        self.short_answer = False
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                recorder.bodies.append(body)
                records = body["data"] if isinstance(body.get("data"), list) else [body.get("data")]
                results = [{"error_code": "0"} for _ in records]
                if recorder.short_answer:
                    results = results[:1]
                answer = json.dumps({"error_code": "0", "result": results}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def api(monkeypatch):
    recorder = Recorder()
    monkeypatch.setenv("AIRFLOW_CONN_RECORDS", connection_json(recorder.url))
    yield recorder
    recorder.close()


def target_file(tmp_path, data: str, batch_size: int, *, items_per_row: bool = False, path: str = "/records"):
    (tmp_path / "targets").mkdir(exist_ok=True)
    (tmp_path / "targets" / "records.yaml").write_text(
        f"""target: records
kind: rest
connection: records
request:
  method: POST
  path: "{path}"
  json: {{data: "{data}"}}
response:
  code: error_code
  success: ["0"]
  items: result
  item_code: error_code
operations:
  Put:
    batch_size: {batch_size}
    items_per_row: {str(items_per_row).lower()}
""",
        encoding="utf-8",
    )
    return tmp_path


def deliveries(n: int) -> list[Delivery]:
    return [Delivery(i, f"k{i}", {"id": i}, False) for i in range(1, n + 1)]


def test_a_single_record_template_with_batches_is_refused_at_load(tmp_path, api):
    with pytest.raises(ConfigError) as refused:
        open_target("records", target_file(tmp_path, "${item}", 5))
    message = str(refused.value)
    assert "targets/records.yaml: operations.Put" in message
    assert "${item}" in message and "batch_size 5" in message and "set batch_size: 1" in message
    assert api.bodies == []


def test_a_single_record_template_with_rows_of_several_items_is_refused(tmp_path, api):
    with pytest.raises(ConfigError, match="items_per_row"):
        open_target("records", target_file(tmp_path, "${item}", 1, items_per_row=True))


def test_a_template_without_any_record_or_with_key_is_refused(tmp_path, api):
    with pytest.raises(ConfigError, match="carries no record"):
        open_target("records", target_file(tmp_path, "${operation}", 1))
    with pytest.raises(ConfigError, match="only lookups fill"):
        open_target("records", target_file(tmp_path, "${items}", 5, path="/records/${key}"))


def test_one_record_per_call_sends_every_record(tmp_path, api):
    target = open_target("records", target_file(tmp_path, "${item}", 1))
    try:
        results = [target.send("Put", [d])[0] for d in deliveries(5)]
    finally:
        target.close()
    assert all(r.ok for r in results)
    assert [body["data"] for body in api.bodies] == [{"id": i} for i in range(1, 6)]


def test_a_batch_template_carries_every_record(tmp_path, api):
    target = open_target("records", target_file(tmp_path, "${items}", 5))
    try:
        results = target.send("Put", deliveries(5))
    finally:
        target.close()
    assert [r.ok for r in results] == [True] * 5
    assert [body["data"] for body in api.bodies] == [[{"id": i} for i in range(1, 6)]]


def test_an_answer_that_does_not_cover_the_records_sent_acknowledges_none(tmp_path, api):
    api.short_answer = True  # success, but one result for three records
    target = open_target("records", target_file(tmp_path, "${items}", 3))
    try:
        with pytest.raises(RetriableError) as caught:
            target.send("Put", deliveries(3))
    finally:
        target.close()
    assert caught.value.outcome_unknown
    assert "1 results for 3 records" in str(caught.value)
