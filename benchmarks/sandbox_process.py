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
