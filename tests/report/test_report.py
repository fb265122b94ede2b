"""The reconciliation report after the demo-like run: the gap per record equals what the simulators
say (the portal, the source), the banner says what is open in numbers and the exit status follows; the
catalogue figure per agency equals what the portal holds, the indicators equal a hand count over the
portal's dossiers, CSV parses, the CLI works; a clean store is green and exits 0."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections import Counter, defaultdict

from click.testing import CliRunner
from sqlalchemy import select

from lienthong.cli import main
from lienthong.report import collect_report
from lienthong.report.banner import banner
from lienthong.report.csvout import render_csv
from lienthong.report.text import render_text
from lienthong.store.models import QuarantineEntry, StagedRecord, Tombstone
from tests.integration.conftest import received
from tests.report.conftest import BROKEN_AGENCY

OPERATIONS = {
    "dossier_sync": "DongBoHoSoMC",
    "catalogue_sync": "DongBoDVCTT",
    "birth_bhyt": "DangKyTheBHYTTreEm",
}


def report_of(scenario, routes=None):  # noqa: ANN001, ANN201
    from lienthong.cli.report import current_versions

    routes = routes or OPERATIONS
    versions = current_versions(scenario.gateway, sorted(routes))
    return collect_report(
        scenario.gateway.store, routes, None, None, scenario.mappings, current_versions=versions
    )


def _fates(route_data) -> dict[str, str]:  # noqa: ANN001
    return {item.record_key: item.fate for item in route_data.gap}


def test_the_gap_per_record_is_what_the_portal_and_the_source_say(scenario):
    data = report_of(scenario)
    route = next(r for r in data.routes if r.route == "dossier_sync")
    app = scenario.cluster.motcua.app
    store = scenario.gateway.store
    with store.session() as session:
        staged = dict(
            session.execute(
                select(StagedRecord.record_key, StagedRecord.source_id).where(
                    StagedRecord.route == "dossier_sync"
                )
            ).all()
        )
    at_portal = set(received(scenario.cluster.dvcqg)["dossiers"])
    source = {key: app.get_dossier(source_id) for key, source_id in staged.items()}
    deleted = {key for key, dossier in source.items() if dossier is None}
    assert set(scenario.deleted) <= deleted
    postal = {k for k, d in source.items() if d and d["applyMethod"]["id"] == 3}
    refused = {k for k, d in source.items() if d and d["dossierStatus"]["id"] == 3} - postal
    gap = _fates(route)
    assert route.gap_total == len(gap) == len(staged) - len(at_portal - deleted) - len(postal)
    # Every record is in the gap unless the portal holds it or it is out of scope, and never twice.
    assert set(gap) == set(staged) - (at_portal - deleted) - postal
    assert {k for k, f in gap.items() if f == "tombstone"} == deleted
    dead = {k for k, f in gap.items() if f == "dead"}
    quarantined = {k for k, f in gap.items() if f == "quarantined"}
    assert dead and dead <= refused and quarantined and not (quarantined & at_portal)
    assert set(gap.values()) == {"tombstone", "dead", "quarantined"}
    counts = route.records
    assert counts["acknowledged"] == len(at_portal - deleted) and counts["filtered"] == len(postal)
    assert counts.records == len(staged) and counts.gap == len(gap)
    # Fixed at the source: the older version's quarantine entry is still there, the record is settled.
    assert scenario.fixed in at_portal and scenario.fixed not in gap
    with store.session() as session:
        first = session.execute(
            select(QuarantineEntry.id).where(QuarantineEntry.record_key == scenario.fixed)
        ).first()
        assert first is not None
        tombstones = set(session.execute(select(Tombstone.record_key)).scalars())
    assert tombstones == deleted
    # The withdrawn dossier has two acknowledged versions: one record, settled.
    assert scenario.withdrawn not in gap and route.totals.pulled > counts.records


def test_the_banner_says_what_is_open_in_numbers_and_the_exit_status_follows(scenario):
    data = report_of(scenario, {"dossier_sync": "DongBoHoSoMC"})
    counts = data.records()
    q, d, t = counts["quarantined"], counts["dead"], counts["tombstone"]
    verdict = banner(data)
    assert verdict.level == "open" and verdict.exit_code == 4
    assert verdict.headline == (
        f"{q} quarantined, {d} dead, {t} deleted at the source (tombstones) — {q + d + t} records need a person"
    )
    text = render_text(data)
    assert text.splitlines()[0] == f"! {verdict.headline}"
    assert "audit ledger: NEVER VERIFIED" in text
    for item in data.routes[0].gap:
        assert f"lienthong audit show {item.record_key}" in text
    rows = list(csv.DictReader(io.StringIO(render_csv(data))))
    assert (rows[0]["section"], rows[0]["metric"], rows[0]["value"]) == ("banner", "level", "open")
    assert rows[1]["value"] == verdict.headline
    gap_rows = [r for r in rows if r["section"] == "gap" and r["metric"] == "state"]
    assert len(gap_rows) == q + d + t
    assert {r["record"] for r in gap_rows} == {item.record_key for item in data.routes[0].gap}
    reasons = [r["value"] for r in rows if r["section"] == "gap" and r["metric"] == "reason"]
    assert all(reasons) and any("SoDinhDanh" in r for r in reasons)


def test_the_command_in_each_gap_row_shows_that_records_life(scenario, monkeypatch):
    from lienthong.audit.lineage import lineage

    data = report_of(scenario)
    store = scenario.gateway.store
    for route in data.routes:
        for item in route.gap:
            steps = lineage(store, item.record_key)
            assert steps and {s["route"] for s in steps if s.get("route")} >= {route.route}, item.record_key
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", scenario.store_url)
    monkeypatch.setenv("LIENTHONG_MAPPINGS", str(scenario.mappings))
    deleted = scenario.deleted[0]
    shown = CliRunner().invoke(main, ["audit", "show", deleted])
    assert shown.exit_code == 0 and deleted in shown.output and "acknowledged" in shown.output


def test_the_gap_list_is_limited_where_asked_and_says_how_many_it_leaves_out(scenario):
    data = collect_report(scenario.gateway.store, {"dossier_sync": "DongBoHoSoMC"}, gap_limit=3)
    route = data.routes[0]
    assert len(route.gap) == 3 and route.gap_left_out == route.gap_total - 3 > 0
    assert f"and {route.gap_left_out} more not listed here" in render_text(data)
    everything = list(csv.DictReader(io.StringIO(render_csv(data))))
    assert len({r["record"] for r in everything if r["section"] == "gap"}) == 3  # what was collected


def test_a_clean_store_is_green_and_exits_0(clean_scenario, monkeypatch):
    data = report_of(clean_scenario, {"dossier_sync": "DongBoHoSoMC"})
    verdict = banner(data)
    assert verdict.level == "clean" and data.routes[0].gap_total == 0, verdict.headline
    acknowledged = len(received(clean_scenario.cluster.dvcqg)["dossiers"])
    assert data.routes[0].records["acknowledged"] == acknowledged > 0
    assert data.ledger.ok and data.ledger.verified_seq == data.ledger.head_seq > 0
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", clean_scenario.store_url)
    monkeypatch.setenv("LIENTHONG_MAPPINGS", str(clean_scenario.mappings))
    result = CliRunner().invoke(main, ["report", "--route", "dossier_sync"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("✓ nothing open")
    assert "gap: none" in result.output and "audit ledger: last verified" in result.output
    assert "(current)" in result.output  # the store's mapping version is the files' on disk


def test_catalogue_offered_vs_synced_per_agency_matches_the_portal(scenario):
    data = report_of(scenario)
    held = received(scenario.cluster.dvcqg)["catalogue"]
    synced_at_portal = Counter(entry["data"]["MaCoQuan"] for entry in held.values())
    _, procedures = scenario.cluster.motcua.app.procedures.search(None, None, 0, 10_000)
    offered_at_source = Counter(
        p["agency"]["code"] for p in procedures if p["onlineLevel"] in ("FULL", "PARTIAL")
    )
    figures = {f.agency: f for f in data.catalogue}
    assert {a: f.acknowledged for a, f in figures.items() if f.acknowledged} == dict(synced_at_portal)
    assert {a: f.offered for a, f in figures.items()} == dict(offered_at_source)
    broken = figures[BROKEN_AGENCY]
    assert broken.acknowledged == broken.offered - 7  # the seven that did not map: offered, not acknowledged
    # Names come from what was synced (TenCoQuan), in NFC.
    for entry in held.values():
        name = data.agency_name(entry["data"]["MaCoQuan"])
        assert name == unicodedata.normalize("NFC", entry["data"]["TenCoQuan"])


def test_indicators_equal_a_hand_count_over_the_portals_dossiers(scenario):
    data = report_of(scenario)
    by_name: dict[str, dict[str, int]] = defaultdict(Counter)
    for entry in received(scenario.cluster.dvcqg)["dossiers"].values():
        d = entry["data"]
        counts = by_name[d["DonViXuLy"]]
        counts["dossiers"] += 1
        counts["online"] += d["KenhThucHien"] == "2"
        if d.get("NgayKetThucXuLy") and d.get("NgayHenTra"):
            counts["finished"] += 1
            counts["on_time"] += int(d["NgayKetThucXuLy"]) <= int(d["NgayHenTra"])
    report = {
        data.agency_name(r.agency): {
            "dossiers": r.dossiers,
            "online": r.online,
            "finished": r.finished,
            "on_time": r.on_time,
        }
        for r in data.indicators
    }
    assert report == {
        name: {k: c[k] for k in ("dossiers", "online", "finished", "on_time")} for name, c in by_name.items()
    }
    assert sum(r.on_time for r in data.indicators) < sum(
        r.finished for r in data.indicators
    )  # not all on time


def test_flow_per_agency_and_day_adds_up_to_the_route_totals(scenario):
    data = report_of(scenario)
    assert data.ok
    for route in data.routes:
        assert sum(s.counts.pulled for s in route.slices) == route.totals.pulled
        assert sum(c.acknowledged for c in route.by_agency().values()) == route.totals.acknowledged
        assert all(s.agency for s in route.slices)  # every route names source.agency
        assert all(len(s.day) == 10 for s in route.slices)
        assert sum(c.records for c in route.records_by_agency.values()) == route.records.records
        assert sum(c.gap for c in route.records_by_day.values()) == route.records.gap


def test_chart_days_are_the_records_own_dates_not_the_pull_date(scenario):
    from lienthong.record_gap import source_day

    data = report_of(scenario, {"dossier_sync": "DongBoHoSoMC"})
    route = data.routes[0]
    app = scenario.cluster.motcua.app
    with scenario.gateway.store.session() as session:
        latest = session.execute(
            select(StagedRecord.record_key, StagedRecord.source_id, StagedRecord.id)
            .where(StagedRecord.route == "dossier_sync")
            .order_by(StagedRecord.id)
        ).all()
    newest = {key: source_id for key, source_id, _ in latest}
    days = Counter()
    for source_id in newest.values():
        dossier = app.get_dossier(source_id)
        if dossier is not None:  # deleted ones: their staged date, checked below
            days[source_day(dossier["updatedDate"])] += 1
    pulled_days = set(route.by_day())
    assert set(days) - pulled_days  # the source's dates are not the pull dates
    for day, n in days.items():
        assert route.records_by_day[day].records >= n
    assert sum(c.records for c in route.records_by_day.values()) == len(newest)


def test_csv_parses_and_carries_the_same_figures(scenario):
    data = report_of(scenario)
    rows = list(csv.DictReader(io.StringIO(render_csv(data))))
    assert rows and list(rows[0]) == [
        "section",
        "route",
        "agency",
        "agency_name",
        "day",
        "record",
        "metric",
        "value",
    ]
    totals = {(r["route"], r["metric"]): int(r["value"]) for r in rows if r["section"] == "route_total"}
    records = {(r["route"], r["metric"]): int(r["value"]) for r in rows if r["section"] == "records_total"}
    for route in data.routes:
        assert totals[(route.route, "pulled")] == route.totals.pulled
        assert records[(route.route, "gap")] == route.totals.gap == route.records.gap
        assert records[(route.route, "records")] == route.records.records
    flow_pulled = sum(int(r["value"]) for r in rows if r["section"] == "flow" and r["metric"] == "pulled")
    assert flow_pulled == sum(route.totals.pulled for route in data.routes)
    acknowledged = {
        r["agency"]: int(r["value"])
        for r in rows
        if r["section"] == "catalogue" and r["metric"] == "acknowledged"
    }
    assert acknowledged == {f.agency: f.acknowledged for f in data.catalogue}
    assert any("Sở Tư pháp" in r["agency_name"] for r in rows)


def test_the_cli_writes_each_format_and_exits_4_when_items_are_open(scenario, tmp_path, monkeypatch):
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", scenario.store_url)
    monkeypatch.setenv("LIENTHONG_MAPPINGS", str(scenario.mappings))
    runner = CliRunner()
    text = runner.invoke(main, ["report"])
    assert text.exit_code == 4, text.output
    expected = render_text(report_of(scenario)).splitlines()
    lines = text.output.splitlines()
    assert lines[0] == expected[0] and lines[3:] == expected[3:]  # all but the generation time
    assert "route dossier_sync" in text.output and "every version accounted for" in text.output
    out = tmp_path / "r.csv"
    result = runner.invoke(
        main, ["report", "--route", "catalogue_sync", "--format", "csv", "--output", str(out)]
    )
    assert result.exit_code == 4, result.output  # seven procedures quarantined
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert {r["route"] for r in rows if r["route"]} == {"catalogue_sync"}
    html = tmp_path / "r.html"
    window = ["--from", "2000-01-01", "--to", "2999-12-31"]
    result = runner.invoke(main, ["report", "--format", "html", "--output", str(html), *window])
    assert result.exit_code == 4, result.output
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    bad = runner.invoke(main, ["report", "--from", "yesterday"])
    assert bad.exit_code == 2 and "--from" in bad.output
