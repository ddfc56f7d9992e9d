"""SubscriptionService: v1 and v2 set requests, the dashboard's change, and reading profiles back.

The rules of one group object are `plan()`'s (tests/unit/domain); what is tested here is what the
service adds: the caller's workspace, the position of the refused object, all-or-nothing, the
notes, and archival checked again at the write.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pytest

from subgroups.domain.models import Actor, Group, Source, State
from subgroups.domain.reads import IdentifierKind
from subgroups.domain.subscriptions import INVALID_GROUP, GroupRequest
from subgroups.errors import GroupArchived, InvalidRequest, ItemRejected, NotFound
from subgroups.services.group_cache import CachedGroupStore
from subgroups.services.subscriptions import SubscriptionService
from tests.clock import SettableClock
from tests.fakes import FakeGroupStore, FakeSubscriptionStore
from tests.unit.services.conftest import NOW

ACTOR = Actor(Source.REST_API, api_key_id=3, request_id="req-1", client_ip="192.0.2.1")
WORKSPACE = 1
OTHER_WORKSPACE = 2


class CountingGroupStore(FakeGroupStore):
    """Remembers what each `find` asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.finds: list[set[str]] = []

    async def find(self, workspace_id: int, group_ids: Collection[str]) -> dict[str, Group]:
        self.finds.append(set(group_ids))
        return await super().find(workspace_id, group_ids)


@pytest.fixture
def groups() -> CountingGroupStore:
    return CountingGroupStore()


@pytest.fixture
def store(groups: CountingGroupStore) -> FakeSubscriptionStore:
    return FakeSubscriptionStore(groups)


@pytest.fixture
def service(
    groups: CountingGroupStore, store: FakeSubscriptionStore, clock: SettableClock
) -> SubscriptionService:
    return SubscriptionService(groups=groups, store=store, clock=clock)


async def add_group(
    groups: FakeGroupStore, group_id: str, channel: str = "email", workspace_id: int = WORKSPACE
) -> Group:
    return await groups.create(
        workspace_id=workspace_id,
        group_id=group_id,
        name=group_id,
        channel="email" if channel == "email" else "sms",
        description=None,
        at=NOW,
    )


@pytest.fixture
async def news(groups: FakeGroupStore) -> Group:
    return await add_group(groups, "news")


@pytest.fixture
async def alerts(groups: FakeGroupStore) -> Group:
    return await add_group(groups, "alerts", "sms")


def req(group_id: object = "news", state: object = "subscribed", **ids: Any) -> GroupRequest:
    return GroupRequest(group_id=group_id, state=state, **ids)


def states(store: FakeSubscriptionStore) -> dict[tuple[str | None, str], State]:
    """Each (external id, group id) with its state."""
    return {
        (store.people[pid].external_id, store.groups.rows[pk].id): stored.state
        for (pid, pk), stored in store.states.items()
    }


@pytest.mark.usefixtures("news")
async def test_v1_sets_one_state_and_records_who_and_when(
    service: SubscriptionService, store: FakeSubscriptionStore
) -> None:
    notes = await service.set_state(
        workspace_id=WORKSPACE, request=req(external_id="u1"), actor=ACTOR
    )

    assert notes == []
    assert states(store) == {("u1", "news"): State.SUBSCRIBED}
    [change] = store.records
    assert (change.occurred_at, change.source, change.api_key_id) == (NOW, Source.REST_API, 3)
    assert (change.request_id, change.client_ip) == ("req-1", "192.0.2.1")


