"""Call options and the argument checks every entry point shares.

:class:`CrawlOptions` is built once per call from its keyword arguments (``errors``,
``max_workers``, ``progress``, ``fresh``, ``timeout``, ``budget``) and checks them there; the accessors'
fan-out, the reports and the batch runs all take it. :func:`check_client` is the one "is this a
client" check, and :func:`check_text` the one "non-empty string" check.

Example::

    >>> CrawlOptions.from_kwargs({"max_workers": 4}, errors="raise").max_workers
    4
    >>> CrawlOptions.from_kwargs({"workers": 4})
    Traceback (most recent call last):
    ...
    cloudmc_frames.errors.ConfigError: unknown option(s) workers: use max_workers=, progress=, ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .client import Client
from .errors import ConfigError

ERRORS = ("raise", "collect")
CRAWL_OPTIONS = ("max_workers", "progress", "fresh", "timeout", "budget")


@dataclass(frozen=True)
class CrawlOptions:
    """How one call crawls: ``errors`` mode, ``max_workers`` (None: the client's setting),
    ``progress`` (None: bars for long crawls), ``fresh``, ``timeout`` (seconds or None) and
    ``budget`` (at most this many network calls; None: no limit)."""

    errors: str = "collect"
    max_workers: int | None = None
    progress: bool | None = None
    fresh: bool = False
    timeout: float | None = None
    budget: int | None = None

    def __post_init__(self) -> None:
        if self.errors not in ERRORS:
            raise ConfigError(f"errors must be 'raise' or 'collect', got {self.errors!r}")
        workers = self.max_workers
        if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool)
                                    or workers < 1):
            raise ConfigError(f"max_workers must be a positive integer, got {workers!r}")
        timeout = self.timeout
        if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
        budget = self.budget
        if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool) or budget < 0):
            raise ConfigError(f"budget must be a number of network calls (an integer >= 0), got {budget!r}")

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any], errors: str = "collect") -> CrawlOptions:
        """The options of one call from its ``**kwargs``; ConfigError naming an unknown or bad one."""
        unknown = set(kwargs) - set(CRAWL_OPTIONS)
        if unknown:
            raise ConfigError(f"unknown option(s) {', '.join(sorted(unknown))}: "
                              f"use {', '.join(o + '=' for o in CRAWL_OPTIONS)}")
        options = dict(kwargs)
        if "fresh" in options:
            options["fresh"] = bool(options["fresh"])
        return cls(errors, **options)

    def workers(self, client: Client, jobs: int | None = None) -> int:
        """Threads to use: ``max_workers`` (else the client's setting), at most ``jobs``, at least 1."""
        workers = client.settings.max_workers if self.max_workers is None else self.max_workers
        return workers if jobs is None else max(1, min(workers, jobs))

    def show_progress(self, client: Client) -> bool | None:
        """``progress``, else the client's setting (None: decide by the size of the crawl)."""
        return client.settings.progress if self.progress is None else self.progress

    def as_kwargs(self) -> dict[str, Any]:
        """The crawl options that differ from the defaults, to pass on to an accessor."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name in CRAWL_OPTIONS and getattr(self, f.name) != f.default}


def check_client(client: Any) -> None:
    """ConfigError unless ``client`` comes from ``cmf.connect()`` or ``sandbox.client()``."""
    if not isinstance(client, Client):
        raise ConfigError(f"expected a client from cmf.connect() or sandbox.client(), got "
                          f"{type(client).__name__}")


def check_text(name: str, value: Any) -> None:
    """ConfigError unless ``value`` is a non-empty string (``name`` says which argument)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name} must be a non-empty string, got {value!r}")
