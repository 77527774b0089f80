"""Windows of the usage, metric and pricing calls: checks, splits under the API's limits, buckets."""

import pandas as pd
import pytest

from cloudmc_frames.errors import ConfigError, ValidationError
from cloudmc_frames.spans import (
    MAX_BUCKETS,
    Bucket,
    parse_bucket,
    refused_limits,
    split,
    split_buckets,
    whole_days,
    window,
)


def utc(text):
    return pd.Timestamp(text, tz="UTC")


def shown(pieces, fmt="%Y-%m-%d"):
    return [f"{a.strftime(fmt)}/{b.strftime(fmt)}" for a, b in pieces]


@pytest.mark.parametrize("start, end", [
    ("2026-01-01", "2026-01-01"),
    ("2026-02-01", "2026-01-01"),
    (pd.Timestamp("2026-01-01 10:00", tz="Europe/Paris"), "2026-01-01 09:00"),  # 09:00 UTC first
], ids=["equal", "reversed", "reversed-across-zones"])
def test_start_must_be_before_end(start, end):
    with pytest.raises(ConfigError, match="must be before .*end is exclusive"):
        window("start", start, "end", end)


@pytest.mark.parametrize("value, expected", [
    ("2026-03-01", "2026-03-01 00:00:00+00:00"),
    (pd.Timestamp("2026-03-01").date(), "2026-03-01 00:00:00+00:00"),
    ("2026-03-01T12:30:00+02:00", "2026-03-01 10:30:00+00:00"),
    (pd.Timestamp("2026-03-01 12:00"), "2026-03-01 12:00:00+00:00"),  # naive means UTC
], ids=["iso-date", "date", "offset", "naive"])
def test_dates_strings_and_timestamps_are_utc(value, expected):
    first, _ = window("start", value, "end", "2027-01-01")
    assert str(first) == expected


@pytest.mark.parametrize("start, end, message", [
    (None, "2026-01-01", "start= is required"),
    ("2026-01-01", None, "end= is required"),
    ("yesterday-ish", "2026-01-01", "start must be a datetime"),
], ids=["no-start", "no-end", "not-a-time"])
def test_missing_or_bad_times_are_one_line_errors(start, end, message):
    with pytest.raises(ConfigError, match=message) as caught:
        window("start", start, "end", end)
    assert "\n" not in str(caught.value)


def test_whole_days_refuses_a_time_of_day():
    assert whole_days("end", utc("2026-03-01")) == utc("2026-03-01")
    with pytest.raises(ConfigError, match="not a whole day"):
        whole_days("end", utc("2026-03-01 00:00:01"))


def test_a_short_window_is_one_call():
    assert shown(split(utc("2026-01-01"), utc("2026-01-31"), max_days=31)) == ["2026-01-01/2026-01-31"]


def test_a_year_of_hourly_usage_is_cut_under_31_days_on_midnights():
    pieces = split(utc("2026-01-01"), utc("2027-01-01"), max_days=31)
    assert all(b - a <= pd.Timedelta(days=31) for a, b in pieces)
    assert [a for a, _ in pieces[1:]] == [b for _, b in pieces[:-1]]  # contiguous, no gap or overlap
    assert pieces[0][0] == utc("2026-01-01") and pieces[-1][1] == utc("2027-01-01")
    assert all(b == b.normalize() for _, b in pieces)
    assert len(pieces) == 12


def test_monthly_and_yearly_buckets_are_never_cut_in_two():
    months = split(utc("2024-01-15"), utc("2027-03-10"), max_days=366, grain="MONTH")
    assert all(b == b.replace(day=1).normalize() for _, b in months[:-1])
    years = split(utc("2024-06-01"), utc("2027-02-01"), max_days=366, grain="YEAR")
    assert shown(years) == ["2024-06-01/2025-01-01", "2025-01-01/2026-01-01", "2026-01-01/2027-01-01",
                            "2027-01-01/2027-02-01"]


def test_split_arguments_are_checked():
    with pytest.raises(ConfigError, match="grain"):
        split(utc("2026-01-01"), utc("2026-02-01"), max_days=31, grain="WEEK")
    with pytest.raises(ConfigError, match="max_days"):
        split(utc("2026-01-01"), utc("2026-02-01"), max_days=0)


def test_metric_windows_hold_at_most_the_bucket_limit_and_cut_on_bucket_edges():
    minute = parse_bucket("1min")
    pieces = split_buckets(utc("2026-01-01 00:00:30"), utc("2026-01-20"), minute)
    assert len(pieces) == 3  # 19 days of minutes = 27,360 buckets
    for low, high in pieces:
        first_bucket = low.floor("min")
        assert (high - first_bucket) / pd.Timedelta(minutes=1) <= MAX_BUCKETS
    assert all(a.second == 0 for a, _ in pieces[1:])  # later cuts on whole minutes


def test_metric_windows_respect_the_day_limit_too():
    pieces = split_buckets(utc("2024-01-01"), utc("2026-01-01"), parse_bucket("1d"))
    assert all(b - a <= pd.Timedelta(days=366) for a, b in pieces) and len(pieces) == 2


@pytest.mark.parametrize("text, expected", [
    ("1h", Bucket(1, "HOURS", 3600)), ("5min", Bucket(5, "MINUTES", 300)), ("30s", Bucket(30, "SECONDS", 30)),
    ("1d", Bucket(1, "DAYS", 86400)), ("2 weeks", Bucket(2, "WEEKS", 1_209_600)),
    ((12, "hours"), Bucket(12, "HOURS", 43200)), (pd.Timedelta(hours=12), Bucket(1, "HALF_DAYS", 43200)),
], ids=lambda v: str(v))
def test_buckets(text, expected):
    assert parse_bucket(text) == expected


@pytest.mark.parametrize("text", ["0h", "1 fortnight", "h", "", 3600, (0, "HOURS"),
                                  pd.Timedelta(seconds=1.5)])
def test_bad_buckets(text):
    with pytest.raises(ConfigError, match="bucket must look like"):
        parse_bucket(text)


def test_a_refused_span_says_how_many_days_or_buckets_fit():
    assert refused_limits(ValidationError("x", code=9418, context={"maxDays": 31})) == (31, None)
    assert refused_limits(ValidationError("x", code="9418", context={"maxDays": 7})) == (7, None)
    assert refused_limits(ValidationError("x", code=9418, context={"maxBuckets": 500})) == (None, 500)
    assert refused_limits(ValidationError("x", code=9418, context={})) == (None, None)
    assert refused_limits(ValidationError("x", code=400, context={"maxDays": 31})) == (None, None)
    assert refused_limits(ValidationError("x", code=9418, context={"maxDays": True})) == (None, None)
