"""The write path under concurrency, on both backends: no lost update, no deadlock, no partial write.

Each test starts many set requests at once over the same profiles, named in different orders or
through different identifiers, then checks the change history: for every profile it must chain
(each old state is the previous new state, starting from unknown) and end in the stored state. A
lost update, where two requests read the same old state and both record a change, breaks it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

import pytest
from sqlalchemy import and_, select

from subgroups.container import Services
from subgroups.domain.models import Actor, Group, Source, State
from subgroups.domain.subscriptions import Assignment, GroupRequest, assignment
from subgroups.errors import InvalidRequest
from subgroups.storage.tables import profiles, state_changes
from tests.factories import make_group, make_workspace
from tests.readback import row_counts, states

# Seeded generators: the same interleavings are tried on every run.

ACTOR = Actor(Source.REST_API, api_key_id=None, request_id="test", client_ip="127.0.0.1")


async def history_problems(services: Services, workspace_id: int, group_id: str) -> list[str]:
    query = (
        select(state_changes.c.profile_id, state_changes.c.old_state, state_changes.c.new_state)
        .where(state_changes.c.subscription_group_id == group_id)
        .order_by(state_changes.c.id)
    )
    async with services.db.snapshot() as conn:
        changes = list(await conn.execute(query))
    last: dict[int, str | None] = {}
    problems: list[str] = []
    for profile_id, old, new in changes:
        if last.get(profile_id) != old or old == new:
            problems.append(f"profile {profile_id}: {old} -> {new} after {last.get(profile_id)}")
        last[profile_id] = new
    # state_changes has no foreign keys (see storage/tables.py): the write path alone keeps every
    # record pointing at a profile of its own workspace, with that profile's external id.
    orphans = (
        select(state_changes.c.id)
        .select_from(
            state_changes.outerjoin(
                profiles,
                and_(
                    profiles.c.id == state_changes.c.profile_id,
                    profiles.c.workspace_id == state_changes.c.workspace_id,
                ),
            )
        )
        .where(
            state_changes.c.subscription_group_id == group_id,
            (profiles.c.id.is_(None))
            | (profiles.c.external_id.is_distinct_from(state_changes.c.external_id)),
        )
    )
    async with services.db.snapshot() as conn:
        problems += [
            f"change {id_} names no profile of its own" for (id_,) in await conn.execute(orphans)
        ]
    stored = await states(services, workspace_id)
    for (profile_id, gid), state in stored.items():
        if gid == group_id and last.get(profile_id) != state:
            problems.append(f"profile {profile_id} is {state}, its history ends {last[profile_id]}")
    return problems


def shuffled(values: Sequence[str], rng: random.Random, k: int) -> list[str]:
    return rng.sample(list(values), k)


async def set_many(services: Services, workspace_id: int, requests: list[GroupRequest]) -> None:
    await asyncio.gather(
        *(
            services.subscriptions.set_state(workspace_id=workspace_id, request=r, actor=ACTOR)
            for r in requests
        )
    )


async def test_overlapping_batches_in_different_orders_lose_no_update(services: Services) -> None:
    workspace = await make_workspace(services)
    group = await make_group(services, workspace.id)
    pool = [f"user-{i}" for i in range(40)]
    rng = random.Random(7)  # noqa: S311  # not for security
    for _round in range(3):
        requests = [
            GroupRequest(
                group.id, rng.choice(["subscribed", "unsubscribed"]), shuffled(pool, rng, 30)
            )
            for _ in range(24)
        ]
        await set_many(services, workspace.id, requests)

    assert await history_problems(services, workspace.id, group.id) == []
    assert len(await states(services, workspace.id)) == len(pool)


async def test_the_same_profiles_named_by_email_and_by_external_id_lose_no_update(
    services: Services,
) -> None:
    workspace = await make_workspace(services)
    group = await make_group(services, workspace.id)
    people = [(f"user-{i}", f"user-{i}@example.com") for i in range(10)]
    # Each profile holds both identifiers.
    for external_id, email in people:
        request = GroupRequest(group.id, "unsubscribed", external_id=external_id, email=email)
        await services.subscriptions.set_state(
            workspace_id=workspace.id, request=request, actor=ACTOR
        )
    rng = random.Random(11)  # noqa: S311  # not for security
    requests = []
    for _ in range(30):
        chosen = rng.sample(people, 6)
        state = rng.choice(["subscribed", "unsubscribed"])
        if rng.random() < 0.5:
            requests.append(GroupRequest(group.id, state, external_id=[x for x, _ in chosen]))
        else:
            requests.append(GroupRequest(group.id, state, email=[e for _, e in chosen]))
    await set_many(services, workspace.id, requests)

    assert await history_problems(services, workspace.id, group.id) == []
    assert len(await states(services, workspace.id)) == len(people)


async def test_two_new_contacts_requested_at_once_make_one_profile(services: Services) -> None:
    workspace = await make_workspace(services)
    group = await make_group(services, workspace.id)
    request = GroupRequest(group.id, "subscribed", email="new@example.com")
    await set_many(services, workspace.id, [request] * 8)

    found = await services.subscriptions.profiles(
        workspace_id=workspace.id, kind="email", value="new@example.com"
    )
    assert len(found) == 1


async def test_several_groups_in_one_transaction_in_any_order_do_not_deadlock(
    services: Services,
) -> None:
    workspace = await make_workspace(services)
    first = await make_group(services, workspace.id)
    second = await make_group(services, workspace.id)
    pool = [f"user-{i}" for i in range(20)]
    rng = random.Random(3)  # noqa: S311  # not for security

    async def one() -> None:
        groups = [first, second]
        rng.shuffle(groups)
        requests = [
            GroupRequest(g.id, rng.choice(["subscribed", "unsubscribed"]), shuffled(pool, rng, 12))
            for g in groups
        ]
        await services.subscriptions.set_states(
            workspace_id=workspace.id, requests=requests, actor=ACTOR
        )

    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(16))), timeout=60)

    for group in (first, second):
        assert await history_problems(services, workspace.id, group.id) == []


def by_external_ids(group: Group, state: State, *external_ids: str) -> Assignment:
    return assignment(group, state, external_ids=external_ids)


@pytest.mark.parametrize("together", [False, True])
async def test_a_group_archived_meanwhile_rejects_only_its_own_request(
    services: Services, together: bool
) -> None:
    """On SQLite, requests sent together share a transaction: the refused one must not spoil it."""
    workspace = await make_workspace(services)
    live = await make_group(services, workspace.id)
    stale = await make_group(services, workspace.id)  # this object still says "not archived"
    await services.groups.archive(workspace_id=workspace.id, group_id=stale.id)
    store = services.subscriptions._store  # the port itself: the service would refuse earlier
    at = services.subscriptions._clock.now()

    def apply(*assignments: Assignment):  # type: ignore[no-untyped-def]  # a coroutine
        return store.apply(workspace_id=workspace.id, assignments=assignments, actor=ACTOR, at=at)

    if together:
        outcomes = await asyncio.gather(
            apply(by_external_ids(live, State.SUBSCRIBED, "a")),
            apply(
                by_external_ids(live, State.SUBSCRIBED, "b"),
                by_external_ids(stale, State.SUBSCRIBED, "c"),
            ),
            apply(by_external_ids(live, State.SUBSCRIBED, "d")),
            return_exceptions=True,
        )
        assert outcomes[0] == []
        assert outcomes[2] == []
        assert isinstance(outcomes[1], InvalidRequest)
    else:
        with pytest.raises(InvalidRequest, match="is archived"):
            await apply(by_external_ids(stale, State.SUBSCRIBED, "c"))

    counts = await row_counts(services)
    written = 2 if together else 0
    assert (counts["profiles"], counts["subscription_states"], counts["state_changes"]) == (
        written,
        written,
        written,
    )
