"""Time windows of the usage, metric and pricing calls: checked, split under the API's limits, formatted.

Pure functions (no HTTP). A window is ``[start, end)`` in UTC, ``end`` exclusive as the API
defines it. CloudMC refuses spans over a limit per call (HTTP 400, code 9418, ``maxDays`` in the
context): 31 days for hourly usage, 366 days otherwise, and 10,000 buckets for a metric series.
:func:`split` cuts a long window into calls under a limit, on calendar boundaries so that no
bucket (an hour, day, month or year of usage; a metric bucket) is cut in two.

Example::

    >>> window("start", "2026-01-01", "end", "2026-03-01")
    (Timestamp('2026-01-01 00:00:00+0000', tz='UTC'), Timestamp('2026-03-01 00:00:00+0000', tz='UTC'))
    >>> [(a.strftime("%m-%d"), b.strftime("%m-%d")) for a, b in
    ...  split(pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-03-01", tz="UTC"), max_days=31)]
    [('01-01', '02-01'), ('02-01', '03-01')]
    >>> parse_bucket("1h"), parse_bucket("15min")
    (Bucket(size=1, unit='HOURS', seconds=3600), Bucket(size=15, unit='MINUTES', seconds=900))
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import pandas as pd

from .errors import ConfigError
from .frames import utc_timestamp

MAX_DAYS = 366  # per call, every usage, pricing and metric endpoint
MAX_HOURLY_DAYS = 31  # usage per hour (usage_summary period=HOUR, service/usage granularity=HOURLY)
MAX_BUCKETS = 10_000  # points per entity in one metric call
SPAN_TOO_LONG = 9418  # CloudMC's error code for a span over the limit (context: maxDays)
GRAINS = ("HOUR", "DAY", "MONTH", "YEAR")
DAY = pd.Timedelta(days=1)

# Java ChronoUnit names the metrics endpoint takes, and what a bucket text may call them.
UNITS = {"SECONDS": 1, "MINUTES": 60, "HOURS": 3600, "HALF_DAYS": 43200, "DAYS": 86400, "WEEKS": 604800}
_UNIT_WORDS = {"s": "SECONDS", "sec": "SECONDS", "second": "SECONDS", "seconds": "SECONDS",
               "m": "MINUTES", "min": "MINUTES", "minute": "MINUTES", "minutes": "MINUTES",
               "h": "HOURS", "hour": "HOURS", "hours": "HOURS", "d": "DAYS", "day": "DAYS",
               "days": "DAYS", "w": "WEEKS", "week": "WEEKS", "weeks": "WEEKS"}
_BUCKET = re.compile(r"^\s*(\d+)\s*([a-z_]+)\s*$", re.IGNORECASE)


class Bucket(NamedTuple):
    """A metric bucket width: ``size`` x ``unit`` (a ChronoUnit name), ``seconds`` in all."""

    size: int
    unit: str
    seconds: int


def window(start_name: str, start: Any, end_name: str, end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(start, end)`` as UTC Timestamps (dates, ISO strings, datetimes; naive means UTC).

    ConfigError when either is missing or not a time, or when ``start`` is not before ``end``.

    >>> window("start", "2026-02-01", "end", "2026-01-01")
    Traceback (most recent call last):
    ...
    cloudmc_frames.errors.ConfigError: start=2026-02-01 must be before end=2026-01-01 (end is exclusive)
    """
    for name, value in ((start_name, start), (end_name, end)):
        if value is None:
            raise ConfigError(f"{name}= is required: a date, an ISO string or a datetime (UTC when naive)")
    first, last = utc_timestamp(start_name, start), utc_timestamp(end_name, end)
    if first >= last:
        raise ConfigError(f"{start_name}={_show(first)} must be before {end_name}={_show(last)} "
                          "(end is exclusive)")
    return first, last


def whole_days(name: str, stamp: pd.Timestamp) -> pd.Timestamp:
    """``stamp`` if it is a UTC midnight; ConfigError otherwise (the usage summary counts whole days).

    >>> whole_days("start", pd.Timestamp("2026-01-01 06:00", tz="UTC"))
    Traceback (most recent call last):
    ...
    cloudmc_frames.errors.ConfigError: start=2026-01-01 06:00:00 is not a whole day: usage summaries \
read whole UTC days (YYYY-MM-DD)
    """
    if stamp != stamp.normalize():
        raise ConfigError(f"{name}={stamp:%Y-%m-%d %H:%M:%S} is not a whole day: usage summaries read "
                          "whole UTC days (YYYY-MM-DD)")
    return stamp


def split(start: pd.Timestamp, end: pd.Timestamp, *, max_days: int, grain: str = "DAY",
          ) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """``[start, end)`` as consecutive windows of at most ``max_days`` days, cut on ``grain``
    boundaries (UTC midnights for HOUR and DAY, month or year starts), so no bucket of that grain is
    cut in two. A window that starts or ends inside a bucket keeps that part as its own piece.

    >>> [f"{a:%Y-%m-%d}/{b:%Y-%m-%d}" for a, b in split(pd.Timestamp("2025-06-15", tz="UTC"),
    ...     pd.Timestamp("2027-02-01", tz="UTC"), max_days=366, grain="MONTH")]
    ['2025-06-15/2026-06-01', '2026-06-01/2027-02-01']
    """
    if grain not in GRAINS:
        raise ConfigError(f"grain must be one of {', '.join(GRAINS)}, got {grain!r}")
    if max_days < 1:
        raise ConfigError(f"max_days must be at least 1, got {max_days!r}")
    limit = pd.Timedelta(days=max_days)
    pieces, low = [], start
    while low < end:
        if end - low <= limit:
            pieces.append((low, end))
            break
        high = _last_boundary(low, low + limit, grain)
        pieces.append((low, high))
        low = high
    return pieces


