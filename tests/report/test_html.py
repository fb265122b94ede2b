"""The HTML report opened in headless Chromium: it renders offline (inline CSS and SVG only), the
banner says what is open (a store with open items) or is green (a clean store), the gap table lists the
open records, Vietnamese text survives, and a screenshot of each is kept under ``test-artifacts/`` for a
person to look at."""

from __future__ import annotations

import re
import unicodedata
from html import unescape

import pytest

from lienthong.report.banner import banner
from lienthong.report.html import render_html
from lienthong.settings import PACKAGE_ROOT
from tests.report.browser import dump_dom, find_chromium, png_facts, screenshot
from tests.report.test_report import report_of

ARTIFACTS = PACKAGE_ROOT / "test-artifacts"
DOSSIERS = {"dossier_sync": "DongBoHoSoMC"}


def _page(data, name: str):  # noqa: ANN001, ANN202
    ARTIFACTS.mkdir(exist_ok=True)
    page = ARTIFACTS / name
    page.write_text(render_html(data), encoding="utf-8")
    return page


@pytest.fixture(scope="module")
def html_page(scenario):
    data = report_of(scenario)
    return data, _page(data, "report.html")


@pytest.fixture(scope="module")
def clean_page(clean_scenario):
    data = report_of(clean_scenario, DOSSIERS)
    return data, _page(data, "report-clean.html")


@pytest.fixture()
def chromium():
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium); the HTML report was not rendered")
    return binary


def _banner_of(dom: str) -> tuple[str, str]:
    found = re.search(r'<div id="banner" class="banner (\w+)"[^>]*>(.*?)<br>', dom, re.S)
    assert found, "no banner in the rendered page"
    return found.group(1), unescape(found.group(2))


def _gap_rows(dom: str) -> list[str]:
    table = re.search(r'<table id="gap".*?</table>', dom, re.S)
    return re.findall(r'<tr data-fate="(\w+)">', table.group(0)) if table else []


def test_the_page_is_self_contained_utf8_and_nfc(html_page):
    data, page = html_page
    html = page.read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in html and unicodedata.is_normalized("NFC", html)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing fetched from anywhere
    assert "@import" not in html and "<script" not in html and "url(" not in html
    assert html.count("<svg") == 2 + len(data.routes)  # catalogue, indicators, one flow chart per route
    assert html.count("<title>") > 50  # every bar carries an accessible title
    assert "Sở Tư pháp tỉnh Bến Tre" in html
    assert "delivered" not in html  # one word per meaning: acknowledged


def test_headless_chromium_shows_the_open_items_and_the_gap_table(html_page, chromium, tmp_path):
    data, page = html_page
    dom = dump_dom(chromium, page, tmp_path / "profile-dom")
    assert dom.count("<svg") == 2 + len(data.routes)
    assert "Đối soát liên thông" in dom and "Sở Tư pháp tỉnh Bến Tre" in dom
    level, text = _banner_of(dom)
    verdict = banner(data)
    assert level == "open" and text == f"! {verdict.headline}"
    counts = data.records()
    assert f"{counts['quarantined']} quarantined, {counts['dead']} dead" in text
    assert f"{counts.needs_person} records need a person" in text
    fates = _gap_rows(dom)
    assert len(fates) == sum(r.gap_total for r in data.routes) == counts.gap
    assert {"quarantined", "dead", "tombstone"} <= set(fates)
    assert 'id="ledger" class="ledger amber"' in dom and "never verified" in dom
    offered = sum(f.offered for f in data.catalogue)
    acknowledged = sum(f.acknowledged for f in data.catalogue)
    assert f"{acknowledged} of {offered}" in dom  # the summary figure
    png = ARTIFACTS / "report.png"
    png.unlink(missing_ok=True)
    screenshot(chromium, page, png, tmp_path / "profile-shot")
    width, height, distinct = png_facts(png)
    assert (width, height) == (1280, 2000)
    assert distinct > 100, "the screenshot looks blank"


def test_headless_chromium_shows_a_clean_store_green(clean_page, chromium, tmp_path):
    data, page = clean_page
    dom = dump_dom(chromium, page, tmp_path / "profile-dom")
    level, text = _banner_of(dom)
    assert level == "clean" and text.startswith("✓ nothing open"), text
    assert _gap_rows(dom) == [] and 'id="gap-none"' in dom
    assert 'id="ledger" class="ledger ok"' in dom and f"to seq {data.ledger.verified_seq:,}" in dom
    png = ARTIFACTS / "report-clean.png"
    png.unlink(missing_ok=True)
    screenshot(chromium, page, png, tmp_path / "profile-shot", size="1280,1200")
    width, height, distinct = png_facts(png)
    assert (width, height) == (1280, 1200) and distinct > 50, "the screenshot looks blank"
