"""The fakes behave as the real stores do: one script of set requests, reads and an archival, run
through the services once over the SQL stores (on each backend) and once over `tests/fakes.py`,
gives the same notes, profiles, change records and read answers.

Profile and record ids are left out of the comparison: PostgreSQL creates the missing profiles of
a request in sorted order, SQLite and the fake in the order sent, and no rule depends on that.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from subgroups.config import Settings
from subgroups.domain.models import Actor, ProfileView, Source, State, StateChange
from subgroups.domain.reads import IdentifierKind, Identifiers, UserPage
from subgroups.domain.subscriptions import GroupRequest
from subgroups.errors import InvalidRequest
from subgroups.services.groups import GroupService
from subgroups.services.status import StatusService
from subgroups.services.subscriptions import SubscriptionService
from subgroups.services.workspaces import WorkspaceService
from tests.clock import SettableClock, services_at
from tests.fakes import FakeGroupStore, FakeStatusReader, FakeSubscriptionStore, FakeWorkspaceStore

NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
ACTOR = Actor(Source.REST_API, api_key_id=None, request_id="req-1", client_ip="192.0.2.1")


@dataclass(frozen=True)
class Side:
    """The services one run of the script goes through."""

    clock: SettableClock
    workspaces: WorkspaceService
    groups: GroupService
    subscriptions: SubscriptionService
    status: StatusService


@pytest.fixture
async def sql(settings: Settings) -> AsyncIterator[Side]:
    clock = SettableClock(NOW)
    async with services_at(settings, clock) as real:
        yield Side(clock, real.workspaces, real.groups, real.subscriptions, real.status)


def fake_side() -> Side:
    clock = SettableClock(NOW)
    groups = FakeGroupStore()
    store = FakeSubscriptionStore(groups)
    workspaces = FakeWorkspaceStore()
    return Side(
        clock=clock,
        workspaces=WorkspaceService(workspaces=workspaces, clock=clock),
        groups=GroupService(groups=groups, workspaces=workspaces, clock=clock),
        subscriptions=SubscriptionService(groups=groups, store=store, clock=clock),
        status=StatusService(groups=groups, reader=FakeStatusReader(store)),
    )


def req(group_id: str, state: str = "subscribed", **identifiers: Any) -> GroupRequest:
    return GroupRequest(group_id=group_id, state=state, **identifiers)


SCRIPT: list[list[GroupRequest]] = [
    # v2: external ids into one group, a phone alone into the other
    [req("news", external_id=["b", "a"]), req("alerts", "unsubscribed", phone="+12223334444")],
    [req("news", external_id="a", email="a@example.com")],  # records the email
    [req("news", "unsubscribed", external_id="a", email="other@example.com")],  # noted, flipped
    [req("news", email=["new@example.com", "a@example.com"])],  # finds a, creates one
    [req("news", external_id=["c", "a"], email="z@example.com")],  # the email is ignored
    [req("alerts", external_id="b", phone="+12223334444")],  # a second profile with that phone
    [req("alerts", external_id="b", phone="+12223334444")],  # no change, no record
    [req("alerts", phone="+12223334444")],  # both profiles with the phone
]
LOOKUPS: list[tuple[IdentifierKind, str]] = [
    ("external_id", "a"),
    ("external_id", "b"),
    ("external_id", "c"),
    ("email", "a@example.com"),
    ("email", "new@example.com"),
    ("phone", "+12223334444"),
]


def profile_facts(p: ProfileView) -> tuple[Any, ...]:
    subscriptions = tuple((s.group_id, s.state, s.updated_at) for s in p.subscriptions)
    return (p.external_id, p.email, p.phone, p.created_at, subscriptions)


def change_facts(c: StateChange) -> tuple[Any, ...]:
    return (
        c.external_id or "",
        c.email or "",
        c.phone or "",
        c.subscription_group_id,
        c.channel,
        c.old_state or "",
        c.new_state,
        c.occurred_at,
        c.source,
        c.request_id,
        c.client_ip,
        c.operator or "",
    )


def page_facts(page: UserPage) -> tuple[Any, ...]:
    return (page.total_count, [(u.external_id, u.email, u.phone, u.groups) for u in page.users])


async def outcome(side: Side) -> list[Any]:
    """Runs the script through `side`: everything it answers, in order."""
    workspace_id = (await side.workspaces.create(name="Acme")).id
    news = await side.groups.create(
        workspace_id=workspace_id, name="News", channel="email", group_id="news"
    )
    await side.groups.create(
        workspace_id=workspace_id, name="Alerts", channel="sms", group_id="alerts"
    )
    subscriptions = side.subscriptions
    answers: list[Any] = []
    for requests in SCRIPT:
        # A second apart, so that a time stored tells which step stored it.
        side.clock.advance(timedelta(seconds=1))
        answers.append(
            await subscriptions.set_states(
                workspace_id=workspace_id, requests=requests, actor=ACTOR
            )
        )
    [b] = await subscriptions.profiles(workspace_id=workspace_id, kind="external_id", value="b")
    await subscriptions.set_profile_state(
        workspace_id=workspace_id,
        profile_id=b.id,
        group_id=news.id,
        state=State.UNSUBSCRIBED,
        actor=Actor(Source.DASHBOARD, operator="ops@example.com"),
    )
    for kind, value in LOOKUPS:
        found = await subscriptions.profiles(workspace_id=workspace_id, kind=kind, value=value)
        answers.append([profile_facts(p) for p in found])
    changes = await subscriptions.changes(workspace_id=workspace_id)
    answers.append(sorted(change_facts(c) for c in changes))
    answers.append(
        await side.status.statuses(
            workspace_id=workspace_id,
            group_id="news",
            identifiers=Identifiers(email=["a@example.com", "new@example.com", "x@example.com"]),
        )
    )
    answers.append(
        await side.status.statuses(
            workspace_id=workspace_id,
            group_id="alerts",
            identifiers=Identifiers(phone=["+12223334444"]),
        )
    )
    for limit, offset in [(None, None), (1, 1)]:
        page = await side.status.user_statuses(
            workspace_id=workspace_id,
            identifiers=Identifiers(phone=["+12223334444"]),
            limit=limit,
            offset=offset,
        )
        answers.append(page_facts(page))
    await side.groups.archive(workspace_id=workspace_id, group_id="alerts")
    answers.append(await refusal(subscriptions.set_states, workspace_id))
    answers.append(len(await subscriptions.changes(workspace_id=workspace_id)))
    return answers


async def refusal(set_states: Callable[..., Awaitable[list[str]]], workspace_id: int) -> str:
    try:
        await set_states(
            workspace_id=workspace_id,
            requests=[req("news", external_id="d"), req("alerts", external_id="d")],
            actor=ACTOR,
        )
    except InvalidRequest as error:
        return error.message
    return "accepted"


async def test_the_fakes_answer_as_the_sql_stores_do(sql: Side) -> None:
    expected = await outcome(sql)
    faked = await outcome(fake_side())

    assert faked == expected
    assert expected[1:3] == [
        [],
        ["external_id 'a' already has a different email; 'other@example.com' was not recorded"],
    ]