def split_buckets(start: pd.Timestamp, end: pd.Timestamp, bucket: Bucket, *, max_days: int = MAX_DAYS,
                  max_buckets: int = MAX_BUCKETS) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """``[start, end)`` as windows of at most ``max_days`` days and ``max_buckets`` buckets each,
    cut on multiples of the bucket width since 1970-01-01 UTC (where the metrics endpoint aligns
    its buckets), so every bucket is read whole by one call.

    >>> hour = parse_bucket("1h")
    >>> [f"{a:%m-%d %H}/{b:%m-%d %H}" for a, b in split_buckets(pd.Timestamp("2026-01-01 10:30", tz="UTC"),
    ...     pd.Timestamp("2026-01-02 02:00", tz="UTC"), hour, max_buckets=10)]
    ['01-01 10/01-01 20', '01-01 20/01-02 02']
    """
    width = bucket.seconds
    step = min(max_days * 86400, max_buckets * width) // width * width
    if step < width:
        raise ConfigError(f"a bucket of {bucket.size} {bucket.unit.lower()} is longer than {max_days} days")
    first, last = _seconds(start), _seconds(end)
    bounds, following = [start], (first // width) * width + step
    while following < last:
        bounds.append(pd.Timestamp(following, unit="s", tz="UTC"))
        following += step
    bounds.append(end)
    return list(zip(bounds, bounds[1:], strict=False))


def parse_bucket(value: Any) -> Bucket:
    """A bucket width from ``"1h"``, ``"5min"``, ``"1d"``, ``"1w"``, ``"30s"``, ``(size, "HOURS")`` or
    a ``pd.Timedelta``; ConfigError for anything else.

    >>> parse_bucket(pd.Timedelta(minutes=30))
    Bucket(size=30, unit='MINUTES', seconds=1800)
    """
    if isinstance(value, pd.Timedelta):
        seconds = value.total_seconds()
        if seconds != int(seconds):
            raise _bad_bucket(value)
        return _from_seconds(int(seconds), value)
    if isinstance(value, tuple) and len(value) == 2:
        size, unit = value
        unit = str(unit).upper()
    elif isinstance(value, str) and (match := _BUCKET.match(value)):
        size, word = int(match.group(1)), match.group(2).lower()
        unit = _UNIT_WORDS.get(word, word.upper())
    else:
        raise _bad_bucket(value)
    if unit not in UNITS or not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise _bad_bucket(value)
    return Bucket(size, unit, size * UNITS[unit])


def api_date(stamp: pd.Timestamp) -> str:
    """``YYYY-MM-DD`` (usage summaries, commitments).

    >>> api_date(pd.Timestamp("2026-03-01", tz="UTC"))
    '2026-03-01'
    """
    return stamp.strftime("%Y-%m-%d")


def api_instant(stamp: pd.Timestamp) -> str:
    """An ISO-8601 UTC instant in whole seconds: ``2026-03-01T00:00:00Z`` (service usage, metrics, reports).

    >>> api_instant(pd.Timestamp("2026-03-01 12:30", tz="UTC"))
    '2026-03-01T12:30:00Z'
    """
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def refused_limits(error: Exception) -> tuple[int | None, int | None]:
    """``(maxDays, maxBuckets)`` of a "span too long" refusal (code 9418); ``(None, None)`` for any
    other error or a refusal that names neither.

    >>> from cloudmc_frames.errors import ValidationError
    >>> refused_limits(ValidationError("too long", status=400, code=9418, context={"maxDays": 92}))
    (92, None)
    """
    context = getattr(error, "context", None)
    if str(getattr(error, "code", "")) != str(SPAN_TOO_LONG) or not isinstance(context, dict):
        return None, None
    return _positive(context.get("maxDays")), _positive(context.get("maxBuckets"))


# -- helpers ------------------------------------------------------------------------------------

def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


def _last_boundary(low: pd.Timestamp, limit: pd.Timestamp, grain: str) -> pd.Timestamp:
    """The latest ``grain`` boundary in ``(low, limit]``, else the latest midnight, else ``limit``."""
    candidate = _floor(limit, grain)
    if candidate > low:
        return candidate
    candidate = limit.normalize()
    return candidate if candidate > low else limit


def _floor(stamp: pd.Timestamp, grain: str) -> pd.Timestamp:
    day = stamp.normalize()
    if grain == "MONTH":
        return day.replace(day=1)
    if grain == "YEAR":
        return day.replace(month=1, day=1)
    return day


def _seconds(stamp: pd.Timestamp) -> int:
    return int(stamp.value // 1_000_000_000)


def _from_seconds(seconds: int, shown: Any) -> Bucket:
    for unit, width in sorted(UNITS.items(), key=lambda item: -item[1]):
        if seconds >= width and seconds % width == 0:
            return Bucket(seconds // width, unit, seconds)
    raise _bad_bucket(shown)


def _bad_bucket(value: Any) -> ConfigError:
    return ConfigError(f"bucket must look like '1h', '5min', '1d' or '1w' (a positive whole number of "
                       f"seconds, minutes, hours, days or weeks), got {value!r}")


def _show(stamp: pd.Timestamp) -> str:
    return f"{stamp:%Y-%m-%d}" if stamp == stamp.normalize() else f"{stamp:%Y-%m-%d %H:%M:%S}"
