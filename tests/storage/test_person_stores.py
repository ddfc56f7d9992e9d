"""The link-secret and person-data stores (§11) on both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from subgroups.container import Services
from subgroups.domain.links import LinkSecret
from subgroups.domain.models import State
from subgroups.domain.person import Branding, SuppressionEntry
from subgroups.errors import Conflict
from subgroups.storage.person_data import SqlPersonDataStore
from subgroups.storage.person_links import SqlLinkStore
from subgroups.storage.tables import profiles
from tests.factories import make_workspace

T0 = datetime(2026, 6, 1, tzinfo=UTC)


async def test_concurrent_first_links_share_one_secret(services: Services) -> None:
    workspace = await make_workspace(services)
    store = SqlLinkStore(services.db)

    made = await asyncio.gather(
        *(store.secret(workspace.id, new_secret=bytes([i]) * 32, at=T0) for i in range(8))
    )

    assert {(s.id, s.secret) for s in made} == {(made[0].id, made[0].secret)}
    assert await store.find_secret(workspace.id, made[0].id, at=T0) == made[0].secret


async def test_rotation_retires_older_secrets_at_the_end_of_the_grace(services: Services) -> None:
    workspace = await make_workspace(services)
    other = await make_workspace(services)
    store = SqlLinkStore(services.db)
    first = await store.secret(workspace.id, new_secret=b"a" * 32, at=T0)
    theirs = await store.secret(other.id, new_secret=b"z" * 32, at=T0)

    second = await store.rotate(
        workspace.id, new_secret=b"b" * 32, at=T0, retire_at=T0 + timedelta(hours=1)
    )
    # A later rotation with a longer grace does not bring a retiring secret back to life.
    third = await store.rotate(
        workspace.id, new_secret=b"c" * 32, at=T0, retire_at=T0 + timedelta(hours=5)
    )

    later = T0 + timedelta(hours=2)
    assert (first.id, second.id, third.id) == (1, 2, 3)
    assert await store.find_secret(workspace.id, 1, at=T0 + timedelta(minutes=59)) == b"a" * 32
    assert await store.find_secret(workspace.id, 1, at=later) is None
    assert await store.find_secret(workspace.id, 2, at=later) == b"b" * 32
    assert (await store.secret(workspace.id, new_secret=b"x" * 32, at=later)).id == 3
    assert await store.find_secret(other.id, theirs.id, at=later) == b"z" * 32
    assert await store.find_secret(other.id, 3, at=T0) is None


async def test_branding_and_the_suppression_key_share_a_row_without_losing_either(
    services: Services,
) -> None:
    workspace = await make_workspace(services)
    store = SqlLinkStore(services.db)

    assert await store.suppression_key(workspace.id, new_key=None) is None
    key = await store.suppression_key(workspace.id, new_key=b"k" * 32)
    await store.set_branding(workspace.id, Branding("Acme", "#1a4d8f"), new_key=b"j" * 32)

    assert key == b"k" * 32
    assert await store.suppression_key(workspace.id, new_key=b"q" * 32) == b"k" * 32
    assert await store.branding(workspace.id) == Branding("Acme", "#1a4d8f")


async def test_a_newer_erasure_of_an_address_replaces_its_entry(services: Services) -> None:
    workspace = await make_workspace(services)
    data = SqlPersonDataStore(services.db)
    entry = SuppressionEntry("h" * 64, "g1", "email", State.UNSUBSCRIBED, T0, T0)
    newer = SuppressionEntry("h" * 64, "g1", "email", State.SUBSCRIBED, T0, T0 + timedelta(days=1))

    # Profiles 1 and 2 do not exist: nothing is written, the entries included.
    assert not await data.erase(workspace.id, 1, entries=[entry], at=T0, by="CLI")
    assert await data.suppressions(workspace.id, ["h" * 64]) == []

    async def profile() -> int:
        statement = (
            insert(profiles)
            .values(workspace_id=workspace.id, external_id=None, created_at=T0)
            .returning(profiles.c.id)
        )
        made: int = await services.db.write(lambda conn: conn.execute(statement).scalar_one())
        return made

    first, second = await profile(), await profile()
    assert await data.erase(workspace.id, first, entries=[entry], at=T0, by="CLI")
    assert not await data.erase(workspace.id, first, entries=[newer], at=T0, by="CLI")
    assert await data.erase(workspace.id, second, entries=[newer], at=T0, by="CLI")

    assert await data.suppressions(workspace.id, ["h" * 64, "other"]) == [newer]
    assert await data.suppressions(workspace.id + 1, ["h" * 64]) == []


async def test_concurrent_rotations_never_share_an_id(services: Services) -> None:
    workspace = await make_workspace(services)
    store = SqlLinkStore(services.db)
    await store.secret(workspace.id, new_secret=b"a" * 32, at=T0)

    results = await asyncio.gather(
        *(
            store.rotate(workspace.id, new_secret=bytes([i]) * 32, at=T0, retire_at=T0)
            for i in range(6)
        ),
        return_exceptions=True,
    )

    made = [r for r in results if isinstance(r, LinkSecret)]
    # The rest were refused as clashing (PostgreSQL runs them at once; SQLite one after another).
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, LinkSecret))
    assert made
    assert len({s.id for s in made}) == len(made)
    newest = await store.secret(workspace.id, new_secret=b"x" * 32, at=T0 + timedelta(seconds=1))
    assert newest.id == max(s.id for s in made)
