"""Webhook delivery under load: the four figures of the webhooks issue, on both backends.

    python -m bench.webhooks            sustained 60 s, a backlog of 100,000 (about 10 min)
    python -m bench.webhooks --quick    sustained 15 s, a backlog of 10,000
    (`make bench` runs it after the set endpoint's suite)

Every figure runs against real processes: `subgroups serve` (or `subgroups worker`), and a
receiver in a process of its own (`bench/receiver.py`) on loopback that answers 204 at once.

1. Sustained load: a paced client (asyncio and httpx, in this process) sends 100 requests a second
   of 5 external ids each, every one a real change: 500 state changes/s. Every 100 ms the
   oldest-undelivered age is sampled from the service's own figure (`WebhookService.backlog()`,
   the one `/metrics` shows: now minus when the oldest change not yet delivered happened, 0 when
   none) with the backlog (changes acknowledged minus distinct events arrived at the receiver).
   The receiver also measures, per event, arrival minus when the change happened.
2. Drain: with no dispatcher running, 100,000 changes are made behind an endpoint's cursor; then
   one `subgroups worker` starts, and deliveries/s is distinct events over first to last arrival.
3. Overhead: the set endpoint's throughput (wrk, 1 email per request, 16 connections) in a
   workspace with no endpoint and in one with an endpoint, on the same server, alternately.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import text
from tests.servers import ServerProcess, environment
from tests.servers import running as running_process

from bench import report
from bench.fixtures import POSTGRES_ADMIN_URL, Fixture, scratch_database
from bench.load import Mix, ensure_wrk, run_wrk
from bench.machine import describe
from bench.options import Options, parse_options
from bench.servers import cpu_seconds, running, service_command
from subgroups.config import Settings
from subgroups.container import Services, build_services
from subgroups.domain.models import Actor, Source
from subgroups.domain.subscriptions import GroupRequest

PG_DATABASE = "subgroups_bench_webhooks"
RATE = 500  # state changes a second
IDS_PER_REQUEST = 5
SAMPLE_SECONDS = 0.1
POOL = Mix("ext50", 10_000, "h")
EMAIL = Mix("email", 2000, "e")
CLIENT_CONNECTIONS = 32
WRK_CONNECTIONS = 16
# How long a figure waits for the events of its load to arrive before it moves on (and says how
# many were still on their way): on a loaded machine a backlog can take far longer to deliver.
WAIT_SECONDS = 60.0
MAKE_CONCURRENCY = 8  # set calls in flight while making the backlog (the writer batches them)
# The settings that change a run's sizes (the report names those set).
SIZES = (
    "BENCH_DURATION",
    "BENCH_WEBHOOK_SECONDS",
    "BENCH_WEBHOOK_BACKLOG",
    "BENCH_WEBHOOK_DRAIN_SECONDS",
)
# Delivery to a receiver on loopback must be allowed; every process shares the sealing key.
HOOK_ENV = {
    "SUBGROUPS_WEBHOOK_ALLOW_PRIVATE": "true",
    "SUBGROUPS_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
}


@dataclass(frozen=True)
class Sustained:
    backend: str
    seconds: float  # from the first request sent to the last answered
    offered: int  # changes sent, on the schedule
    changes: int  # changes acknowledged
    delivered: int
    duplicates: int
    ages: list[float]  # oldest-undelivered age, s, one a sample
    backlogs: list[tuple[float, int]]  # (s since start, undelivered changes)
    receiver_p50: float
    receiver_p99: float
    receiver_max: float
    late_requests: int  # requests sent more than 100 ms after their slot
    failures: int
    missing: int = 0  # events not arrived WAIT_SECONDS after the load ended
    serve_cpu_seconds: float = 0.0  # the server's, from the start of the load to then

    @property
    def slope(self) -> float:
        """Backlog growth in changes a second: a least-squares line through the samples."""
        if len(self.backlogs) < 2:
            return 0.0
        xs, ys = [t for t, _ in self.backlogs], [float(b) for _, b in self.backlogs]
        return statistics.linear_regression(xs, ys).slope

    def age(self, q: float) -> float:
        ordered = sorted(self.ages)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


@dataclass(frozen=True)
class Drain:
    backend: str
    events: int
    seconds: float  # first to last arrival
    wall_seconds: float  # from the worker's start to the last arrival
    duplicates: int
    backlog: int  # events waiting when the worker started
    worker_cpu_seconds: float
    receiver_cpu_seconds: float

    @property
    def worker_ms_per_event(self) -> float:
        return 1000 * self.worker_cpu_seconds / self.events if self.events else 0.0

    @property
    def receiver_ms_per_event(self) -> float:
        return 1000 * self.receiver_cpu_seconds / self.events if self.events else 0.0

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Overhead:
    backend: str
    without: list[float]  # req/s, one a run
    with_endpoint: list[float]
    # After each run with the endpoint: (seconds until all its events had arrived, or until
    # WAIT_SECONDS, and how many had not by then).
    drains: list[tuple[float, int]]
    failures: int

    @property
    def ratio(self) -> float:
        return statistics.mean(self.with_endpoint) / statistics.mean(self.without)


@dataclass
class Plan:
    quick: bool
    backends: tuple[str, ...]
    logs: Path
    sustained_seconds: float
    backlog: int
    wrk_duration: str
    rounds: int
    drain_window: float  # the longest the worker is given to drain the backlog
    sustained: list[Sustained] = field(default_factory=list)
    drains: list[Drain] = field(default_factory=list)
    overheads: list[Overhead] = field(default_factory=list)


def parse_args(argv: list[str]) -> Plan:
    return plan_for(parse_options("python -m bench.webhooks", __doc__, argv))


def plan_for(options: Options) -> Plan:
    quick = options.quick
    return Plan(
        quick=quick,
        backends=options.backends,
        logs=Path(tempfile.mkdtemp(prefix="subgroups-bench-webhooks-")),
        sustained_seconds=float(os.environ.get("BENCH_WEBHOOK_SECONDS", 15 if quick else 60)),
        backlog=int(os.environ.get("BENCH_WEBHOOK_BACKLOG", 10_000 if quick else 100_000)),
        wrk_duration=os.environ.get("BENCH_DURATION", "5s" if quick else "15s"),
        rounds=1 if quick else 2,
        drain_window=float(os.environ.get("BENCH_WEBHOOK_DRAIN_SECONDS", 30 if quick else 120)),
    )


def main(argv: list[str] | None = None) -> None:
    plan = parse_args(sys.argv[1:] if argv is None else argv)
    run(plan)


def run(plan: Plan) -> None:
    ensure_wrk()
    os.environ.update(HOOK_ENV)
    machine = describe(POSTGRES_ADMIN_URL)
    print(f"webhooks: logs in {plan.logs}", flush=True)
    with receiving(plan.logs / "receiver.log") as receiver:
        for backend in plan.backends:
            with database(backend, plan) as url:
                measure_backend(plan, backend, url, receiver)
    report.write_block(
        "webhooks-quick" if plan.quick else "webhooks", render(plan, machine), report.BENCHMARKS
    )


@contextmanager
def receiving(log: Path) -> Iterator[Receiver]:
    process = ServerProcess(["bench.receiver"], log=log, start_timeout=30.0)
    with running_process(process) as started:
        yield Receiver(started.url, started.process.pid)


def database(backend: str, plan: Plan) -> AbstractContextManager[str]:
    return scratch_database(backend, plan.logs, PG_DATABASE)


class Receiver:
    def __init__(self, url: str, pid: int) -> None:
        self.url = url
        self.hook_url = f"{url}/hooks/subgroups"
        self.pid = pid

    def _get(self, path: str) -> dict[str, float]:
        answer = httpx.get(self.url + path, timeout=10)
        answer.raise_for_status()
        found: dict[str, float] = answer.json()
        return found

    def reset(self) -> None:
        httpx.post(self.url + "/reset", timeout=10).raise_for_status()

    def counts(self) -> dict[str, float]:
        return self._get("/count")

    def stats(self) -> dict[str, float]:
        return self._get("/stats")

    def wait_for(self, events: int, timeout: float = WAIT_SECONDS) -> tuple[float, int]:
        """(seconds waited, events still missing) once `events` distinct events have arrived, or
        `timeout` has passed."""
        start = time.monotonic()
        missing = events - int(self.counts()["unique"])
        while missing > 0 and time.monotonic() - start < timeout:
            time.sleep(SAMPLE_SECONDS)
            missing = events - int(self.counts()["unique"])
        return time.monotonic() - start, max(0, missing)


class HookFixture(Fixture):
    """A workspace whose settings let it have a webhook endpoint on loopback."""

    def __init__(self, database_url: str) -> None:
        settings = Settings.from_env({**HOOK_ENV, "SUBGROUPS_DATABASE_URL": database_url})
        super().__init__(database_url, replace(settings, db_pool_size=2))

    def add_endpoint(self, url: str) -> None:
        async def action(services: Services) -> int:
            made = await services.webhooks.create(workspace_id=self.tenant.workspace_id, url=url)
            return made.endpoint.cursor

        # Changes after this one are the endpoint's events.
        self.cursor = self._run(action)

    def events(self) -> int:
        """How many events the endpoint has had so far: the workspace's changes after its start."""

        async def action(services: Services) -> int:
            async with services.db.snapshot() as conn:
                result = await conn.execute(
                    text("SELECT count(*) FROM state_changes WHERE workspace_id = :w AND id > :c"),
                    {"w": self.tenant.workspace_id, "c": self.cursor},
                )
                return int(result.scalar_one())

        return self._run(action)

    def make_changes(self, group_id: str, count: int) -> None:
        """`count` changes to `group_id` made through the services, in 50-id calls that walk the
        pool and flip each state on every pass (so every one is a change)."""
        batches = POOL.pool // 50

        async def one(services: Services, k: int) -> None:
            b = k % batches
            ids = [POOL.value(b * 50 + j) for j in range(50)]
            state = "subscribed" if (k // batches) % 2 == 0 else "unsubscribed"
            await services.subscriptions.set_states(
                workspace_id=self.tenant.workspace_id,
                requests=[GroupRequest(group_id, state, external_id=ids)],
                actor=Actor(Source.CLI),
            )

        async def action(services: Services) -> None:
            calls = count // 50
            for start in range(0, calls, MAKE_CONCURRENCY):
                end = min(calls, start + MAKE_CONCURRENCY)
                await asyncio.gather(*(one(services, k) for k in range(start, end)))

        self._run(action)


def measure_backend(plan: Plan, backend: str, url: str, receiver: Receiver) -> None:
    name = "SQLite" if backend == "sqlite" else "PostgreSQL"
    plain, hooked = HookFixture(url), HookFixture(url)
    for fixture in (plain, hooked):
        fixture.seed(EMAIL)
    hooked.seed(POOL)
    receiver.reset()
    hooked.add_endpoint(receiver.hook_url)
    log = plan.logs / f"{backend}-serve.log"
    with running(service_command(url, 1), log) as server:
        plan.overheads.append(overhead(plan, name, server, plain, hooked, receiver))
        plan.sustained.append(sustained(plan, name, server, hooked, receiver))
    plan.drains.append(drain(plan, name, url, hooked, receiver))


def overhead(
    plan: Plan,
    name: str,
    server: ServerProcess,
    plain: HookFixture,
    hooked: HookFixture,
    receiver: Receiver,
) -> Overhead:
    result = Overhead(name, [], [], [], 0)
    failures = 0
    for fixture in (plain, hooked):  # warm-up, both workspaces
        wrk(server, fixture, "1s")
    receiver.wait_for(hooked.events())
    for _ in range(plan.rounds):
        for fixture in (plain, hooked):
            group_id, rps, failed = wrk(server, fixture, plan.wrk_duration)
            failures += failed
            if fixture is plain:
                result.without.append(rps)
                continue
            result.with_endpoint.append(rps)
            result.drains.append(receiver.wait_for(hooked.events()))
            print(f"  {name} set with an endpoint: {rps:,.0f} req/s ({group_id})", flush=True)
    done = replace(result, failures=failures)
    print(
        f"{name}: set without an endpoint {statistics.mean(done.without):,.0f} req/s, with"
        f" {statistics.mean(done.with_endpoint):,.0f} req/s: {done.ratio:.0%}",
        flush=True,
    )
    return done


def wrk(server: ServerProcess, fixture: HookFixture, duration: str) -> tuple[str, float, int]:
    group_id = fixture.new_group("wrk")
    result = run_wrk(
        server.url,
        key=fixture.tenant.key,
        group_id=group_id,
        mix=EMAIL,
        connections=WRK_CONNECTIONS,
        duration=duration,
    )
    return group_id, result.rps, result.errors + result.bad_status


def sustained(
    plan: Plan, name: str, server: ServerProcess, hooked: HookFixture, receiver: Receiver
) -> Sustained:
    group_id = hooked.new_group("sustained")
    # Events of the runs before that have not arrived yet (on a loaded machine there may be some):
    # they are part of the backlog the run starts with.
    carried = hooked.events() - int(receiver.counts()["unique"])
    receiver.reset()
    cpu = cpu_seconds(server.process.pid)
    load = asyncio.run(paced(plan, server.url, hooked, group_id, receiver, carried))
    _, missing = receiver.wait_for(hooked.count_changes(group_id))
    stats = receiver.stats()
    found = replace(
        load,
        backend=name,
        missing=missing,
        serve_cpu_seconds=cpu_seconds(server.process.pid) - cpu,
        delivered=int(stats["unique"]),
        duplicates=int(stats["arrivals"] - stats["unique"]),
        receiver_p50=stats["p50"],
        receiver_p99=stats["p99"],
        receiver_max=stats["max"],
    )
    print(
        f"{name}: {found.changes:,} changes in {found.seconds:.1f} s; oldest undelivered p50"
        f" {found.age(0.5):.3f} s p99 {found.age(0.99):.3f} s max {max(found.ages):.3f} s;"
        f" backlog slope {found.slope:+.1f}/s",
        flush=True,
    )
    return found


async def paced(
    plan: Plan,
    server_url: str,
    hooked: HookFixture,
    group_id: str,
    receiver: Receiver,
    carried: int,
) -> Sustained:
    """Sends the set requests on a fixed schedule (not as fast as answers come back), sampling the
    delivery backlog all along."""
    services = build_services(hooked.settings)
    requests = int(plan.sustained_seconds * RATE / IDS_PER_REQUEST)
    interval = IDS_PER_REQUEST / RATE
    batches = POOL.pool // IDS_PER_REQUEST
    acked = failures = late = 0
    offered = requests * IDS_PER_REQUEST
    ages: list[float] = []
    backlogs: list[tuple[float, int]] = []
    loop = asyncio.get_running_loop()
    client = httpx.AsyncClient(
        base_url=server_url,
        headers={"Authorization": f"Bearer {hooked.tenant.key}"},
        limits=httpx.Limits(max_connections=CLIENT_CONNECTIONS),
        timeout=30,
    )
    probe = httpx.AsyncClient(base_url=receiver.url, timeout=10)

    async def send(k: int) -> None:
        nonlocal acked, failures
        ids = [POOL.value((k % batches) * IDS_PER_REQUEST + j) for j in range(IDS_PER_REQUEST)]
        body = {
            "subscription_group_id": group_id,
            "subscription_state": "subscribed" if (k // batches) % 2 == 0 else "unsubscribed",
            "external_id": ids,
        }
        try:
            answer = await client.post("/subscription/status/set", json=body)
        except httpx.HTTPError:
            failures += 1
            return
        if answer.is_success:
            acked += IDS_PER_REQUEST
        else:
            failures += 1

    async def sample(start: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            at = loop.time()
            found = await services.webhooks.backlog()
            oldest = found.oldest_undelivered_at
            age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
            ages.append(max(0.0, age))
            with contextlib.suppress(httpx.TransportError):  # a connection closed as it was reused
                arrived = (await probe.get("/count")).json()["unique"]
                backlogs.append((at - start, carried + acked - int(arrived)))
            await asyncio.sleep(max(0.0, SAMPLE_SECONDS - (loop.time() - at)))

    try:
        stop = asyncio.Event()
        start = loop.time()
        sampler = asyncio.create_task(sample(start, stop))
        sent: set[asyncio.Task[None]] = set()
        for k in range(requests):
            slot = start + k * interval
            await asyncio.sleep(max(0.0, slot - loop.time()))
            late += loop.time() - slot > SAMPLE_SECONDS
            sent.add(asyncio.create_task(send(k)))
        # A server that falls behind the schedule is given a while to answer what it was sent;
        # what it has not answered by then counts as failed.
        _, unanswered = await asyncio.wait(sent, timeout=WAIT_SECONDS)
        for task in unanswered:
            task.cancel()
        failures += len(unanswered)
        seconds = loop.time() - start
        stop.set()
        await sampler
    finally:
        await client.aclose()
        await probe.aclose()
        await services.aclose()
    return Sustained(
        "", seconds, offered, acked, 0, 0, ages, backlogs, 0.0, 0.0, 0.0, late, failures
    )


def drain(plan: Plan, name: str, url: str, hooked: HookFixture, receiver: Receiver) -> Drain:
    """A backlog made while no dispatcher runs, then delivered by one `subgroups worker`."""
    group_id = hooked.new_group("backlog")
    started = time.monotonic()
    hooked.make_changes(group_id, plan.backlog)
    print(
        f"{name}: {plan.backlog:,} changes made in {time.monotonic() - started:.0f} s", flush=True
    )
    receiver.reset()
    receiver_cpu = cpu_seconds(receiver.pid)
    with working(url, plan.logs / f"{name.lower()}-worker.log") as worker:
        wall, _ = receiver.wait_for(plan.backlog, timeout=plan.drain_window)
        worker_cpu = cpu_seconds(worker)
    stats = receiver.stats()
    found = Drain(
        name,
        int(stats["unique"]),
        stats["last"] - stats["first"],
        wall,
        int(stats["arrivals"] - stats["unique"]),
        plan.backlog,
        worker_cpu,
        cpu_seconds(receiver.pid) - receiver_cpu,
    )
    print(
        f"{name}: delivered {found.events:,} of {plan.backlog:,} at {found.per_second:,.0f}/s"
        f" ({found.wall_seconds:.1f} s from the worker's start); worker CPU"
        f" {found.worker_ms_per_event:.2f} ms an event, receiver {found.receiver_ms_per_event:.2f}",
        flush=True,
    )
    return found


@contextmanager
def working(url: str, log: Path) -> Iterator[int]:
    """One `subgroups worker` process until the block ends."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "subgroups", "worker", "--database-url", url],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment(HOOK_ENV, inherit_settings=True),
        )
        try:
            yield process.pid
            if process.poll() is not None:  # it never delivered: no figure to report
                raise RuntimeError(f"subgroups worker exited ({process.returncode}); see {log}")
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def render(plan: Plan, machine: list[tuple[str, str]]) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python -m bench.webhooks" + (" --quick" if plan.quick else "")
    if len(plan.backends) == 1:
        command += f" --backend {plan.backends[0]}"
    changed = [f"{k}={v}" for k, v in sorted(os.environ.items()) if k in SIZES]
    command = " ".join([*changed, command])
    lines = [
        f"Measured {now} with `{command}` (also run by `make bench`): one `subgroups serve`"
        " (or one `subgroups worker`), one endpoint, the receiver of `bench/receiver.py` on"
        " loopback; the load generators and the sampler on the same machine.",
        "",
        "| machine | |",
        "| --- | --- |",
        *(f"| {name} | {value} |" for name, value in machine),
        f"| Load average at the end | {' '.join(f'{x:.2f}' for x in os.getloadavg())} |",
        "",
        "| figure | backend | measured | target | verdict |",
        "| --- | --- | --- | --- | --- |",
        *figures(plan),
        "",
        "Details:",
        "",
        *details(plan),
    ]
    return "\n".join(lines).rstrip() + "\n"


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def figures(plan: Plan) -> list[str]:
    lines = []
    for s in plan.sustained:
        rate = s.changes / s.seconds if s.seconds else 0.0
        first, last = (s.backlogs[0][1], s.backlogs[-1][1]) if s.backlogs else (0, 0)
        lines.append(
            f"| 1. oldest undelivered, {RATE} changes/s offered for {plan.sustained_seconds:.0f} s"
            f" ({rate:,.0f}/s acknowledged over {s.seconds:.0f} s) | {s.backend}"
            f" | p50 {s.age(0.5):.2f} s, p99 {s.age(0.99):.2f} s, max {max(s.ages, default=0):.2f}"
            f" s ({len(s.ages)} samples) | p99 < 2 s | {verdict(s.age(0.99) < 2)} |"
        )
        lines.append(
            f"| 1. backlog growth | {s.backend} | {first:,} at the start, {last:,} at the end,"
            f" slope {s.slope:+,.1f} changes/s | none (slope under 1% of the rate)"
            f" | {verdict(s.slope < 0.01 * RATE)} |"
        )
    for d in plan.drains:
        lines.append(
            f"| 2. draining a backlog of {d.backlog:,}, one worker | {d.backend}"
            f" | {d.per_second:,.0f} deliveries/s ({d.events:,} in {d.seconds:.1f} s, first to"
            f" last) | ≥ 1,000/s | {verdict(d.per_second >= 1000)} |"
        )
    for o in plan.overheads:
        without = ", ".join(f"{r:,.0f}" for r in o.without)
        hooked = ", ".join(f"{r:,.0f}" for r in o.with_endpoint)
        lines.append(
            f"| 3. set, 1 email, {WRK_CONNECTIONS} connections: with an endpoint vs without"
            f" | {o.backend} | {hooked} req/s vs {without} req/s: {o.ratio:.0%}"
            f" | ≥ 85% | {verdict(o.ratio >= 0.85)} |"
        )
    return lines


def details(plan: Plan) -> list[str]:
    lines = []
    for s in plan.sustained:
        cpu = 1000 * s.serve_cpu_seconds / s.changes if s.changes else 0.0
        lines.append(
            f"- {s.backend}, sustained: {s.changes:,} changes acknowledged ({s.failures} failed"
            f" requests, {s.late_requests} sent over 100 ms after their slot); {s.delivered:,}"
            f" distinct events arrived ({s.duplicates} more than once), {s.missing:,} not yet"
            f" {WAIT_SECONDS:.0f} s after the load ended. Per event at the receiver, arrival"
            f" minus change: p50 {s.receiver_p50:.2f} s, p99 {s.receiver_p99:.2f} s, max"
            f" {s.receiver_max:.2f} s. The server's CPU: {cpu:.2f} ms a change (set and delivery)."
        )
    for d in plan.drains:
        capacity = 1000 / d.worker_ms_per_event if d.worker_ms_per_event else 0.0
        lines.append(
            f"- {d.backend}, drain: {d.events:,} of {d.backlog:,} delivered"
            f" {d.wall_seconds:.1f} s after the worker started ({d.duplicates} more than once)."
            f" CPU a delivery: the worker {d.worker_ms_per_event:.2f} ms (so one core of its own"
            f" would deliver about {capacity:,.0f}/s), the receiver {d.receiver_ms_per_event:.2f}"
            " ms."
        )
    for o in plan.overheads:
        drained = ", ".join(
            f"{seconds:.0f} s" + (f" ({missing:,} still missing)" if missing else "")
            for seconds, missing in o.drains
        )
        lines.append(
            f"- {o.backend}, overhead: {len(o.without)} run(s) of {plan.wrk_duration} each way,"
            f" alternating; the events of each run with the endpoint had arrived {drained} after"
            f" it; {o.failures} failed requests."
        )
    return lines


if __name__ == "__main__":
    main()
