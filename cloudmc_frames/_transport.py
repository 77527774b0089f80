"""Sending one request: the key in its header, timeouts within the call's deadline, and our errors.

:class:`Transport` sends through the credential's :class:`~cloudmc_frames._cache.HttpCache` and
returns a :class:`RawReply` (status, headers, body bytes, cache facts) for ``_wire`` to parse.
It never retries (that is the client's loop with ``_retry``) and never parses JSON.

* A call's deadline bounds each read timeout, and a :class:`Watchdog` cuts a body that keeps
  trickling in past it (the read timeout bounds each read, not the whole body).
* Proxy and CA-bundle variables are read once per session, not per request; a loopback endpoint
  never goes through a proxy (plain http to it would hand the key to a proxy in clear text).
* Every request that really goes out first waits for its turn in the client's
  :class:`~cloudmc_frames.throttle.Throttle` (:class:`ThrottledAdapter`: requests-cache answers
  hits before the adapter is reached, so cache hits never use up the pace).
* requests' exceptions become :class:`~cloudmc_frames.errors.TransportError` /
  :class:`~cloudmc_frames.errors.RequestTimeout` / :class:`~cloudmc_frames.errors.CrawlTimeoutError`;
  an offline miss becomes :class:`~cloudmc_frames.errors.CacheMissError`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter

from ._cache import API_KEY_HEADER, HttpCache, connection_socket
from ._version import __version__
from .config import Settings, is_loopback
from .errors import (
    CacheMissError,
    CloudMCError,
    CrawlTimeoutError,
    EndpointUnreachableError,
    RequestTimeout,
    TransportError,
)
from .throttle import Throttle

USER_AGENT = f"cloudmc-frames/{__version__}"
_ERRNO = re.compile(r"\[Errno -?\d+\][^)'\"]*")
_SENDING = threading.local()  # .deadline of the request this thread sends, for ThrottledAdapter
_NO_NAME = ("NameResolutionError", "Name or service not known", "nodename nor servname",
            "Temporary failure in name resolution", "No address associated", "getaddrinfo failed")
_REFUSED = ("Connection refused", "[Errno 111]", "[WinError 10061]")
TLS_OTHER = "the TLS handshake failed (is the endpoint really https?)"


class Secret:
    """Holds the API key; its repr and str never show it, and it cannot be pickled."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def scrub(self, text: str) -> str:
        """``text`` with the key replaced by ``<api-key>`` (proxies echo headers)."""
        return text.replace(self._value, "<api-key>") if self._value in text else text

    def scrubbed(self, error: CloudMCError) -> CloudMCError:
        """``error``, or a copy of it without the key should a server or proxy have echoed it."""
        context = json.dumps(error.context, default=str) if error.context is not None else ""
        if self._value not in error.message + context:
            return error
        clean = copy.copy(error)
        clean.message = self.scrub(error.message)
        clean.args = (clean.message,)
        clean.context = json.loads(self.scrub(context)) if context else None
        return clean

    def __repr__(self) -> str:
        return "<api-key hidden>"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("an API key is not picklable")


@dataclass(frozen=True)
class RawReply:
    """One HTTP answer before parsing, with what the cache knows of it."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    from_cache: bool
    cache_key: str | None
    expires_at: float | None  # Unix time until which it may be reused from memory; None: not cached


def configure_session(session: requests.Session, settings: Settings, key: Secret,
                      throttle: Throttle | None = None) -> None:
    """Headers (the key among them), proxies and CA bundle read once, a pool sized for the fan-out,
    and the client's throttle in front of every request sent."""
    session.headers.update({API_KEY_HEADER: key.reveal(), "User-Agent": USER_AGENT,
                            "Accept": "application/json"})
    if not is_loopback(urlsplit(settings.endpoint).hostname or ""):
        session.proxies.update(requests.utils.get_environ_proxies(settings.endpoint))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False  # requests re-reads the environment per call otherwise (~20% of CPU)
    pool = {"pool_connections": 2, "pool_maxsize": max(10, 2 * settings.max_workers)}
    adapter = HTTPAdapter(**pool) if throttle is None else ThrottledAdapter(throttle, **pool)
    session.mount("http://", adapter)
    session.mount("https://", adapter)


