"""The retry policy, as a pure function: after a failed attempt, how long to wait, or give up.

No sleeping, no clocks, no random generator: the caller passes how long it has been trying, how
much time its deadline leaves and a jitter draw in ``[0, 1)``, so every decision is testable
without a socket (``tests/unit/test_retry.py``). What counts as transient is the
:data:`~cloudmc_frames.errors.RETRYABLE` table, read through ``error.retryable``.

Rules (DESIGN section 5): only idempotent GETs (task polls included) are retried, at most
``retries`` times; a host that does not resolve or refuses the connection before it ever
answered is not retried (nothing can succeed: the endpoint is wrong or down), a server that
answered before is; congestion that says when to come back (a 429, 503 or 504 with a
``Retry-After`` up to ``max_retry_after``) is CloudMC scheduling the request, not failing it: it
is waited for as asked (at least the first backoff), however many attempts it takes; exponential
backoff ``backoff_factor * 2**(attempt-1)`` capped at ``backoff_max``, scaled by a jitter in
``[0.5, 1)``;
a ``Retry-After`` the server sent, and what is left of the scope's pause (see
:mod:`~cloudmc_frames.throttle`), are floors; a ``Retry-After`` above ``max_retry_after`` is not
waited for (the scope is deferred); no attempt starts past ``retry_budget`` seconds or the
caller's deadline, and there is never a wait after the last try.

Example::

    >>> from cloudmc_frames.config import Settings
    >>> from cloudmc_frames.errors import ServerError
    >>> s = Settings.from_options("https://h", backoff_factor=1.0)
    >>> retry_delay(ServerError("x", status=503, method="GET"), attempt=2, elapsed=1.0,
    ...             time_left=None, settings=s, jitter=0.0)
    1.0
"""

from __future__ import annotations

from .config import Settings
from .errors import ApiError, CloudMCError, EndpointUnreachableError

IDEMPOTENT_METHODS = frozenset({"GET"})


def retry_delay(error: CloudMCError, *, attempt: int, elapsed: float, time_left: float | None,
                settings: Settings, jitter: float, pause: float = 0.0,
                answered: bool = True) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None to give up and raise ``error``.

    ``attempt`` is the number of attempts made so far (1 after the first); ``elapsed`` the
    seconds since the first began; ``time_left`` the seconds until the caller's deadline (None:
    no deadline); ``jitter`` a draw from ``[0, 1)``; ``pause`` the seconds the request's scope
    is still paused for; ``answered``: whether the endpoint ever answered this client.
    """
    if error.method not in IDEMPOTENT_METHODS or not error.retryable:
        return None
    if isinstance(error, EndpointUnreachableError) and not answered:
        return None
    asked = error.retry_after if isinstance(error, ApiError) else None
    if asked is not None and asked > settings.max_retry_after:
        return None  # the scope is deferred, not waited for
    scheduled = asked is not None and error.congestion
    if attempt > settings.retries and not scheduled:
        return None
    delay = max(backoff(1 if scheduled else attempt, settings, jitter), asked or 0.0, pause)
    if elapsed + delay > settings.retry_budget:
        return None
    if time_left is not None and delay >= time_left:
        return None
    return delay


def backoff(attempt: int, settings: Settings, jitter: float) -> float:
    """The exponential backoff after ``attempt`` attempts, capped, scaled into ``[0.5, 1)`` of itself.

    >>> from cloudmc_frames.config import Settings
    >>> backoff(3, Settings.from_options("https://h", backoff_factor=0.5), jitter=0.5)
    1.5
    """
    ceiling = min(settings.backoff_max, settings.backoff_factor * 2 ** (attempt - 1))
    return ceiling * (0.5 + 0.5 * jitter)
