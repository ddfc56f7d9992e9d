"""How the read endpoints scale: the same lookups on an empty database and on a large one.

    python -m bench.reads                      both backends, 1,000,000 profiles, writes bench/READS.md
    python -m bench.reads --backend sqlite --profiles 100000 --output -

For each backend, two databases get the same workspace, key and groups; the large one is then
bulk-loaded by bench.seed_large (1,000,000 profiles, 3,000,000 states by default). Requests go
through the real application in-process (httpx's ASGI transport: no sockets, no server), one at a
time, and each is timed. The figure that matters is the ratio large / empty: the lookups are
indexed, so the size of the tables should barely show. The SQL statements of one request of each
kind are captured and their query plans printed, as the evidence of which indexes answer them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sqlite3
import statistics
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from bench.fixtures import POSTGRES_ADMIN_URL
from bench.seed_large import Seeded, email, external_id, prepare, seed
from subgroups.config import Settings
from subgroups.container import build_services
from subgroups.domain.reads import IdentifierKind
from subgroups.storage import status_lookup
from subgroups.web.app import create_app

IDS_PER_REQUEST = 50
STATUS_GET = "/subscription/status/get"
USER_STATUS = "/subscription/user/status"
WARM_UP = 30


@dataclass
class Timing:
    latencies: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p95_ms(self) -> float:
        return statistics.quantiles(self.latencies, n=20)[-1] * 1000


@dataclass
class Captured:
    statements: list[tuple[str, Any]] = field(default_factory=list)


@contextmanager
def capture_sql() -> Iterator[Captured]:
    """Every statement any engine executes inside the block (the bench's own process only)."""
    captured = Captured()

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        captured.statements.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield captured
    finally:
        event.remove(Engine, "before_cursor_execute", record)


@dataclass(frozen=True)
class Kind:
    """One kind of request: the endpoint, which identifier it names, and how it picks them."""

    path: str
    identifier: IdentifierKind
    pick: Callable[[random.Random], list[str]]

    def send(self, client: httpx.AsyncClient, seeded: Seeded, rng: random.Random) -> Any:
        params: dict[str, Any] = {self.identifier: self.pick(rng)}
        if self.path == STATUS_GET:
            params["subscription_group_id"] = seeded.groups[0].id
        headers = {"Authorization": f"Bearer {seeded.key}"}
        return client.get(self.path, params=params, headers=headers)


def kinds(profiles: int) -> dict[str, Kind]:
    """The requests measured, each naming 50 random identifiers of the large workspace."""
    population = max(profiles, IDS_PER_REQUEST)

    def sample(rng: random.Random) -> list[int]:
        return rng.sample(range(1, population + 1), IDS_PER_REQUEST)

    def external_ids(rng: random.Random) -> list[str]:
        return [external_id(n) for n in sample(rng)]

    def absent_external_ids(rng: random.Random) -> list[str]:
        # Ids no profile has: the same work on both databases, so only the tables' size differs.
        return [external_id(n + 100_000_000) for n in sample(rng)]

    def emails(rng: random.Random) -> list[str]:
        return list(dict.fromkeys(email(n) for n in sample(rng)))

    return {
        "status/get, 50 external ids": Kind(STATUS_GET, "external_id", external_ids),
        "status/get, 50 absent external ids": Kind(STATUS_GET, "external_id", absent_external_ids),
        "status/get, 50 emails": Kind(STATUS_GET, "email", emails),
        "user/status, 50 external ids": Kind(USER_STATUS, "external_id", external_ids),
    }


def raw_lookup(backend: str, seeded: Seeded, kind: Kind, rng: random.Random) -> tuple[str, Any]:
    """The statement status/get sends on the raw driver (storage/status_lookup.py), with the
    parameters of the request `rng` picks: it bypasses SQLAlchemy, so capture_sql misses it."""
    values = kind.pick(rng)
    group_pk = seeded.groups[0].pk
    if backend == "sqlite":
        params = {
            "workspace": seeded.workspace_id,
            "group": group_pk,
            "values": orjson.dumps(values),
        }
        return status_lookup.SQLITE[kind.identifier], params
    return status_lookup.POSTGRES[kind.identifier], (seeded.workspace_id, group_pk, values)


@dataclass
class Side:
    """One database under test: its app, the requests it answers, and their timings."""

    client: httpx.AsyncClient
    seeded: Seeded
    requests: dict[str, Kind]
    timings: dict[str, Timing] = field(default_factory=dict)


@asynccontextmanager
async def side(url: str, seeded: Seeded, profiles: int) -> AsyncIterator[Side]:
    settings = Settings(database_url=url)
    services = build_services(settings)
    transport = httpx.ASGITransport(app=create_app(settings, services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield Side(client, seeded, kinds(profiles))
    finally:
        await services.aclose()


async def timed(side: Side, name: str, rng: random.Random) -> None:
    started = time.perf_counter()
    response = await side.requests[name].send(side.client, side.seeded, rng)
    side.timings.setdefault(name, Timing()).latencies.append(time.perf_counter() - started)
    response.raise_for_status()


async def measure(
    backend: str, empty: Side, large: Side, requests: int
) -> dict[str, list[tuple[str, Any]]]:
    """Times every kind of request on both sides, alternating between them request by request,
    so that the machine's speed drifting during the run weighs on both alike. Returns the SQL of
    one warm request of each kind on the large side.
    """
    statements: dict[str, list[tuple[str, Any]]] = {}
    for name in large.requests:
        # The same identifiers, in the same order, on both databases.
        rngs = {id(s): random.Random(name) for s in (empty, large)}
        for s in (empty, large):
            for _ in range(WARM_UP):
                (await s.requests[name].send(s.client, s.seeded, rngs[id(s)])).raise_for_status()
        kind = large.requests[name]
        with capture_sql() as captured:
            (await kind.send(large.client, large.seeded, random.Random(name))).raise_for_status()
        statements[name] = captured.statements
        if kind.path == STATUS_GET:
            statements[name].append(raw_lookup(backend, large.seeded, kind, random.Random(name)))
        for _ in range(requests):
            for s in (empty, large):
                await timed(s, name, rngs[id(s)])
    return statements


async def explain(url: str, statements: list[tuple[str, Any]]) -> list[str]:
    """The query plan of each captured SELECT, as the database reports it."""
    plans = []
    selects = [(s, p) for s, p in statements if s.lstrip().upper().startswith("SELECT")]
    if make_url(url).get_backend_name() == "sqlite":
        conn = sqlite3.connect(make_url(url).database or "")
        try:
            for statement, params in selects:
                rows = conn.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
                plans.append("\n".join(row[-1] for row in rows))
        finally:
            conn.close()
        return plans
    pg = await asyncpg.connect(make_url(url).render_as_string(hide_password=False))
    try:
        for statement, params in selects:
            rows = await pg.fetch(f"EXPLAIN {statement}", *params)
            plans.append("\n".join(row[0] for row in rows))
    finally:
        await pg.close()
    return plans


@dataclass
class Databases:
    backend: str
    empty: str
    large: str


def _remove_sqlite_files(*paths: Path) -> None:
    for path in paths:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


_PG_NAMES = ("subgroups_bench_reads_empty", "subgroups_bench_reads_large")


def _sqlite_files(workdir: Path) -> tuple[Path, Path]:
    return workdir / "reads-empty.db", workdir / "reads-large.db"


async def _recreate_postgres(postgres_url: str, *, create: bool) -> None:
    admin = await asyncpg.connect(postgres_url)
    try:
        for name in _PG_NAMES:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if create:
                await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def remove_databases(backend: str, workdir: Path, postgres_url: str) -> None:
    """Drops what `fresh_databases` made: a million-profile database is not left behind."""
    if backend == "sqlite":
        _remove_sqlite_files(*_sqlite_files(workdir))
    else:
        await _recreate_postgres(postgres_url, create=False)


async def fresh_databases(backend: str, workdir: Path, postgres_url: str) -> Databases:
    if backend == "sqlite":
        empty, large = _sqlite_files(workdir)
        _remove_sqlite_files(empty, large)
        return Databases(backend, f"sqlite:///{empty}", f"sqlite:///{large}")
    await _recreate_postgres(postgres_url, create=True)
    base = postgres_url.rpartition("/")[0]
    return Databases(
        backend, f"{base}/subgroups_bench_reads_empty", f"{base}/subgroups_bench_reads_large"
    )


async def run_backend(
    backend: str, args: argparse.Namespace, report: list[str], summary: list[str]
) -> None:
    dbs = await fresh_databases(backend, Path(args.workdir), args.postgres_url)
    try:
        await _measure_backend(dbs, args, report, summary)
    finally:
        await remove_databases(backend, Path(args.workdir), args.postgres_url)


async def _measure_backend(
    dbs: Databases, args: argparse.Namespace, report: list[str], summary: list[str]
) -> None:
    backend = dbs.backend
    empty = await prepare(dbs.empty)
    started = time.perf_counter()
    large = await seed(dbs.large, args.profiles)
    seeding = time.perf_counter() - started
    print(f"{backend}: seeded {args.profiles:,} profiles in {seeding:.0f} s")
    async with (
        side(dbs.empty, empty, args.profiles) as empty_side,
        side(dbs.large, large, args.profiles) as large_side,
    ):
        statements = await measure(backend, empty_side, large_side, args.requests)
    for name in statements:
        small, big = empty_side.timings[name], large_side.timings[name]
        summary.append(
            f"| {backend} | {name} | {small.median_ms:.2f} | {big.median_ms:.2f} |"
            f" {big.median_ms / small.median_ms:.2f} | {small.p95_ms:.2f} | {big.p95_ms:.2f} |"
            f" {len(statements[name])} |"
        )
    report.append(f"\n## Query plans on the large {backend} database\n")
    report.append(
        f"Bulk load of {args.profiles:,} profiles and {args.profiles * len(large.groups):,}"
        f" states: {seeding:.0f} s.\n"
    )
    for name, captured in statements.items():
        report.append(f"### {name}: {len(captured)} statements\n")
        for (statement, _), plan in zip(
            [s for s in captured if s[0].lstrip().upper().startswith("SELECT")],
            await explain(dbs.large, captured),
            strict=True,
        ):
            report.append("```sql\n" + " ".join(statement.split()) + "\n```\n")
            report.append("```\n" + plan + "\n```\n")


async def run(args: argparse.Namespace) -> str:
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    summary = [
        "| backend | request | empty median ms | large median ms | ratio | empty p95 ms"
        " | large p95 ms | SQL statements |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    plans: list[str] = []
    for backend in backends:
        await run_backend(backend, args, plans, summary)
    header = [
        "# Reads on large tables",
        "",
        f"`python -m bench.reads --profiles {args.profiles} --requests {args.requests}`"
        f" on {platform.system()} {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}.",
        "",
        f"Each request names {IDS_PER_REQUEST} random identifiers; {args.requests} requests of"
        f" each kind are timed one at a time on each database, alternating between the two (so"
        " that the machine's speed drifting during the run weighs on both alike), after"
        f" {WARM_UP} warm-up requests, through the real application in-process."
        " *Empty*: the same workspace, key and groups with no profiles."
        f" *Large*: {args.profiles:,} profiles (emails shared by two profiles each) and"
        f" {args.profiles * 3:,} states. *SQL statements*: what one warm request executes,"
        " SQLite's `BEGIN` included (the key and the group are cached, as they are in"
        " production); status/get's one statement goes through the raw driver"
        " (`storage/status_lookup.py`) and is counted and explained as sent.",
        "",
        *summary,
    ]
    return "\n".join(header + plans) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--postgres-url", default=POSTGRES_ADMIN_URL)
    parser.add_argument("--workdir", default="bench/results")
    parser.add_argument("--output", default="bench/READS.md", help="a file, or - for stdout")
    args = parser.parse_args()
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    text = asyncio.run(run(args))
    if args.output == "-":
        print(text)
    else:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
