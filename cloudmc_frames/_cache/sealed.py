"""Signed values for shared stores (Redis): what one credential writes, only it can read back.

What goes into a shared store is a compact entry (:func:`~cloudmc_frames._cache.sqlite.encode_entry`)
signed with a secret derived from endpoint + key (HMAC-SHA256, never pickle); a value another
writer planted, or one of another toolkit version, is refused and the reply fetched again.
``redis`` itself is imported here only to open the connection requests-cache's Redis backend
uses and to recognize its errors.

Example::

    >>> sealer = Sealer("https://h/api/v2", "k")
    >>> sealer.unseal(b"t", sealer.seal(b"t", b'{"a": 1}'))
    b'{"a": 1}'
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from requests_cache import (
    CachedResponse,
    SerializerPipeline,
    Stage,
)

from ..config import CACHE_FORMAT_VERSION, redacted_url
from ..errors import ConfigError
from .sqlite import _bytes_or_entry, decode_entry

REDIS_NAMESPACE = f"cloudmc-frames-v{CACHE_FORMAT_VERSION}"  # Redis keys: "<namespace>:<cache key>"
CACHE_SEAL = f"cloudmc-frames/cache-v{CACHE_FORMAT_VERSION}".encode()
# requests-cache sets a Redis TTL of round(seconds left) + ttl_offset, and stores an entry whose
# sum is 0 (under half a second left when it is stored: expire_after=1 and a slow reply) with no
# TTL at all, for good (checked against requests-cache 1.3.3); one second more keeps every entry
# expiring, at most a second after requests-cache stops using it.
REDIS_TTL_OFFSET = 1


class Sealer:
    """Signs values with a secret derived from endpoint + key (HMAC-SHA256), and checks them.

    Whoever holds the same key can read and write the same sealed values (a team sharing a
    service key shares its cache); a value planted by anyone else is refused. Neither the secret
    nor the key can be read back from a seal.

    >>> sealer = Sealer("https://h/api/v2", "k")
    >>> sealer.unseal(b"t", sealer.seal(b"t", b'{"a": 1}'))
    b'{"a": 1}'
    """

    __slots__ = ("_secret",)

    def __init__(self, endpoint: str, api_key: str) -> None:
        self._secret = hmac.new(api_key.encode(), f"cloudmc-frames/seal-v1\0{endpoint}".encode(),
                                hashlib.sha256).digest()

    def seal(self, tag: bytes, data: bytes) -> bytes:
        """``tag``, the signature of ``tag`` + ``data``, and ``data``: ``b"<tag> <hex>\\n<data>"``."""
        return tag + b" " + self._mac(tag, data).encode() + b"\n" + data

    def unseal(self, tag: bytes, blob: bytes | str) -> bytes:
        """The data of a sealed value; ValueError when it is not one this sealer made for ``tag``."""
        if isinstance(blob, str):
            blob = blob.encode("utf-8", "replace")
        head, newline, data = blob.partition(b"\n")
        seen_tag, space, mac = head.rpartition(b" ")
        if not newline or not space or len(mac) != 64:
            raise ValueError("refused a stored value that this toolkit did not write (not signed)")
        if seen_tag != tag:
            raise ValueError(f"refused a stored value of another format ({seen_tag[:40]!r}, "
                             f"this toolkit reads {tag!r})")
        if not hmac.compare_digest(mac, self._mac(tag, data).encode()):
            raise ValueError("refused a stored value not signed for this endpoint and key")
        return data

    def _mac(self, tag: bytes, data: bytes) -> str:
        return hmac.new(self._secret, tag + b"\n" + data, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "<Sealer secret hidden>"

    def __reduce__(self):
        raise TypeError("a Sealer holds a secret derived from the API key and is not picklable")


class _RefusingPipeline(SerializerPipeline):
    """A serializer pipeline whose every failure to read a value is a ValueError.

    requests-cache turns AttributeError/ImportError/PickleError/TypeError/ValueError while reading
    into a miss; a cattrs validation error (an ExceptionGroup) or a KeyError would escape it and
    fail the request (checked against requests-cache 1.3.3). ``copy`` keeps the class
    (requests-cache copies the pipeline it is given).
    """

    def __init__(self, stages: Any, *, name: str, on_refused: Callable[[Exception], None]) -> None:
        super().__init__(stages, name=name, is_binary=True)
        self._on_refused = on_refused

    def loads(self, value: Any) -> CachedResponse:
        try:
            return super().loads(value)
        except (ValueError, KeyError, TypeError, AttributeError, ExceptionGroup) as exc:
            self._on_refused(exc)
            raise ValueError(str(exc)) from None

    def copy(self) -> _RefusingPipeline:
        return _RefusingPipeline([stage.copy() for stage in self.stages], name=self.name or "",
                                 on_refused=self._on_refused)


def sealed_serializer(sealer: Sealer, on_refused: Callable[[Exception], None]) -> SerializerPipeline:
    """The compact entries of :func:`encode_entry`, sealed for one endpoint + key: never pickle.

    ``on_refused(error)`` is told about every stored value that was refused (requests-cache then
    treats it as a miss and fetches the reply again, overwriting it).
    """
    seal = Stage(dumps=lambda entry: sealer.seal(CACHE_SEAL, entry),
                 loads=lambda blob: sealer.unseal(CACHE_SEAL, blob))
    return _RefusingPipeline([Stage(dumps=_bytes_or_entry, loads=decode_entry), seal],
                             name="cloudmc-frames-sealed", on_refused=on_refused)


def import_redis() -> Any:
    """The ``redis`` module, or a ConfigError naming the extra that installs it."""
    try:
        import redis
        from redis.backoff import NoBackoff  # noqa: F401 - both are needed by open_redis
        from redis.retry import Retry  # noqa: F401
    except ImportError:
        raise ConfigError("cache_backend='redis' needs the redis package: "
                          "pip install 'cloudmc-frames[redis]'") from None
    return redis


def open_redis(url: str, timeout: float) -> Any:
    """A ``redis.Redis`` on ``url`` that has answered a PING (a RedisError when it cannot).

    Each command waits at most ``timeout`` seconds and is not retried (redis-py >= 6 retries
    three times with backoff by default): a Redis that is down is noticed at once, and the cache
    falls back to SQLite instead.
    """
    redis = import_redis()
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    try:
        connection = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                          retry=Retry(NoBackoff(), 0))
    except ValueError as exc:
        raise ConfigError(f"cache_url {redacted_url(url)!r} is not usable: {exc}") from None
    connection.ping()
    return connection


def store_errors(backend: str) -> tuple[type[BaseException], ...]:
    """The errors that mean a shared store stopped answering (none for local backends)."""
    return (import_redis().RedisError,) if backend == "redis" else ()


