"""Shared pieces of the reliability and security suite: crawls, fast clients, a recording sleep.

Every test here talks real HTTP on 127.0.0.1 to the embedded sandbox (or to the scripted server
for misbehaviour the sandbox cannot produce). Scenarios are small (``orgs=12``) and retries fast,
so the whole suite stays within a few minutes of CI time.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pandas as pd

import cloudmc_frames as cmf
from cloudmc_frames.client import Client
from cloudmc_frames.config import Settings

ENTITIES = ("organizations", "users", "environments", "instances", "volumes")
FAST = {"retries": 8, "backoff_factor": 0.01, "backoff_max": 0.05}
SUMMARY: Counter = Counter()  # totals printed at the end of the run (the issue asks for a table)


class RecordingSleep:
    """The client's sleep and clock: remembers what was asked, really sleeps at most ``cap``
    seconds, and its ``clock`` runs ahead by the rest.

    The sandbox does not enforce the windows it announces, so honouring ``Retry-After: 1`` is
    checked on what the client asked for, not by waiting a second each time; the clock running
    ahead ends the throttle's pauses as if they had been waited for. Sleeps of several threads
    overlap as they would in real time: after a sleep the clock is at least where it was when
    that sleep began plus what was asked, never the sum of every thread's sleeps (which ran the
    clock minutes ahead of a one-second crawl and, rarely, past a request's retry budget).
    """

    def __init__(self, cap: float = 0.02) -> None:
        self.cap = cap
        self.calls: list[float] = []
        self._ahead = 0.0
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        woken = self.clock() + seconds
        time.sleep(min(seconds, self.cap))
        with self._lock:
            self._ahead = max(self._ahead, woken - time.monotonic())

    def clock(self) -> float:
        return time.monotonic() + self._ahead


def make_client(sb, key: str | None = None, *, sleep=None, **options) -> Client:
    """A client on the sandbox with an injectable sleep (memory cache unless told otherwise)."""
    options.setdefault("cache_backend", "memory")
    settings = Settings.from_options(sb.endpoint, **options)
    timing = {"sleep": sleep, **({"clock": sleep.clock} if hasattr(sleep, "clock") else {})}
    return Client(settings, key or sb.api_key, **(timing if sleep else {}))


def crawl(client: Client, **kw) -> dict[str, pd.DataFrame]:
    """The five collections of a full crawl, in the order a user reads them."""
    out = {}
    for name in ENTITIES:
        call = getattr(cmf, name)
        out[name] = call(client, **kw) if name != "organizations" else call(client)
    return out


def rows(frames: dict[str, pd.DataFrame]) -> int:
    return sum(len(f) for f in frames.values())


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as objects and a fresh index, to compare a filtered frame with a crawled one
    (filtering keeps unused categories; a crawl that never saw them does not have them)."""
    out = frame.reset_index(drop=True).copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.CategoricalDtype):
            out[name] = out[name].astype(object)
    return out


def pytest_terminal_summary(terminalreporter):
    if SUMMARY:
        terminalreporter.write_sep("-", "reliability totals")
        for name, value in sorted(SUMMARY.items()):
            terminalreporter.write_line(f"{name:<40} {value}")
