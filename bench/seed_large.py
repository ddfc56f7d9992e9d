"""Bulk-load a large workspace straight into the database, to measure reads on big tables.

    python -m bench.seed_large --database-url postgresql://postgres@127.0.0.1:5432/big
    python -m bench.seed_large --database-url sqlite:///big.db --profiles 1000000

The schema is migrated and the workspace, its API key and its groups are made through the services,
as an operator would; profiles and states are then loaded in bulk, not through the API: COPY on
PostgreSQL, one executemany transaction on SQLite. Every profile has an external id, an email (each
email is shared by two profiles) and a phone, and a state in every group, so that 1,000,000
profiles and 3 groups give 3,000,000 states; and every state has its change record, as if it had
been imported from a CSV file, so the consent trail and the group sizes read from it hold too.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from subgroups.config import Settings
from subgroups.container import build_services
from subgroups.domain.models import Group, Source
from subgroups.storage.migrate import upgrade

CREATED_AT = datetime(2026, 1, 1, tzinfo=UTC)
# How SQLAlchemy writes a UTC timestamp into SQLite.
SQLITE_CREATED_AT = CREATED_AT.strftime("%Y-%m-%d %H:%M:%S.%f")
GROUPS = (("Newsletter", "email"), ("Offers", "email"), ("SMS alerts", "sms"))


@dataclass(frozen=True)
class Seeded:
    workspace_id: int
    key: str
    groups: list[Group]
    profiles: int


def external_id(n: int) -> str:
    return f"user-{n:08d}"


def email(n: int) -> str:
    return f"person{n // 2}@example.com"  # two profiles per address


def phone(n: int) -> str:
    return f"+1415{n:07d}"


def subscribed(n: int, group: int) -> bool:
    return (n * 7 + group) % 3 != 0  # two in three subscribed, spread over ids


async def prepare(url: str) -> Seeded:
    """Migrates `url` and makes the workspace, key and groups through the services."""
    await asyncio.to_thread(upgrade, url)
    services = build_services(Settings(database_url=url))
    try:
        workspace = await services.workspaces.create(name=f"bench {time.time_ns()}")
        key = await services.keys.create(workspace_id=workspace.id, name="bench")
        groups = [
            await services.groups.create(workspace_id=workspace.id, name=name, channel=channel)
            for name, channel in GROUPS
        ]
    finally:
        await services.aclose()
    return Seeded(workspace.id, key.secret, groups, 0)


def _profile_rows(workspace_id: int, start: int, count: int) -> Iterator[tuple[Any, ...]]:
    for n in range(start, start + count):
        yield (n, workspace_id, external_id(n), email(n), phone(n), CREATED_AT)


def _state_rows(start: int, count: int, groups: list[Group]) -> Iterator[tuple[Any, ...]]:
    for n in range(start, start + count):
        for index, group in enumerate(groups):
            yield (n, group.pk, subscribed(n, index), CREATED_AT)


def _change_rows(
    workspace_id: int, start: int, count: int, groups: list[Group]
) -> Iterator[tuple[Any, ...]]:
    """The record of each state: how it came to be, as an import from a CSV file."""
    for n in range(start, start + count):
        for index, group in enumerate(groups):
            new = "subscribed" if subscribed(n, index) else "unsubscribed"
            contact = (email(n), None) if group.channel == "email" else (None, phone(n))
            yield (workspace_id, n, external_id(n), *contact, group.id, group.channel, new)


PROFILE_COLUMNS = ("id", "workspace_id", "external_id", "email", "phone", "created_at")
STATE_COLUMNS = ("profile_id", "group_pk", "subscribed", "updated_at")
CHANGE_COLUMNS = (
    "workspace_id",
    "profile_id",
    "external_id",
    "email",
    "phone",
    "subscription_group_id",
    "channel",
    "new_state",
    "occurred_at",
    "source",
)
IMPORTED = Source.CSV_IMPORT.value


async def _load_postgresql(url: str, seeded: Seeded, count: int) -> None:
    conn = await asyncpg.connect(make_url(url).render_as_string(hide_password=False))
    try:
        start = await conn.fetchval("SELECT coalesce(max(id), 0) + 1 FROM profiles")
        async with conn.transaction():
            await conn.copy_records_to_table(
                "profiles",
                records=_profile_rows(seeded.workspace_id, start, count),
                columns=PROFILE_COLUMNS,
            )
            await conn.copy_records_to_table(
                "subscription_states",
                records=_state_rows(start, count, seeded.groups),
                columns=STATE_COLUMNS,
            )
            await conn.copy_records_to_table(
                "state_changes",
                records=(
                    (*row, CREATED_AT, IMPORTED)
                    for row in _change_rows(seeded.workspace_id, start, count, seeded.groups)
                ),
                columns=CHANGE_COLUMNS,
            )
            # Ids were given explicitly: move the sequence past them.
            await conn.execute(
                "SELECT setval(pg_get_serial_sequence('profiles', 'id'), max(id)) FROM profiles"
            )
        await conn.execute("ANALYZE profiles")
        await conn.execute("ANALYZE subscription_states")
        await conn.execute("ANALYZE state_changes")
    finally:
        await conn.close()


def _load_sqlite(url: str, seeded: Seeded, count: int) -> None:
    path = make_url(url).database
    assert path, "a SQLite URL names a file"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        start = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM profiles").fetchone()[0]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            f"INSERT INTO profiles ({', '.join(PROFILE_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                (*row[:5], SQLITE_CREATED_AT)
                for row in _profile_rows(seeded.workspace_id, start, count)
            ),
        )
        conn.executemany(
            f"INSERT INTO subscription_states ({', '.join(STATE_COLUMNS)}) VALUES (?, ?, ?, ?)",
            ((*row[:3], SQLITE_CREATED_AT) for row in _state_rows(start, count, seeded.groups)),
        )
        conn.executemany(
            f"INSERT INTO state_changes ({', '.join(CHANGE_COLUMNS)})"
            f" VALUES ({', '.join('?' * len(CHANGE_COLUMNS))})",
            (
                (*row, SQLITE_CREATED_AT, IMPORTED)
                for row in _change_rows(seeded.workspace_id, start, count, seeded.groups)
            ),
        )
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        conn.close()


async def seed(url: str, profiles: int) -> Seeded:
    """A new workspace in `url` with `profiles` profiles, each with a state in every group."""
    seeded = await prepare(url)
    if make_url(url).get_backend_name() == "sqlite":
        await asyncio.to_thread(_load_sqlite, url, seeded, profiles)
    else:
        await _load_postgresql(url, seeded, profiles)
    return Seeded(seeded.workspace_id, seeded.key, seeded.groups, profiles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    args = parser.parse_args()
    started = time.perf_counter()
    seeded = asyncio.run(seed(args.database_url, args.profiles))
    elapsed = time.perf_counter() - started
    states = seeded.profiles * len(seeded.groups)
    print(
        f"workspace {seeded.workspace_id}: {seeded.profiles:,} profiles, {states:,} states"
        f" in {elapsed:.0f} s"
    )
    print(f"API key: {seeded.key}")
    for group in seeded.groups:
        print(f"group {group.id} ({group.channel}, {group.name})")


if __name__ == "__main__":
    main()
