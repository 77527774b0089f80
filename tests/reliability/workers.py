"""Crawls run in child processes by the cache tests: ``python -m tests.reliability.workers ...``.

A child process is what a second notebook or a cron job is; it also keeps a crash (a segfault in
SQLite) from taking the test runner down with it. Each command prints one JSON line.
"""

from __future__ import annotations

import json
import logging
import pathlib
import pickle
import sys
import time

import cloudmc_frames as cmf

from .conftest import ENTITIES, crawl


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def crawl_into(endpoint: str, cache_dir: str, out: str, start_at: str) -> None:
    """Wait until ``start_at`` (so two children really overlap), crawl into the shared SQLite
    cache, pickle the frames to ``out``."""
    warnings = _Count()
    logging.getLogger().addHandler(warnings)
    time.sleep(max(0.0, float(start_at) - time.time()))
    started = time.time()
    client = cmf.connect(endpoint, cache_backend="sqlite", cache_dir=cache_dir, page_size=10)
    frames = crawl(client)
    client.close()
    pathlib.Path(out).write_bytes(pickle.dumps(frames))
    print(json.dumps({"started": started, "ended": time.time(), "issues": len(client.issues),
                      "sent": client.stats["sent"], "warnings": warnings.messages}))


def damaged_mid_crawl(cache_dir: str) -> None:
    """Fill a cache, start a new session, truncate the file under it halfway through a crawl,
    finish, crawl again, and replay everything offline from the rebuilt file."""
    warnings = _Count()
    logging.getLogger("cloudmc_frames").addHandler(warnings)
    with cmf.sandbox(orgs=12, seed=5) as sb:
        options = {"cache_backend": "sqlite", "cache_dir": cache_dir}
        first = sb.client(**options)
        expected = crawl(first)
        first.close()
        database = next(pathlib.Path(cache_dir).rglob("*.sqlite"))
        client = sb.client(**options)
        got = {name: getattr(cmf, name)(client) for name in ENTITIES[:3]}
        with open(database, "r+b") as handle:
            handle.truncate(4096)
        got.update({name: getattr(cmf, name)(client) for name in ENTITIES[3:]})
        again = crawl(client)
        client.close()
        replay = crawl(sb.client(offline=True, **options))
    print(json.dumps({
        "during": [n for n in ENTITIES if not got[n].equals(expected[n])],
        "again": [n for n in ENTITIES if not again[n].equals(expected[n])],
        "offline": [n for n in ENTITIES if not replay[n].equals(expected[n])],
        "issues": len(client.issues), "warnings": warnings.messages}))


if __name__ == "__main__":
    {"crawl_into": crawl_into, "damaged_mid_crawl": damaged_mid_crawl}[sys.argv[1]](*sys.argv[2:])
