"""Client settings: one frozen :class:`Settings` record, its defaults and the environment.

Every option a user can pass to :func:`cloudmc_frames.connect` is a field here; an unknown
option name raises :class:`~cloudmc_frames.errors.ConfigError` with the closest valid name.

Example::

    >>> from cloudmc_frames.config import Settings
    >>> Settings.from_options("https://cloudmc.example.com", read_timeout=10).read_timeout
    10.0
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .errors import ConfigError

ENV_ENDPOINT = "CLOUDMC_ENDPOINT"
ENV_API_KEY = "CLOUDMC_API_KEY"
ENV_CACHE_DIR = "CLOUDMC_CACHE_DIR"
ENV_CACHE_URL = "CLOUDMC_CACHE_URL"
API_PREFIX = "/api/v2"

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_RETRIES = 4
DEFAULT_RETRY_BUDGET = 60.0
DEFAULT_BACKOFF_FACTOR = 0.5
DEFAULT_BACKOFF_MAX = 10.0
DEFAULT_PAGE_SIZE = 500
DEFAULT_MAX_PAGES = 10_000
DEFAULT_EXPIRE_AFTER = 300.0
DEFAULT_MAX_WORKERS = 8
DEFAULT_CACHE_BACKEND = "sqlite"
DEFAULT_MEMORY_CACHE_MB = 256.0
CACHE_FORMAT_VERSION = 2
REDIS_SCHEMES = ("redis", "rediss", "unix")


# -- validators: each takes the option's name and value, returns the normalized value ----------

def _non_negative(unit: str) -> Callable[[str, object], float]:
    def check(name: str, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{name} must be a non-negative number of {unit}, got {value!r}")
        return float(value)

    return check


_seconds = _non_negative("seconds")


def _at_least(minimum: int) -> Callable[[str, object], int]:
    def check(name: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
        return value

    return check


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, got {value!r}")
    return value


def _flag_or_none(name: str, value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ConfigError(f"{name} must be True, False or None, got {value!r}")
    return value


def _text_or_path(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike):
        raise ConfigError(f"{name} must be a string, got {value!r}")
    return os.fspath(value)


def _url_expiry(name: str, value: object) -> tuple[tuple[str, float], ...]:
    items = value.items() if isinstance(value, dict) else value
    try:
        return tuple((str(pattern), float(seconds)) for pattern, seconds in items)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ConfigError(
            f"{name} must map URL patterns to seconds, e.g. {{'*/templates*': 3600}}"
        ) from None


def _cache_url(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name} must be a Redis URL such as 'redis://host:6379/0', got {value!r}")
    return check_redis_url(value.strip())


def _option(default: Any, check: Callable[[str, object], Any], *, shown: bool = True) -> Any:
    """A Settings field with its default and the validator :meth:`Settings.from_options` runs."""
    return field(default=default, metadata={"check": check}, repr=shown)


@dataclass(frozen=True)
class Settings:
    """Everything that shapes how a client talks to CloudMC (never the API key itself).

    Attributes:
        endpoint: Base URL of the API, normalized to end in ``/api/v2``.
        connect_timeout, read_timeout: Seconds for the TCP connect and for each read.
        retries: Extra attempts for idempotent requests (GETs and task polls).
        retry_budget: Seconds after which no new attempt starts, whatever ``retries`` says.
        backoff_factor, backoff_max: Exponential backoff ``factor * 2**n`` (with jitter), capped.
        page_size, max_pages: Paging of list endpoints.
        cache_backend: ``"sqlite"`` (default), ``"memory"``, ``"filesystem"``, ``"redis"``, ...
        cache_dir: Folder of the SQLite/filesystem cache and of the operations journal (default:
            ``CLOUDMC_CACHE_DIR`` or the user cache dir).
        cache_url: The Redis server of ``cache_backend="redis"`` (``redis://``, ``rediss://`` or
            ``unix://``; default ``CLOUDMC_CACHE_URL``, which also makes ``"redis"`` the default
            backend). Never shown in reprs: it may hold a password.
        expire_after: Seconds a cached listing stays fresh; ``urls_expire_after`` overrides per URL
            pattern (requests-cache syntax).
        offline: Answer only from the cache; a miss raises ``CacheMissError``.
        allow_insecure: Permit plain ``http://`` to a host that is not loopback.
        max_workers: Threads of the accessors' fan-out.
        memory_cache_mb: Megabytes of replies a client keeps in memory for repeated calls (least
            recently used go first; 0 keeps none).
        progress: Show a tqdm bar on long crawls (``None``: only when more than a few scopes).
    """

    endpoint: str
    connect_timeout: float = _option(DEFAULT_CONNECT_TIMEOUT, _seconds)
    read_timeout: float = _option(DEFAULT_READ_TIMEOUT, _seconds)
    retries: int = _option(DEFAULT_RETRIES, _at_least(0))
    retry_budget: float = _option(DEFAULT_RETRY_BUDGET, _seconds)
    backoff_factor: float = _option(DEFAULT_BACKOFF_FACTOR, _seconds)
    backoff_max: float = _option(DEFAULT_BACKOFF_MAX, _seconds)
    page_size: int = _option(DEFAULT_PAGE_SIZE, _at_least(1))
    max_pages: int = _option(DEFAULT_MAX_PAGES, _at_least(1))
    cache_backend: str = _option(DEFAULT_CACHE_BACKEND, _text_or_path)
    cache_dir: str | None = _option(None, _text_or_path)
    cache_url: str | None = _option(None, _cache_url, shown=False)
    expire_after: float = _option(DEFAULT_EXPIRE_AFTER, _seconds)
    urls_expire_after: tuple[tuple[str, float], ...] = _option((), _url_expiry)
    offline: bool = _option(False, _flag)
    allow_insecure: bool = _option(False, _flag)
    max_workers: int = _option(DEFAULT_MAX_WORKERS, _at_least(1))
    memory_cache_mb: float = _option(DEFAULT_MEMORY_CACHE_MB, _non_negative("megabytes"))
    progress: bool | None = _option(None, _flag_or_none)

    @classmethod
    def from_options(cls, endpoint: str, **options: object) -> Settings:
        """Validate ``endpoint`` and ``options`` into a Settings; unknown names raise ConfigError."""
        checks = {f.name: f.metadata["check"] for f in dataclasses.fields(cls) if f.metadata}
        for name in options:
            if name not in checks:
                raise ConfigError(_unknown_option_message(name, set(checks)))
        values = {name: checks[name](name, value) for name, value in options.items()}
        values.update(cache_choice(values, os.environ.get(ENV_CACHE_URL, "").strip() or None))
        settings = cls(endpoint=normalize_endpoint(endpoint), **values)
        check_transport(settings.endpoint, allow_insecure=settings.allow_insecure)
        return settings

    @property
    def cache_path(self) -> Path:
        """Where the SQLite or filesystem cache lives (a format version is part of the name)."""
        folder = Path(self.cache_dir or os.environ.get(ENV_CACHE_DIR) or _user_cache_dir())
        return folder / f"http-cache-v{CACHE_FORMAT_VERSION}"


def cache_choice(options: Mapping[str, Any], env_url: str | None) -> dict[str, Any]:
    """``cache_backend`` and ``cache_url`` from the options given and ``CLOUDMC_CACHE_URL``.

    The variable makes Redis the default backend; an explicit ``cache_backend`` wins over it.

    >>> cache_choice({}, "redis://cache:6379/0")
    {'cache_backend': 'redis', 'cache_url': 'redis://cache:6379/0'}
    >>> cache_choice({"cache_backend": "sqlite"}, "redis://cache:6379/0")
    {'cache_backend': 'sqlite', 'cache_url': None}
    """
    backend, url = options.get("cache_backend"), options.get("cache_url")
    if url is None and env_url is not None and backend in (None, "redis"):
        url = _cache_url(ENV_CACHE_URL, env_url)
    backend = backend or ("redis" if url else DEFAULT_CACHE_BACKEND)
    if backend == "redis" and url is None:
        raise ConfigError(f"cache_backend='redis' needs the server: pass cache_url='redis://host:6379/0' "
                          f"(or unix:///path/to/redis.sock) or set {ENV_CACHE_URL}")
    if backend != "redis" and url is not None:
        raise ConfigError(f"cache_url is for cache_backend='redis', not {backend!r}: drop one of them")
    return {"cache_backend": backend, "cache_url": url}


def check_redis_url(url: str) -> str:
    """``url`` if it names a Redis server (``redis://``, ``rediss://``, ``unix://``), else ConfigError.

    >>> check_redis_url("unix:///run/redis/redis.sock?db=2")
    'unix:///run/redis/redis.sock?db=2'
    """
    parts = urlsplit(url)
    example = "redis://[:password@]host[:6379][/db], rediss://... (TLS) or unix:///path/to/redis.sock"
    if parts.scheme not in REDIS_SCHEMES:
        raise ConfigError(f"cache_url {redacted_url(url)!r} is not a Redis URL: use {example}")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"cache_url {redacted_url(url)!r} has an invalid port") from None
    db = parts.path.strip("/") if parts.scheme != "unix" else dict(parse_qsl(parts.query)).get("db", "0")
    if parts.scheme == "unix" and not parts.path.startswith("/"):
        raise ConfigError(f"cache_url {redacted_url(url)!r} needs an absolute socket path: {example}")
    if parts.scheme != "unix" and (not parts.hostname or (db and not db.isdigit())):
        raise ConfigError(f"cache_url {redacted_url(url)!r} needs a host and at most a database "
                          f"number (port {port or 6379}): {example}")
    return url


def redacted_url(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` parameter) replaced by ``***``.

    >>> redacted_url("redis://:s3cret@cache:6379/0")
    'redis://:***@cache:6379/0'
    >>> redacted_url("unix:///tmp/r.sock?password=s3cret&db=1")
    'unix:///tmp/r.sock?password=***&db=1'
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:***@{host}"
    query = "&".join(f"{k}=***" if k == "password" else f"{k}={v}"
                     for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def credentials(endpoint: str | None = None, api_key: str | None = None,
                environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``(endpoint, api_key)``: the arguments, else ``CLOUDMC_ENDPOINT`` / ``CLOUDMC_API_KEY``.

    Raises ConfigError naming the missing variables (and the sandbox) when either is still missing.

    >>> credentials("https://h", None, {"CLOUDMC_API_KEY": "k"})
    ('https://h', 'k')
    """
    environ = os.environ if environ is None else environ
    if endpoint is None:
        endpoint = environ.get(ENV_ENDPOINT, "").strip() or None
    if api_key is None:
        api_key = environ.get(ENV_API_KEY, "").strip() or None
    if endpoint is None or api_key is None:
        missing = [n for n, v in ((ENV_ENDPOINT, endpoint), (ENV_API_KEY, api_key)) if v is None]
        raise ConfigError(
            f"{' and '.join(missing)} not set: set {ENV_ENDPOINT} and {ENV_API_KEY} "
            "(or pass endpoint= and api_key= to cmf.connect()), or try the toolkit without an "
            "account: `with cmf.sandbox() as sb: client = sb.client()`"
        )
    return endpoint, api_key


def from_env(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``(endpoint, api_key)`` from ``CLOUDMC_ENDPOINT`` / ``CLOUDMC_API_KEY`` (ConfigError if unset)."""
    return credentials(None, None, environ)


def normalize_endpoint(endpoint: object) -> str:
    """Accept ``https://host``, ``https://host/api/v2`` (trailing slash or not); return ``.../api/v2``.

    >>> normalize_endpoint("https://cloudmc.example.com/")
    'https://cloudmc.example.com/api/v2'
    """
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise ConfigError(
            f"endpoint must be a URL such as 'https://cloudmc.example.com', got {endpoint!r}"
        )
    text = endpoint.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"endpoint {endpoint!r} is not an http(s) URL: use the form "
            "'https://cloudmc.example.com' (optionally ending in /api/v2)"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"endpoint {endpoint!r} must not carry a query string or fragment")
    try:
        parts.port  # noqa: B018 - validates the port number
    except ValueError as exc:
        raise ConfigError(f"endpoint {endpoint!r} has an invalid port: {exc}") from None
    path = parts.path
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)]
    return f"{parts.scheme}://{parts.netloc}{path}{API_PREFIX}"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_transport(endpoint: str, *, allow_insecure: bool) -> None:
    """Refuse plain ``http://`` to a non-loopback host unless the caller opted in."""
    parts = urlsplit(endpoint)
    if parts.scheme == "http" and not allow_insecure and not is_loopback(parts.hostname or ""):
        raise ConfigError(
            f"refusing plain http:// to {parts.hostname}: the API key would cross the network "
            "unencrypted. Use https://, or pass allow_insecure=True if you really mean it"
        )


def _unknown_option_message(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown option {name!r}.{hint} Valid options: {', '.join(sorted(known))}"


def _user_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "cloudmc-frames")


def check_api_key(api_key: object) -> None:
    """ConfigError unless ``api_key`` is a non-empty string without spaces or control characters."""
    if api_key is not None and not isinstance(api_key, str):
        raise ConfigError(f"the API key must be a string, got {type(api_key).__name__}: pass "
                          "api_key= as text or set CLOUDMC_API_KEY")
    if not isinstance(api_key, str) or not api_key.strip():
        raise ConfigError("the API key is empty: pass api_key= or set CLOUDMC_API_KEY "
                          "(CloudMC > your profile > API key)")
    if any(ch.isspace() or ord(ch) < 32 for ch in api_key):
        raise ConfigError("the API key contains spaces or control characters: copy it again "
                          "without surrounding whitespace")
