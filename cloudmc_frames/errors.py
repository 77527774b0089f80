"""Exceptions, the envelope -> exception table, and the :class:`Issue` record.

Exception tree (every class carries keyword-only ``status``, ``code``, ``message``,
``context``, ``method``, ``url``; ``str()`` is one line that ends with what to do next)::

    CloudMCError
    ├── ConfigError                 bad endpoint, missing key, unknown option, bad argument
    ├── CacheMissError              offline=True and the answer is not in the cache
    ├── TransportError              connection refused/reset, TLS, DNS
    │   └── RequestTimeout          connect or read timeout
    ├── ApiError                    the server answered with an error envelope
    │   ├── ValidationError         400 (bad parameters, quota exceeded)
    │   ├── AuthenticationError     401
    │   ├── PermissionDeniedError   403
    │   ├── NotFoundError           404
    │   ├── MethodNotAllowedError   405
    │   ├── RateLimitError          429 (``retry_after`` seconds when the server said)
    │   └── ServerError             5xx
    ├── ResponseFormatError         a reply that is not CloudMC's JSON (HTML from a proxy, ...)
    │   └── TruncatedReplyError     JSON cut short (a body that stopped arriving)
    ├── TaskFailedError             a task ended FAILED
    ├── TaskTimeoutError            a task did not end in time, or disappeared
    ├── CrawlTimeoutError           a scope was not read: the crawl's ``timeout`` ran out first
    ├── BudgetExceededError         a plan over its limits, or a scope left unread by ``budget=``
    └── SnapshotError               a snapshot on disk is damaged, incomplete or of another key

URLs held by errors never contain the API key (it travels in a header) nor URL credentials.
Whether an error is worth another attempt is decided by one table, :data:`RETRYABLE`, read
through :attr:`CloudMCError.retryable` (the retry policy in ``_retry`` and the issues frame both
use it).
"""

from __future__ import annotations

import json
from dataclasses import astuple, dataclass, fields
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SNIPPET_CHARS = 160


class CloudMCError(Exception):
    """Base of every error the toolkit raises on purpose."""

    hint = ""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | str | None = None,
        context: Any = None,
        method: str | None = None,
        url: str | None = None,
        attempts: int = 1,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.context = context
        self.method = method
        self.url = redact_url(url) if url else None
        self.attempts = attempts
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        where = " ".join(str(p) for p in (self.method, self.url) if p)
        facts = [f"HTTP {self.status}" if self.status else "", f"code {self.code}" if self.code else ""]
        facts = [f for f in facts if f]
        if self.attempts > 1:
            facts.append(f"after {self.attempts} attempts")
        text = self.message
        if where or facts:
            text += f" [{', '.join(facts + ([where] if where else []))}]"
        return f"{text}. {self.hint}" if self.hint else text

    @property
    def retryable(self) -> bool:
        """Whether another attempt may succeed (transport faults, 429, 5xx, cut replies)."""
        for cls, statuses in RETRYABLE:
            if isinstance(self, cls):
                return statuses is None or self.status in statuses
        return False

    def __reduce__(self):  # keep keyword-only state through pickling (multiprocessing, caches)
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[CloudMCError], message: str, state: dict) -> CloudMCError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class ConfigError(CloudMCError, ValueError):
    """The client was set up or called wrongly (endpoint, key, option, argument)."""


class CacheMissError(CloudMCError):
    """Offline mode was asked for an answer the cache does not hold."""

    hint = "Run the same call once online (without offline=True) to fill the cache"


class TransportError(CloudMCError):
    """No HTTP answer: the connection failed, was reset or closed early."""

    hint = "Check the endpoint, the network or VPN, and that CloudMC is up; the call can be retried"


class RequestTimeout(TransportError):
    """CloudMC did not answer within the connect or read timeout."""

    hint = "CloudMC or a proxy is slow: retry later or raise read_timeout in cmf.connect()"


class ApiError(CloudMCError):
    """CloudMC answered with an error envelope (or an error status).

    ``retry_after``: the seconds a ``Retry-After`` header asked for (None when absent).
    """

    hint = "See the message and context above"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ValidationError(ApiError):
    hint = "CloudMC rejected the request: check the arguments, the body and the quota"


class AuthenticationError(ApiError):
    hint = "The API key was refused: check CLOUDMC_API_KEY (keys belong to one user and can expire)"


class PermissionDeniedError(ApiError):
    hint = (
        "This key's user may not see or change it: use an administrator's key with access to "
        "other levels, or leave this organization out (orgs=...)"
    )


class NotFoundError(ApiError):
    hint = "Check the id, name or path: it may not exist, be deleted, or not be visible to this key"


class MethodNotAllowedError(ApiError):
    hint = "This endpoint does not support that HTTP method"


class RateLimitError(ApiError):
    hint = "CloudMC is throttling this key: lower max_workers or retry after the delay it asked for"


class ServerError(ApiError):
    hint = "CloudMC failed on its side: retry later; if it persists, report the code and context"


class ResponseFormatError(CloudMCError):
    """The reply is not the JSON CloudMC documents (HTML from a proxy, truncated body, ...)."""

    hint = (
        "Something between you and CloudMC (proxy, load balancer, wrong endpoint) answered, or "
        "the reply was cut: check the endpoint and retry"
    )


