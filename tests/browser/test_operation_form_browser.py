"""A real browser drives an OperationForm served by voila: pick an instance, Run, see 100%.

The sandbox runs in this test process; the voila kernel reaches it through CLOUDMC_ENDPOINT and
CLOUDMC_API_KEY (environment variables of the voila process, never printed), so the test can
check the new state in the sandbox's store. Chromium is Debian's ``/usr/bin/chromium`` driven by
Python playwright (``playwright install`` is never needed).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cloudmc_frames as cmf

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
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


@pytest.fixture(scope="module")
def browser_tools():
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium: run `apt-get install -y chromium` "
                    "(and install the test-browser extra: voila, playwright)")
    pytest.importorskip("voila", reason="pip install '.[test-browser]' for the browser test")
    return pytest.importorskip("playwright.sync_api", reason="pip install '.[test-browser]'")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_voila(folder: Path, environ: dict, attempts: int = 3) -> tuple[subprocess.Popen, int]:
    """voila serving app.ipynb on a free port of 127.0.0.1 (another port if that one got taken)."""
    log = folder / "voila.log"
    for _ in range(attempts):
        port = free_port()
        with log.open("w") as out:  # a file, not a pipe: a full pipe would block voila
            proc = subprocess.Popen(
                [sys.executable, "-m", "voila", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
                 "--Voila.port_retries=0", "app.ipynb"],
                cwd=folder, env=environ, stdout=out, stderr=subprocess.STDOUT)
        if listening(port, proc):
            return proc, port
    raise RuntimeError(f"voila did not start: {log.read_text()[-2000:]}")


def listening(port: int, proc: subprocess.Popen, timeout: float = 30) -> bool:
    """True once voila accepts connections; False if it exited (port taken meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise TimeoutError(f"voila did not listen on port {port} within {timeout} s")


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
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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
