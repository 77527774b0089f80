"""The retry policy as a pure function: what is retried, how long it waits, when it gives up."""

from __future__ import annotations

import pytest

import cloudmc_frames as cmf
from cloudmc_frames._retry import backoff, retry_delay
from cloudmc_frames.config import Settings

SETTINGS = Settings.from_options("https://h", retries=4, backoff_factor=0.5, backoff_max=10.0,
                                 retry_budget=60.0)


def delay(error, attempt=1, elapsed=0.0, time_left=None, settings=SETTINGS, jitter=0.0):
    return retry_delay(error, attempt=attempt, elapsed=elapsed, time_left=time_left,
                       settings=settings, jitter=jitter)


def get(cls, **kw):
    return cls("x", method="GET", **kw)


@pytest.mark.parametrize("error", [
    get(cmf.ServerError, status=500), get(cmf.ServerError, status=502), get(cmf.ServerError, status=503),
    get(cmf.ServerError, status=504), get(cmf.RateLimitError, status=429),
    get(cmf.TransportError), get(cmf.RequestTimeout), get(cmf.TruncatedReplyError, status=200),
    get(cmf.ResponseFormatError, status=502),
], ids=["500", "502", "503", "504", "429", "transport", "timeout", "truncated-200", "html-502"])
def test_transient_failures_of_a_get_are_retried(error):
    assert delay(error) == 0.25


@pytest.mark.parametrize("error", [
    get(cmf.ValidationError, status=400), get(cmf.AuthenticationError, status=401),
    get(cmf.PermissionDeniedError, status=403), get(cmf.NotFoundError, status=404),
    get(cmf.ServerError, status=501), get(cmf.ResponseFormatError, status=200),
    get(cmf.CacheMissError), get(cmf.ConfigError),
], ids=["400", "401", "403", "404", "501", "format-200", "cache-miss", "config"])
def test_permanent_failures_are_not_retried(error):
    assert delay(error) is None


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", None])
def test_writes_are_never_retried(method):
    assert delay(cmf.ServerError("x", status=503, method=method)) is None


def test_backoff_doubles_with_jitter_between_half_and_all_and_is_capped():
    assert [backoff(n, SETTINGS, 0.0) for n in (1, 2, 3, 4)] == [0.25, 0.5, 1.0, 2.0]
    assert backoff(1, SETTINGS, 0.999999) == pytest.approx(0.5)
    assert backoff(10, SETTINGS, 0.0) == 5.0 and backoff(10, SETTINGS, 0.999999) == pytest.approx(10.0)


def test_retry_after_in_seconds_is_a_floor_not_a_cap():
    error = get(cmf.RateLimitError, status=429, retry_after=3.0)
    assert delay(error) == 3.0
    # scheduled by CloudMC: waited as asked, at least the first backoff, whatever the attempt
    assert delay(get(cmf.RateLimitError, status=429, retry_after=0.1), attempt=4) == 0.25
    assert delay(get(cmf.RateLimitError, status=429), attempt=4) == 2.0  # no Retry-After: backoff


def test_retry_after_from_an_http_date_flows_through_the_parser():
    from cloudmc_frames._wire import parse_reply

    with pytest.raises(cmf.RateLimitError) as info:
        parse_reply(429, {"Retry-After": "Thu, 01 Jan 1970 00:00:30 GMT"}, b'{"errors": []}',
                    method="GET", url="u")
    assert info.value.retry_after == 0.0  # a date in the past asks for no wait
    assert delay(info.value) == 0.25


def test_no_wait_after_the_last_attempt():
    error = get(cmf.ServerError, status=503)
    assert delay(error, attempt=4) is not None
    assert delay(error, attempt=5) is None
    assert delay(error, attempt=1, settings=Settings.from_options("https://h", retries=0)) is None


def test_the_retry_budget_bounds_the_whole_call():
    error = get(cmf.ServerError, status=503)
    assert delay(error, attempt=1, elapsed=59.0) == 0.25
    assert delay(error, attempt=1, elapsed=59.75) == 0.25          # ends exactly at the budget
    assert delay(error, attempt=1, elapsed=59.76) is None
    assert delay(get(cmf.RateLimitError, status=429, retry_after=120.0)) is None  # asks beyond budget


def test_the_callers_deadline_wins():
    error = get(cmf.ServerError, status=503)
    assert delay(error, time_left=1.0) == 0.25
    assert delay(error, time_left=0.25) is None
    assert delay(error, time_left=0.0) is None


def test_a_retry_after_above_max_retry_after_is_never_waited_for_whatever_the_budget():
    roomy = Settings.from_options("https://h", retry_budget=10_000, max_retry_after=120)
    assert delay(get(cmf.RateLimitError, status=429, retry_after=120.0), settings=roomy) == 120.0
    assert delay(get(cmf.RateLimitError, status=429, retry_after=121.0), settings=roomy) is None
    assert delay(get(cmf.DeferredError, status=429, retry_after=3600.0), settings=roomy) is None


def test_what_is_left_of_the_scopes_pause_is_a_floor():
    error = get(cmf.ServerError, status=503)
    assert retry_delay(error, attempt=1, elapsed=0.0, time_left=None, settings=SETTINGS, jitter=0.0,
                       pause=1.7) == 1.7
    assert retry_delay(error, attempt=1, elapsed=0.0, time_left=1.0, settings=SETTINGS, jitter=0.0,
                       pause=1.7) is None  # the pause outlasts the caller's deadline


def test_congestion_that_says_when_to_come_back_is_waited_for_beyond_the_attempts():
    scheduled = get(cmf.RateLimitError, status=429, retry_after=1.0)
    assert delay(scheduled, attempt=40, elapsed=50.0) == 1.0  # CloudMC schedules it: not a failure
    assert delay(scheduled, attempt=40, elapsed=59.5) is None  # ... within the retry budget
    assert delay(get(cmf.ServerError, status=503, retry_after=2.0), attempt=9) == 2.0
    assert delay(get(cmf.RateLimitError, status=429), attempt=5) is None  # no Retry-After: counted
    assert delay(get(cmf.ServerError, status=500, retry_after=1.0), attempt=5) is None  # not congestion


UNREACHABLE = get(cmf.EndpointUnreachableError)


@pytest.mark.parametrize(("answered", "retried"), [(False, False), (True, True)],
                         ids=["never answered", "answered before"])
def test_an_unreachable_endpoint_is_retried_only_if_it_answered_before(answered, retried):
    result = retry_delay(UNREACHABLE, attempt=1, elapsed=0.0, time_left=None, settings=SETTINGS,
                         jitter=0.0, answered=answered)
    assert (result is not None) is retried
