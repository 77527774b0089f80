"""Shared pieces of the team tests (issue 15): crawls, child processes, warnings of our logger."""

from __future__ import annotations

import json
import logging
import os
import pathlib
import subprocess
import sys

import pandas as pd
import pytest

import cloudmc_frames as cmf

ROOT = pathlib.Path(__file__).resolve().parents[2]
ENTITIES = ("organizations", "users", "environments", "instances", "volumes")


def crawl(client) -> dict[str, pd.DataFrame]:
    """The five collections of a full crawl."""
    return {name: getattr(cmf, name)(client) for name in ENTITIES}


def assert_same(got: dict, expected: dict) -> None:
    for name in ENTITIES:
        pd.testing.assert_frame_equal(got[name], expected[name], obj=name)


def run_worker(*args: str, env: dict[str, str], timeout: float = 120) -> dict:
    """Run ``python -m tests.team.workers ...`` to its end; its last JSON line."""
    done = subprocess.run([sys.executable, "-m", "tests.team.workers", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"worker exited {done.returncode}:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def warnings_seen(caplog):
    """The WARNING lines of the ``cloudmc_frames`` logger during the test."""
    caplog.set_level(logging.WARNING, logger="cloudmc_frames")

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records
                if r.name.startswith("cloudmc_frames") and r.levelno >= logging.WARNING]

    return lines
