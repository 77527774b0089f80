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
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ConfigError

ENV_ENDPOINT = "CLOUDMC_ENDPOINT"
ENV_API_KEY = "CLOUDMC_API_KEY"
ENV_CACHE_DIR = "CLOUDMC_CACHE_DIR"
API_PREFIX = "/api/v2"

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_RETRIES = 4
DEFAULT_RETRY_BUDGET = 60.0
DEFAULT_BACKOFF_FACTOR = 0.5
DEFAULT_BACKOFF_MAX = 10.0
DEFAULT_PAGE_SIZE = 100
DEFAULT_MAX_PAGES = 10_000
DEFAULT_EXPIRE_AFTER = 300.0
DEFAULT_MAX_WORKERS = 8
DEFAULT_CACHE_BACKEND = "sqlite"
CACHE_FORMAT_VERSION = 1


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
        cache_dir: Folder of the SQLite/filesystem cache (default: the user cache dir).
        expire_after: Seconds a cached listing stays fresh; ``urls_expire_after`` overrides per URL
            pattern (requests-cache syntax).
        offline: Answer only from the cache; a miss raises ``CacheMissError``.
        allow_insecure: Permit plain ``http://`` to a host that is not loopback.
        max_workers: Threads of the accessors' fan-out.
        progress: Show a tqdm bar on long crawls (``None``: only when more than a few scopes).
    """

    endpoint: str
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    retries: int = DEFAULT_RETRIES
    retry_budget: float = DEFAULT_RETRY_BUDGET
    backoff_factor: float = DEFAULT_BACKOFF_FACTOR
    backoff_max: float = DEFAULT_BACKOFF_MAX
    page_size: int = DEFAULT_PAGE_SIZE
    max_pages: int = DEFAULT_MAX_PAGES
    cache_backend: str = DEFAULT_CACHE_BACKEND
    cache_dir: str | None = None
    expire_after: float = DEFAULT_EXPIRE_AFTER
    urls_expire_after: tuple[tuple[str, float], ...] = ()
    offline: bool = False
    allow_insecure: bool = False
    max_workers: int = DEFAULT_MAX_WORKERS
    progress: bool | None = None

    @classmethod
    def from_options(cls, endpoint: str, **options: object) -> Settings:
        """Validate ``endpoint`` and ``options`` into a Settings; unknown names raise ConfigError."""
        known = {f.name for f in dataclasses.fields(cls)} - {"endpoint"}
        for name in options:
            if name not in known:
                raise ConfigError(_unknown_option_message(name, known))
        values = {name: _coerce(name, value) for name, value in options.items()}
        settings = cls(endpoint=normalize_endpoint(endpoint), **values)
        check_transport(settings.endpoint, allow_insecure=settings.allow_insecure)
        return settings

    @property
    def base_url(self) -> str:
        """The endpoint without the ``/api/v2`` suffix (scheme://host[:port][/prefix])."""
        return self.endpoint[: -len(API_PREFIX)]

    @property
    def cache_path(self) -> Path:
        """Where the SQLite or filesystem cache lives (a format version is part of the name)."""
        folder = Path(self.cache_dir or os.environ.get(ENV_CACHE_DIR) or _user_cache_dir())
        return folder / f"http-cache-v{CACHE_FORMAT_VERSION}"


def from_env(environ: dict[str, str] | None = None) -> tuple[str, str]:
    """Return ``(endpoint, api_key)`` from ``CLOUDMC_ENDPOINT`` / ``CLOUDMC_API_KEY``.

    Raises ConfigError naming both variables (and the sandbox) when either is missing.
    """
    environ = os.environ if environ is None else environ
    endpoint = environ.get(ENV_ENDPOINT, "").strip()
    api_key = environ.get(ENV_API_KEY, "").strip()
    if not endpoint or not api_key:
        missing = [n for n, v in ((ENV_ENDPOINT, endpoint), (ENV_API_KEY, api_key)) if not v]
        raise ConfigError(
            f"{' and '.join(missing)} not set: set {ENV_ENDPOINT} and {ENV_API_KEY} "
            "(or pass endpoint= and api_key= to cmf.connect()), or try the toolkit without an "
            "account: `with cmf.sandbox() as sb: client = sb.client()`"
        )
    return endpoint, api_key


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


_NUMBER_FIELDS = {
    "connect_timeout", "read_timeout", "retry_budget", "backoff_factor", "backoff_max",
    "expire_after",
}
_INT_FIELDS = {"retries", "page_size", "max_pages", "max_workers"}
_MINIMUM = {"page_size": 1, "max_pages": 1, "max_workers": 1, "retries": 0}


def _coerce(name: str, value: object) -> object:
    """Check one option's type and range; return the normalized value."""
    if name in _NUMBER_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{name} must be a non-negative number of seconds, got {value!r}")
        return float(value)
    if name in _INT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int) or value < _MINIMUM[name]:
            raise ConfigError(f"{name} must be an integer >= {_MINIMUM[name]}, got {value!r}")
        return value
    if name in ("offline", "allow_insecure") and not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, got {value!r}")
    if name == "progress" and value is not None and not isinstance(value, bool):
        raise ConfigError(f"progress must be True, False or None, got {value!r}")
    if name == "urls_expire_after":
        return _coerce_url_expiry(value)
    if name in ("cache_backend", "cache_dir") and value is not None:
        if not isinstance(value, str | os.PathLike):
            raise ConfigError(f"{name} must be a string, got {value!r}")
        return os.fspath(value)
    return value


def _coerce_url_expiry(value: object) -> tuple[tuple[str, float], ...]:
    items = value.items() if isinstance(value, dict) else value
    try:
        return tuple((str(pattern), float(seconds)) for pattern, seconds in items)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ConfigError(
            "urls_expire_after must map URL patterns to seconds, e.g. {'*/templates*': 3600}"
        ) from None


def _unknown_option_message(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown option {name!r}.{hint} Valid options: {', '.join(sorted(known))}"


def _user_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "cloudmc-frames")
