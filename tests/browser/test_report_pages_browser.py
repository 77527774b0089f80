"""The three HTML reports in a real browser: they fit a 1,280 px window and show every column.

Debian's ``/usr/bin/chromium`` driven by playwright (never ``playwright install``). Each page is
opened at a 1,280 x 900 viewport; the page may not scroll sideways (wide tables scroll inside
their own box), every column of the report's frame is a table header, the audit's findings are
grouped per rule in collapsed ``<details>`` (counts in the visible line), and no cell says
``None``, ``nan`` or ``<NA>``.
"""

from __future__ import annotations

import pytest

import cloudmc_frames as cmf

from .voila import CHROMIUM, FLAGS

pytestmark = pytest.mark.browser

WINDOW = {"width": 1280, "height": 900}
PAGE_SIZE = "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
HEADERS = "[...document.querySelectorAll('th')].map(th => th.textContent)"
CELLS = "[...document.querySelectorAll('td')].map(td => td.textContent)"
GROUPS = "[...document.querySelectorAll('details > summary')].map(s => s.textContent)"


@pytest.fixture(scope="module")
def playwright_api():
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium: run `apt-get install -y chromium`")
    return pytest.importorskip("playwright.sync_api", reason="pip install '.[test-browser]'")


@pytest.fixture(scope="module")
def pages(sb, tmp_path_factory):
    """The three reports of the default sandbox, and the audit with every /users read failing."""
    folder = tmp_path_factory.mktemp("pages")
    with sb.client(progress=False) as client:
        reports = {name: build(client) for name, build in cmf.reports.REPORTS.items()}
    with cmf.sandbox(faults="html@/users") as faulty, faulty.client(progress=False, retries=0) as client:
        reports["audit-faulted"] = cmf.reports.audit(client)
    for name, report in reports.items():
        report.to_html(folder / f"{name}.html")
    return folder, reports


@pytest.fixture(scope="module")
def measured(playwright_api, pages):
    """Per page: (width, height), the table headers, every cell text and the group lines."""
    folder, reports = pages
    out = {}
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport=WINDOW)
            for name in reports:
                page.goto((folder / f"{name}.html").as_uri())
                out[name] = (page.evaluate(PAGE_SIZE), page.evaluate(HEADERS), page.evaluate(CELLS),
                             page.evaluate(GROUPS))
        finally:
            browser.close()
    return out


@pytest.mark.parametrize("name", ["inventory", "capacity", "audit", "audit-faulted"])
def test_page_fits_the_window_and_shows_every_column(measured, pages, name):
    (width, _), headers, cells, _ = measured[name]
    assert width <= WINDOW["width"]
    frame = pages[1][name].frame
    missing = [c for c in frame.columns if c not in headers]
    assert missing == []
    assert not {"None", "nan", "NaN", "<NA>", "NaT"} & set(cells)


def test_audit_findings_are_grouped_by_rule_with_counts_first(measured, pages):
    (_, height), _, _, groups = measured["audit"]
    summary = pages[1]["audit"].summary
    with_findings = summary[summary["findings"] > 0]
    assert len(groups) == len(with_findings)
    for rule, findings in zip(with_findings["rule"], with_findings["findings"], strict=True):
        line = next(g for g in groups if g.startswith(f"{rule} · "))
        assert line.startswith(f"{rule} · {findings} finding")
    assert height < 4 * WINDOW["height"]  # collapsed groups: the page is a summary, not a wall of rows


def test_faulted_audit_page_names_the_rules_it_could_not_evaluate(measured, pages):
    _, _, cells, groups = measured["audit-faulted"]
    blind = pages[1]["audit-faulted"].summary.query("completeness == 'not evaluated'")["rule"]
    assert len(blind) >= 6
    for rule in blind:
        assert f"{rule} · not evaluated: users unreadable in 20 of 20 organizations" in groups
    assert cells.count("not evaluated") >= len(blind)
