"""The HTML report opened in headless Chromium: it renders offline (inline CSS and SVG only), the
charts and totals are in the rendered page, Vietnamese text survives, and a screenshot is kept under
``test-artifacts/`` for a person to look at."""

from __future__ import annotations

import re
import unicodedata

import pytest

from lienthong.report.html import render_html
from lienthong.settings import PACKAGE_ROOT
from tests.report.browser import dump_dom, find_chromium, png_facts, screenshot
from tests.report.test_report import report_of

ARTIFACTS = PACKAGE_ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def html_page(scenario):
    data = report_of(scenario)
    ARTIFACTS.mkdir(exist_ok=True)
    page = ARTIFACTS / "report.html"
    page.write_text(render_html(data), encoding="utf-8")
    return data, page


def test_the_page_is_self_contained_utf8_and_nfc(html_page):
    data, page = html_page
    html = page.read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in html and unicodedata.is_normalized("NFC", html)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing fetched from anywhere
    assert "@import" not in html and "<script" not in html and "url(" not in html
    assert html.count("<svg") == 2 + len(data.routes)  # catalogue, indicators, one flow chart per route
    assert html.count("<title>") > 50  # every bar carries an accessible title
    assert "Sở Tư pháp tỉnh Bến Tre" in html


def test_headless_chromium_renders_the_report(html_page, tmp_path):
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium); the HTML report was not rendered")
    data, page = html_page
    dom = dump_dom(binary, page, tmp_path / "profile-dom")
    assert dom.count("<svg") == 2 + len(data.routes)
    assert "Đối soát liên thông" in dom and "Sở Tư pháp tỉnh Bến Tre" in dom
    offered = sum(f.offered for f in data.catalogue)
    synced = sum(f.synced for f in data.catalogue)
    assert f"{synced} of {offered}" in dom  # the summary figure
    for route in data.routes:
        assert f"{route.totals.acknowledged:,} / {route.totals.pulled:,}" in dom
    png = ARTIFACTS / "report.png"
    png.unlink(missing_ok=True)
    screenshot(binary, page, png, tmp_path / "profile-shot")
    width, height, distinct = png_facts(png)
    assert (width, height) == (1280, 2000)
    assert distinct > 100, "the screenshot looks blank"
