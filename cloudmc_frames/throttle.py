"""Adaptive throttling: a limiter per scope level, the client as a whole, then each organization.

A request in organization ``o`` passes ``o``'s :class:`Gate`, then the client's; a request with
no ``org_id`` passes the client's alone. Only requests that really go out pass the gates (the
client's transport asks for a pass after requests-cache missed), so cache hits never use up the
pace. A gate paces requests at its ``rate`` (requests per second; ``None`` means unpaced, the
state of every gate until CloudMC first signals congestion, unless ``max_requests_per_second``
sets a ceiling on the client's gate) and holds a pause every thread waits for.

Congestion is a reply that :attr:`~cloudmc_frames.errors.CloudMCError.congestion` says so of
(429, 503, 504, a request timeout); every other reply, a 400 included, is a plain answer.

* **Multiplicative decrease**: the gate's rate becomes ``BETA`` x the smaller of its rate and the
  rate CloudMC answered it at over the last ``MEASURE`` seconds, pauses included (the rate it
  sent at, when nothing was answered yet). Signals within ``WINDOW`` of a decrease belong to the
  same event; a gate that sent fewer than ``MIN_EVIDENCE`` requests over ``MEASURE`` is not
  slowed (pacing so few requests relieves nobody, and their rate says nothing of what CloudMC
  can take): its pauses alone hold it back.
* **Additive increase**: while callers wait for a gate, its rate grows by ``GROWTH`` of the rate
  before its last decrease, per second (back to it in ``(1 - BETA) / GROWTH`` = 6 s); past it, by
  ``GROWTH`` of its current rate per second (probing, a little faster the longer it goes well), up
  to its ceiling. A gate nobody waits for stays put.
* **Attribution**: a signal in organization ``o`` decreases ``o``'s gate, unless another
  organization signalled within ``WINDOW`` or the client's gate decreased within it: then the
  client as a whole is congested, its gate decreases, and organizations decreased within the
  window get their rate back. A request refused for its organization's own limit gives its turn
  in the client's pace back. One throttled organization therefore slows only itself.
* **Pauses**: ``Retry-After: s`` pauses the gate the signal was attributed to until
  ``now + s * (1 + U(0, PAUSE_JITTER))``, for every thread (positive jitter only, never sooner than
  asked). A wait longer than ``max_wait`` (setting ``max_retry_after``) is not waited for: the
  gate of the request's own scope is deferred for the whole wait and every request through it
  fails at once with :class:`~cloudmc_frames.errors.DeferredError`, so the crawl moves on and
  each scope left unread becomes an issue row that says the wait CloudMC asked for.

Decisions read time only from the injected ``clock`` and wait only through the injected
``sleep``, so ``tests/unit/test_throttle.py`` drives them without a socket or a real sleep.

Example::

    >>> t = Throttle(clock=lambda: 0.0, sleep=lambda s: None, jitter=lambda: 0.0)
    >>> t.congested("org-1", retry_after=2.0)
    >>> round(t.pause_left("org-1"), 3), t.pause_left("org-2")
    (2.0, 0.0)
"""

from __future__ import annotations

import itertools
import random
import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from math import inf
from typing import TypeVar

from .errors import CloudMCError, CrawlTimeoutError, DeferredError

BETA = 0.7            # multiplicative decrease
GROWTH = 0.05         # additive increase per second, as a share of the rate before the decrease
WINDOW = 1.0          # seconds: one congestion event; signals from many organizations within it
MEASURE = 2.0         # seconds: the span rates are measured over, and evidence counted in
MIN_SPAN = 0.25       # seconds: the shortest span a rate is measured over
MIN_RATE = 0.2        # requests per second: the lowest pace a decrease sets
MIN_EVIDENCE = 2      # requests sent through a gate within MEASURE before it may be slowed
TICK = 0.1            # seconds between two increases
PAUSE_JITTER = 0.2    # a pause lasts Retry-After x (1 + U(0, PAUSE_JITTER))
DEFAULT_MAX_WAIT = 120.0

