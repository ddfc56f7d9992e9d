"""The data a run needs: a scratch database, a workspace and key, seeded profiles, fresh groups.

Everything is made through the services, as an operator's tools would; only the checks after a
run read the tables directly.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import asyncpg
from sqlalchemy import text

from bench.load import Mix
from subgroups.config import Settings
from subgroups.container import Services, build_services
from subgroups.domain.models import Actor, Source
from subgroups.domain.subscriptions import GroupRequest
from subgroups.storage.migrate import upgrade

T = TypeVar("T")
# The server to measure on (any database on it: runs create and drop their own).
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SEED_BATCH = 50


@contextmanager
def scratch_database(backend: str, directory: Path, postgres_name: str) -> Iterator[str]:
    """A database of the run's own: a SQLite file in `directory`, or a PostgreSQL database made
    afresh on the benchmark server and dropped at the end."""
    if backend == "sqlite":
        yield sqlite_url(directory)
        return
    url = recreate_postgres(POSTGRES_ADMIN_URL, postgres_name)
    try:
        yield url
    finally:
        drop_postgres(POSTGRES_ADMIN_URL, postgres_name)


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'bench.db'}"


def postgres_url(admin_url: str, name: str) -> str:
    return f"{admin_url.rpartition('/')[0]}/{name}"


async def _admin(admin_url: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def recreate_postgres(admin_url: str, name: str) -> str:
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    return postgres_url(admin_url, name)


def drop_postgres(admin_url: str, name: str) -> None:
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass(frozen=True)
class Tenant:
    workspace_id: int
    key: str
    key_id: int


class Fixture:
    """One migrated database, a workspace with a key, and helpers to seed and inspect it."""

    def __init__(self, database_url: str, settings: Settings | None = None) -> None:
        self.database_url = database_url
        self.settings = settings or Settings(database_url=database_url, db_pool_size=2)
        upgrade(database_url)
        self.tenant = self._run(self._tenant)

    def _run(self, action: Callable[[Services], Awaitable[T]]) -> T:
        async def go() -> T:
            services = build_services(self.settings)
            try:
                return await action(services)
            finally:
                await services.aclose()

        return asyncio.run(go())

    async def _tenant(self, services: Services) -> Tenant:
        workspace = await services.workspaces.create(name=f"bench {uuid.uuid4().hex[:8]}")
        new = await services.keys.create(workspace_id=workspace.id, name="bench")
        return Tenant(workspace.id, new.secret, new.key.id)

    def new_group(self, name: str) -> str:
        """A fresh email group: the first request to name a profile in it is a real change."""

        async def action(services: Services) -> str:
            group = await services.groups.create(
                workspace_id=self.tenant.workspace_id,
                name=f"{name} {uuid.uuid4().hex[:8]}",
                channel="email",
            )
            return group.id

        return self._run(action)

    def seed(self, mix: Mix) -> None:
        """Creates every profile the mix names, so that a run measures changes, not sign-ups."""
        self.subscribe_all(self.new_group("seed"), mix, analyse=True)

    def subscribe_all(self, group_id: str, mix: Mix, *, analyse: bool = False) -> None:
        """A state in `group_id` for every profile of the mix (what reads then find)."""
        if mix.mode == "email":
            values = [f"{mix.value(i)}@bench.example" for i in range(mix.pool)]
        else:
            values = [mix.value(i) for i in range(mix.pool)]

        async def action(services: Services) -> None:
            for start in range(0, len(values), SEED_BATCH):
                batch = values[start : start + SEED_BATCH]
                request = (
                    GroupRequest(group_id, "subscribed", email=batch)
                    if mix.mode == "email"
                    else GroupRequest(group_id, "subscribed", external_id=batch)
                )
                await services.subscriptions.set_states(
                    workspace_id=self.tenant.workspace_id,
                    requests=[request],
                    actor=Actor(Source.CLI),
                )
            if analyse:
                # Fresh statistics, as a database in service has: the planner then looks
                # profiles up by their unique index instead of scanning the workspace.
                await services.db.write(lambda conn: conn.execute(text("ANALYZE")))

        self._run(action)

    def group_pk(self, group_id: str) -> int:
        async def action(services: Services) -> int:
            found = await services.groups.list(workspace_id=self.tenant.workspace_id)
            return next(g.pk for g in found if g.id == group_id)

        return self._run(action)

    def count_changes(self, group_id: str) -> int:
        async def action(services: Services) -> int:
            async with services.db.snapshot() as conn:
                result = await conn.execute(
                    text("SELECT count(*) FROM state_changes WHERE subscription_group_id = :g"),
                    {"g": group_id},
                )
                return int(result.scalar_one())

        return self._run(action)

    def lost_updates(self, group_id: str) -> tuple[int, int]:
        """(changes checked, inconsistencies) for a group's history.

        Each profile's change records must chain (every old_state is the previous new_state, the
        first is unknown) and end in the state the profile has now. A lost update, where two
        transactions both read the same state and both wrote, breaks the chain.
        """

        async def action(services: Services) -> tuple[int, int]:
            # Both reads from one snapshot, or a commit landing between them would look like a
            # history that ends in the wrong state.
            async with services.db.snapshot() as conn:
                changes = await conn.execute(
                    text(
                        "SELECT profile_id, old_state, new_state FROM state_changes"
                        " WHERE subscription_group_id = :g ORDER BY id"
                    ),
                    {"g": group_id},
                )
                states = await conn.execute(
                    text(
                        "SELECT s.profile_id, s.subscribed FROM subscription_states s"
                        " JOIN subscription_groups g ON g.pk = s.group_pk WHERE g.id = :g"
                    ),
                    {"g": group_id},
                )
                last: dict[int, str | None] = {}
                checked = broken = 0
                for profile_id, old, new in changes:
                    checked += 1
                    if last.get(profile_id) != old or old == new:
                        broken += 1
                    last[profile_id] = new
                for profile_id, subscribed in states:
                    if last.get(profile_id) != ("subscribed" if subscribed else "unsubscribed"):
                        broken += 1
                return checked, broken

        return self._run(action)
