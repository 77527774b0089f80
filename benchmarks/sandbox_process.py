"""Serve an embedded sandbox from a child process (its own GIL, like a remote CloudMC)."""

from __future__ import annotations

import re
import subprocess
import sys


def start_sandbox(*options: str) -> tuple[subprocess.Popen, str, str]:
    """``cloudmc-frames sandbox <options>`` in a child; return it, its endpoint and root key.

    >>> proc, endpoint, key = start_sandbox("--orgs", "20")     # doctest: +SKIP
    """
    proc = subprocess.Popen([sys.executable, "-m", "cloudmc_frames.cli", "sandbox", *options],
                            stdout=subprocess.PIPE, text=True)
    endpoint = key = None
    for line in proc.stdout:
        if match := re.match(r"export CLOUDMC_ENDPOINT=(\S+)", line):
            endpoint = match.group(1)
        if match := re.match(r"export CLOUDMC_API_KEY=(\S+)", line):
            key = match.group(1)
        if endpoint and key:
            return proc, endpoint, key
    raise SystemExit("the sandbox did not start")


class SandboxProcess:
    """A ``SandboxServer`` in a child process with a control pipe, for benchmarks that change its
    rate limits between runs and read its own counts (``RateLimiter.stats()``).

    >>> with SandboxProcess(orgs=200, rate_limit="key=50") as sb:      # doctest: +SKIP
    ...     sb.rate_limits("set", "key=50,org:<id>=1"); sb.rate_limits("stats")
    """

    def __init__(self, **options) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.proc = context.Process(target=_serve, args=(child, options), daemon=True)
        self.proc.start()
        self.endpoint, self.api_key = self._conn.recv()

    def rate_limits(self, method: str, *args):
        """Call ``server.rate_limits.<method>(*args)`` in the child and return its result."""
        self._conn.send((method, args))
        return self._conn.recv()

    def close(self) -> None:
        self._conn.send(("stop", ()))
        self.proc.join(10)

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(conn, options: dict) -> None:
    """The child: serve until told to stop, answering rate-limit calls from the parent."""
    from cloudmc_frames.sandbox import SandboxServer

    with SandboxServer(**options) as server:
        conn.send((server.endpoint, server.api_key))
        while True:
            method, args = conn.recv()
            if method == "stop":
                return
            conn.send(getattr(server.rate_limits, method)(*args))
