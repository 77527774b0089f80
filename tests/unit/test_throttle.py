"""The limiter as pure decisions: AIMD, shared pauses, the cap and deferral, what is congestion.

Time comes from a fake clock that advances only when the throttle sleeps: no socket, no real wait.
"""

from __future__ import annotations

import threading

import pytest

import cloudmc_frames as cmf
from cloudmc_frames.throttle import BETA, GROWTH, MIN_EVIDENCE, PAUSE_JITTER, WINDOW, Throttle, interleave

ORG, OTHER = "org-a", "org-b"


class Clock:
    """A clock that moves only when told to, or when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


def make(clock: Clock, jitter: float = 0.5, **options) -> Throttle:
    return Throttle(clock=clock, sleep=clock.sleep, jitter=lambda: jitter, **options)


def traffic(t: Throttle, clock: Clock, org: str | None, *, rate: float, seconds: float) -> None:
    """Requests at ``rate`` per second for ``seconds``, each answered."""
    for _ in range(round(rate * seconds)):
        t.acquire(org)
        t.answered(org)
        clock.now += 1.0 / rate


def rate_of(t: Throttle, scope: str) -> float | None:
    return next(g["rate"] for g in t.snapshot() if g["scope"].endswith(scope))


def get_error(cls, **kw):
    return cls("x", method="GET", url="https://h/api/v2/users", **kw)


# -- AIMD -------------------------------------------------------------------------------------

def test_nothing_is_paced_until_cloudmc_signals_congestion(clock):
    t = make(clock)
    for _ in range(100):
        t.acquire(ORG)
        t.answered(ORG)
    assert clock.slept == [] and rate_of(t, "client") is None and rate_of(t, ORG) is None


def test_congestion_cuts_the_rate_to_beta_times_what_was_answered(clock):
    t = make(clock)
    traffic(t, clock, ORG, rate=20, seconds=2)
    t.congested(ORG)
    assert rate_of(t, ORG) == pytest.approx(BETA * 20, rel=0.06)
    assert rate_of(t, "client") is None  # one organization signalled: only it slows down


def test_then_requests_are_paced_at_that_rate(clock):
    t = make(clock)
    traffic(t, clock, ORG, rate=20, seconds=2)
    t.congested(ORG)
    rate = rate_of(t, ORG)
    for _ in range(5):
        t.acquire(ORG)
    assert clock.slept[-4:] == pytest.approx([1 / rate] * 4)


def test_signals_within_a_window_are_one_event(clock):
    t = make(clock)
    traffic(t, clock, ORG, rate=20, seconds=2)
    t.congested(ORG)
    first = rate_of(t, ORG)
    clock.now += WINDOW / 2
    t.congested(ORG)
    assert rate_of(t, ORG) == first and t.stats["decreases"] == 1
    traffic(t, clock, ORG, rate=first, seconds=2)
    t.congested(ORG)
    assert rate_of(t, ORG) == pytest.approx(BETA * first, rel=0.1) and t.stats["decreases"] == 2


def test_a_gate_that_sent_too_little_to_measure_is_paused_but_not_slowed(clock):
    t = make(clock)
    for _ in range(MIN_EVIDENCE - 1):
        t.acquire(ORG)
    t.congested(ORG, retry_after=1.0)
    assert rate_of(t, ORG) is None and t.stats["decreases"] == 0
    assert t.pause_left(ORG) == pytest.approx(1.0 * (1 + PAUSE_JITTER * 0.5))


def test_the_rate_grows_additively_while_callers_wait(clock):
    t = make(clock)
    traffic(t, clock, ORG, rate=20, seconds=2)
    t.congested(ORG)
    cut, peak = rate_of(t, ORG), 20.0
    for _ in range(100):  # back to back: every caller waits for its turn
        t.acquire(ORG)
        t.answered(ORG)
    elapsed = sum(clock.slept)
    grown = rate_of(t, ORG) - cut
    assert grown == pytest.approx(GROWTH * peak * elapsed, rel=0.15)
    assert grown > 0


def test_the_rate_does_not_grow_when_nobody_waits(clock):
    t = make(clock)
    traffic(t, clock, ORG, rate=20, seconds=2)
    t.congested(ORG)
    cut = rate_of(t, ORG)
    traffic(t, clock, ORG, rate=cut / 3, seconds=10)  # far below the pace: no caller waits
    assert rate_of(t, ORG) == cut


def test_the_ceiling_paces_from_the_start_and_caps_growth(clock):
    t = make(clock, ceiling=5.0)
    for _ in range(6):
        t.acquire(None)
        t.answered(None)
    assert clock.slept == pytest.approx([0.2] * 5)
    for _ in range(200):
        t.acquire(ORG)
        t.answered(ORG)
    assert rate_of(t, "client") == 5.0


# -- attribution --------------------------------------------------------------------------------

def test_many_organizations_signalling_at_once_slow_the_client_and_not_each_of_them(clock):
    t = make(clock)
    for _ in range(40):
        for org in (ORG, OTHER):
            t.acquire(org)
            t.answered(org)
        clock.now += 0.05
    t.congested(ORG)
    assert rate_of(t, ORG) is not None  # alone, it looked like ORG's own limit
    t.congested(OTHER)
    assert rate_of(t, "client") == pytest.approx(BETA * 40, rel=0.06)
    assert rate_of(t, ORG) is None and rate_of(t, OTHER) is None  # forgiven
    assert t.stats["client_decreases"] == 1


def test_a_request_without_organization_signals_the_client(clock):
    t = make(clock)
    traffic(t, clock, None, rate=10, seconds=1)
    t.congested(None, retry_after=3.0)
    assert rate_of(t, "client") is not None
    assert t.pause_left(ORG) == t.pause_left(None) == pytest.approx(3.0 * 1.1)


# -- pauses --------------------------------------------------------------------------------------

def test_retry_after_pauses_the_scope_for_every_thread_not_only_the_one_that_got_it(clock):
    t = make(clock)
    t.congested(ORG, retry_after=2.0)
    waited: list[float] = []

    def another_thread() -> None:
        before = clock.now
        t.acquire(ORG)
        waited.append(clock.now - before)

    worker = threading.Thread(target=another_thread)
    worker.start()
    worker.join(5)
    assert waited == [pytest.approx(2.0 * (1 + PAUSE_JITTER * 0.5))]
    before = clock.now
    t.acquire(OTHER)  # another organization is not paused
    assert clock.now == before


@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999])
def test_pause_jitter_is_positive_and_bounded(clock, draw):
    t = make(clock, jitter=draw)
    t.congested(ORG, retry_after=10.0)
    paused = t.pause_left(ORG)
    assert paused == pytest.approx(10.0 * (1 + PAUSE_JITTER * draw)) and 10.0 <= paused <= 12.0


def test_a_pause_that_grows_while_a_thread_waits_is_waited_to_its_end(clock):
    def sleep_while_another_thread_gets_a_429(seconds):
        clock.sleep(seconds)
        if len(clock.slept) == 1:
            t.congested(ORG, retry_after=1.0)

    t = Throttle(clock=clock, sleep=sleep_while_another_thread_gets_a_429, jitter=lambda: 0.0)
    t.congested(ORG, retry_after=1.0)
    t.acquire(ORG)
    assert clock.slept == pytest.approx([1.0, 1.0])


def test_a_turn_after_the_deadline_is_refused_without_waiting(clock):
    t = make(clock)
    t.congested(ORG, retry_after=5.0)
    with pytest.raises(cmf.CrawlTimeoutError, match="timeout runs out"):
        t.acquire(ORG, deadline=clock.now + 1.0, method="GET", url="https://h/api/v2/users")
    assert clock.slept == []


# -- the cap: deferral ------------------------------------------------------------------------------

def test_a_wait_above_the_cap_defers_the_scope_with_the_wait_it_asked_for(clock):
    t = make(clock, max_wait=120.0)
    error = t.failed(ORG, get_error(cmf.RateLimitError, status=429, retry_after=3600.0))
    assert isinstance(error, cmf.DeferredError) and isinstance(error, cmf.RateLimitError)
    assert error.retry_after == 3600.0 and error.status == 429
    assert "asked to wait 3600 s" in str(error) and "max_retry_after=120" in str(error)
    assert "Run the call again after" in str(error)
    with pytest.raises(cmf.DeferredError, match=r"asked organization org-a to wait 3600 s.*3600 s are left"):
        t.acquire(ORG)
    assert clock.slept == []
    t.acquire(OTHER)  # the others go on at once
    assert clock.slept == []


def test_a_deferral_turns_into_a_plain_pause_once_less_than_the_cap_is_left(clock):
    t = make(clock, max_wait=120.0)
    t.failed(ORG, get_error(cmf.RateLimitError, status=429, retry_after=600.0))
    clock.now += 500.0
    t.acquire(ORG)
    assert clock.slept == [pytest.approx(100.0)]


def test_a_deferral_without_organization_defers_everything(clock):
    t = make(clock, max_wait=60.0)
    t.failed(None, get_error(cmf.ServerError, status=503, retry_after=900.0))
    for org in (None, ORG, OTHER):
        with pytest.raises(cmf.DeferredError):
            t.acquire(org)


def test_a_wait_up_to_the_cap_is_a_pause_not_a_deferral(clock):
    t = make(clock, max_wait=120.0, jitter=0.0)
    error = get_error(cmf.RateLimitError, status=429, retry_after=120.0)
    assert t.failed(ORG, error) is error
    t.acquire(ORG)
    assert clock.slept == [pytest.approx(120.0)]


# -- what congestion is ------------------------------------------------------------------------------

@pytest.mark.parametrize("error, congestion", [
    (get_error(cmf.RateLimitError, status=429), True),
    (get_error(cmf.ServerError, status=503), True),
    (get_error(cmf.ServerError, status=504), True),
    (get_error(cmf.RequestTimeout), True),
    (get_error(cmf.ValidationError, status=400), False),
    (get_error(cmf.ServerError, status=500), False),
    (get_error(cmf.ServerError, status=502), False),
    (get_error(cmf.NotFoundError, status=404), False),
    (get_error(cmf.TransportError), False),
], ids=["429", "503", "504", "timeout", "400", "500", "502", "404", "reset"])
def test_congestion_is_429_503_504_and_timeouts(error, congestion):
    assert error.congestion is congestion


def test_a_400_is_never_congestion_even_with_a_retry_after(clock):
    t = make(clock)
    traffic(t, clock, ORG, rate=20, seconds=1)
    for _ in range(50):
        quota = get_error(cmf.ValidationError, status=400, retry_after=5.0)
        assert t.failed(ORG, quota) is quota
    assert t.stats["signals"] == 0 and t.pause_left(ORG) == 0.0
    assert rate_of(t, ORG) is None and rate_of(t, "client") is None


def test_without_adaptive_throttling_failures_change_nothing(clock):
    t = make(clock, adaptive=False)
    traffic(t, clock, ORG, rate=20, seconds=1)
    error = get_error(cmf.RateLimitError, status=429, retry_after=3600.0)
    assert t.failed(ORG, error) is error
    assert t.stats["signals"] == 0 and t.pause_left(ORG) == 0.0 and rate_of(t, ORG) is None


# -- the fan-out's order ------------------------------------------------------------------------------

def test_interleave_takes_organizations_in_turn_and_keeps_each_ones_order():
    items = [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("c", 1), ("c", 2), (None, 1)]
    assert interleave(items, key=lambda item: item[0]) == [
        ("a", 1), ("b", 1), ("c", 1), (None, 1), ("a", 2), ("c", 2), ("a", 3)]
    assert interleave([], key=str) == []


@pytest.mark.parametrize("refused", [True, False], ids=["refused", "answered"])
def test_a_request_refused_for_its_organizations_limit_gives_its_client_turn_back(clock, refused):
    t = make(clock, ceiling=10.0)
    for _ in range(3):
        t.acquire(ORG)  # turns at +0, +0.1, +0.2: the next one is booked at +0.3
    if refused:
        t.congested(ORG)  # ORG alone signalled: its own limit
    before = clock.now
    t.acquire(OTHER)
    assert clock.now - before == pytest.approx(0.0 if refused else 0.1)
