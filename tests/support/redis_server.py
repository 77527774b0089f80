"""A private redis-server for tests: a unix socket in a temporary folder, no port, nothing saved.

Debian's ``redis-server`` is what CI installs (``.ci/run``). Without it, :func:`require_redis_server`
skips with a message on a developer's machine and fails in CI (``CI`` set), so the Redis cases can
never silently vanish from a CI run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

START_TIMEOUT = 10.0


def require_redis_server() -> str:
    """The path of ``redis-server``; skip (locally) or fail (in CI) when it is not installed."""
    exe = shutil.which("redis-server")
    if exe:
        return exe
    message = "redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)"
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI: {message}")
    pytest.skip(message)


class RedisServer:
    """One redis-server process listening only on ``folder/redis.sock``; ``url`` for the toolkit.

    ``password`` turns on ``requirepass``. :meth:`kill` is SIGKILL (a crash, not a shutdown).
    """

    def __init__(self, folder: Path, *, password: str | None = None) -> None:
        self.folder = Path(folder)
        self.socket = str(self.folder / "redis.sock")
        self.password = password
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        auth = f"?password={self.password}" if self.password else ""
        return f"unix://{self.socket}{auth}"

    def start(self) -> RedisServer:
        exe = require_redis_server()
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [exe, "--port", "0", "--unixsocket", self.socket, "--unixsocketperm", "700",
                "--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        if self.password:
            args += ["--requirepass", self.password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.connection().ping()
                return self
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on {self.socket}") from None
                time.sleep(0.02)

    def connection(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=self.socket, password=self.password)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
