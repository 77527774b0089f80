"""``cmf.sandbox()``: the embedded CloudMC server plus a ready client for any of its users.

The server itself (:mod:`cloudmc_frames.sandbox`) imports nothing from the toolkit; this module
adds the one convenience that needs the client.

Example::

    >>> import cloudmc_frames as cmf
    >>> with cmf.sandbox(orgs=20, seed=7) as sb:
    ...     client = sb.client()                       # the root reseller administrator
    ...     len(cmf.organizations(client)) > 0
    True
"""

from __future__ import annotations

from typing import Any

from .client import Client, connect
from .errors import ConfigError
from .sandbox import SandboxServer

SANDBOX_CLIENT_DEFAULTS = {"cache_backend": "memory"}


class Sandbox(SandboxServer):
    """An embedded CloudMC on 127.0.0.1 (``.endpoint``, ``.api_key``, ``.keys``) with ``.client()``."""

    def client(self, user: Any = None, **settings: Any) -> Client:
        """A client for the root administrator, or for ``user`` (a user name or a ``keys`` entry).

        Sandbox clients cache in memory by default (pass ``cache_backend="sqlite"`` to persist,
        or ``cache_url=`` for a Redis cache).
        """
        key = self.api_key if user is None else self.key_for(user)
        defaults = {} if "cache_url" in settings else SANDBOX_CLIENT_DEFAULTS
        return connect(self.endpoint, key, **{**defaults, **settings})

    def key_for(self, user: Any) -> str:
        """The API key of a sandbox user, by user name or by an entry of ``keys``."""
        for info in self.keys:
            if user is info or user == info.user_name:
                return info.key
        raise ConfigError(f"no sandbox user {user!r}; see sandbox.keys for names, orgs and roles")


def sandbox(**scenario: Any) -> Sandbox:
    """An embedded CloudMC server; use it as a context manager (it starts on entry).

    ``scenario``: ``orgs``, ``seed``, ``scale``, ``latency_ms``, ``faults``, ``task_delay``, ...
    (see :class:`cloudmc_frames.sandbox.SandboxServer`).
    """
    return Sandbox(**scenario)
