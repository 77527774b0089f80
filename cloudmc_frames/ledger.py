"""What a client has seen: the issues it collected and the coverage of every scope it visited.

Pure records and a thread-safe ledger; :mod:`cloudmc_frames.frames` turns them into frames
(``client.issues`` / ``client.coverage``).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import astuple, dataclass, fields
from datetime import datetime

from .errors import Issue

COVERAGE_STATUSES = ("ok", "empty", "forbidden", "not_found", "error", "skipped", "skipped_budget")


@dataclass(frozen=True)
class Coverage:
    """The outcome of reading one scope (organization x environment x entity) in one call."""

    call_id: int
    accessor: str
    organization_id: str | None
    organization_path: str | None
    environment: str | None
    entity: str | None
    status: str
    rows: int
    from_cache: bool
    seconds: float
    read_at: datetime | None = None  # when the read ended (UTC): a snapshot's fetched_at

    def as_tuple(self) -> tuple:
        return astuple(self)


COVERAGE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Coverage))


class Ledger:
    """Append-only, thread-safe lists of :class:`Issue` and :class:`Coverage` records."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._call_ids = itertools.count(1)
        self.issues: list[Issue] = []
        self.coverage: list[Coverage] = []

    def next_call_id(self) -> int:
        """A new id that groups the coverage rows of one accessor call."""
        with self._lock:
            return next(self._call_ids)

    def record(self, coverage: Coverage, issue: Issue | None = None) -> None:
        """Add one scope's coverage row, and its issue when it failed."""
        with self._lock:
            self.coverage.append(coverage)
            if issue is not None:
                self.issues.append(issue)

    def snapshot(self) -> tuple[list[Issue], list[Coverage]]:
        """Copies of both lists, taken under the lock."""
        with self._lock:
            return list(self.issues), list(self.coverage)

    def clear(self) -> None:
        with self._lock:
            self.issues.clear()
            self.coverage.clear()
