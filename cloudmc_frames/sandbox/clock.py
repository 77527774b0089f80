"""Timestamp formats used by the CloudMC payloads, and the scenario's reference clock.

The vendor payloads mix several date formats; each helper below reproduces one
of them exactly (examples from the docs in the docstrings).
"""
import functools
from datetime import UTC, datetime, timedelta, timezone

UTC = UTC
EDT = timezone(timedelta(hours=-4), "EDT")


def default_now():
    """Today's UTC midnight: the scenario's reference "now" (stable within a day)."""
    today = datetime.now(UTC).date()
    return datetime(today.year, today.month, today.day, tzinfo=UTC)


def utcnow():
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso_ms(dt):
    """Admin API format: ``2017-08-15T12:00:00.000Z``."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def iso_seconds(dt):
    """Usage and commitment format: ``2019-03-12T00:00:00Z`` (whole seconds)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_instant(dt):
    """Report format: ``2021-03-30T00:00:00Z``, milliseconds only when present (``...T23:59:59.999Z``)."""
    return iso_ms(dt) if dt.microsecond // 1000 else iso_seconds(dt)


def metric_label(dt):
    """Metric bucket label: ``2021-08-12T12:00:00.000`` (UTC, no zone designator)."""
    return iso_ms(dt)[:-1]


@functools.lru_cache(maxsize=1 << 16)
def epoch_text(seconds, style):
    """``style`` (``"ms"``, ``"seconds"`` or ``"label"``) of epoch ``seconds``, memoized: usage and
    metric answers format the same bucket edges over and over (strftime was most of their cost)."""
    moment = from_epoch(seconds)
    if style == "ms":
        return iso_ms(moment)
    return iso_seconds(moment) if style == "seconds" else metric_label(moment)


def epoch(dt):
    """Whole seconds since 1970-01-01 UTC."""
    return int(dt.timestamp())


def from_epoch(seconds):
    """The UTC datetime of ``seconds`` since 1970-01-01."""
    return datetime.fromtimestamp(seconds, UTC)


def floor_hour(dt):
    """``dt`` truncated to the whole hour (UTC)."""
    return from_epoch(epoch(dt) // 3600 * 3600)


def month_start(dt, months=0):
    """Midnight UTC of the first day of ``dt``'s month, moved by ``months``."""
    index = dt.year * 12 + dt.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def iso_compact_offset(dt):
    """CloudStack volume format: ``2016-10-19T14:25:41-0400`` (EDT)."""
    return dt.astimezone(EDT).strftime("%Y-%m-%dT%H:%M:%S%z")


def template_created(dt):
    """CloudStack template format: ``2016-10-24 2:40:29 PM EDT``."""
    local = dt.astimezone(EDT)
    hour = local.hour % 12 or 12
    return local.strftime("%Y-%m-%d ") + f"{hour}:" + local.strftime("%M:%S %p EDT")


def gcp_timestamp(dt):
    """GCP format: ``2019-04-19T12:12:30.756-07:00`` (shown here in EDT)."""
    local = dt.astimezone(EDT)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}-04:00"


def iso_micro_offset(dt):
    """Task format: ``2021-04-20T20:58:59.952881-04:00`` (sent in UTC, ``+00:00``)."""
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def snapshot_stamp(dt):
    """Suffix of CloudStack snapshot names: ``20161116211009`` (UTC)."""
    return dt.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def parse_instant(text):
    """Parse an RFC 3339 / ISO 8601 instant (``Z`` allowed); naive means UTC. ValueError if bad."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_date(text):
    """Parse a ``YYYY-MM-DD`` date into UTC midnight. ValueError if bad."""
    day = datetime.strptime(text.strip(), "%Y-%m-%d")
    return day.replace(tzinfo=UTC)
