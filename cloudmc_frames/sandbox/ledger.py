"""The usage ledger: what the usage, cost, commitment, report and metric endpoints read.

``gen_usage.build`` fills one per scenario (``store.usage``); it is never changed afterwards,
so the endpoints read it without locking.  It holds compact facts, never records: each metered
resource is an ``Item`` (a constant hourly rate over a few whole-hour intervals) and each
(organization, connection, usage type) a ``Series`` (the summed rate as a step function with its
running integral).  Records are computed from them when a request asks, so a year of hourly
data for 200 organizations costs no memory until someone reads it.

Times inside are whole epoch seconds; usage is in units x hours (``rate x seconds / 3600``).
"""

import bisect
from collections import defaultdict
from typing import NamedTuple

from . import clock
from .pricing import PRODUCTS

HOUR = 3600
TYPE_ORDER = [p.usage_type for p in PRODUCTS]


class Item(NamedTuple):
    """One metered resource x usage type: ``rate`` units per hour during ``intervals``."""

    key: str
    usage_type: str
    rate: float
    intervals: tuple
    org_id: str
    connection_id: str
    env_id: str
    env_name: str
    entity_type: str
    fields: dict

    def usage(self, start, end):
        """Units accrued in ``[start, end)``."""
        seconds = sum(max(0, min(e, end) - max(s, start)) for s, e in self.intervals)
        return self.rate * seconds / HOUR


class Series:
    """A step function of time: ``rates[k]`` from ``times[k]`` to ``times[k + 1]``, zero outside."""

    def __init__(self, times, rates):
        """Keep the steps and precompute the running integral at each of them."""
        self.times, self.rates = times, rates
        self.cumulative = [0.0]
        for k in range(1, len(times)):
            self.cumulative.append(self.cumulative[-1] + rates[k - 1] * (times[k] - times[k - 1]))

    @classmethod
    def of(cls, pieces):
        """The sum of ``(start, end, rate)`` pieces."""
        deltas = defaultdict(float)
        for start, end, rate in pieces:
            deltas[start] += rate
            deltas[end] -= rate
        times, rates, level = sorted(deltas), [], 0.0
        for moment in times:
            level += deltas[moment]
            rates.append(level if abs(level) > 1e-9 else 0.0)
        return cls(times, rates)

    def rate_at(self, moment):
        """The rate at ``moment``."""
        k = bisect.bisect_right(self.times, moment) - 1
        return self.rates[k] if k >= 0 else 0.0

    def _area(self, moment):
        """Integral from the beginning of time to ``moment`` (rate x seconds)."""
        k = bisect.bisect_right(self.times, moment) - 1
        return self.cumulative[k] + self.rates[k] * (moment - self.times[k]) if k >= 0 else 0.0

    def integral(self, start, end):
        """Units accrued in ``[start, end)`` (rate x hours)."""
        return (self._area(end) - self._area(start)) / HOUR

    def minimum(self, other):
        """The pointwise minimum of two step functions."""
        times = sorted(set(self.times) | set(other.times))
        return Series(times, [min(self.rate_at(t), other.rate_at(t)) for t in times])


class Ledger:
    """Usage facts of one scenario (see the package docstring's oracle API)."""

    def __init__(self, now, usage_days, hourly_days):
        """An empty ledger for ``usage_days`` of history before ``now``, the last ``hourly_days`` hourly."""
        self.now = clock.epoch(now)
        self.start = self.now - usage_days * 86400
        self.hourly_start = self.now - hourly_days * 86400
        self.usage_days, self.hourly_days = usage_days, hourly_days
        self.prices = {}
        self.histories = {}
        self.profiles = {}
        self.deleted_at = {}
        self.items = []
        self.by_org = {}
        self.series = {}
        self.series_by_org = {}
        self.committed = {}
        self.commitments = {}
        self.commitment_fit = {}
        self.metric_entities = {}

    def freeze(self, items):
        """Index ``items`` (ordered by key) and sum them into one ``Series`` per (org, connection, type)."""
        self.items = sorted(items, key=lambda i: i.key)
        pieces = defaultdict(list)
        for item in self.items:
            self.by_org.setdefault(item.org_id, []).append(item)
            key = (item.org_id, item.connection_id, item.usage_type)
            pieces[key].extend((start, end, item.rate) for start, end in item.intervals)
            if item.usage_type == "cpu_type":
                self.metric_entities.setdefault(item.env_id, []).append(
                    (item.fields["resourceId"], item.intervals)
                )
        order = {t: i for i, t in enumerate(TYPE_ORDER)}
        for key in sorted(pieces, key=lambda k: (k[0], k[1], order[k[2]])):
            self.series[key] = Series.of(pieces[key])
            self.series_by_org.setdefault(key[0], []).append((key, self.series[key]))

    def org_series(self, org_id, connection_id=None):
        """``[((org, connection, usage type), Series)]`` of one organization (optionally one connection)."""
        return [
            (key, s)
            for key, s in self.series_by_org.get(org_id, ())
            if connection_id is None or key[1] == connection_id
        ]