class TruncatedReplyError(ResponseFormatError):
    """The reply began as JSON but stopped before its end (a dropped or cut body)."""


class TaskFailedError(CloudMCError):
    """A CloudMC task ended with status FAILED."""

    hint = "The operation did not happen; read the reason, fix the cause and run it again"


class TaskTimeoutError(CloudMCError):
    """A task did not finish in time, or CloudMC no longer knows it."""

    hint = "The task may still finish: check the resource's state before running it again"


class CrawlTimeoutError(CloudMCError):
    """A fan-out reached its ``timeout`` before this scope was read."""

    hint = "Run the call again (cached scopes are fast) or give it a larger timeout="


class BudgetExceededError(CloudMCError):
    """A crawl would send (or has sent) more network calls than it was allowed."""

    hint = ("Narrow orgs= or the collections, raise budget=, or read what is cached first "
            "(cmf.plan(client, ...) says what a crawl costs before it starts)")


class SnapshotError(CloudMCError):
    """A snapshot on disk cannot be used: a damaged file, a missing manifest, mixed keys."""


RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SUCCESS_STATUSES = frozenset(range(200, 300))

# Which errors another attempt may cure: the first row whose class matches decides; None = any
# status. A proxy's HTML page on a 502 is transient, the same page on a 404 is not.
RETRYABLE: tuple[tuple[type[CloudMCError], frozenset[int] | None], ...] = (
    (TransportError, None),                                         # refused, reset, timed out
    (CrawlTimeoutError, None),                                      # the call may be run again
    (RateLimitError, None),                                         # 429
    (ServerError, RETRY_STATUSES),                                  # 500, 502, 503, 504
    (TruncatedReplyError, SUCCESS_STATUSES | RETRY_STATUSES),       # a body cut short
    (ResponseFormatError, RETRY_STATUSES),                          # a gateway's error page
)

ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    429: RateLimitError,
}


def error_class_for_status(status: int) -> type[ApiError]:
    """The ApiError subclass for an HTTP status (5xx -> ServerError, others -> ApiError)."""
    if status >= 500:
        return ServerError
    return ERRORS_BY_STATUS.get(status, ApiError)


def error_from_envelope(status: int, payload: dict, **where: Any) -> ApiError:
    """Build the typed error for an ``{"errors": [...]}`` reply (or a JSON error without one).

    The first error object supplies ``code`` (or ``errorCode``), ``message`` and ``context``;
    further ones are appended to the message. ``where`` carries method, url, attempts.
    """
    cls = error_class_for_status(status)
    items = payload.get("errors")
    if not isinstance(items, list) or not items:
        detail = "an empty 'errors' list" if isinstance(items, list) else "no error details"
        return cls(f"CloudMC answered HTTP {status} with {detail}", status=status, **where)
    first = items[0] if isinstance(items[0], dict) else {"message": str(items[0])}
    code = first.get("code", first.get("errorCode"))
    message = str(first.get("message") or first.get("errorMessage") or "no message")
    extra = len(items) - 1
    if extra:
        others = "; ".join(_describe(e) for e in items[1:4])
        message += f" (+{extra} more: {others})"
    return cls(message, status=status, code=code, context=first.get("context"), **where)


def _describe(item: Any) -> str:
    if isinstance(item, dict):
        return f"{item.get('code', item.get('errorCode', '?'))}: {item.get('message', '')}"
    return str(item)


def snippet(body: bytes | str, limit: int = SNIPPET_CHARS) -> str:
    """A short printable excerpt of a reply body for error messages."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_type(value: Any) -> str:
    """How a parsed JSON value is named in messages: ``dict``, ``list``, ``str``, ``number``,
    ``boolean`` or ``null`` (never Python's ``NoneType``/``int``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def redact_url(url: str) -> str:
    """Drop user:password@ from a URL (keys never travel in URLs here, credentials might)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class Issue:
    """One scope of a crawl that failed: where, what the server said, and whether to retry.

    The fields, in order, are :data:`ISSUE_COLUMNS`; ``message`` is the exception's one-line text.
    """

    when: datetime
    accessor: str
    organization_id: str | None
    organization_path: str | None
    environment: str | None
    entity: str | None
    method: str | None
    url: str | None
    status: int | None
    code: str | None
    message: str
    context: str | None
    exception: str
    attempts: int
    retryable: bool

    @classmethod
    def from_error(cls, error: CloudMCError, *, accessor: str, **scope: str | None) -> Issue:
        """Record ``error`` met while reading ``scope`` (organization_id/_path, environment, entity)."""
        return cls(
            when=datetime.now(UTC),
            accessor=accessor,
            organization_id=scope.get("organization_id"),
            organization_path=scope.get("organization_path"),
            environment=scope.get("environment"),
            entity=scope.get("entity"),
            method=error.method,
            url=error.url,
            status=error.status,
            code=None if error.code is None else str(error.code),
            message=str(error),
            context=None if error.context is None else json.dumps(error.context, default=str),
            exception=type(error).__name__,
            attempts=error.attempts,
            retryable=error.retryable,
        )

    def as_tuple(self) -> tuple:
        return astuple(self)


ISSUE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Issue))
