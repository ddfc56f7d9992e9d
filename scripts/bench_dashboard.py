"""How fast the dashboard's pages are on a big workspace.

Bulk-loads a workspace with PROFILES profiles (default 1,000,000) spread over four groups, with one
state change per state spread over the last 90 days, starts `subgroups serve` on it, signs in, and
times each page as a browser would fetch it (the HTML only).

    uv run python scripts/bench_dashboard.py                       # SQLite, in a temporary folder
    uv run python scripts/bench_dashboard.py --database-url postgresql://postgres@127.0.0.1/bench
    uv run python scripts/bench_dashboard.py --profiles 100000 --keep  # keep the database to explore

The PostgreSQL database must exist and be empty; it is migrated here.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from subgroups.config import Settings
from subgroups.container import build_services
from subgroups.storage.migrate import upgrade

# Run as a file, this script has only scripts/ on its path; the repository root holds the server
# launcher and the table columns it shares with the tests and the benchmarks.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.seed_large import CHANGE_COLUMNS, PROFILE_COLUMNS, STATE_COLUMNS
from tests.servers import ServerProcess, running, subgroups

GROUPS = (  # name, channel, share of profiles with a state, share of those subscribed
    ("Weekly newsletter", "email", 0.60, 0.80),
    ("Product updates", "email", 0.30, 0.65),
    ("SMS alerts", "sms", 0.20, 0.90),
    ("Partner offers", "email", 0.10, 0.35),
)
PASSWORD = "bench password 1234"
BATCH = 50_000


def rows(
    profiles: int, group_pks: list[int], group_ids: list[str], now: datetime
) -> Iterator[tuple[tuple[object, ...], list[tuple[object, ...]], list[tuple[object, ...]]]]:
    """(profile, states, changes) for each profile, deterministic."""
    rng = random.Random(42)
    for n in range(1, profiles + 1):
        created = now - timedelta(days=120, seconds=n)
        profile = (n, f"user-{n}", f"user{n}@example.com", f"+1415{n:07d}", created)
        states, changes = [], []
        for (_, channel, share, subscribed_share), pk, gid in zip(
            GROUPS, group_pks, group_ids, strict=True
        ):
            if rng.random() >= share:
                continue
            subscribed = rng.random() < subscribed_share
            at = now - timedelta(seconds=rng.randrange(90 * 86400))
            states.append((n, pk, subscribed, at))
            state = "subscribed" if subscribed else "unsubscribed"
            changes.append((n, gid, channel, state, at))
        yield profile, states, changes


def _text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def load_sqlite(path: str, workspace_id: int, data: Iterator[tuple]) -> None:  # type: ignore[type-arg]
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    profiles, states, changes = [], [], []

    def flush() -> None:
        conn.executemany(
            "INSERT INTO profiles (id, workspace_id, external_id, email, phone, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            profiles,
        )
        conn.executemany(
            "INSERT INTO subscription_states (profile_id, group_pk, subscribed, updated_at)"
            " VALUES (?, ?, ?, ?)",
            states,
        )
        conn.executemany(
            "INSERT INTO state_changes (workspace_id, profile_id, external_id, email, phone,"
            " subscription_group_id, channel, old_state, new_state, occurred_at, source)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, 'CSV Import')",
            changes,
        )
        conn.commit()
        profiles.clear()
        states.clear()
        changes.clear()

    for (pid, xid, email, phone, created), s, c in data:
        profiles.append((pid, workspace_id, xid, email, phone, _text(created)))
        states += [(p, g, int(sub), _text(at)) for p, g, sub, at in s]
        changes += [
            (workspace_id, p, xid, email, phone, gid, ch, st, _text(at)) for p, gid, ch, st, at in c
        ]
        if len(profiles) >= BATCH:
            flush()
    flush()
    conn.execute("ANALYZE")
    conn.close()


async def load_postgres(url: str, workspace_id: int, data: Iterator[tuple]) -> None:  # type: ignore[type-arg]
    conn = await asyncpg.connect(url)
    profiles: list[tuple[object, ...]] = []
    states: list[tuple[object, ...]] = []
    changes: list[tuple[object, ...]] = []

    async def flush() -> None:
        await conn.copy_records_to_table("profiles", records=profiles, columns=PROFILE_COLUMNS)
        await conn.copy_records_to_table(
            "subscription_states", records=states, columns=STATE_COLUMNS
        )
        await conn.copy_records_to_table("state_changes", records=changes, columns=CHANGE_COLUMNS)
        profiles.clear()
        states.clear()
        changes.clear()

    for (pid, xid, email, phone, created), s, c in data:
        profiles.append((pid, workspace_id, xid, email, phone, created))
        states += s
        changes += [
            (workspace_id, p, xid, email, phone, gid, ch, st, at, "CSV Import")
            for p, gid, ch, st, at in c
        ]
        if len(profiles) >= BATCH:
            await flush()
    await flush()
    await conn.execute(
        "SELECT setval(pg_get_serial_sequence('profiles', 'id'), max(id)) FROM profiles"
    )
    await conn.execute("VACUUM ANALYZE")
    await conn.close()


def timed(client: httpx.Client, path: str, runs: int) -> tuple[float, float, float, float]:
    started = time.perf_counter()
    client.get(path).raise_for_status()  # the first view also counts and keeps settled days
    first = (time.perf_counter() - started) * 1000
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        seconds.append(time.perf_counter() - started)
        response.raise_for_status()
    ms = [s * 1000 for s in seconds]
    return first, statistics.median(ms), min(ms), max(ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the SQLite database")
    parser.add_argument(
        "--existing", action="store_true", help="time the pages of a database loaded before"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="subgroups-bench-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    upgrade(url)

    async def setup() -> tuple[int, list[int], list[str]]:
        services = build_services(Settings(database_url=url))
        try:
            workspace = await services.workspaces.create(name="Big workspace")
            groups = [
                await services.groups.create(
                    workspace_id=workspace.id,
                    name=name,
                    channel=channel,
                    description="Seeded for the benchmark",
                )
                for name, channel, _, _ in GROUPS
            ]
            await services.operators.create(email="bench@example.com", password=PASSWORD)
            return workspace.id, [g.pk for g in groups], [g.id for g in groups]
        finally:
            await services.aclose()

    async def existing() -> tuple[int, list[int], list[str]]:
        services = build_services(Settings(database_url=url))
        try:
            [workspace] = [w for w in await services.workspaces.list() if w.name == "Big workspace"]
            groups = await services.groups.list(workspace_id=workspace.id)
            return workspace.id, [g.pk for g in groups], [g.id for g in groups]
        finally:
            await services.aclose()

    if args.existing:
        workspace_id, pks, ids = asyncio.run(existing())
    else:
        workspace_id, pks, ids = asyncio.run(setup())
        started = time.perf_counter()
        data = rows(args.profiles, pks, ids, datetime.now(UTC))
        if url.startswith("sqlite"):
            load_sqlite(url.removeprefix("sqlite:///"), workspace_id, data)
        else:
            asyncio.run(load_postgres(url, workspace_id, data))
        print(f"loaded {args.profiles:,} profiles in {time.perf_counter() - started:.0f} s")

    # The server's warnings and errors show on this terminal, between the figures.
    server = ServerProcess(
        subgroups("serve", url),
        keep_stdout=False,
        env={"SUBGROUPS_LOG_LEVEL": "WARNING"},
        inherit_settings=True,
        start_timeout=60.0,
    )
    with running(server), httpx.Client(base_url=server.url, timeout=60) as client:
        form = client.get("/dashboard/sign-in").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token is not None
        signed_in = client.post(
            "/dashboard/sign-in",
            data={"csrf": token.group(1), "email": "bench@example.com", "password": PASSWORD},
        )
        assert signed_in.status_code == 303, signed_in.text
        pages = {
            "Subscription Groups": f"/dashboard/w/{workspace_id}/groups",
            "Group, 30 days": f"/dashboard/w/{workspace_id}/groups/{ids[0]}?days=30",
            "Group, 90 days": f"/dashboard/w/{workspace_id}/groups/{ids[0]}?days=90",
            "Profile lookup": f"/dashboard/w/{workspace_id}/profiles?by=email&q=user500000%40example.com",
            "API keys": f"/dashboard/w/{workspace_id}/keys",
        }
        backend = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
        print(f"\n{backend}, {args.profiles:,} profiles, {args.runs} requests each (ms)\n")
        print("| page | first view | median | min | max |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, path in pages.items():
            first, median, low, high = timed(client, path, args.runs)
            print(f"| {name} | {first:.1f} | {median:.1f} | {low:.1f} | {high:.1f} |")
    if args.keep:
        print(f"\ndatabase kept: {url}")


if __name__ == "__main__":
    main()
