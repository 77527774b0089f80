"""The browser tests' shared fixture: playwright, or a skip that says what to install."""

from __future__ import annotations

import pytest

from .voila import CHROMIUM


@pytest.fixture(scope="module")
def browser_tools():
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium: run `apt-get install -y chromium` "
                    "(and install the test-browser extra: voila, playwright)")
    pytest.importorskip("voila", reason="pip install '.[test-browser]' for the browser test")
    return pytest.importorskip("playwright.sync_api", reason="pip install '.[test-browser]'")
