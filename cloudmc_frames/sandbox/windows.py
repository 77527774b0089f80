"""Time windows of the usage endpoints: query dates and instants, span limits, bucket grids.

Span limits per call (a longer span answers 400, code 9418, context ``maxDays``, so a client
splits it into several calls):

=========================================================  ==================================
call                                                       at most
=========================================================  ==================================
``/usage_summary/...`` with ``period=HOUR`` (the default)  31 days
``/usage_summary/...`` with ``period=DAY`` or ``PERIOD``   366 days
``/service/usage`` with ``granularity=HOURLY``             31 days
``/service/usage`` otherwise                               366 days
``/reports/organization_pricing``, ``/reports/customers``  366 days
``/metrics/...``                                           366 days and ``MAX_BUCKETS`` buckets
=========================================================  ==================================

Grids follow UTC calendar boundaries (hour, day, month, year); the first and last bucket are
clipped to the requested window, and ``PERIOD`` is the window itself.  All times here are whole
epoch seconds (``clock.epoch``).
"""

from datetime import timedelta

from . import clock, errors

MAX_DAYS = 366
MAX_HOURLY_DAYS = 31
MAX_BUCKETS = 10_000
STEPS = {"HOUR": 3600, "DAY": 86400}


def day(query, name):
    """A required ``YYYY-MM-DD`` query parameter as UTC midnight (400 if missing or bad)."""
    try:
        return clock.parse_date(query[name])
    except (KeyError, ValueError):
        raise errors.bad_request(
            f"{name} is required as YYYY-MM-DD", parameter=name, value=query.get(name)
        ) from None


def instant(query, name):
    """A required ISO-8601 date-time query parameter (400 if missing or bad; naive means UTC)."""
    try:
        return clock.parse_instant(query[name])
    except (KeyError, ValueError):
        raise errors.bad_request(
            f"{name} is required as an ISO-8601 date-time", parameter=name, value=query.get(name)
        ) from None


def check_span(start, end, max_days, names):
    """400 unless ``start < end``; 400 (code 9418) when the span exceeds ``max_days``."""
    if start >= end:
        raise errors.bad_request(f"{names[1]} must be after {names[0]}", parameter=names[1])
    if end - start > timedelta(days=max_days):
        raise errors.ApiError(
            400,
            errors.SPAN_TOO_LONG,
            f"At most {max_days} days per call from {names[0]} to {names[1]}: split the span",
            {"parameter": names[1], "maxDays": max_days, "requestedDays": (end - start).days},
        )


def grid(start, end, grain):
    """Bucket boundaries ``[start, ..., end]`` for ``grain`` (HOUR, DAY, MONTH, YEAR or PERIOD)."""
    if start >= end:
        return []
    bounds = [start]
    if grain != "PERIOD":
        following = next_boundary(start, grain)
        while following < end:
            bounds.append(following)
            following = next_boundary(following, grain)
    bounds.append(end)
    return bounds


def next_boundary(seconds, grain):
    """The first ``grain`` boundary strictly after ``seconds``."""
    if grain in STEPS:
        return (seconds // STEPS[grain] + 1) * STEPS[grain]
    moment = clock.from_epoch(seconds)
    months = 1 if grain == "MONTH" else 13 - moment.month
    return clock.epoch(clock.month_start(moment, months))


def ordinal(seconds, grain):
    """The bucket's number on its grain's calendar (hours, days or months since 1970, or the year)."""
    if grain in STEPS:
        return seconds // STEPS[grain]
    moment = clock.from_epoch(seconds)
    return moment.year * 12 + moment.month - 1 if grain == "MONTH" else moment.year
