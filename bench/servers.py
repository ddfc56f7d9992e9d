"""The server processes under test, as the benchmarks run them, and their memory."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.servers import ServerProcess, subgroups
from tests.servers import running as running_process

# The service's limits (5,000 sets a minute per workspace) would answer most benchmark requests
# with 429. It is raised out of reach, so requests are still counted against it (that work stays
# on the measured path) but never refused.
SERVICE_ENV = {
    "SUBGROUPS_RATE_LIMIT_SET": "1000000000/minute",
    "SUBGROUPS_RATE_LIMIT_GET": "1000000000/minute",
}


def service_command(database_url: str, workers: int) -> list[str]:
    return subgroups("serve", database_url, workers=workers)


def baseline_command(workers: int, http: str | None = None) -> list[str]:
    command = ["bench.baseline_app", "--workers", str(workers)]
    return [*command, "--http", http] if http else command


@contextmanager
def running(
    command: list[str], log: Path, env: Mapping[str, str] | None = None
) -> Iterator[ServerProcess]:
    """Runs `python -m <command>` on a free port until the block ends, its output in `log`.

    It sees the settings this process was given (SUBGROUPS_...), so that a run can try one.
    """
    server = ServerProcess(
        command,
        log=log,
        env={**SERVICE_ENV, **(env or {})},
        inherit_settings=True,
        start_timeout=60.0,
        stop_signal=signal.SIGINT,
    )
    with running_process(server) as started:
        yield started


def rss_kib(server: ServerProcess) -> int:
    """The resident memory of the processes that serve requests: the server itself, or the workers
    it forked under --workers N."""
    pid = server.process.pid
    return sum(_rss_kib(worker) for worker in _children(pid) or [pid])


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


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) a process and the workers it forked have used so far: what a
    figure cost, whatever else the machine was running."""
    return sum(_cpu_seconds(p) for p in [pid, *_children(pid)])


def _cpu_seconds(pid: int) -> float:
    try:
        # Fields after the command name (which may hold spaces), from the 3rd: utime is the 14th.
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
