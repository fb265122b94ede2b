"""The reconciliation report after the demo-like run: the catalogue figure per agency equals what the
portal holds, the indicators equal a hand count over the portal's dossiers, CSV parses, the CLI works."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections import Counter, defaultdict

from click.testing import CliRunner

from lienthong.cli import main
from lienthong.report import collect_report
from lienthong.report.csvout import render_csv
from lienthong.report.text import render_text
from tests.integration.conftest import received
from tests.report.conftest import BROKEN_AGENCY

OPERATIONS = {
    "dossier_sync": "DongBoHoSoMC",
    "catalogue_sync": "DongBoDVCTT",
    "birth_bhyt": "DangKyTheBHYTTreEm",
}


def report_of(scenario):  # noqa: ANN001, ANN201
    return collect_report(scenario.gateway.store, OPERATIONS, None, None, scenario.mappings)


def test_catalogue_offered_vs_synced_per_agency_matches_the_portal(scenario):
    data = report_of(scenario)
    held = received(scenario.cluster.dvcqg)["catalogue"]
    synced_at_portal = Counter(entry["data"]["MaCoQuan"] for entry in held.values())
    _, procedures = scenario.cluster.motcua.app.procedures.search(None, None, 0, 10_000)
    offered_at_source = Counter(
        p["agency"]["code"] for p in procedures if p["onlineLevel"] in ("FULL", "PARTIAL")
    )
    figures = {f.agency: f for f in data.catalogue}
    assert {a: f.synced for a, f in figures.items() if f.synced} == dict(synced_at_portal)
    assert {a: f.offered for a, f in figures.items()} == dict(offered_at_source)
    broken = figures[BROKEN_AGENCY]
    assert broken.synced == broken.offered - 7  # the seven that did not map are offered, not synced
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


def test_csv_parses_and_carries_the_same_figures(scenario):
    data = report_of(scenario)
    rows = list(csv.DictReader(io.StringIO(render_csv(data))))
    assert rows and set(rows[0]) == {"section", "route", "agency", "agency_name", "day", "metric", "value"}
    totals = {(r["route"], r["metric"]): int(r["value"]) for r in rows if r["section"] == "route_total"}
    for route in data.routes:
        assert totals[(route.route, "pulled")] == route.totals.pulled
        assert totals[(route.route, "gap")] == route.totals.gap
    flow_pulled = sum(int(r["value"]) for r in rows if r["section"] == "flow" and r["metric"] == "pulled")
    assert flow_pulled == sum(route.totals.pulled for route in data.routes)
    synced = {
        r["agency"]: int(r["value"]) for r in rows if r["section"] == "catalogue" and r["metric"] == "synced"
    }
    assert synced == {f.agency: f.synced for f in data.catalogue}
    assert any("Sở Tư pháp" in r["agency_name"] for r in rows)


def test_the_cli_writes_each_format_and_exits_0_when_nothing_is_missing(scenario, tmp_path, monkeypatch):
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", scenario.store_url)
    monkeypatch.setenv("LIENTHONG_MAPPINGS", str(scenario.mappings))
    runner = CliRunner()
    text = runner.invoke(main, ["report"])
    assert text.exit_code == 0, text.output
    expected = render_text(report_of(scenario)).splitlines()
    assert text.output.splitlines()[2:] == expected[2:]  # all but the title and the generation time
    assert "route dossier_sync" in text.output and "every record version accounted for" in text.output
    out = tmp_path / "r.csv"
    result = runner.invoke(
        main, ["report", "--route", "catalogue_sync", "--format", "csv", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert {r["route"] for r in rows} == {"catalogue_sync"}
    html = tmp_path / "r.html"
    window = ["--from", "2000-01-01", "--to", "2999-12-31"]
    result = runner.invoke(main, ["report", "--format", "html", "--output", str(html), *window])
    assert result.exit_code == 0, result.output
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    bad = runner.invoke(main, ["report", "--from", "yesterday"])
    assert bad.exit_code == 2 and "--from" in bad.output
