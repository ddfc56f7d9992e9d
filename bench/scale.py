"""Scale: the set endpoint on a large PostgreSQL database against the same on an empty one.

    python -m bench.scale              10,000,000 profiles, 3 states each (30,000,000), a record each
    BENCH_SCALE_PROFILES=1000000 python -m bench.scale

Both databases are measured in the same run, with the same requests, at 1 connection (a
request's own latency, nothing queued before it) and at 16 (the server saturated, where latency
is mostly waiting): first a fresh database
holding only the profiles the requests name, then the large one, bulk-loaded with COPY: profiles,
states and one change record per state (a database in service holds at least that many). The
requests walk a pool spread over the whole profile table (entry n is profile n * stride mod
size), so they touch index and heap pages all over it rather than a few neighbouring ones. Each
database gets the same warm-up over that pool before it is measured.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from tempfile import mkdtemp

import asyncpg

from bench import report
from bench.counters import PageCounters, page_counters
from bench.fixtures import POSTGRES_ADMIN_URL, Fixture, drop_postgres, recreate_postgres
from bench.load import Mix, ensure_wrk, run_wrk
from bench.machine import describe, shared_buffers
from bench.results import Row
from bench.seed_large import CHANGE_COLUMNS, IMPORTED
from bench.servers import running, service_command

GROUPS = 3
CHUNK = 200_000
STRIDE = 7_919  # a prime: n * STRIDE mod size visits the table evenly
DATABASES = {"empty": "subgroups_scale_empty", "large": "subgroups_scale"}
WARMUP = os.environ.get("BENCH_WARMUP", "15s")
CONNECTIONS = (1, 16)
SCENARIOS = {
    "email": "set, 1 email",
    "ext50": "set, 50 external ids",
    "get50": "status/get, 50 external ids",
}

# Indexes rebuilt after the load, which is much faster than maintaining them row by row.
_SECONDARY = [
    # As storage/tables.py declares them (migration 0005).
    (
        "profiles",
        "uq_profiles_workspace_id_external_id",
        "UNIQUE (workspace_id, external_id) INCLUDE (id)",
    ),
    ("profiles", "ix_profiles_workspace_id_email", "(workspace_id, email) INCLUDE (id)"),
    ("profiles", "ix_profiles_workspace_id_phone", "(workspace_id, phone) INCLUDE (id)"),
    ("state_changes", "ix_state_changes_workspace_id_id", "(workspace_id, id)"),
    (
        "state_changes",
        "ix_state_changes_workspace_id_subscription_group_id_occurred_at",
        "(workspace_id, subscription_group_id, occurred_at)",
    ),
    ("state_changes", "ix_state_changes_profile_id_id", "(profile_id, id)"),
]


def _profiles(
    workspace_id: int, start: int, stop: int, at: datetime
) -> Iterator[tuple[object, ...]]:
    for n in range(start, stop):
        yield (n + 1, workspace_id, f"s{n}", f"s{n}@bench.example", None, at)


def _states(
    group_pks: list[int], start: int, stop: int, at: datetime
) -> Iterator[tuple[object, ...]]:
    for n in range(start, stop):
        for i, pk in enumerate(group_pks):
            yield (n + 1, pk, (n + i) % 2 == 0, at)


def _changes(
    workspace_id: int, group_ids: list[str], start: int, stop: int, at: datetime
) -> Iterator[tuple[object, ...]]:
    """The record of each state, as an import would have written it: a database in service holds
    at least one record per state, and every set adds to the indexes over them."""
    for n in range(start, stop):
        for i, group_id in enumerate(group_ids):
            new_state = "subscribed" if (n + i) % 2 == 0 else "unsubscribed"
            yield (
                n * len(group_ids) + i + 1,
                workspace_id,
                n + 1,
                f"s{n}",
                f"s{n}@bench.example",
                None,  # phone
                group_id,
                "email",
                new_state,
                at,
                IMPORTED,
            )


async def bulk_load(url: str, workspace_id: int, groups: list[tuple[int, str]], size: int) -> float:
    """Loads `size` profiles with a state in each group (pk, id), and each state's change record;
    returns the seconds it took."""
    group_pks = [pk for pk, _ in groups]
    group_ids = [group_id for _, group_id in groups]
    started = time.monotonic()
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    at = datetime.now(UTC)
    try:
        await conn.execute(
            "SET session_replication_role = replica"
        )  # generated data: skip FK checks
        await conn.execute("SET maintenance_work_mem = '1GB'")
        for table, name, _ in _SECONDARY:
            await conn.execute(
                f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}; DROP INDEX IF EXISTS {name}"
            )
        await conn.execute("ALTER TABLE subscription_states DROP CONSTRAINT pk_subscription_states")
        for start in range(0, size, CHUNK):
            stop = min(size, start + CHUNK)
            await conn.copy_records_to_table(
                "profiles",
                records=_profiles(workspace_id, start, stop, at),
                columns=["id", "workspace_id", "external_id", "email", "phone", "created_at"],
            )
            await conn.copy_records_to_table(
                "subscription_states",
                records=_states(group_pks, start, stop, at),
                columns=["profile_id", "group_pk", "subscribed", "updated_at"],
            )
            await conn.copy_records_to_table(
                "state_changes",
                records=_changes(workspace_id, group_ids, start, stop, at),
                columns=["id", *CHANGE_COLUMNS],
            )
            print(f"  loaded {stop:,} profiles ({time.monotonic() - started:,.0f} s)", flush=True)
        await conn.execute(f"SELECT setval('profiles_id_seq', {size})")
        await conn.execute(f"SELECT setval('state_changes_id_seq', {size * len(groups)})")
        await conn.execute(
            "ALTER TABLE subscription_states ADD CONSTRAINT pk_subscription_states"
            " PRIMARY KEY (profile_id, group_pk)"
        )
        for table, name, definition in _SECONDARY:
            if definition.startswith("UNIQUE"):
                await conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
            else:
                await conn.execute(f"CREATE INDEX {name} ON {table} {definition}")
        print(f"  indexes built ({time.monotonic() - started:,.0f} s)", flush=True)
        await conn.execute("VACUUM (ANALYZE) profiles")
        await conn.execute("VACUUM (ANALYZE) subscription_states")
        await conn.execute("VACUUM (ANALYZE) state_changes")
        # Write the load out now, so that its flushing does not run during the measurement.
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    return time.monotonic() - started


def measure(
    label: str, fixture: Fixture, mixes: list[Mix], duration: str, logs: Path
) -> tuple[list[Row], dict[str, PageCounters]]:
    rows = []
    pages: dict[str, PageCounters] = {}
    command = service_command(fixture.database_url, 1)
    with running(command, logs / f"{label}.log") as server:
        # One warm-up per set mix, long enough to pass over its pool: the profiles the requests
        # name are then in memory, as the hot ones of a database in service are; the tables'
        # other millions of rows are not.
        for mix in mixes:
            if mix.mode != "get50":
                warm = fixture.new_group(f"warm-up {mix.mode}")
                run_wrk(
                    server.url,
                    key=fixture.tenant.key,
                    group_id=warm,
                    mix=mix,
                    connections=16,
                    duration=WARMUP,
                )
        for connections in CONNECTIONS:
            group_id = ""
            for mix in mixes:
                # A read asks about the group the last set run wrote: every id it names has a state.
                if mix.mode != "get50":
                    group_id = fixture.new_group(f"{label} {mix.mode} c{connections}")
                row, counted = _run(
                    fixture, server.url, label, mix, group_id, connections, duration
                )
                print(row.line(), counted.line(), flush=True)
                rows.append(row)
                pages[f"{mix.mode} c{connections}"] = counted
    return rows, pages


def _run(
    fixture: Fixture,
    url: str,
    label: str,
    mix: Mix,
    group_id: str,
    connections: int,
    duration: str,
) -> tuple[Row, PageCounters]:
    before = page_counters(fixture.database_url)
    result = run_wrk(
        url,
        key=fixture.tenant.key,
        group_id=group_id,
        mix=mix,
        connections=connections,
        duration=duration,
    )
    counted = (page_counters(fixture.database_url) - before).per(result.requests)
    changes = None if mix.mode == "get50" else fixture.count_changes(group_id)
    row = Row(
        SCENARIOS[mix.mode],
        f"PostgreSQL, {label}",
        1,
        connections,
        result.rps,
        result.p50_ms,
        result.p99_ms,
        failures=result.errors + result.bad_status,
        changes_per_s=None if changes is None else changes / result.seconds,
    )
    return row, counted


def _connections(count: int) -> str:
    return f"{count} connection{'s' if count > 1 else ''}"


def _verdicts(rows: list[Row], size: int) -> list[str]:
    """Target 4, per scenario and concurrency: the large database's latency against the empty's."""
    lines = []
    for connections in CONNECTIONS:
        for mix_name in SCENARIOS.values():
            small, big = (
                next(
                    r
                    for r in rows
                    if (r.scenario, r.connections) == (mix_name, connections)
                    and r.backend.endswith(which)
                )
                for which in ("empty", "large")
            )
            for what, a, b in (
                ("p50", small.p50_ms, big.p50_ms),
                ("p99", small.p99_ms, big.p99_ms),
            ):
                ratio = b / a if a else 0.0
                verdict = "**met**" if ratio <= 1.5 else "**not met**"
                lines.append(
                    f"- 4. {mix_name}, {_connections(connections)}, {what} latency on {size:,}"
                    f" profiles / {size * GROUPS:,} states: {b:.2f} ms against {a:.2f} ms empty"
                    f" = {ratio:.2f}x (target <= 1.5x): {verdict}"
                )
    return lines


def main() -> None:
    ensure_wrk()
    size = int(os.environ.get("BENCH_SCALE_PROFILES", "10000000"))
    duration = os.environ.get("BENCH_DURATION", "20s")
    logs = Path(mkdtemp(prefix="subgroups-scale-"))
    machine = describe(POSTGRES_ADMIN_URL)
    mixes = [
        Mix("email", 2000, "s", STRIDE, size),
        Mix("ext50", 10_000, "s", STRIDE, size),
        Mix("get50", 10_000, "s", STRIDE, size),
    ]
    # The empty database: only the profiles the requests name.
    empty = Fixture(recreate_postgres(POSTGRES_ADMIN_URL, DATABASES["empty"]))
    for mix in mixes[:2]:
        empty.seed(mix)
    rows, small_pages = measure("empty", empty, mixes, duration, logs)
    drop_postgres(POSTGRES_ADMIN_URL, DATABASES["empty"])
    # The large one.
    large = Fixture(recreate_postgres(POSTGRES_ADMIN_URL, DATABASES["large"]))
    ids = [large.new_group(f"bulk {i}") for i in range(GROUPS)]
    print(f"bulk-loading {size:,} profiles, {size * GROUPS:,} states and their records", flush=True)
    groups = [(large.group_pk(group_id), group_id) for group_id in ids]
    seconds = asyncio.run(bulk_load(large.database_url, large.tenant.workspace_id, groups, size))
    large_rows, large_pages = measure("large", large, mixes, duration, logs)
    rows += large_rows
    drop_postgres(POSTGRES_ADMIN_URL, DATABASES["large"])
    extra = [f"Bulk load of the large database (COPY, then indexes): {seconds:,.0f} s.", ""]
    extra += [
        "Pages and WAL per request, from PostgreSQL's own counters over each measured run"
        " (`bench/counters.py`):",
        "",
        *(
            f"- {SCENARIOS[mode]}, {_connections(connections)}:"
            f" empty {small_pages[f'{mode} c{connections}'].line()};"
            f" large {large_pages[f'{mode} c{connections}'].line()}"
            for connections in CONNECTIONS
            for mode in SCENARIOS
        ),
        "",
        *_verdicts(rows, size),
    ]
    report.write(
        report.Report(
            # One section per server setting, so that a run on a tuned server keeps the default's.
            region=f"scale, shared_buffers {shared_buffers(POSTGRES_ADMIN_URL)}",
            command=f"BENCH_SCALE_PROFILES={size} python -m bench.scale",
            duration=duration,
            machine=machine,
            rows=rows,
            extra=extra,
        )
    )


if __name__ == "__main__":
    main()
