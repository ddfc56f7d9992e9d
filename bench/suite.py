"""The benchmark suite: which runs, in which order, against which servers."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import ServerProcess

from bench import imports, report, webhooks
from bench.fixtures import POSTGRES_ADMIN_URL, Fixture, scratch_database
from bench.load import LoadResult, Mix, ensure_wrk, run_wrk
from bench.machine import describe
from bench.options import Options, parse_options
from bench.pgbench import run_pgbench, script
from bench.results import Row
from bench.servers import baseline_command, rss_kib, running, service_command

EMAIL = Mix("email", 2000, "e")
EXT50 = Mix("ext50", 10_000, "x")
OVERLAP = Mix("overlap", 200, "o")
# Reads over the profiles EXT50 made, in a group whose states its runs set.
GET50 = Mix("get50", 10_000, "x")
USER1 = Mix("user1", 10_000, "x")
SCENARIO = {
    "email": "set, 1 email",
    "ext50": "set, 50 external ids",
    "overlap": "overlapping",
    "get50": "status/get, 50 external ids",
    "user1": "user/status, 1 external id",
}
PGBENCH = "pgbench, same SQL as 50 ids"
PG_DATABASE = "subgroups_bench"
BASELINE = "bare Starlette endpoint"
SETTLE_SECONDS = 2.0
SQLITE_NORMAL = "SQLite, synchronous=NORMAL"
METRICS_ON = "metrics on"
METRICS_OFF = "metrics off"


@dataclass
class Plan:
    quick: bool
    duration: str
    warmup: str
    connections: tuple[int, ...]
    backends: tuple[str, ...]
    logs: Path
    rows: list[Row] = field(default_factory=list)
    memory: list[report.MemorySample] = field(default_factory=list)
    consistency: list[report.Consistency] = field(default_factory=list)
    log_findings: list[tuple[str, dict[str, int]]] = field(default_factory=list)

    def record(self, row: Row) -> None:
        self.rows.append(row)
        print(row.line(), flush=True)

    def baseline(self, connections: int, workers: int = 1) -> float | None:
        """The bare endpoint's rate: the mean of its runs so far (before and after the service's)."""
        found = [
            row.rps
            for row in self.rows
            if (row.scenario, row.connections, row.workers) == (BASELINE, connections, workers)
        ]
        return sum(found) / len(found) if found else None


def parse_args(argv: list[str]) -> Plan:
    options = parse_options("python -m bench", __doc__, argv)
    quick = options.quick
    return Plan(
        quick=quick,
        duration=os.environ.get("BENCH_DURATION", "5s" if quick else "15s"),
        warmup=os.environ.get("BENCH_WARMUP", "1s" if quick else "3s"),
        connections=(16,) if quick else (4, 16, 64),
        backends=options.backends,
        logs=Path(tempfile.mkdtemp(prefix="subgroups-bench-")),
    )


def main(argv: list[str] | None = None) -> None:
    plan = parse_args(sys.argv[1:] if argv is None else argv)
    ensure_wrk()
    machine = describe(POSTGRES_ADMIN_URL)
    for name, value in machine:
        print(f"{name}: {value}")
    print(f"runs of {plan.duration} after a {plan.warmup} warm-up; logs in {plan.logs}\n")
    run_baseline(plan, workers=1, connections_list=plan.connections)
    if not plan.quick:
        run_baseline(plan, workers=2, connections_list=(16,))
        # The service runs httptools (with a bounded head); h11, uvicorn's other parser, for scale:
        run_baseline(plan, workers=1, connections_list=(16,), http="h11")
    for backend in plan.backends:
        with database(backend, plan) as url:
            run_service(plan, backend, url, workers=1)
            if not plan.quick:
                run_metrics_cost(plan, backend, url)
                run_workers(plan, backend, url)
                if backend == "sqlite":
                    run_sqlite_normal(plan, url)
    # The machine is shared and its speed drifts: the baseline again, after the service's runs,
    # and each ratio against the mean of both.
    run_baseline(plan, workers=1, connections_list=plan.connections)
    for row in plan.rows:
        if row.baseline_rps is not None:
            row.baseline_rps = plan.baseline(row.connections, row.workers)
    report.write(plan_report(plan, machine))
    # Webhook delivery under load, and CSV import and export: figures of their own, each in its
    # own section.
    webhooks.run(webhooks.plan_for(Options(plan.quick, plan.backends)))
    imports.run(Options(plan.quick, plan.backends))


def plan_report(plan: Plan, machine: list[tuple[str, str]]) -> report.Report:
    command = "make bench" + (" (quick: python -m bench --quick)" if plan.quick else "")
    env = [f"{k}={os.environ[k]}" for k in ("BENCH_DURATION", "BENCH_WARMUP") if k in os.environ]
    return report.Report(
        region="quick" if plan.quick else "full",
        command=" ".join([*env, command]) if env else command,
        duration=plan.duration,
        machine=machine,
        rows=plan.rows,
        memory=plan.memory,
        consistency=plan.consistency,
        log_findings=plan.log_findings,
    )


def database(backend: str, plan: Plan) -> AbstractContextManager[str]:
    return scratch_database(backend, plan.logs, PG_DATABASE)


def run_baseline(
    plan: Plan, *, workers: int, connections_list: tuple[int, ...], http: str | None = None
) -> None:
    log = plan.logs / f"baseline-w{workers}-{http or 'default'}.log"
    with running(baseline_command(workers, http), log) as server:
        load(server, plan, key="none", group_id="none", mix=EMAIL, connections=16, warmup=True)
        for connections in connections_list:
            result = load(
                server, plan, key="none", group_id="none", mix=EMAIL, connections=connections
            )
            plan.record(
                Row(
                    BASELINE if http is None else f"{BASELINE}, {http} parser",
                    "-",
                    workers,
                    connections,
                    result.rps,
                    result.p50_ms,
                    result.p99_ms,
                    failures=result.errors + result.bad_status,
                )
            )


def load(
    server: ServerProcess,
    plan: Plan,
    *,
    key: str,
    group_id: str,
    mix: Mix,
    connections: int,
    warmup: bool = False,
) -> LoadResult:
    return run_wrk(
        server.url,
        key=key,
        group_id=group_id,
        mix=mix,
        connections=connections,
        duration=plan.warmup if warmup else plan.duration,
    )


def run_service(plan: Plan, backend: str, url: str, *, workers: int) -> None:
    fixture = Fixture(url)
    mixes = (EMAIL, EXT50) if plan.quick else (EMAIL, EXT50, OVERLAP)
    for mix in mixes:
        fixture.seed(mix)
    log = plan.logs / f"{backend}-w{workers}.log"
    with warmed_up(plan, fixture, service_command(url, workers), log) as server:
        served = 0
        plan.memory.append(report.MemorySample(backend, served, rss_kib(server)))
        for mix in (EMAIL, EXT50):
            for connections in plan.connections:
                result = measure(plan, server, fixture, backend, workers, mix, connections)
                served += result.requests
                plan.memory.append(report.MemorySample(backend, served, rss_kib(server)))
                if backend == "postgresql" and mix is EXT50:
                    measure_pgbench(plan, fixture, connections)
        read_group = fixture.new_group("reads")
        fixture.subscribe_all(read_group, EXT50)
        for mix in (GET50, USER1):
            for connections in plan.connections:
                result = measure_read(plan, server, fixture, backend, mix, connections, read_group)
                served += result.requests
                plan.memory.append(report.MemorySample(backend, served, rss_kib(server)))
        if not plan.quick:
            for connections in (4, 64):
                result = measure(plan, server, fixture, backend, workers, OVERLAP, connections)
                served += result.requests
                plan.memory.append(report.MemorySample(backend, served, rss_kib(server)))
        scan_log(plan, server, backend)


@contextmanager
def warmed_up(
    plan: Plan, fixture: Fixture, command: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """The service, running, after a warm-up run on a group of its own."""
    with running(command, log, env) as server:
        warm = fixture.new_group("warm-up")
        load(
            server,
            plan,
            key=fixture.tenant.key,
            group_id=warm,
            mix=EMAIL,
            connections=16,
            warmup=True,
        )
        yield server


def run_sqlite_normal(plan: Plan, url: str) -> None:
    """The same runs with `synchronous=NORMAL`: no disk flush per commit, so an acknowledged
    write survives a crash of the process but not of the machine. Measured, not the default."""
    fixture = Fixture(url)
    log = plan.logs / "sqlite-normal.log"
    env = {"SUBGROUPS_SQLITE_SYNCHRONOUS": "NORMAL"}
    with warmed_up(plan, fixture, service_command(url, 1), log, env) as server:
        for mix in (EMAIL, EXT50):
            for connections in plan.connections:
                measure(plan, server, fixture, "sqlite", 1, mix, connections, label=SQLITE_NORMAL)
        scan_log(plan, server, SQLITE_NORMAL)


def run_workers(plan: Plan, backend: str, url: str) -> None:
    """Several worker processes on one database: how the figures move, and that nothing fails."""
    fixture = Fixture(url)
    counts = (2,) if backend == "postgresql" else (2, 4)
    for workers in counts:
        log = plan.logs / f"{backend}-w{workers}.log"
        with warmed_up(plan, fixture, service_command(url, workers), log) as server:
            for mix in (EMAIL, EXT50):
                measure(plan, server, fixture, backend, workers, mix, 16)
            scan_log(plan, server, backend, workers)


def measure(
    plan: Plan,
    server: ServerProcess,
    fixture: Fixture,
    backend: str,
    workers: int,
    mix: Mix,
    connections: int,
    label: str | None = None,
) -> LoadResult:
    group_id = fixture.new_group(f"{mix.mode} c{connections}")
    result = load(
        server, plan, key=fixture.tenant.key, group_id=group_id, mix=mix, connections=connections
    )
    # wrk stops waiting when its time is up; requests already in the server still finish.
    time.sleep(SETTLE_SECONDS)
    changes = fixture.count_changes(group_id)
    note = ""
    if mix.mode == "overlap":
        checked, broken = fixture.lost_updates(group_id)
        plan.consistency.append(report.Consistency(backend, connections, checked, broken))
        note = f"history checked: {checked:,} changes, {broken} inconsistent"
    plan.record(
        Row(
            SCENARIO[mix.mode],
            label or ("SQLite" if backend == "sqlite" else "PostgreSQL"),
            workers,
            connections,
            result.rps,
            result.p50_ms,
            result.p99_ms,
            failures=result.errors + result.bad_status,
            changes_per_s=changes / result.seconds,
            baseline_rps=plan.baseline(connections, workers),
            note=note,
        )
    )
    return result


def measure_read(
    plan: Plan,
    server: ServerProcess,
    fixture: Fixture,
    backend: str,
    mix: Mix,
    connections: int,
    group_id: str,
) -> LoadResult:
    result = load(
        server, plan, key=fixture.tenant.key, group_id=group_id, mix=mix, connections=connections
    )
    plan.record(
        Row(
            SCENARIO[mix.mode],
            "SQLite" if backend == "sqlite" else "PostgreSQL",
            1,
            connections,
            result.rps,
            result.p50_ms,
            result.p99_ms,
            failures=result.errors + result.bad_status,
            baseline_rps=plan.baseline(connections),
        )
    )
    return result


def run_metrics_cost(plan: Plan, backend: str, url: str) -> None:
    """set, 1 email at 16 connections on a server recording metrics and on one that does not
    (SUBGROUPS_METRICS=off), both started before either is measured, in turns (on, off, on,
    off), so that the machine's drift weighs on both alike."""
    fixture = Fixture(url)
    on_log, off_log = (
        plan.logs / f"{backend}-metrics-on.log",
        plan.logs / f"{backend}-metrics-off.log",
    )
    off_env = {"SUBGROUPS_METRICS": "off"}
    with (
        warmed_up(plan, fixture, service_command(url, 1), on_log) as on,
        warmed_up(plan, fixture, service_command(url, 1), off_log, off_env) as off,
    ):
        name = "SQLite" if backend == "sqlite" else "PostgreSQL"
        for _ in range(2):
            for server, label in ((on, METRICS_ON), (off, METRICS_OFF)):
                measure(plan, server, fixture, backend, 1, EMAIL, 16, label=f"{name}, {label}")
        scan_log(plan, on, f"{name}, {METRICS_ON}")
        scan_log(plan, off, f"{name}, {METRICS_OFF}")


