"""CloudMC's wire format, parsed without a socket: status + headers + body bytes -> a reply or an error.

Pure functions (no requests, no sessions): :func:`parse_reply` reads one answer the way the API
reference documents it (section 1.2): ``{"data": ...}``, a task (``{taskId, ...}`` or
``{"data": {id, status, ...}}``), an empty 200/204, or an error envelope (``{"errors": [...]}``
with ``code`` or ``errorCode``) that becomes the typed error of
:data:`~cloudmc_frames.errors.ERRORS_BY_STATUS`. Anything else (a proxy's HTML page, JSON cut
short, bytes that are not UTF-8, JSON that is not an object) is a
:class:`~cloudmc_frames.errors.ResponseFormatError` with the status and a short excerpt.

Example::

    >>> parse_reply(200, {}, b'{"data": [{"id": "o1"}]}', method="GET", url="https://h/api/v2/x").data
    [{'id': 'o1'}]
    >>> retry_after_seconds("120", now=0.0)
    120.0
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import (
    ConfigError,
    ResponseFormatError,
    TruncatedReplyError,
    error_class_for_status,
    error_from_envelope,
    json_type,
    snippet,
)
from .paging import Page
from .tasks import is_task_payload


@dataclass(frozen=True)
class Reply:
    """One parsed answer: the JSON object (None for an empty body), where it came from, and a
    digest of its bytes (equal bodies, equal digests: what memoizes work built on a reply)."""

    status: int
    payload: dict | None
    url: str
    from_cache: bool
    attempts: int = 1
    digest: int = 0
    stamp: tuple | None = None  # kept in the client's memory as this (see MemoryPages.holds)

    @property
    def data(self) -> Any:
        return None if self.payload is None else self.payload.get("data")


@dataclass(frozen=True)
class Listing:
    """Every record of a list endpoint: whether all its pages came from a cache, how many pages,
    how many of them went to the network, and whether the client's memory holds them all."""

    records: list[dict]
    from_cache: bool
    pages: int
    sent: int = 0
    digest: int = 0
    stamps: tuple | None = None  # every page's memory stamp; None when one is not kept

    @classmethod
    def of(cls, records: list[dict], replies: list[Reply]) -> Listing:
        """The listing of ``records`` read through ``replies``."""
        sent = sum(not r.from_cache for r in replies)
        stamps = tuple(r.stamp for r in replies)
        return cls(records, sent == 0, len(replies), sent, hash(tuple(r.digest for r in replies)),
                   stamps if replies and None not in stamps else None)


def parse_reply(status: int, headers: Mapping[str, str], body: bytes, *, method: str, url: str,
                from_cache: bool = False, attempts: int = 1, stamp: tuple | None = None) -> Reply:
    """The :class:`Reply` for one HTTP answer, or raise the typed error it stands for.

    ``stamp``: the answer's stamp in the client's memory, when it was read from there.

    >>> parse_reply(403, {}, b'{"errors": [{"code": 7, "message": "no"}]}', method="GET", url="u")
    Traceback (most recent call last):
    ...
    cloudmc_frames.errors.PermissionDeniedError: no [HTTP 403, code 7, GET u]. This key's user ...
    """
    where = {"method": method, "url": url, "attempts": attempts}
    if 300 <= status < 400:
        raise _redirect(status, headers, where)
    if not body.strip():
        if status < 400:
            return Reply(status, None, url, from_cache, attempts, stamp=stamp)
        raise error_class_for_status(status)(
            f"CloudMC answered HTTP {status} with an empty body", status=status, **where)
    payload = decode_json(body, status, _header(headers, "Content-Type"), where)
    if "errors" in payload or status >= 400:
        retry_after = retry_after_seconds(_header(headers, "Retry-After"))
        raise error_from_envelope(status, payload, retry_after=retry_after, **where)
    if "data" not in payload and not is_task_payload(payload):
        raise ResponseFormatError(
            f"the reply has no 'data' member (keys: {', '.join(sorted(payload)[:6]) or 'none'})",
            status=status, **where)
    return Reply(status, payload, url, from_cache, attempts, hash(body), stamp)


@dataclass(frozen=True)
class TextReply:
    """One answer in a text format (``Accept: text/csv``): its text, without a byte-order mark."""

    status: int
    text: str
    url: str
    from_cache: bool
    attempts: int = 1