@pytest.mark.usefixtures("news")
async def test_v1_refuses_with_the_rules_own_error_not_a_position(
    service: SubscriptionService, store: FakeSubscriptionStore
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await service.set_state(
            workspace_id=WORKSPACE, request=req(state="maybe", external_id="u1"), actor=ACTOR
        )

    assert type(caught.value) is InvalidRequest
    assert caught.value.message == "subscription_state must be 'subscribed' or 'unsubscribed'"
    assert store.people == {}


@pytest.mark.usefixtures("news", "alerts")
async def test_v2_applies_every_object_in_one_go(
    service: SubscriptionService, store: FakeSubscriptionStore, groups: CountingGroupStore
) -> None:
    await service.set_states(
        workspace_id=WORKSPACE,
        requests=[
            req("news", external_id=["u1", "u2"]),
            req("alerts", "unsubscribed", external_id="u1"),
            req("news", "unsubscribed", external_id="u2"),
        ],
        actor=ACTOR,
    )

    assert states(store) == {
        ("u1", "news"): State.SUBSCRIBED,
        ("u2", "news"): State.UNSUBSCRIBED,
        ("u1", "alerts"): State.UNSUBSCRIBED,
    }
    assert [(c.external_id, c.old_state, c.new_state) for c in store.records][-1] == (
        "u2",
        State.SUBSCRIBED,
        State.UNSUBSCRIBED,
    )
    assert groups.finds == [{"news", "alerts"}]


@pytest.mark.usefixtures("news", "alerts")
@pytest.mark.parametrize(
    ("broken", "position", "message"),
    [
        ([req(None, external_id="u")], 0, "subscription_group_id is required"),
        ([req(external_id="u"), req("gone", external_id="u")], 1, INVALID_GROUP),
        (
            [req(external_id="u"), req("alerts", external_id="u"), req("alerts", email="a@x.co")],
            2,
            "Email addresses cannot be used with an SMS subscription group; use external_id or phone",
        ),
        # The first object that breaks a rule is reported, though a later one breaks an earlier rule.
        (
            [req(external_id="u"), req(email="not-an-email"), req(7, external_id="u")],
            1,
            "Invalid email address: 'not-an-email'",
        ),
    ],
)
async def test_v2_names_the_first_refused_object_and_writes_nothing(
    service: SubscriptionService,
    store: FakeSubscriptionStore,
    broken: list[GroupRequest],
    position: int,
    message: str,
) -> None:
    with pytest.raises(ItemRejected) as caught:
        await service.set_states(workspace_id=WORKSPACE, requests=broken, actor=ACTOR)

    assert (caught.value.position, caught.value.message) == (position, message)
    assert caught.value.cause.message == message
    assert store.people == {}
    assert store.records == []


async def test_another_workspaces_group_is_an_invalid_group(
    service: SubscriptionService, store: FakeSubscriptionStore, groups: CountingGroupStore
) -> None:
    await add_group(groups, "theirs", workspace_id=OTHER_WORKSPACE)

    with pytest.raises(InvalidRequest) as caught:
        await service.set_state(
            workspace_id=WORKSPACE, request=req("theirs", external_id="u"), actor=ACTOR
        )

    assert caught.value.message == INVALID_GROUP
    assert store.people == {}


@pytest.mark.usefixtures("alerts")
async def test_only_string_group_ids_are_looked_up(
    service: SubscriptionService, groups: CountingGroupStore
) -> None:
    with pytest.raises(ItemRejected):
        await service.set_states(
            workspace_id=WORKSPACE,
            requests=[req("alerts", external_id="u"), req(["news"], external_id="u")],
            actor=ACTOR,
        )

    assert groups.finds == [{"alerts"}]


async def test_a_group_archived_after_it_was_read_is_refused_at_the_write(
    store: FakeSubscriptionStore,
    groups: CountingGroupStore,
    news: Group,
    alerts: Group,
    clock: SettableClock,
) -> None:
    # The cache still holds the group as active: only the write's own check can refuse it.
    cached = CachedGroupStore(groups, seconds=60)
    service = SubscriptionService(groups=cached, store=store, clock=clock)
    await cached.find(WORKSPACE, ["news", "alerts"])
    await groups.archive(WORKSPACE, "news", at=NOW)

    with pytest.raises(GroupArchived) as v1:
        await service.set_state(workspace_id=WORKSPACE, request=req(external_id="u"), actor=ACTOR)
    with pytest.raises(ItemRejected) as v2:
        await service.set_states(
            workspace_id=WORKSPACE,
            requests=[req("alerts", external_id="u"), req(external_id="u")],
            actor=ACTOR,
        )

    assert v1.value.message == f"Subscription group '{news.id}' is archived and cannot be changed"
    assert (v2.value.position, v2.value.message) == (1, v1.value.message)
    assert store.people == {}


@pytest.mark.usefixtures("news", "alerts")
async def test_the_notes_of_every_object_come_back_in_order(
    service: SubscriptionService, store: FakeSubscriptionStore
) -> None:
    store.add_profile(WORKSPACE, external_id="u1", email="kept@example.com", at=NOW)

    notes = await service.set_states(
        workspace_id=WORKSPACE,
        requests=[
            req(external_id="u1", email="new@example.com"),
            req("alerts", external_id=["u1", "u2"], phone="+12223334444"),
        ],
        actor=ACTOR,
    )

    assert notes == [
        "external_id 'u1' already has a different email; 'new@example.com' was not recorded",
        "phone was ignored: it is recorded only when exactly one external_id and one phone are"
        " sent",
    ]
    assert store.people[1].email == "kept@example.com"
    assert store.people[1].phone is None


@pytest.mark.usefixtures("news")
async def test_a_contact_is_recorded_on_a_profile_that_has_none(
    service: SubscriptionService, store: FakeSubscriptionStore
) -> None:
    store.add_profile(WORKSPACE, external_id="u1", at=NOW)

    notes = await service.set_state(
        workspace_id=WORKSPACE, request=req(external_id="u1", email=" New@Example.com"), actor=ACTOR
    )

    assert notes == []
    assert store.people[1].email == "new@example.com"
    assert store.records[0].email == "new@example.com"


async def test_the_dashboard_sets_one_profiles_state(
    service: SubscriptionService, store: FakeSubscriptionStore, news: Group, clock: SettableClock
) -> None:
    profile = store.add_profile(WORKSPACE, email="a@example.com", at=NOW)
    dashboard = Actor(Source.DASHBOARD, operator="ops@example.com")

    await service.set_profile_state(
        workspace_id=WORKSPACE,
        profile_id=profile.id,
        group_id=news.id,
        state=State.UNSUBSCRIBED,
        actor=dashboard,
    )

    assert store.states[(profile.id, news.pk)].state is State.UNSUBSCRIBED
    [change] = store.records
    assert (change.profile_id, change.source, change.operator) == (
        profile.id,
        Source.DASHBOARD,
        "ops@example.com",
    )


async def test_the_dashboard_creates_no_profile_and_reaches_no_other_workspace(
    service: SubscriptionService, store: FakeSubscriptionStore, news: Group
) -> None:
    theirs = store.add_profile(OTHER_WORKSPACE, email="a@example.com", at=NOW)

    for profile_id in (theirs.id, 99):
        with pytest.raises(NotFound):
            await service.set_profile_state(
                workspace_id=WORKSPACE,
                profile_id=profile_id,
                group_id=news.id,
                state=State.SUBSCRIBED,
                actor=Actor(Source.DASHBOARD),
            )

    assert list(store.people) == [theirs.id]
    assert store.states == {}


@pytest.mark.parametrize("archived", [False, True])
async def test_the_dashboard_is_refused_an_unknown_or_archived_group(
    service: SubscriptionService,
    store: FakeSubscriptionStore,
    groups: CountingGroupStore,
    archived: bool,
) -> None:
    profile = store.add_profile(WORKSPACE, external_id="u1", at=NOW)
    await add_group(groups, "theirs", workspace_id=OTHER_WORKSPACE)
    old = await add_group(groups, "old")
    await groups.archive(WORKSPACE, "old", at=NOW)
    group_id = "old" if archived else "theirs"

    with pytest.raises(InvalidRequest) as caught:
        await service.set_profile_state(
            workspace_id=WORKSPACE,
            profile_id=profile.id,
            group_id=group_id,
            state=State.SUBSCRIBED,
            actor=Actor(Source.DASHBOARD),
        )

    assert caught.value.message == (GroupArchived(old.id).message if archived else INVALID_GROUP)
    assert store.states == {}


# Which profiles the dashboard may give a state in a group of each channel: those a set request
# could select there (by external id in any group, by email in an email group, by phone in an
# SMS group), and no other.
SELECTABLE = [
    ("news", {"external_id": "u1"}),
    ("news", {"email": "a@example.com"}),
    ("news", {"external_id": "u1", "phone": "+12223334444"}),
    ("news", {"email": "a@example.com", "phone": "+12223334444"}),
    ("alerts", {"external_id": "u1"}),
    ("alerts", {"phone": "+12223334444"}),
    ("alerts", {"external_id": "u1", "email": "a@example.com"}),
]
# ... and the API's answer to a set request that sends what such a profile has.
NOT_SELECTABLE = [
    ("news", {"phone": "+12223334444"}),
    ("alerts", {"email": "a@example.com"}),
]


async def dashboard_set(
    service: SubscriptionService,
    profile_id: int,
    group_id: str,
    state: State = State.SUBSCRIBED,
) -> None:
    await service.set_profile_state(
        workspace_id=WORKSPACE,
        profile_id=profile_id,
        group_id=group_id,
        state=state,
        actor=Actor(Source.DASHBOARD, operator="ops@example.com"),
    )


@pytest.mark.usefixtures("news", "alerts")
@pytest.mark.parametrize(("group_id", "ids"), SELECTABLE)
async def test_the_dashboard_changes_a_profile_the_api_could_select_in_the_group(
    service: SubscriptionService, store: FakeSubscriptionStore, group_id: str, ids: dict[str, str]
) -> None:
    profile = store.add_profile(WORKSPACE, at=NOW, **ids)

    await dashboard_set(service, profile.id, group_id)

    assert [(r.profile_id, r.new_state) for r in store.records] == [(profile.id, State.SUBSCRIBED)]


@pytest.mark.usefixtures("news", "alerts")
@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize(("group_id", "ids"), NOT_SELECTABLE)
async def test_the_dashboard_refuses_what_the_api_refuses_with_the_same_message(
    service: SubscriptionService,
    store: FakeSubscriptionStore,
    group_id: str,
    ids: dict[str, str],
    state: State,
) -> None:
    profile = store.add_profile(WORKSPACE, at=NOW, **ids)
    with pytest.raises(InvalidRequest) as api:
        await service.set_state(
            workspace_id=WORKSPACE, request=req(group_id, state.value, **ids), actor=ACTOR
        )

    with pytest.raises(InvalidRequest) as dashboard:
        await dashboard_set(service, profile.id, group_id, state)

    assert dashboard.value.message == api.value.message
    assert dashboard.value.message in {
        "Phone numbers cannot be used with an email subscription group; use external_id or email",
        "Email addresses cannot be used with an SMS subscription group; use external_id or phone",
    }
    assert store.states == {}
    assert store.records == []


async def test_the_dashboard_checks_the_profile_as_stored_not_as_the_form_says(
    service: SubscriptionService, store: FakeSubscriptionStore, news: Group
) -> None:
    """The form names the profile by its id; the service reads it again, in the workspace, so a
    form naming another workspace's profile, or none, changes nothing."""
    reachable = store.add_profile(WORKSPACE, email="a@example.com", at=NOW)
    phone_only = store.add_profile(WORKSPACE, phone="+12223334444", at=NOW)
    theirs = store.add_profile(OTHER_WORKSPACE, email="a@example.com", at=NOW)

    for profile_id in (theirs.id, 99):
        with pytest.raises(NotFound):
            await dashboard_set(service, profile_id, "news")
    with pytest.raises(InvalidRequest, match="Phone numbers cannot be used"):
        await dashboard_set(service, phone_only.id, "news")

    assert store.states == {}
    await dashboard_set(service, reachable.id, "news")
    assert list(store.states) == [(reachable.id, news.pk)]


@pytest.mark.usefixtures("news", "alerts")
@pytest.mark.parametrize(
    ("kind", "value"),
    [("external_id", "u1"), ("email", "  A@Example.COM "), ("phone", "+1 (222) 333-4444")],
)
async def test_profiles_are_found_by_the_normal_form_of_what_is_asked(
    service: SubscriptionService, kind: IdentifierKind, value: str
) -> None:
    await service.set_states(
        workspace_id=WORKSPACE,
        requests=[
            req(external_id="u1", email="a@example.com"),
            req("alerts", "unsubscribed", external_id="u1", phone="+12223334444"),
        ],
        actor=ACTOR,
    )

    [profile] = await service.profiles(workspace_id=WORKSPACE, kind=kind, value=value)

    assert (profile.external_id, profile.email, profile.phone) == (
        "u1",
        "a@example.com",
        "+12223334444",
    )
    assert [(s.group_id, s.state) for s in profile.subscriptions] == [
        ("news", State.SUBSCRIBED),
        ("alerts", State.UNSUBSCRIBED),
    ]
    assert await service.profiles(workspace_id=OTHER_WORKSPACE, kind=kind, value=value) == []


@pytest.mark.usefixtures("news")
async def test_changes_are_read_oldest_first_after_an_id(service: SubscriptionService) -> None:
    for state in ("subscribed", "unsubscribed", "subscribed"):
        await service.set_state(
            workspace_id=WORKSPACE, request=req(state=state, external_id="u1"), actor=ACTOR
        )

    everything = await service.changes(workspace_id=WORKSPACE)
    later = await service.changes(workspace_id=WORKSPACE, after=everything[0].id, limit=1)

    assert [c.new_state for c in everything] == [
        State.SUBSCRIBED,
        State.UNSUBSCRIBED,
        State.SUBSCRIBED,
    ]
    assert later == [everything[1]]
    assert await service.changes(workspace_id=OTHER_WORKSPACE) == []
