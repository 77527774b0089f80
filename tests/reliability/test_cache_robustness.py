"""The SQLite cache under stress: two processes at once, damaged files, offline after the server.

Whatever happens to the cache, a crawl returns exactly what a fault-free crawl returns; a damaged
file is reported once, rebuilt and refilled, so an offline replay afterwards is complete.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import pickle
import random
import subprocess
import sys
import time

import pandas as pd
import pytest

import cloudmc_frames as cmf

from .conftest import ENTITIES, SUMMARY, crawl, rows

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run_worker(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.reliability.workers", *args], cwd=ROOT,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, f"worker exited {process.returncode}:\n{err[-3000:]}"
    assert "Traceback" not in err, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def assert_same(got: dict, expected: dict) -> None:
    for name in ENTITIES:
        pd.testing.assert_frame_equal(got[name], expected[name], obj=name)


PROCESSES = 3  # two is the brief; a third makes the race on a new file's WAL switch likelier


def test_processes_crawl_into_one_sqlite_cache_at_once(tmp_path):
    cache = str(tmp_path / "shared")
    with cmf.sandbox(orgs=12, seed=6, latency_ms=2) as sb:
        expected = crawl(sb.client())
        start_at = str(time.time() + 2.0)  # both children import pandas first, then go together
        env = {"CLOUDMC_API_KEY": sb.api_key}
        children = [run_worker("crawl_into", sb.endpoint, cache, str(tmp_path / f"out{n}.pickle"), start_at,
                               env=env) for n in range(PROCESSES)]
        results = [finish(child) for child in children]
        sb.requests.clear()
        replay = crawl(sb.client(cache_backend="sqlite", cache_dir=cache, offline=True, page_size=10))
    assert max(r["started"] for r in results) < min(r["ended"] for r in results), "they overlapped"
    for n, result in enumerate(results):
        assert result["issues"] == 0 and result["warnings"] == [], result
        assert_same(pickle.loads((tmp_path / f"out{n}.pickle").read_bytes()), expected)
    assert_same(replay, expected)  # the file both wrote holds one complete, readable crawl
    assert sb.requests == []
    SUMMARY["cache: crawls run"] += PROCESSES + 1
    SUMMARY["cache: rows expected"] += (PROCESSES + 1) * rows(expected)
    SUMMARY["cache: rows returned"] += rows(replay) + PROCESSES * rows(expected)


def _damage(path: pathlib.Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    rng = random.Random(how)
    if how == "truncated-to-half":
        data = data[: len(data) // 2]
    elif how == "truncated-to-one-page":
        data = data[:4096]
    elif how == "header-overwritten":
        data[:100] = rng.randbytes(100)
    elif how == "pages-overwritten":
        for offset in range(4096, len(data), 8192):
            data[offset: offset + 4096] = rng.randbytes(4096)
    elif how == "not-a-database":
        data = bytearray(b"this is not a database\n" * 500)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["truncated-to-half", "truncated-to-one-page", "header-overwritten",
                                 "pages-overwritten", "not-a-database"])
def test_a_cache_file_damaged_on_disk_warns_once_is_rebuilt_and_refilled(tmp_path, caplog, how):
    options = {"cache_backend": "sqlite", "cache_dir": str(tmp_path / "cache")}
    with cmf.sandbox(orgs=12, seed=5) as sb:
        first = sb.client(**options)
        expected = crawl(first)
        first.close()
        needed = len(sb.requests)
        files = [p for p in (tmp_path / "cache").iterdir() if p.is_file()]
        assert [p.suffix for p in files] == [".sqlite"], files  # closed cleanly: no -wal/-shm left
        _damage(files[0], how)
        sb.requests.clear()
        with caplog.at_level(logging.WARNING, logger="cloudmc_frames"):
            client = sb.client(**options)
            got = crawl(client)
            client.close()
        refetched = len(sb.requests)
        sb.requests.clear()
        replay = crawl(sb.client(offline=True, **options))
    assert_same(got, expected)
    assert client.issues.empty
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "is unreadable" in warnings[0] and "rebuilt" in warnings[0], warnings
    assert refetched == needed  # everything was fetched again, once
    assert_same(replay, expected)  # and the rebuilt file holds all of it
    assert sb.requests == []
    SUMMARY["cache: crawls run"] += 2
    SUMMARY["cache: rows expected"] += 2 * rows(expected)
    SUMMARY["cache: rows returned"] += rows(got) + rows(replay)


def test_a_cache_file_damaged_during_a_crawl_loses_nothing(tmp_path):
    """Run in a child process: the regression this guards against was a segfault."""
    result = finish(run_worker("damaged_mid_crawl", str(tmp_path / "cache")))
    assert result == {"during": [], "again": [], "offline": [], "issues": 0,
                      "warnings": [result["warnings"][0]]}
    assert "is unreadable" in result["warnings"][0]
    SUMMARY["cache: crawls run"] += 4


def test_offline_after_the_server_is_gone_returns_the_last_crawl_exactly(tmp_path):
    options = {"cache_backend": "sqlite", "cache_dir": str(tmp_path / "cache")}
    with cmf.sandbox(orgs=12, seed=7, task_delay=0.05) as sb:
        endpoint = sb.api_url
        client = sb.client(**options)
        before = crawl(client)
        running = before["instances"][before["instances"]["state"] == "Running"].iloc[0]
        cmf.operate(client, running["service_code"], running["environment_name"], "instances",
                    running["id"], "stop", org_id=running["organization_id"]).wait(timeout=10, interval=0.05)
        last = crawl(client)  # the write and the task forgot the listing it changed
        client.close()
    state = last["instances"].set_index("id").loc[running["id"], "state"]
    assert state == "Stopped" and not last["instances"].equals(before["instances"])
    replay_client = cmf.connect(endpoint, sb.api_key, offline=True, **options)
    replay = crawl(replay_client)
    assert_same(replay, last)
    assert replay_client.coverage["from_cache"].all()
    assert replay_client.stats["sent"] == 0
    SUMMARY["cache: crawls run"] += 3
    SUMMARY["cache: rows expected"] += rows(last)
    SUMMARY["cache: rows returned"] += rows(replay)


def test_offline_replays_entries_long_expired(tmp_path):
    options = {"cache_backend": "sqlite", "cache_dir": str(tmp_path / "cache"), "expire_after": 0.2}
    with cmf.sandbox(orgs=12, seed=8) as sb:
        endpoint = sb.api_url
        expected = crawl(sb.client(**options))
    time.sleep(0.3)
    replay = crawl(cmf.connect(endpoint, sb.api_key, offline=True, **options))
    assert_same(replay, expected)


@pytest.mark.parametrize("closed", [True, False], ids=["closed", "dropped-without-close"])
def test_a_finished_client_is_freed_with_its_cache_writer(tmp_path, closed):
    """A notebook makes a client per run; each must go (its parsed pages, its threads) when done."""
    import gc
    import weakref

    with cmf.sandbox(orgs=5, seed=1) as sb:
        client = sb.client(cache_backend="sqlite", cache_dir=str(tmp_path / "cache"))
        cmf.users(client)
        ref = weakref.ref(client)
        if closed:
            client.close()
        del client
        deadline = time.monotonic() + 5
        while (ref() is not None or writers()) and time.monotonic() < deadline:
            time.sleep(0.1)
            gc.collect()
    assert ref() is None, "the client (and every page it parsed) is still referenced"
    assert not writers(), "the cache-writer thread outlived its client"


def writers() -> list:
    """Cache-writer threads still alive (an unclosed client's ends after its idle time)."""
    import threading

    return [t for t in threading.enumerate() if t.name == "cloudmc-frames-cache-writer" and t.is_alive()]