class ThrottledAdapter(HTTPAdapter):
    """Waits for the request's turn in the throttle (its ``org_id`` scope, then the client)
    before sending, and tells it of every plain answer (an error status goes through the client's
    ``throttle.failed``); raises the throttle's DeferredError / CrawlTimeoutError instead of sending."""

    def __init__(self, throttle: Throttle, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.throttle = throttle

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        org = parse_qs(urlsplit(url).query).get("org_id", [None])[-1] if "org_id=" in url else None
        self.throttle.acquire(org, deadline=getattr(_SENDING, "deadline", None),
                              method=request.method or "", url=url)
        response = super().send(request, *args, **kwargs)
        if response.status_code < 400:
            self.throttle.answered(org)
        return response


class Transport:
    """Sends one request through the cache's session and returns the :class:`RawReply`."""

    def __init__(self, settings: Settings, cache: HttpCache, clock: Callable[[], float]) -> None:
        self.settings, self.cache, self.clock = settings, cache, clock

    def send(self, method: str, url: str, query: Mapping[str, str], body: Any, *, fresh: bool,
             deadline: float | None, attempt: int = 1, accept: str | None = None) -> RawReply:
        """One attempt; ``fresh`` skips cached answers, ``deadline`` (clock time) bounds it all;
        ``accept`` replaces the session's ``Accept: application/json``."""
        kwargs = self._request_options(method, query, body, fresh, deadline)
        if accept:
            kwargs["headers"] = {"Accept": accept}
        full_url = f"{url}?{urlencode(query)}" if query else url
        where = {"method": method, "url": full_url, "attempts": attempt}
        watchdog = Watchdog(deadline, self.clock) if deadline is not None else None
        if watchdog is not None:
            kwargs["hooks"] = {"response": watchdog.arm}
        _SENDING.deadline = deadline
        try:
            response = self.cache.request(method, url, **kwargs)
        except requests.Timeout:
            if deadline is not None and self.clock() >= deadline - 0.01:
                raise out_of_time(where) from None
            raise RequestTimeout(f"no answer within {kwargs['timeout'][1]:g} s", **where) from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            if watchdog is not None and watchdog.fired:
                raise out_of_time(where) from None
            raise transport_error(exc, where) from None
        finally:
            if watchdog is not None:
                watchdog.cancel()
        return self._raw(response, where)

    def _request_options(self, method: str, query: Mapping[str, str], body: Any, fresh: bool,
                         deadline: float | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"params": query, "allow_redirects": False,
                                  "timeout": self._timeout(deadline)}
        if body is not None:
            kwargs["json"] = body
        if method == "GET" and self.settings.offline:
            kwargs["only_if_cached"] = True
        elif method == "GET" and fresh:
            kwargs["force_refresh"] = True  # refresh=True does nothing without ETags
        return kwargs

    def _timeout(self, deadline: float | None) -> tuple[float, float]:
        read = self.settings.read_timeout
        if deadline is not None:
            read = max(0.05, min(read, deadline - self.clock()))
        return (min(self.settings.connect_timeout, read), read)

    def _raw(self, response: requests.Response, where: dict[str, Any]) -> RawReply:
        from_cache = bool(getattr(response, "from_cache", False))
        if self.settings.offline and response.status_code == 504 and from_cache:
            raise CacheMissError("offline mode and no cached answer for this request", code="not_cached",
                                 **where)
        return RawReply(response.status_code, response.headers, response.content, response.url,
                        from_cache, getattr(response, "cache_key", None), _expiry(response))


class Watchdog:
    """Cuts a reply's connection when the call's deadline passes while its body still arrives.

    Armed by a response hook, when the headers are in and the body is about to be read; one
    short-lived timer per deadline-bound request.
    """

    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self.deadline, self.clock = deadline, clock
        self.fired = False
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._done = False

    def arm(self, response: requests.Response, **_: Any) -> requests.Response:
        sock = connection_socket(response)
        if sock is not None:
            with self._lock:
                self._timer = threading.Timer(max(0.0, self.deadline - self.clock()), self._cut, (sock,))
                self._timer.daemon = True
                self._timer.start()
        return response

    def _cut(self, sock: socket.socket) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
        with contextlib.suppress(OSError):  # already closed: nothing left to cut
            sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        with self._lock:
            self._done = True
            if self._timer is not None:
                self._timer.cancel()


def out_of_time(where: Mapping[str, Any]) -> CrawlTimeoutError:
    """The error of a reply the call's ``timeout`` ran out on."""
    return CrawlTimeoutError("the call's timeout ran out while waiting for this reply", **where)


def transport_error(exc: Exception, where: Mapping[str, Any]) -> TransportError:
    """Our one-line error for a requests connection failure (errno kept, noise dropped).

    A name that does not resolve, a refused connection, https to a plain http port and an
    untrusted certificate are :class:`EndpointUnreachableError` (nothing can succeed as
    configured); a TLS failure says which of the two it is.
    """
    text = str(exc)
    host = urlsplit(str(where.get("url", ""))).netloc
    if any(marker in text for marker in _NO_NAME):
        return EndpointUnreachableError(f"could not talk to CloudMC: the host name in {host!r} does "
                                        "not resolve (DNS)", **where)
    if any(marker in text for marker in _REFUSED):
        return EndpointUnreachableError(f"could not talk to CloudMC: nothing listens at {host} "
                                        "(connection refused)", **where)
    if isinstance(exc, requests.exceptions.SSLError):
        cls = EndpointUnreachableError if tls_reason(text) != TLS_OTHER else TransportError
        return cls(f"could not talk to CloudMC: {tls_reason(text)}", **where)
    if "timed out" in text.lower():
        return RequestTimeout("the reply stopped arriving (read timed out)", **where)
    match = _ERRNO.search(text)
    reason = match.group(0).strip() if match else type(exc).__name__
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        reason = "the server closed the connection without answering"
    elif isinstance(exc, requests.exceptions.ChunkedEncodingError):
        reason = "the connection broke while the reply was arriving"
    return TransportError(f"could not talk to CloudMC: {reason}", **where)


def tls_reason(text: str) -> str:
    """What a TLS failure most likely means, from the SSL error's text."""
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text or "record layer failure" in text:
        return "the TLS handshake failed: that port speaks plain http, so use http:// in the endpoint"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return ("the server's TLS certificate is not trusted: fix the certificate, or point "
                "REQUESTS_CA_BUNDLE at your company's CA bundle")
    return TLS_OTHER


def _expiry(response: requests.Response) -> float | None:
    """Unix time until which a reply may be reused from memory; None when it was not cached."""
    if response.status_code != 200:
        return None
    if not getattr(response, "from_cache", False) and getattr(response, "cache_key", None) is None:
        return None
    expires = getattr(response, "expires", None)
    return float("inf") if expires is None else expires.timestamp()
