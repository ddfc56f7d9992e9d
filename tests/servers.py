"""Real server processes on free ports of 127.0.0.1: started, awaited until they serve, stopped.

The tests, the benchmarks and the scripts all start servers this way. The module sits in the tests
package because that is the one place all three can import from: pytest and `python -m bench` put
the repository root on the path, and the scripts add it. The wheel ships only `src/subgroups`, so
nothing here reaches a deployment. It uses the standard library alone, so a benchmark needs
nothing beyond what the service itself installs.

    with running(ServerProcess(subgroups("serve", database_url), log=tmp / "server.log")) as server:
        httpx.get(f"{server.url}/healthz")
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

START_TIMEOUT_SECONDS = 30.0
STOP_GRACE_SECONDS = 15.0
POLL_SECONDS = 0.05


class ServerDidNotStart(RuntimeError):
    """The process exited, or did not answer its readiness path in time; the message holds its log."""


def free_port() -> int:
    """A port nothing listens on at this moment (another process could take it before the server
    binds it; a server that then fails to start says so in its log)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def subgroups(command: str, database_url: str, *, workers: int | None = None) -> list[str]:
    """The arguments after `python -m` that run `subgroups <command>` (serve, demo) on a database."""
    arguments = ["subgroups", command, "--database-url", database_url]
    return [*arguments, "--workers", str(workers)] if workers is not None else arguments


class ServerProcess:
    """One `python -m <arguments> --port <free port>` process.

    `log` receives the server's stderr, and its stdout unless `keep_stdout` is false (then it is
    discarded); without a log both go where this process's go. The server's environment is this
    process's plus `env`; `inherit_settings=False` first drops every SUBGROUPS_ variable, so that
    the server runs on its flags and `env` alone, whatever the shell that runs the tests exports.
    The process leads a session of its own, so that stopping it also stops the workers it forks.
    """

    def __init__(
        self,
        arguments: Sequence[str],
        *,
        log: Path | None = None,
        keep_stdout: bool = True,
        env: Mapping[str, str] | None = None,
        inherit_settings: bool = False,
        ready_path: str = "/healthz",
        start_timeout: float = START_TIMEOUT_SECONDS,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.port = free_port()
        self.command = [sys.executable, "-m", *arguments, "--port", str(self.port)]
        self.log = log
        self.keep_stdout = keep_stdout
        self.env = environment(env or {}, inherit_settings=inherit_settings)
        self.ready_path = ready_path
        self.start_timeout = start_timeout
        self.stop_signal = stop_signal
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def process(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError("the server has not been started")
        return self._process

    def connect(self, timeout: float = 30.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def log_text(self) -> str:
        if self.log is None or not self.log.exists():
            return "(the server's output went to this process's own)"
        return self.log.read_text(errors="replace")

    def start(self) -> None:
        """Starts the process and returns once it serves; a server that does not is killed."""
        self.spawn()
        try:
            self.wait_until_ready()
        except BaseException:
            self.kill()
            raise

    def spawn(self) -> None:
        """Starts the process without waiting for it: servers spawned together start side by side."""
        with _output(self.log) as stderr:
            stdout = stderr if self.keep_stdout else subprocess.DEVNULL
            self._process = subprocess.Popen(
                self.command, stdout=stdout, stderr=stderr, env=self.env, start_new_session=True
            )

    def wait_until_ready(self) -> None:
        """Waits until `ready_path` answers 200; raises ServerDidNotStart with the log otherwise."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerDidNotStart(
                    f"the server exited with {self.process.returncode}:\n{self.log_text()}"
                )
            if self._answers():
                return
            time.sleep(POLL_SECONDS)
        raise ServerDidNotStart(
            f"the server did not answer {self.ready_path} within {self.start_timeout:.0f} s:\n"
            f"{self.log_text()}"
        )

    def _answers(self) -> bool:
        try:
            # Always http://127.0.0.1:<port>, built here.
            with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as reply:  # noqa: S310
                status: int = reply.status
                return status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def stop(self) -> None:
        """Asks the server to stop with `stop_signal`, and kills it if it has not within the grace."""
        stop_all([self])

    def kill(self) -> None:
        """SIGKILL to the server and its workers: no shutdown, no flushing, nothing."""
        if self.alive:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def stop_all(servers: Sequence[ServerProcess]) -> None:
    """Signals every server first, then waits for each: they shut down side by side."""
    alive = [server for server in servers if server.alive]
    for server in alive:
        server.process.send_signal(server.stop_signal)
    for server in alive:
        try:
            server.process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()


@contextmanager
def running(server: ServerProcess) -> Iterator[ServerProcess]:
    """The server, serving, until the block ends; stopped however the block ends."""
    with running_together([server]) as [started]:
        yield started


@contextmanager
def running_together(servers: list[ServerProcess]) -> Iterator[list[ServerProcess]]:
    """Several servers, spawned side by side, each serving, until the block ends."""
    try:
        for server in servers:
            server.spawn()
        for server in servers:
            server.wait_until_ready()
        yield servers
    finally:
        stop_all(servers)


def environment(
    env: Mapping[str, str] | None = None, *, inherit_settings: bool = False
) -> dict[str, str]:
    """This process's environment plus `env`, for a child process; see ServerProcess."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if inherit_settings or not name.startswith("SUBGROUPS_")
    }
    return {**inherited, **(env or {})}


@contextmanager
def _output(log: Path | None) -> Iterator[int | None]:
    """The file descriptor the server writes to; the child keeps its own copy once started."""
    if log is None:
        yield None
        return
    with log.open("wb") as file:
        yield file.fileno()
