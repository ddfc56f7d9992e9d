"""Real `subgroups serve` processes on loopback, for what only a real server shows.

Each runs on its flags and the settings a test gives it; its stderr (the log) goes to a file of
the test's, and its stdout is dropped, so the file holds log lines alone.
"""

from __future__ import annotations

import shutil
import signal
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.servers import ServerProcess, running_together, subgroups


def database_copy(template: Path, folder: Path) -> str:
    """A migrated SQLite database of its own for a module's server, copied from the template."""
    path = folder / "subgroups.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def serve(database_url: str, log: Path, env: Mapping[str, str] | None = None) -> ServerProcess:
    """Stopped with SIGINT, as Ctrl-C would stop it."""
    return ServerProcess(
        subgroups("serve", database_url),
        log=log,
        keep_stdout=False,
        env=env,
        stop_signal=signal.SIGINT,
    )


@contextmanager
def running_server(
    database_url: str, log: Path, env: Mapping[str, str] | None = None
) -> Iterator[ServerProcess]:
    """A server on a free port until the block ends."""
    with running_servers(database_url, [log], env) as [server]:
        yield server


@contextmanager
def running_servers(
    database_url: str, logs: list[Path], env: Mapping[str, str] | None = None
) -> Iterator[list[ServerProcess]]:
    """One server per log file, started side by side, all on the same database."""
    with running_together([serve(database_url, log, env) for log in logs]) as servers:
        yield servers


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