T = TypeVar("T")
_GAP = object()


@dataclass
class Gate:
    """One scope's limiter: its pace, its AIMD state and its pause (times from the throttle's clock)."""

    name: str
    ceiling: float | None = None
    rate: float | None = None
    next_slot: float = -inf
    paused_until: float = -inf
    deferred_until: float = -inf
    deferred_asked: float = 0.0
    deferred_at: datetime | None = None
    peak: float | None = None
    rate_before: float | None = None
    decreased_at: float = -inf
    grown_at: float = -inf
    born: float | None = None
    waited: bool = False
    answers: deque = field(default_factory=deque)
    sends: deque = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.rate = self.ceiling

    def reserve(self, now: float) -> float:
        """Book this caller's turn; return the seconds to wait for it (0: go now)."""
        start = max(now, self.paused_until)
        if self.rate is not None:
            start = max(start, self.next_slot)
            self.next_slot = start + 1.0 / self.rate
        _keep(self.sends, now)
        if self.born is None:
            self.born = now
        if start > now:
            self.waited = True
        return start - now

    def pause_left(self, now: float) -> float:
        """Seconds until the pause ends (0 when not paused)."""
        return max(0.0, self.paused_until - now)

    def answered(self, now: float) -> None:
        """A reply that was not congestion: count it, and grow the rate if callers wait."""
        _keep(self.answers, now)
        if self.rate is None or now < self.grown_at + TICK:
            return
        if self.waited:
            step = GROWTH * max(self.peak or 0.0, self.rate) * (now - self.grown_at)
            self.rate = min(self.rate + step, self.ceiling or inf)
        self.grown_at, self.waited = now, False

    def measured(self, now: float) -> float | None:
        """Requests per second answered over the last ``MEASURE`` s (sent, if none was answered)."""
        span = max(MIN_SPAN, min(MEASURE, now - (now if self.born is None else self.born)))
        for times in (self.answers, self.sends):
            count = _recent(times, now)
            if count:
                return count / span
        return None

    def decrease(self, now: float) -> bool:
        """Cut the rate (once per event); False when this signal belongs to the last event."""
        if now - self.decreased_at < WINDOW or _recent(self.sends, now) < MIN_EVIDENCE:
            return False
        known = [r for r in (self.rate, self.measured(now)) if r is not None]
        base = min(known) if known else MIN_RATE / BETA
        self.rate_before, self.peak = self.rate, base
        self.rate = max(MIN_RATE, BETA * base)
        if self.ceiling is not None:
            self.rate = min(self.rate, self.ceiling)
        self.decreased_at = self.grown_at = now
        return True

    def refund(self, now: float) -> None:
        """Give back the last turn booked (its request was refused for another scope's limit)."""
        if self.rate is not None and self.next_slot > now:
            self.next_slot -= 1.0 / self.rate

    def forgive(self, now: float) -> None:
        """Undo a decrease made within the window (the client as a whole was congested)."""
        if now - self.decreased_at < WINDOW:
            self.rate, self.decreased_at = self.rate_before, -inf

    def pause(self, now: float, seconds: float) -> None:
        """Hold every caller back until ``now + seconds`` (longer pauses win)."""
        self.paused_until = max(self.paused_until, now + seconds)
        self.grown_at = max(self.grown_at, self.paused_until)

    def defer(self, now: float, asked: float) -> None:
        """Refuse every request until ``now + asked`` (CloudMC asked for more than the cap)."""
        if now + asked > self.deferred_until:
            self.deferred_until, self.deferred_asked = now + asked, asked
            self.deferred_at = datetime.now(UTC)
        self.pause(now, asked)

    def state(self, now: float) -> dict:
        """What this gate does now, for :meth:`Throttle.snapshot`."""
        return {"scope": self.name, "rate": self.rate, "ceiling": self.ceiling,
                "paused_for": self.pause_left(now),
                "deferred_for": max(0.0, self.deferred_until - now)}


