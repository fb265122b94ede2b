"""Dossiers through 30 % injected faults of every kind: all arrive, each written once in effect.

The portal answers 30 % of requests (logins, writes, lookups) with a seeded fault drawn from every
kind the shared server offers: HTTP 500/502/503/429, a TCP reset, a stall longer than the gateway's
read timeout, and "commit then drop the connection" (the write took effect, the answer is lost).  On
top of that its own ``internal_error_rate`` answers some calls ``-500`` in the body, and the one-stop
source fails 10 % of its requests.  The route is run again and again (as a schedule would) until
nothing is left to deliver.  Then a share of the dossiers changes at the source (a new summary) and
the route is run to the end again, under the same faults.

The yardsticks are outside the gateway: the one-stop system (every dossier it serves is at the portal
with its latest version's content, versions in order) and the portal's own counts (exact repeats and
``-3`` answers no more than the answers the faults lost after the write took effect).  The outbox is
checked too: every dossier and progress record it holds has exactly one effective write of exactly its
payload, every row acknowledged, none dead.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest

from lienthong.pipeline.runner import Gateway
from lienthong.settings import Settings
from lienthong.store import Store
from tests.reliability.checks import (
    expected_from_outbox,
    live_rows,
    outbox_figures,
    progress_after_parent,
    verify_portal,
)
from tests.reliability.conftest import Watchdog, drain, edited_mappings, retry_budget
from tests.reliability.simproc import SimPair
from tests.reliability.yardstick import read_source, repeat_figures, repeat_problems, source_problems

SEED = 4004
FAULT_RATE = 0.3
INTERNAL_ERROR_RATE = 0.03  # the portal's own "-500" answers, on top of the injected faults
SOURCE_FAULT_RATE = 0.1
PORTAL_KINDS = ["http_500", "http_502", "http_503", "http_429", "reset", "stall", "drop_after_commit"]
STALL_SECONDS = 1.0
READ_TIMEOUT = 0.5  # shorter than the stall: a stalled request is a timeout, its outcome unknown
EDITED_SHARE = 0.05  # dossiers given a second version at the source after the first drain


def start_simulators(dossiers: int) -> SimPair:
    sims = SimPair(total=dossiers, seed=SEED)
    try:
        sims.dvcqg.configure(internal_error_rate=INTERNAL_ERROR_RATE, seed=SEED)
        sims.dvcqg.faults(
            rate=FAULT_RATE, kinds=PORTAL_KINDS, seed=SEED, stall_seconds=STALL_SECONDS, retry_after=1
        )
        sims.motcua.faults(
            rate=SOURCE_FAULT_RATE,
            kinds=PORTAL_KINDS,
            seed=SEED + 1,
            stall_seconds=STALL_SECONDS,
            retry_after=1,
        )
    except Exception:
        sims.stop()
        raise
    return sims


def edit_at_source(sims: SimPair, share: float, seed: int) -> dict[str, list[str]]:
    """Give ``share`` of the source's dossiers a new summary (the source's faults paused meanwhile);
    returns, per dossier code, its summaries in order (the order the portal must receive them in)."""
    kept = sims.motcua.get("/_sim/faults")["config"]
    sims.motcua.faults(rate=0.0)
    try:
        records = read_source(sims.motcua.url)
        edits: dict[str, list[str]] = {}
        for code in random.Random(seed).sample(sorted(records), max(1, int(len(records) * share))):
            summary = f"Bổ sung hồ sơ theo yêu cầu ({code[-4:]})"
            sims.motcua.post(f"/_sim/dossiers/{records[code]['id']}", {"summary": summary})
            edits[code] = [records[code]["summary"], summary]
        return edits
    finally:
        sims.motcua.faults(**kept)


def deliver_under_faults(
    dossiers: int,
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    figures: Any,
    limit: float,
    **mapping: Any,
) -> None:
    """Run the dossier route to the end under faults and check every guarantee on the outcome.

    ``limit``: seconds after which the run is stopped and the test fails (see ``Watchdog``)."""
    budget = retry_budget(FAULT_RATE + INTERNAL_ERROR_RATE, rows=2 * dossiers)
    mappings = edited_mappings(tmp_path / "mappings", read_timeout=READ_TIMEOUT, attempts=budget, **mapping)
    sims = start_simulators(dossiers)
    store = Store(store_url)
    try:
        for name, value in sims.connection_env().items():
            monkeypatch.setenv(name, value)
        gateway = Gateway(Settings(data_dir=tmp_path, database_url=store_url, mappings_dir=mappings), store)
        started = time.monotonic()
        with Watchdog(limit, store_url, sims.dvcqg.stop) as watchdog:
            try:
                summaries, failed_runs = drain(gateway, "dossier_sync", max_runs=100, wait_for_retries=10.0)
                edits = edit_at_source(sims, EDITED_SHARE, SEED)
                more, failed_more = drain(gateway, "dossier_sync", max_runs=100, wait_for_retries=10.0)
                summaries, failed_runs = summaries + more, failed_runs + failed_more
            except Exception as exc:
                if watchdog.fired:
                    raise AssertionError(f"the route did not finish within {limit:.0f} s") from exc
                raise
        seconds = time.monotonic() - started
        assert not watchdog.fired, f"the route did not finish within {limit:.0f} s"

        portal_faults = sims.dvcqg.fault_counts()
        source_faults = sims.motcua.fault_counts()
        portal = sims.dvcqg.received(history=1)
        totals = portal["totals"]
        sims.motcua.faults(rate=0.0)
        from_source = read_source(sims.motcua.url)
        repeats = repeat_figures(portal)
        expected = expected_from_outbox(store)
        verdict = verify_portal(portal, expected)
        outbox = outbox_figures(store)
        figures(
            backend=store.backend,
            dossiers=dossiers,
            seconds=round(seconds, 1),
            dossiers_per_second=round(dossiers / seconds, 1),
            runs=len(summaries),
            failed_runs=failed_runs,
            retry_budget=budget,
            portal_faults_injected=portal_faults,
            portal_internal_errors=portal["rejected"].get("-500", 0),
            portal_rejected=portal["rejected"],
            source_faults_injected=source_faults,
            outbox=outbox,
            retries=outbox["retries"],
            resolved_by_lookup=sum(getattr(s.deliver, "resolved_by_lookup", 0) for s in summaries),
            breakers=[s.deliver.breakers for s in summaries if getattr(s.deliver, "breakers", None)],
            delivery_errors=sorted({e[:120] for s in summaries for e in s.deliver.last_errors})[:8],
            dossiers_edited_at_source=len(edits),
            portal_answers_lost=portal_faults_lost(sims),
            **repeats,
            dossier_writes=verdict.dossier_writes,
            dossiers_with_repeats=verdict.repeated_dossiers,
            progress_records=expected.progress_items,
            progress_writes=verdict.progress_writes,
            duplicates=verdict.duplicates,
            lost=verdict.lost,
        )

        # The source is the yardstick: every dossier at the portal, its latest version, in order.
        assert len(from_source) == dossiers
        assert source_problems(from_source, portal, edits) == {}
        # The portal bounds the repeats: no more exact repeats and "-3" than the answers faults lost.
        assert repeat_problems(repeats) == []
        # The route came to an end: nothing waits any more, nothing died.
        assert outbox["by_state"] == {"acknowledged": outbox["rows"]}, (
            f"after {len(summaries)} runs and {seconds:.0f} s the outbox holds {outbox['by_state']}"
        )
        # Every kind of fault was met (this is a test of them, not of a quiet portal).
        assert set(portal_faults) == set(PORTAL_KINDS), portal_faults
        assert portal["rejected"].get("-500", 0) > 0
        assert sum(source_faults.values()) > 0
        # Each run's own summary adds up; everything was pulled and mapped once.
        assert all(s.checks() == [] for s in summaries), [s.checks() for s in summaries]
        assert sum(s.extract.staged for s in summaries) == dossiers + len(edits)
        assert sum(s.transform.mapped for s in summaries) == dossiers + len(edits)
        assert sum(s.transform.quarantined for s in summaries) == 0
        assert live_rows(store) == 0
        # The portal: every dossier and progress record, one effective write each, the outbox's payload.
        assert len(expected.dossiers) == dossiers
        assert len(expected.progress) == expected.progress_items  # identities are unique in this data
        assert verdict.problems() == {}
        assert (verdict.duplicates, verdict.lost) == (0, 0)
        assert totals["dossiers"] == dossiers
        assert totals["dossier_writes"] == dossiers + len(edits)
        assert totals["progress_records"] == totals["progress_writes"] == expected.progress_items
        assert progress_after_parent(store) == []
    finally:
        store.dispose()
        sims.stop()


def portal_faults_lost(sims: SimPair) -> dict[str, int]:
    """Answers lost by reason (``drop_after_commit``, ``client_gone``, ``send_failed``), in requests."""
    return dict(sims.dvcqg.get("/_sim/faults").get("answers_lost") or {})


@pytest.mark.slow
def test_ten_thousand_dossiers_under_faults_arrive_exactly_once(store_url, tmp_path, monkeypatch, figures):
    """The target file's own breaker threshold; its open time shortened to 1 s for the test."""
    deliver_under_faults(10_000, store_url, tmp_path, monkeypatch, figures, limit=900)


def test_no_row_dies_of_bad_luck_when_the_breaker_stays_out_of_the_way(tmp_path, monkeypatch, figures):
    """The same guarantee must not depend on the circuit breaker slowing the workers down: with a
    threshold that random faults never reach, every row must still get through within its budget.

    (A write whose answer was lost is resolved before it is resent; if resolving it costs a request
    per row of the batch, and any one of them failing fails the attempt, a batch of 20 needs 20
    lucky requests in a row (0.67^20 ≈ 0.03 %) and its rows spend their budget.)
    """
    deliver_under_faults(
        1_000,
        f"sqlite:///{tmp_path / 'store.db'}",
        tmp_path,
        monkeypatch,
        figures,
        limit=300,
        breaker_failures=10_000,
    )
