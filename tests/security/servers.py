"""Real `subgroups serve` processes on loopback, for what only a real server shows."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass(frozen=True)
class Server:
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connect(self, timeout: float = 30.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)


@contextmanager
def running_server(
    database_url: str, log: Path, env: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """A server on a free port, stopped (SIGINT, as Ctrl-C would) when the block ends."""
    with running_servers(database_url, [log], env) as [server]:
        yield server


@contextmanager
def running_servers(
    database_url: str, logs: list[Path], env: Mapping[str, str] | None = None
) -> Iterator[list[Server]]:
    """One server per log file, started side by side, all on the same database."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SUBGROUPS_")}
    environment.update(env or {})
    started: list[tuple[Server, subprocess.Popen[bytes]]] = []
    try:
        for log in logs:
            server = Server(free_port(), log)
            command = [sys.executable, "-m", "subgroups", "serve", "--port", str(server.port)]
            with log.open("wb") as stderr:
                process = subprocess.Popen(
                    [*command, "--database-url", database_url],
                    env=environment,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                )
            started.append((server, process))
        for server, process in started:
            _wait_until_ready(server, process)
        yield [server for server, _ in started]
    finally:
        for _, process in started:
            process.send_signal(signal.SIGINT)
        for _, process in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_ready(server: Server, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{server.log.read_text()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not start:\n{server.log.read_text()}")


def read_response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection or goes quiet."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received and _complete(received):
                break
    except (ConnectionResetError, TimeoutError):
        pass
    return received


def _complete(raw: bytes) -> bool:
    head, _, rest = raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(rest) >= int(value.strip())
    return True
