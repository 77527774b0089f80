"""Where a command reads from: an embedded sandbox (``--sandbox``) or a CloudMC (``--endpoint``).

The key always comes from ``CLOUDMC_API_KEY``, never from the command line (it would land in
the shell history and the process list).

Example::

    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> parser.parse_args(["--sandbox"]).sandbox
    True
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from typing import Any

from ..client import connect
from ..config import ENV_API_KEY, ENV_ENDPOINT
from ..embedded import sandbox
from ..errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--sandbox | --endpoint URL``, ``--allow-insecure``, ``--read-timeout``, ``--offline``,
    ``--fresh``."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--sandbox", action="store_true",
                        help="read an embedded sandbox (orgs=20, seed=7) instead of a CloudMC")
    source.add_argument("--endpoint", metavar="URL", help=f"CloudMC base URL (default: ${ENV_ENDPOINT})")
    parser.add_argument("--allow-insecure", action="store_true",
                        help="allow plain http:// to a host that is not this machine (the key travels "
                             "unencrypted)")
    parser.add_argument("--read-timeout", type=float, metavar="SECONDS",
                        help="seconds to wait for each reply (default 30)")
    parser.add_argument("--offline", action="store_true", help="answer only from the local cache")
    parser.add_argument("--fresh", action="store_true", help="refetch everything, ignoring the cache")


@contextlib.contextmanager
def client_for(args: argparse.Namespace, **settings: Any) -> Iterator[Any]:
    """A client for ``--sandbox`` (a sandbox started for the run), ``--endpoint`` or the environment.

    ``args`` needs ``sandbox``, ``endpoint`` and ``fresh``; ``offline``, ``allow_insecure`` and
    ``read_timeout`` count when the command has them.
    """
    offline, insecure = getattr(args, "offline", False), getattr(args, "allow_insecure", False)
    if offline and args.fresh:
        raise ConfigError("--offline and --fresh contradict each other: pick one")
    if getattr(args, "read_timeout", None) is not None:
        settings["read_timeout"] = args.read_timeout
    if args.sandbox:
        if offline:
            raise ConfigError("--offline needs --endpoint: a sandbox starts with an empty cache")
        with sandbox() as sb, sb.client(**settings) as client:
            yield client
        return
    if args.endpoint and not os.environ.get(ENV_API_KEY, "").strip():
        raise ConfigError(f"{ENV_API_KEY} is not set: export your CloudMC API key (or use --sandbox)")
    with connect(args.endpoint, offline=offline, allow_insecure=insecure,
                 **settings) as client:  # the key comes from CLOUDMC_API_KEY
        yield client
