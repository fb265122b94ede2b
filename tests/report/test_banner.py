"""The banner's words and exit status for each kind of open item, the figure of records under an older
mapping when ``lienthong.remap`` provides it (and when it fails), and hostile keys shown safely in
every format.  Built from hand-made report data and hand-built stores (no simulators needed)."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from lienthong.reconcile import Reconciliation
from lienthong.record_gap import KeyFate, RecordCounts
from lienthong.report import collect_report
from lienthong.report.banner import banner
from lienthong.report.csvout import render_csv
from lienthong.report.gaptable import life_command, shown_key
from lienthong.report.html import render_html
from lienthong.report.model import ReportData, RouteData
from lienthong.report.text import render_text
from tests.report.test_reconcile_states import ROUTE, Builder

NOW = datetime(2026, 1, 2, 3, 4, 5)


def _data(fates: dict[str, int], gap: list[KeyFate] = (), stale: int | None = None) -> ReportData:
    counts = RecordCounts()
    for fate, n in fates.items():
        counts.add(fate, n)
    totals = Reconciliation(route="r", start=None, end=None, records=counts)
    route = RouteData("r", "Op", totals, gap=list(gap), stale_mapping=stale)
    return ReportData(generated_at=NOW, start=None, end=None, routes=[route], agency_names={})


def test_the_first_line_names_every_kind_of_open_item_in_numbers():
    verdict = banner(_data({"acknowledged": 5, "quarantined": 12, "dead": 2, "tombstone": 2}))
    assert verdict.level == "open" and verdict.exit_code == 4
    assert verdict.headline == (
        "12 quarantined, 2 dead, 2 deleted at the source (tombstones) — 16 records need a person"
    )
    one = banner(_data({"review": 1, "blocked": 1, "superseded": 1}))
    assert one.headline == (
        "1 in review, 1 blocked, 1 superseded with nothing newer queued — 3 records need a person"
    )


def test_records_on_their_way_or_under_an_older_mapping_are_open_too():
    pending = banner(_data({"acknowledged": 3, "pending": 4}))
    assert pending.level == "open" and pending.exit_code == 4
    assert pending.headline == "4 records are on their way (pending); nothing needs a person yet"
    stale = banner(_data({"acknowledged": 3}, stale=40))
    assert stale.level == "open"
    assert stale.headline == "40 acknowledged records were sent under an older mapping (lienthong remap)"
    clean = banner(_data({"acknowledged": 3, "filtered": 1}, stale=0))
    assert clean.level == "clean" and clean.exit_code == 0


def test_a_loss_is_red_and_exits_3_whatever_else_is_open():
    data = _data({"acknowledged": 3, "dead": 1, "missing": 1})
    verdict = banner(data)
    assert verdict.level == "lost" and verdict.exit_code == 3
    assert verdict.headline.startswith("0 record versions and 1 record in no known state")
    assert "1 dead — 1 record needs a person" in verdict.headline


def test_the_older_mapping_figure_is_the_last_remap_count_and_fails_closed(store, monkeypatch):
    """The figure is what `lienthong remap` last counted (lienthong.drift); out of date after a
    mapping change, or unreadable, the report says so and is not green."""
    from datetime import datetime

    from lienthong import drift

    b = Builder(store)
    b.run("succeeded")
    b.row(b.version("a", "mapped"), "a", "acknowledged")
    counted = drift.Drift(7, 10, datetime(2026, 12, 1), "sha256:m1", current=True)
    monkeypatch.setattr(drift, "last_drift", lambda store, route: counted)
    data = collect_report(store, {ROUTE: "Op"})
    assert data.routes[0].stale_mapping == 7
    assert (
        banner(data).headline == "7 acknowledged records were sent under an older mapping (lienthong remap)"
    )

    outdated = drift.Drift(7, 10, datetime(2026, 12, 1), "sha256:m1", current=False)
    monkeypatch.setattr(drift, "last_drift", lambda store, route: outdated)
    data = collect_report(store, {ROUTE: "Op"})
    assert data.routes[0].stale_mapping is None and "out of date" in data.routes[0].stale_mapping_error
    assert banner(data).level == "open"

    def broken(store, route):  # noqa: ANN001, ANN202
        raise RuntimeError("no such column")

    monkeypatch.setattr(drift, "last_drift", broken)
    data = collect_report(store, {ROUTE: "Op"})
    assert (
        data.routes[0].stale_mapping is None and "could not be counted" in data.routes[0].stale_mapping_error
    )
    assert banner(data).level == "open"  # fail closed: not green when a figure cannot be counted
    assert "could not be counted (RuntimeError)" in render_text(data)


def test_without_remap_there_is_no_figure_and_a_settled_store_is_green(store):
    b = Builder(store)
    b.run("succeeded")
    b.row(b.version("a", "mapped"), "a", "acknowledged")
    data = collect_report(store, {ROUTE: "Op"})
    assert data.routes[0].stale_mapping is None and banner(data).level == "clean"


def test_hostile_keys_are_shown_safely_in_every_format():
    formula = '=HYPERLINK("http://x")'
    terminal = "KEY\x1b[2J\nX"
    personal = "HS-079201012345"
    gap = [
        KeyFate(key, "A", "quarantined", i, NOW, "", reason="r", since=NOW)
        for i, key in enumerate((formula, terminal, personal, "ok key'quote"))
    ]
    data = _data({"quarantined": 4}, gap)
    text = render_text(data)
    assert "\x1b" not in text and "\\x1b[2J\\x0aX" in text
    assert "079201012345" not in text and "079*******45" in text
    assert "lienthong audit show 'ok key'\"'\"'quote'" in text
    assert shown_key(personal) != personal and "cannot be shown as is" in life_command("r", personal)
    rows = list(csv.DictReader(io.StringIO(render_csv(data))))
    records = {r["record"] for r in rows if r["section"] == "gap"}
    assert "'" + formula in records and formula not in records
    assert all(not r.startswith(("=", "+", "-", "@")) for row in rows for r in row.values())
    html = render_html(data)
    assert "<script" not in html and "=HYPERLINK(&quot;http://x&quot;)" in html and "\x1b" not in html


def test_charts_group_source_days_by_month_past_62_days_and_keep_every_record():
    days = {f"2025-{m:02d}-{d:02d}": RecordCounts() for m in (1, 2, 3) for d in range(1, 29)}
    for i, counts in enumerate(days.values()):
        counts.add("acknowledged", 1 + i % 3)
    route = RouteData("r", "Op", Reconciliation(route="r", start=None, end=None), records_by_day=days)
    unit, months = route.records_by_period()
    assert unit == "month" and list(months) == ["2025-01", "2025-02", "2025-03"]
    assert sum(c.records for c in months.values()) == sum(c.records for c in days.values())
    few = RouteData("r", "Op", route.totals, records_by_day=dict(list(days.items())[:10]))
    assert few.records_by_period()[0] == "day"


def test_a_hostile_reason_or_agency_reaches_no_terminal_as_control_characters(store):
    from lienthong.reconcile import counting_session
    from lienthong.record_gap import gap_list, record_fates
    from lienthong.report.gap_details import gap_details

    b = Builder(store)
    b.run("succeeded")
    row = b.row(b.version("k", "mapped", agency="A\x1b[31m"), "k", "dead", attempts=3)
    with store.session() as session:
        from sqlalchemy import update

        from lienthong.store.models import OutboxRow

        session.execute(
            update(OutboxRow).where(OutboxRow.id == row).values(last_error="bad\x1b]0;owned\x07 answer")
        )
    with counting_session(store) as session:
        listed = gap_list(record_fates(session, ROUTE, None, None))
        gap_details(session, ROUTE, listed)
    assert listed[0].reason == "bad\\x1b]0;owned\\x07 answer"
    text = render_text(collect_report(store, {ROUTE: "Op"}))
    assert "\x1b" not in text and "\x07" not in text and "A\\x1b[31m" in text


def test_the_cli_exits_3_when_a_record_is_lost_and_4_once_it_is_only_open(store, monkeypatch):
    from click.testing import CliRunner
    from sqlalchemy import update

    from lienthong.audit.config import config_for
    from lienthong.cli import main
    from lienthong.settings import PACKAGE_ROOT
    from lienthong.store.models import OutboxRow, Run, StagedRecord

    b = Builder(store)
    b.run("succeeded")
    lost = b.version("000.00.12.H07-250114-0042", "mapped")  # mapped, no outbox row
    b.row(b.version("fine", "mapped"), "fine", "acknowledged")
    with store.session() as session:
        for model in (StagedRecord, OutboxRow, Run):
            session.execute(update(model).values(route="dossier_sync"))
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", store.url)
    monkeypatch.setenv("LIENTHONG_MAPPINGS", str(PACKAGE_ROOT / "mappings"))
    monkeypatch.setenv("LIENTHONG_HOME", str(config_for(store).data_dir))  # where the store's key is
    result = CliRunner().invoke(main, ["report", "--route", "dossier_sync"])
    assert result.exit_code == 3, result.output
    assert result.output.startswith("✗ 1 record version and 1 record in no known state")
    assert "000.00.12.H07-250114-0042" in result.output
    with store.session() as session:
        session.execute(update(StagedRecord).where(StagedRecord.id == lost).values(state="quarantined"))
    result = CliRunner().invoke(main, ["report", "--route", "dossier_sync", "--format", "csv"])
    assert result.exit_code == 4 and "banner,,,,,,level,open" in result.output
