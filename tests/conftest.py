"""Shared test set-up: no real user config leaks in, every cache lives in a temp folder."""

from __future__ import annotations

import logging

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path):
    """No CLOUDMC_* from the developer's shell; caches under the test's temp folder."""
    for name in ("CLOUDMC_ENDPOINT", "CLOUDMC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDMC_CACHE_DIR", str(tmp_path / "cache"))
    logging.getLogger("cloudmc_frames").setLevel(logging.INFO)