def parse_text(status: int, headers: Mapping[str, str], body: bytes, *, method: str, url: str,
               accept: str, from_cache: bool = False, attempts: int = 1) -> TextReply:
    """The :class:`TextReply` for an answer asked for as ``accept``; errors as :func:`parse_reply`.

    A UTF-8 byte-order mark (spreadsheet exports) is dropped; JSON, HTML or bytes that are not
    UTF-8 where ``accept`` was asked for are a :class:`~cloudmc_frames.errors.ResponseFormatError`.

    >>> parse_text(200, {"Content-Type": "text/csv"}, "\ufeffid,usage\r\na,1\r\n".encode(), method="GET",
    ...            url="u", accept="text/csv").text.splitlines()[0]
    'id,usage'
    """
    where = {"method": method, "url": url, "attempts": attempts}
    kind = _header(headers, "Content-Type").lower()
    if status >= 300 or "json" in kind:
        parse_reply(status, headers, body, method=method, url=url, from_cache=from_cache,
                    attempts=attempts)  # raises the error an envelope stands for
        raise ResponseFormatError(f"asked for {accept} but the server answered JSON ({snippet(body)})",
                                  status=status, hint="The endpoint may not offer this format", **where)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ResponseFormatError(f"HTTP {status}: the {accept} reply is not valid UTF-8 (byte "
                                  f"{body[exc.start]:#04x} at offset {exc.start})", status=status,
                                  **where) from None
    if "html" in kind or text.lstrip()[:1] == "<":
        raise ResponseFormatError(f"HTTP {status}: asked for {accept} but the reply is an HTML page "
                                  f"(a proxy or load balancer answered?): {snippet(body)}", status=status,
                                  **where)
    return TextReply(status, text, url, from_cache, attempts)


def query_params(params: Mapping[str, Any] | None, org_id: str | None) -> dict[str, str]:
    """The query string of a call as text: ``params`` plus ``org_id``, booleans as ``true``/``false``.

    >>> query_params({"include_deleted": True, "page_size": 50, "skip": None}, "o1")
    {'include_deleted': 'true', 'page_size': '50', 'org_id': 'o1'}
    """
    if params is not None and not isinstance(params, Mapping):
        raise ConfigError(f"params must be a dict, got {type(params).__name__}")
    merged = dict(params or {})
    if org_id is not None:
        if not isinstance(org_id, str) or not org_id:
            raise ConfigError(f"org_id must be a non-empty string, got {org_id!r}")
        merged["org_id"] = org_id
    return {k: _param(v) for k, v in merged.items() if v is not None}


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def page_of(reply: Reply) -> Page:
    """A list reply as a :class:`~cloudmc_frames.paging.Page` (``data`` and ``metadata``)."""
    payload = reply.payload or {}
    if "data" not in payload:
        raise ResponseFormatError("a list reply has no 'data' member", url=reply.url,
                                  status=reply.status)
    return Page(payload["data"], payload.get("metadata"), reply.url)


def decode_json(body: bytes, status: int, content_type: str, where: Mapping[str, Any]) -> dict:
    """The JSON object in ``body``; ResponseFormatError for anything else (HTML, cut, not UTF-8)."""
    try:
        payload = json.loads(body)
    except UnicodeDecodeError as exc:
        raise ResponseFormatError(
            f"HTTP {status}: the reply is not valid UTF-8 (byte {body[exc.start]:#04x} at offset "
            f"{exc.start}): {snippet(body)}", status=status, **where) from None
    except (ValueError, RecursionError):
        raise _not_json(body, status, content_type, where) from None
    if not isinstance(payload, dict):
        raise ResponseFormatError(
            f"the reply is a JSON {json_type(payload)} where CloudMC sends an object: "
            f"{snippet(body)}", status=status, **where)
    return payload


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta-seconds or an HTTP date), or None.

    ``now`` is the Unix time an HTTP date is measured from (default: the current time).

    >>> retry_after_seconds("Thu, 01 Jan 1970 00:01:00 GMT", now=30.0)
    30.0
    """
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _not_json(body: bytes, status: int, content_type: str, where: Mapping[str, Any]) -> ResponseFormatError:
    start = body.lstrip()[:1]
    if "csv" in content_type.lower() or body.startswith(BOM):
        what = content_type or "with a byte-order mark"
        return ResponseFormatError(f"HTTP {status}: the reply is CSV ({what}), not CloudMC JSON: "
                                   f"{snippet(body.removeprefix(BOM))}", status=status,
                                   hint="The endpoint answered an export format: ask for JSON (no "
                                        "format=CSV, Accept: application/json)", **where)
    if start == b"<" or "html" in content_type.lower():
        what = "an HTML page, not CloudMC JSON (a proxy or load balancer answered?)"
    elif start in (b"{", b"["):
        return TruncatedReplyError(f"HTTP {status}: the reply is JSON that is cut short or broken: "
                                   f"{snippet(body)}", status=status, **where)
    else:
        what = "not JSON"
    return ResponseFormatError(f"HTTP {status}: the reply is {what}: {snippet(body)}",
                               status=status, **where)


BOM = b"\xef\xbb\xbf"


def _redirect(status: int, headers: Mapping[str, str], where: Mapping[str, Any]) -> ResponseFormatError:
    target = urlsplit(_header(headers, "Location")).netloc or "another address"
    return ResponseFormatError(
        f"CloudMC answered a redirect (HTTP {status}) to {target}; redirects are not followed so "
        "the API key never travels elsewhere", status=status,
        hint="Point the endpoint at the final address", **where)


def _header(headers: Mapping[str, str], name: str) -> str:
    """A header's value whatever its case ('' when absent); requests' headers are case-blind."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), "")
    return value
