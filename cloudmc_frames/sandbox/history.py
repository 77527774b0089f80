"""Instance state histories: from creation to the scenario's ``now``, ending in the current state.

An instance is created Running at its creation hour; ``plan`` then draws the events that lead
to the state the inventory shows (all times whole hours, ``created < event < now``):

===========  ==========================================================================
state now    history
===========  ==========================================================================
Running      Running (30%: one earlier Stopped -> Running episode of 1 h to 30 days)
Stopping     as Running, then Stopping one hour before ``now``
Stopped      Running, then Stopped (40% of those older than 60 days: before ``now - 45 d``)
Starting     as Stopped, then Starting one hour before ``now``
Error        Running, then Error
Destroyed    as Running, then Destroyed
===========  ==========================================================================

Compute (vCPU, memory, CPU samples) accrues in ``COMPUTE_STATES``; storage and addresses accrue
until the instance is Destroyed.  ``until`` caps everything: the scenario's ``now``, or the
deletion time of a deleted organization.
"""

from dataclasses import dataclass
from datetime import timedelta

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
COMPUTE_STATES = ("Running", "Stopping")


@dataclass(frozen=True)
class History:
    """One instance's state events ``((datetime, state), ...)``, oldest (the creation) first."""

    instance_id: str
    events: tuple
    until: object

    @property
    def created(self):
        """When the instance was created (and started)."""
        return self.events[0][0]

    @property
    def state(self):
        """The state the history ends in (the inventory's state)."""
        return self.events[-1][1]

    def end_of_life(self):
        """When the instance stops accruing anything: destroyed, else ``until``."""
        destroyed = [t for t, state in self.events if state == "Destroyed"]
        return min([self.until, *destroyed])

    def spans(self, states=COMPUTE_STATES):
        """``[(start, end)]`` of the periods spent in ``states``, capped at ``until``."""
        out = []
        bounds = [t for t, _ in self.events[1:]] + [self.until]
        for (start, state), end in zip(self.events, bounds, strict=False):
            end = min(end, self.until)
            if state in states and start < end:
                out.append((start, end))
        return out


def plan(rng, instance_id, state, created, now, until):
    """A ``History`` that starts Running at ``created`` and ends in ``state`` (see the module table)."""
    events = [(created, "Running")]
    if state in ("Running", "Stopping", "Destroyed") and now - created > 3 * DAY and rng.random() < 0.3:
        stopped = hour_between(rng, created + HOUR, now - 2 * DAY)
        events += [
            (stopped, "Stopped"),
            (hour_between(rng, stopped + HOUR, min(stopped + 30 * DAY, now - DAY)), "Running"),
        ]
    if state in ("Stopped", "Starting"):
        long_ago = created < now - 60 * DAY and rng.random() < 0.4
        events.append(
            (hour_between(rng, events[-1][0] + HOUR, now - (45 * DAY if long_ago else 2 * HOUR)), "Stopped")
        )
    if state in ("Error", "Destroyed"):
        events.append((hour_between(rng, events[-1][0] + HOUR, now - HOUR), state))
    if state in ("Stopping", "Starting"):
        events.append((now - HOUR, state))
    return History(instance_id, tuple(events), until)


def hour_between(rng, low, high):
    """A whole hour drawn uniformly from ``[low, high]`` (``low`` when the range is empty)."""
    hours = int((high - low) / HOUR)
    return low + HOUR * rng.randint(0, max(0, hours))