def _recent(times: deque, now: float) -> int:
    """How many of ``times`` fall within the ``MEASURE`` seconds before ``now``."""
    return sum(1 for t in times if t >= now - MEASURE)


def _keep(times: deque, now: float) -> None:
    """Append ``now`` and drop the times older than ``MEASURE``."""
    times.append(now)
    while times[0] < now - MEASURE:
        times.popleft()


class Throttle:
    """The limiter tree of one client: the client's gate and one gate per organization met.

    ``ceiling``: requests per second the client never exceeds (None: only what CloudMC signals);
    ``max_wait``: the longest ``Retry-After`` waited for; ``adaptive=False`` keeps only the ceiling.
    Safe to share across threads.
    """

    def __init__(self, *, ceiling: float | None = None, max_wait: float = DEFAULT_MAX_WAIT,
                 adaptive: bool = True, clock: Callable[[], float],
                 sleep: Callable[[float], None], jitter: Callable[[], float] | None = None) -> None:
        self.max_wait, self.adaptive = max_wait, adaptive
        self._clock, self._sleep = clock, sleep
        self._jitter = jitter or random.Random().random
        self._lock = threading.Lock()
        self._root = Gate("client", ceiling=ceiling)
        self._orgs: dict[str, Gate] = {}
        self._signals: deque[tuple[float, str]] = deque()
        self.stats = {"waits": 0, "waited_s": 0.0, "signals": 0, "decreases": 0,
                      "client_decreases": 0, "pauses": 0, "deferred": 0}

    @classmethod
    def configured(cls, settings, *, clock: Callable[[], float],
                      sleep: Callable[[float], None]) -> Throttle:
        """The throttle a client with these :class:`~cloudmc_frames.config.Settings` uses."""
        return cls(ceiling=settings.max_requests_per_second, max_wait=settings.max_retry_after,
                   adaptive=settings.adaptive_throttle, clock=clock, sleep=sleep)

    # -- before a request -----------------------------------------------------------------

    def acquire(self, org_id: str | None = None, *, deadline: float | None = None,
                **where: str) -> None:
        """Wait for this request's turn in its organization, then in the client.

        Raises :class:`DeferredError` when a gate is deferred, and
        :class:`CrawlTimeoutError` when the turn would come after ``deadline`` (clock time).
        ``where`` (method, url) goes into those errors.
        """
        for gate in self._path(org_id):
            self._pass(gate, deadline, where)

    def _pass(self, gate: Gate, deadline: float | None, where: dict) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._refuse_if_deferred(gate, now, where)
                wait = gate.reserve(now)
            if wait <= 0:
                return
            if deadline is not None and now + wait >= deadline:
                raise CrawlTimeoutError(
                    f"not sent: the call's timeout runs out before {gate.name}'s turn "
                    f"(in {wait:.1f} s; CloudMC asked to slow down)", **where)
            self._sleep(wait)
            with self._lock:
                self.stats["waits"] += 1
                self.stats["waited_s"] += wait
                if gate.pause_left(self._clock()) <= 0:
                    return

    def _refuse_if_deferred(self, gate: Gate, now: float, where: dict) -> None:
        """DeferredError while more than ``max_wait`` of a deferral is left (then it is a pause)."""
        left = gate.deferred_until - now
        if left > self.max_wait:
            when = gate.deferred_at.strftime("%H:%M:%S UTC") if gate.deferred_at else "earlier"
            raise DeferredError(
                f"not sent: at {when} CloudMC asked {gate.name} to wait {gate.deferred_asked:g} s "
                f"(more than max_retry_after={self.max_wait:g} s), {left:.0f} s are left",
                retry_after=left, hint=DeferredError.retry_hint(left), **where)

    # -- after a reply ----------------------------------------------------------------------

    def answered(self, org_id: str | None = None) -> None:
        """A reply from CloudMC that is not congestion (a 400 included)."""
        if not self.adaptive:
            return
        with self._lock:
            now = self._clock()
            for gate in self._path(org_id):
                gate.answered(now)

    def failed(self, org_id: str | None, error: CloudMCError) -> CloudMCError:
        """Learn from a failed attempt; return the error to handle (a long wait defers the scope)."""
        if not self.adaptive or isinstance(error, DeferredError):
            return error
        asked = getattr(error, "retry_after", None)
        if asked is not None and asked > self.max_wait:
            self.defer(org_id, asked)
            return DeferredError.asked(error, asked, self.max_wait)
        if error.congestion:
            self.congested(org_id, retry_after=asked)
        elif error.status is not None:
            self.answered(org_id)
        return error

    def congested(self, org_id: str | None, *, retry_after: float | None = None) -> None:
        """A congestion signal in ``org_id`` (None: no organization): decrease, and pause if asked."""
        with self._lock:
            now = self._clock()
            self.stats["signals"] += 1
            gate = self._attribute(org_id, now)
            if gate is not self._root:
                self._root.refund(now)
            if gate.decrease(now):
                self.stats["decreases"] += 1
                self.stats["client_decreases"] += gate is self._root
            if retry_after is not None:
                gate.pause(now, retry_after * (1.0 + PAUSE_JITTER * self._jitter()))
                self.stats["pauses"] += 1

    def defer(self, org_id: str | None, asked: float) -> None:
        """Refuse requests of ``org_id``'s scope (the client's when None) for ``asked`` seconds."""
        with self._lock:
            gate = self._root if org_id is None else self._org(org_id)
            gate.defer(self._clock(), asked)
            self.stats["deferred"] += 1

    def _attribute(self, org_id: str | None, now: float) -> Gate:
        """The gate a signal belongs to: the organization's, or the client's when congestion is
        everywhere (see the module docstring); forgives organizations when it is the client's."""
        if org_id is None:
            return self._root
        while self._signals and self._signals[0][0] < now - WINDOW:
            self._signals.popleft()
        others = {o for _, o in self._signals if o != org_id}
        self._signals.append((now, org_id))
        if not others and now - self._root.decreased_at >= WINDOW:
            return self._org(org_id)
        for other in others | {org_id}:
            self._org(other).forgive(now)
        return self._root

    # -- reading the state ------------------------------------------------------------------

    def pause_left(self, org_id: str | None = None) -> float:
        """Seconds until every gate on ``org_id``'s path lets requests through again."""
        with self._lock:
            now = self._clock()
            return max(g.pause_left(now) for g in self._path(org_id))

    def snapshot(self) -> list[dict]:
        """One dict per gate met so far (scope, rate, ceiling, paused_for, deferred_for), client first."""
        with self._lock:
            now = self._clock()
            return [g.state(now) for g in (self._root, *self._orgs.values())]

    def _path(self, org_id: str | None) -> tuple[Gate, ...]:
        return (self._root,) if org_id is None else (self._org(org_id), self._root)

    def _org(self, org_id: str) -> Gate:
        gate = self._orgs.get(org_id)
        if gate is None:
            gate = self._orgs[org_id] = Gate(f"organization {org_id}")
        return gate


def interleave(items: Iterable[T], key: Callable[[T], Hashable]) -> list[T]:
    """``items`` taken round-robin across the groups ``key`` makes (order kept inside a group).

    The fan-out submits scopes in this order so that workers spread over organizations and a
    slow or paused one holds few of them.

    >>> interleave(["a1", "a2", "a3", "b1", "c1", "c2"], key=lambda s: s[0])
    ['a1', 'b1', 'c1', 'a2', 'c2', 'a3']
    """
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    layers = itertools.zip_longest(*groups.values(), fillvalue=_GAP)
    return [item for layer in layers for item in layer if item is not _GAP]