def measure_pgbench(plan: Plan, fixture: Fixture, connections: int) -> None:
    group_id = fixture.new_group(f"pgbench c{connections}")
    sql = script(
        workspace_id=fixture.tenant.workspace_id,
        group_pk=fixture.group_pk(group_id),
        group_id=group_id,
        mix=EXT50,
        api_key_id=fixture.tenant.key_id,
    )
    result = run_pgbench(
        fixture.database_url, sql, connections=connections, duration_s=seconds(plan.duration)
    )
    plan.record(
        Row(
            PGBENCH,
            "PostgreSQL",
            0,
            connections,
            result.rps,
            result.p50_ms,
            result.p99_ms,
            failures=result.errors,
            changes_per_s=fixture.count_changes(group_id) / result.seconds,
        )
    )


def seconds(duration: str) -> int:
    """wrk's duration ("15s", "2m") in whole seconds, for pgbench."""
    units = {"s": 1, "m": 60, "h": 3600}
    if duration[-1] in units:
        return max(1, int(float(duration[:-1]) * units[duration[-1]]))
    return max(1, int(float(duration)))


def scan_log(plan: Plan, server: ServerProcess, backend: str, workers: int = 1) -> None:
    """Counts what a server logged going wrong: tracebacks, deadlocks, lock time-outs.

    A client that hangs up mid-request (wrk does, when a run ends) gets an access line with status
    499; those are counted apart, as they are not failures of the service.
    """
    text = server.log_text()
    tracebacks = text.split("Traceback (most recent call last)")[1:]
    hang_ups = text.count('"status":499')
    found = {
        "tracebacks": len(tracebacks),
        "deadlocks": text.lower().count("deadlock detected"),
        "lock time-outs": text.count("database is locked"),
        "client hang-ups at the end of a run": hang_ups,
    }
    plan.log_findings.append((f"{backend}, {workers} worker{'s' if workers > 1 else ''}", found))
    if found["tracebacks"] or found["deadlocks"] or found["lock time-outs"]:
        print(f"!! {backend} server log: {found}; see {server.log}", flush=True)
