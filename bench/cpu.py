"""CPU time per request of `set, 1 email` on SQLite, per thread of the server.

    python -m bench.cpu                              5 runs of 8 s at 16 connections
    python -m bench.cpu --source OTHER/src           and a server on another checkout, in turns
    BENCH_DURATION=15s python -m bench.cpu --rounds 3 --connections 4

On a machine shared with other work, requests per second say more about the neighbours than
about the code; the CPU time the server process spends per request moves far less. It is read
from /proc around each run of wrk: the event loop's thread (the process's main thread) and the
others together (the SQLite writer nearly all of it), user and system time. The writer's metrics
give the mean batch and commit time of the same run. With --source, each server runs the code
under that directory (PYTHONPATH), and the runs alternate between them, so that the machine's
drift weighs on both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.fixtures import Fixture, sqlite_url
from bench.load import ensure_wrk, run_wrk
from bench.servers import running, service_command
from bench.suite import EMAIL

TICKS = os.sysconf("SC_CLK_TCK")
WRITER_METRICS = (
    "batch_size_sum",
    "batch_size_count",
    "commit_seconds_sum",
    "commit_seconds_count",
)


@dataclass(frozen=True)
class ThreadTimes:
    """CPU seconds so far: (user, system) of the main thread, and of all the others together."""

    main: tuple[float, float]
    others: tuple[float, float]


@dataclass(frozen=True)
class Run:
    requests: int
    rps: float
    p99_ms: float
    main_us: float
    main_system_us: float
    others_us: float
    others_system_us: float
    batch: float
    commit_ms: float

    @property
    def total_us(self) -> float:
        return self.main_us + self.others_us


def thread_times(pid: int) -> ThreadTimes:
    main, others = (0.0, 0.0), (0.0, 0.0)
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            raw = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:  # a thread that ended meanwhile
            continue
        # After the command name (which may hold spaces): utime and stime are fields 14 and 15.
        fields = raw.rpartition(")")[2].split()
        user, system = int(fields[11]) / TICKS, int(fields[12]) / TICKS
        if int(tid) == pid:
            main = (user, system)
        else:
            others = (others[0] + user, others[1] + system)
    return ThreadTimes(main, others)


def writer_metrics(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url + "/metrics") as response:  # noqa: S310  # our own server
        text = response.read().decode()
    found: dict[str, float] = {}
    for line in text.splitlines():
        for name in WRITER_METRICS:
            if line.startswith(f"subgroups_sqlite_writer_{name} "):
                found[name] = float(line.split()[1])
    return found


def measure(url: str, pid: int, fixture: Fixture, duration: str, connections: int) -> Run:
    group = fixture.new_group("cpu")
    time.sleep(0.5)
    metrics_before, before = writer_metrics(url), thread_times(pid)
    result = run_wrk(
        url,
        key=fixture.tenant.key,
        group_id=group,
        mix=EMAIL,
        connections=connections,
        duration=duration,
    )
    time.sleep(0.3)  # the requests wrk left in flight
    after, metrics_after = thread_times(pid), writer_metrics(url)
    n = max(result.requests, 1)
    change = {k: metrics_after.get(k, 0.0) - metrics_before.get(k, 0.0) for k in WRITER_METRICS}

    def per_request(seconds: float) -> float:
        return seconds / n * 1e6

    return Run(
        requests=result.requests,
        rps=result.rps,
        p99_ms=result.p99_ms,
        main_us=per_request(sum(after.main) - sum(before.main)),
        main_system_us=per_request(after.main[1] - before.main[1]),
        others_us=per_request(sum(after.others) - sum(before.others)),
        others_system_us=per_request(after.others[1] - before.others[1]),
        batch=change["batch_size_sum"] / max(change["batch_size_count"], 1.0),
        commit_ms=change["commit_seconds_sum"] / max(change["commit_seconds_count"], 1.0) * 1000,
    )


def describe_run(label: str, run: Run) -> str:
    load = Path("/proc/loadavg").read_text().split()[0]
    return (
        f"{label}: {run.requests:,} requests, {run.rps:,.0f} req/s, p99 {run.p99_ms:.1f} ms |"
        f" CPU {run.total_us:.0f} us/request: event loop {run.main_us:.0f}"
        f" (system {run.main_system_us:.0f}), other threads {run.others_us:.0f}"
        f" (system {run.others_system_us:.0f}) | batch {run.batch:.1f}, commit"
        f" {run.commit_ms:.2f} ms | load {load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--source", action="append", default=[], help="another checkout's src")
    args = parser.parse_args()
    duration = os.environ.get("BENCH_DURATION", "8s")
    ensure_wrk()
    sources: list[str | None] = [None, *args.source]
    runs: dict[str | None, list[Run]] = {source: [] for source in sources}
    with tempfile.TemporaryDirectory() as directory, ExitStack() as stack:
        url = sqlite_url(Path(directory))
        fixture = Fixture(url)
        fixture.seed(EMAIL)
        servers = {}
        for number, source in enumerate(sources):
            env = {"PYTHONPATH": str(Path(source).resolve())} if source else {}
            log = Path(directory) / f"server-{number}.log"
            server = stack.enter_context(running(service_command(url, 1), log, env))
            run_wrk(
                server.url,
                key=fixture.tenant.key,
                group_id=fixture.new_group("warm-up"),
                mix=EMAIL,
                connections=16,
                duration="3s",
            )
            servers[source] = server
        for round_number in range(args.rounds):
            order = sources if round_number % 2 == 0 else sources[::-1]
            for source in order:
                server = servers[source]
                run = measure(server.url, server.process.pid, fixture, duration, args.connections)
                runs[source].append(run)
                print(describe_run(source or "this checkout", run), flush=True)
    print("medians:")
    for source, done in runs.items():
        print(
            f"{source or 'this checkout'}: CPU"
            f" {statistics.median(r.total_us for r in done):.0f} us/request, event loop"
            f" {statistics.median(r.main_us for r in done):.0f}, other threads"
            f" {statistics.median(r.others_us for r in done):.0f};"
            f" {statistics.median(r.rps for r in done):,.0f} req/s,"
            f" p99 {statistics.median(r.p99_ms for r in done):.1f} ms"
        )


if __name__ == "__main__":
    main()
