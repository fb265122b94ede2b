"""Gauges from a store with known rows (SQLite and PostgreSQL), sent to a real UDP socket as StatsD
lines and rendered as Prometheus text."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta

import pytest

from lienthong import metrics
from lienthong.store.models import OutboxRow, QuarantineEntry, StagedRecord, TargetState

NOW = datetime(2026, 3, 1, 12, 0, 0)


def _row(n: int, target: str, state: str, *, created: datetime, acked: datetime | None = None) -> OutboxRow:
    return OutboxRow(
        route="dossier_sync",
        target=target,
        operation="op",
        record_key=f"K{n}",
        seq=1,
        payload="{}",
        payload_hash=f"h{n}",
        item_count=1,
        mapping_version="v1",
        idempotency_key=f"dossier_sync:K{n}:h{n}",
        state=state,
        attempts=0,
        created_at=created,
        updated_at=created,
        acknowledged_at=acked,
    )


@pytest.fixture()
def known(store):
    """dvcqg: 3 pending (oldest 600 s), 1 retry_scheduled, 1 in flight, 2 dead, 4 acknowledged in the
    last 5 minutes and 5 long ago, breaker open after 7 failures; bhxh: nothing live, 1 acknowledged
    a minute ago, breaker closed; 2 open quarantine entries on one route, 1 replayed."""
    rows, n = [], 0

    def add(target: str, state: str, count: int, created: datetime, acked: datetime | None = None) -> None:
        nonlocal n
        for _ in range(count):
            n += 1
            rows.append(_row(n, target, state, created=created, acked=acked))

    add("dvcqg", "pending", 1, NOW - timedelta(seconds=600))
    add("dvcqg", "pending", 2, NOW - timedelta(seconds=30))
    add("dvcqg", "retry_scheduled", 1, NOW - timedelta(seconds=120))
    add("dvcqg", "in_flight", 1, NOW - timedelta(seconds=10))
    add("dvcqg", "dead", 2, NOW - timedelta(hours=2))
    add("dvcqg", "acknowledged", 4, NOW - timedelta(seconds=400), acked=NOW - timedelta(seconds=100))
    add("dvcqg", "acknowledged", 5, NOW - timedelta(hours=3), acked=NOW - timedelta(hours=2))
    add("bhxh", "acknowledged", 1, NOW - timedelta(seconds=90), acked=NOW - timedelta(seconds=60))
    add("bhxh", "superseded", 3, NOW - timedelta(seconds=90))
    with store.session() as session:
        session.add_all(rows)
        session.add(TargetState(target="dvcqg", breaker="open", failures=7, opened_at=NOW, changed_at=NOW))
        session.add(TargetState(target="bhxh", breaker="closed", failures=0, changed_at=NOW))
        staged = StagedRecord(
            route="birth_bhyt", record_key="B1", source_id="1", source_updated="x", content_hash="c",
            body="{}", state="quarantined", staged_at=NOW,
        )  # fmt: skip
        session.add(staged)
        session.flush()
        for i, state in enumerate(("open", "open", "replayed")):
            session.add(
                QuarantineEntry(
                    route="birth_bhyt", record_key=f"B{i}", staged_id=staged.id, mapping_version="v1",
                    message="m", errors="[]", state=state, created_at=NOW,
                )
            )  # fmt: skip
    return store


def test_collect_counts_what_the_store_holds(known):
    taken = metrics.collect(known, window=300, now=NOW, targets=["dvcqg", "bhxh", "newtarget"])
    by = {t.target: t for t in taken.targets}
    assert sorted(by) == ["bhxh", "dvcqg", "newtarget"]
    dvcqg = by["dvcqg"]
    assert dvcqg.backlog == {"pending": 3, "in_flight": 1, "retry_scheduled": 1, "blocked": 0}
    assert dvcqg.backlog_total == 5
    assert dvcqg.oldest_live_seconds == pytest.approx(600)
    assert dvcqg.dead == 2
    assert dvcqg.acknowledged_recent == 4
    assert dvcqg.rate == pytest.approx(4 / 300)
    assert (dvcqg.breaker, dvcqg.breaker_failures) == ("open", 7)
    bhxh = by["bhxh"]
    assert bhxh.backlog_total == 0 and bhxh.oldest_live_seconds == 0 and bhxh.dead == 0
    assert bhxh.acknowledged_recent == 1 and bhxh.breaker == "closed"
    assert by["newtarget"].backlog_total == 0 and by["newtarget"].breaker == "closed"
    assert taken.quarantine_open == {"birth_bhyt": 2}


def test_few_queries_whatever_the_row_count(known):
    """Four statements: live rows, finished rows, breakers, quarantine (no query per target)."""
    from sqlalchemy import event

    statements = []
    event.listen(known.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    metrics.collect(known, now=NOW)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 4


def test_statsd_lines_reach_a_real_udp_socket(known):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    try:
        port = receiver.getsockname()[1]
        settings = metrics.StatsdSettings.from_env(
            {
                "AIRFLOW__METRICS__STATSD_ON": "True",
                "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
                "AIRFLOW__METRICS__STATSD_PORT": str(port),
                "LIENTHONG_METRICS_PREFIX": "lt",
            }
        )
        assert settings.enabled and settings.port == port and settings.prefix == "lt"
        sent = metrics.emit_statsd(metrics.collect(known, window=300, now=NOW), settings)
        lines: dict[str, str] = {}
        while len(lines) < sent:
            packet = receiver.recv(65535).decode()
            for line in packet.splitlines():
                name, _, value = line.partition(":")
                lines[name] = value
    finally:
        receiver.close()
    assert lines["lt.outbox.backlog.dvcqg"] == "5|g"
    assert lines["lt.outbox.pending.dvcqg"] == "3|g"
    assert lines["lt.outbox.oldest_live_seconds.dvcqg"] == "600.0|g"
    assert lines["lt.outbox.dead.dvcqg"] == "2|g"
    assert lines["lt.breaker.state.dvcqg"] == "2|g"
    assert lines["lt.breaker.failures.dvcqg"] == "7|g"
    assert lines["lt.breaker.state.bhxh"] == "0|g"
    assert lines["lt.delivery.rate.bhxh"] == f"{round(1 / 300, 3)}|g"
    assert lines["lt.quarantine.open.birth_bhyt"] == "2|g"


def test_prometheus_text_parses_back_to_the_same_numbers(known):
    from prometheus_client.parser import text_string_to_metric_families

    text = metrics.to_prometheus(metrics.collect(known, window=300, now=NOW))
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("lienthong_outbox_backlog", (("state", "pending"), ("target", "dvcqg")))] == 3
    assert samples[("lienthong_outbox_backlog", (("state", "in_flight"), ("target", "dvcqg")))] == 1
    assert samples[("lienthong_outbox_oldest_live_seconds", (("target", "dvcqg"),))] == 600
    assert samples[("lienthong_outbox_dead", (("target", "dvcqg"),))] == 2
    assert samples[("lienthong_breaker_state", (("target", "dvcqg"),))] == 2
    assert samples[("lienthong_delivery_rate", (("target", "dvcqg"),))] == pytest.approx(4 / 300)
    assert samples[("lienthong_quarantine_open", (("route", "birth_bhyt"),))] == 2


def test_statsd_names_are_single_segments():
    taken = metrics.GatewayMetrics(
        taken_at=NOW,
        window_seconds=60,
        targets=[metrics.TargetMetrics("a.b:c|d", {"pending": 1}, 0.0, 0, 0, 0.0, "closed", 0)],
    )
    assert "outbox.backlog.a_b_c_d" in metrics.statsd_gauges(taken)


def test_metrics_command_prints_the_store_s_gauges(known):
    import json

    from click.testing import CliRunner

    from lienthong.cli import main

    result = CliRunner().invoke(main, ["--database-url", known.url, "metrics", "--format", "json"])
    assert result.exit_code == 0, result.output
    by = {t["target"]: t for t in json.loads(result.output)["targets"]}
    assert by["dvcqg"]["backlog_total"] == 5 and by["dvcqg"]["dead"] == 2
    text = CliRunner().invoke(main, ["--database-url", known.url, "metrics"]).output
    assert 'lienthong_outbox_backlog{state="pending",target="dvcqg"} 3.0' in text


def test_a_follow_up_behind_a_dead_parent_is_blocked_not_pending(store):
    """The progress row of a dead dossier waits for a person's replay: it is counted as blocked and
    does not age the oldest live row (which would page someone about the wrong thing)."""
    parent = _row(1, "dvcqg", "dead", created=NOW - timedelta(hours=5))
    with store.session() as session:
        session.add(parent)
        session.flush()
        child = _row(2, "dvcqg", "pending", created=NOW - timedelta(hours=5))
        child.parent_id = parent.id
        session.add_all([child, _row(3, "dvcqg", "pending", created=NOW - timedelta(seconds=60))])
    (dvcqg,) = metrics.collect(store, window=300, now=NOW).targets
    assert dvcqg.backlog == {"pending": 1, "in_flight": 0, "retry_scheduled": 0, "blocked": 1}
    assert dvcqg.oldest_live_seconds == pytest.approx(60)
    assert dvcqg.dead == 1
