"""Serving a notebook with voila for the browser tests, and the Chromium they drive.

Chromium is Debian's ``/usr/bin/chromium`` driven by Python playwright (``playwright install``
is never needed); voila runs in a subprocess on a free port of 127.0.0.1.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_voila(folder: Path, environ: dict, attempts: int = 3,
                notebook: str = "app.ipynb") -> tuple[subprocess.Popen, int]:
    """voila serving ``notebook`` on a free port of 127.0.0.1 (another port if that one got taken)."""
    log = folder / "voila.log"
    for _ in range(attempts):
        port = free_port()
        with log.open("w") as out:  # a file, not a pipe: a full pipe would block voila
            proc = subprocess.Popen(
                [sys.executable, "-m", "voila", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
                 "--Voila.port_retries=0", notebook],
                cwd=folder, env=environ, stdout=out, stderr=subprocess.STDOUT)
        if listening(port, proc):
            return proc, port
    raise RuntimeError(f"voila did not start: {log.read_text()[-2000:]}")


def listening(port: int, proc: subprocess.Popen, timeout: float = 30) -> bool:
    """True once voila accepts connections; False if it exited (port taken meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise TimeoutError(f"voila did not listen on port {port} within {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    """Stop voila (SIGTERM, then kill)."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
