"""The retry policy, as a pure function: after a failed attempt, how long to wait, or give up.

No sleeping, no clocks, no random generator: the caller passes how long it has been trying, how
much time its deadline leaves and a jitter draw in ``[0, 1)``, so every decision is testable
without a socket (``tests/unit/test_retry.py``). What counts as transient is the
:data:`~cloudmc_frames.errors.RETRYABLE` table, read through ``error.retryable``.

Rules (DESIGN section 5): only idempotent GETs (task polls included) are retried; a host that
does not resolve or refuses the connection before it ever answered is not retried (nothing can
succeed: the endpoint is wrong or down), a server that answered before is; exponential
backoff ``backoff_factor * 2**(attempt-1)`` capped at ``backoff_max``, scaled by a jitter in
``[0.5, 1)``; a ``Retry-After`` the server sent is a floor; no attempt starts past
``retry_budget`` seconds or the caller's deadline, and there is never a wait after the last try.

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
                settings: Settings, jitter: float, answered: bool = True) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None to give up and raise ``error``.

    ``attempt`` is the number of attempts made so far (1 after the first); ``elapsed`` the
    seconds since the first began; ``time_left`` the seconds until the caller's deadline (None:
    no deadline); ``jitter`` a draw from ``[0, 1)``; ``answered``: whether the endpoint ever
    answered this client.
    """
    if error.method not in IDEMPOTENT_METHODS or not error.retryable or attempt > settings.retries:
        return None
    if isinstance(error, EndpointUnreachableError) and not answered:
        return None
    delay = backoff(attempt, settings, jitter)
    asked = error.retry_after if isinstance(error, ApiError) else None
    if asked is not None:
        delay = max(delay, asked)
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
