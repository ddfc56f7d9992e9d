"""Starting and stopping the server processes under test, and reading their memory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        """The pids that serve requests: the process itself, or its children under --workers N."""
        children = _children(self.process.pid)
        return children or [self.process.pid]

    def rss_kib(self) -> list[int]:
        return [_rss_kib(pid) for pid in self.workers()]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_command(database_url: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "subgroups",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--database-url",
        database_url,
    ]


def baseline_command(port: int, workers: int, http: str | None = None) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "bench.baseline_app",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    return [*command, "--http", http] if http else command


# The service's limits (5,000 sets a minute per workspace) would answer most benchmark requests
# with 429. It is raised out of reach, so requests are still counted against it (that work stays
# on the measured path) but never refused.
SERVICE_ENV = {
    "SUBGROUPS_RATE_LIMIT_SET": "1000000000/minute",
    "SUBGROUPS_RATE_LIMIT_GET": "1000000000/minute",
}


@contextmanager
def running(
    command: list[str], port: int, log: Path, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Runs `command` until the block ends; waits until it answers /healthz."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **SERVICE_ENV, **(env or {})},
            start_new_session=True,
        )
    server = Server(process, port, log)
    try:
        _wait_ready(server)
        yield server
    finally:
        _stop(process)


def _wait_ready(server: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log_text()}")
        try:
            # Always http://127.0.0.1:<port>, built above.
            with urllib.request.urlopen(server.url + "/healthz", timeout=2) as reply:  # noqa: S310
                if reply.status == 200 and len(server.workers()) >= 1:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not become ready:\n{server.log_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
