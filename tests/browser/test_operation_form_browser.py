"""A real browser drives an OperationForm served by voila: pick an instance, Run, see 100%.

The sandbox runs in this test process; the voila kernel reaches it through CLOUDMC_ENDPOINT and
CLOUDMC_API_KEY (environment variables of the voila process, never printed), so the test can
check the new state in the sandbox's store. Chromium is Debian's ``/usr/bin/chromium`` driven by
Python playwright (``playwright install`` is never needed).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

import cloudmc_frames as cmf

from .voila import CHROMIUM, FLAGS, start_voila, stop

pytestmark = pytest.mark.browser

APP = '''\
import os
import cloudmc_frames as cmf

client = cmf.connect(cache_backend="memory")
vms = cmf.instances(client, orgs=os.environ["CMF_TEST_ORG"], environment=os.environ["CMF_TEST_ENV"],
                    service_code=os.environ["CMF_TEST_CODE"])
form = cmf.widgets.OperationForm(client, vms, interval=0.2)
form
'''
RUN_BUTTON = "button:has-text('Run')"
SUMMARY_SAYS_STOP = """() => [...document.querySelectorAll('.widget-html b')].some(
    b => b.textContent === 'stop' && b.parentElement.textContent.includes('1 resource(s)'))"""
ALL_BARS_FULL = """() => {
    const bars = [...document.querySelectorAll('.widget-hprogress .progress-bar')];
    return bars.length >= 2 && bars.every(b => b.style.width === '100%');
}"""


@pytest.fixture
def voila(tmp_path):
    """Serve the app notebook for a sandbox started here; yields (url, sandbox, instance)."""
    import nbformat

    with cmf.sandbox(orgs=3, seed=7, task_delay=0.2) as sb:
        env = sb.store.env_by_name(sb.store.root_id, "prod")
        vm = next(i for i in sb.store.resources[env["id"]]["instances"].values() if i["state"] == "Running")
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(APP)])
        nbformat.write(nb, tmp_path / "app.ipynb")
        proc, port = start_voila(tmp_path, {
            **os.environ, "CLOUDMC_ENDPOINT": sb.endpoint, "CLOUDMC_API_KEY": sb.api_key,
            "CMF_TEST_ORG": sb.store.root_id, "CMF_TEST_ENV": env["name"],
            "CMF_TEST_CODE": sb.store.connections[env["serviceConnection"]["id"]]["serviceCode"],
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "CLOUDMC_CACHE_DIR": str(tmp_path)})
        try:
            yield f"http://127.0.0.1:{port}/", sb, vm
        finally:
            stop(proc)


def test_stop_an_instance_from_the_form_in_a_real_browser(browser_tools, voila):
    url, sb, vm = voila
    started = time.monotonic()
    with browser_tools.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            page = browser.new_page()
            page.goto(url, timeout=30_000)
            option = page.locator("select[multiple] option", has_text=vm["name"])
            option.wait_for(state="attached", timeout=30_000)
            page.locator("select[multiple]").select_option(value=option.get_attribute("value"))
            operation = page.locator(".widget-dropdown", has_text="Operation").locator("select")
            # the dropdown lists every operation until the kernel answers the selection with the
            # ones that fit a running instance (no 'start'); an index picked before that would
            # name another operation in the new list
            page.wait_for_function("s => [...s.options].some(o => o.text === 'stop') "
                                   "&& ![...s.options].some(o => o.text === 'start')",
                                   arg=operation.element_handle(), timeout=10_000)
            operation.select_option(label="stop")
            page.wait_for_function(SUMMARY_SAYS_STOP, timeout=10_000)  # the kernel runs what it shows
            run = page.locator(RUN_BUTTON)
            page.wait_for_function("b => !b.disabled", arg=run.element_handle(), timeout=10_000)
            run.click()
            page.wait_for_function(ALL_BARS_FULL, timeout=20_000)
            page.get_by_text("1 of 1 ended, 1 succeeded").wait_for(timeout=10_000)
        finally:
            browser.close()
    env = sb.store.env_by_name(sb.store.root_id, "prod")
    assert sb.store.resources[env["id"]]["instances"][vm["id"]]["state"] == "Stopped"
    assert time.monotonic() - started < 60


NOTEBOOK_05 = Path(__file__).resolve().parents[2] / "notebooks" / "05-operations.ipynb"
RUNNING_OPTION = "select[multiple] option:has-text('[Running]')"
ONE_RUN_DONE = "1 of 1 ended, 1 succeeded"
PICKER_RESET = """s => s.selectedIndex >= 0  // option texts come with non-breaking spaces
    && s.options[s.selectedIndex].text.replace(/\\s+/g, ' ') === '— choose an operation —'"""


@pytest.fixture
def notebook_05(tmp_path):
    """Notebook 05 served by voila as it is committed: it starts its own sandbox in the kernel."""
    shutil.copy(NOTEBOOK_05, tmp_path / "05-operations.ipynb")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDMC_")}
    environ.update(JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), CLOUDMC_CACHE_DIR=str(tmp_path / "cache"))
    proc, port = start_voila(tmp_path, environ, notebook="05-operations.ipynb")
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop(proc)


def test_run_in_notebook_05_itself(browser_tools, notebook_05):
    """Run All (voila) keeps the sandbox alive for the form; a click stops an instance, the list
    shows its new state and the picker asks for an operation again."""
    with browser_tools.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            page = browser.new_page()
            page.goto(notebook_05, timeout=120_000)
            option = page.locator(RUNNING_OPTION).first
            option.wait_for(state="attached", timeout=120_000)
            value, name = option.get_attribute("value"), option.text_content().split("[")[0].strip()
            page.locator("select[multiple]").select_option(value=value)
            operation = page.locator(".widget-dropdown", has_text="Operation").locator("select")
            page.wait_for_function("s => [...s.options].some(o => o.text === 'stop') "
                                   "&& ![...s.options].some(o => o.text === 'start')",
                                   arg=operation.element_handle(), timeout=10_000)
            operation.select_option(label="stop")
            page.wait_for_function(SUMMARY_SAYS_STOP, timeout=10_000)
            run = page.locator(RUN_BUTTON)
            page.wait_for_function("b => !b.disabled", arg=run.element_handle(), timeout=10_000)
            run.click()
            page.get_by_text(ONE_RUN_DONE).wait_for(timeout=30_000)
            stopped = page.locator("select[multiple] option", has_text=f"{name}  [Stopped]")
            stopped.wait_for(state="attached", timeout=10_000)
            page.wait_for_function(PICKER_RESET, arg=operation.element_handle(), timeout=10_000)
            assert run.is_disabled()
            assert page.get_by_text("Connection refused").count() == 0
        finally:
            browser.close()
