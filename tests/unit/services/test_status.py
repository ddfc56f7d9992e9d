"""StatusService: which group and identifiers a read takes, in the set endpoints' order of errors,
answered with the identifiers as sent; and paging of user/status."""

from __future__ import annotations

import pytest

from subgroups.domain.models import Actor, Group, Source
from subgroups.domain.reads import BAD_LIMIT, BAD_OFFSET, IDENTIFIER_REQUIRED, Identifiers
from subgroups.domain.subscriptions import EMAIL_AND_PHONE, INVALID_GROUP, GroupRequest
from subgroups.errors import InvalidRequest
from subgroups.services.status import StatusService
from subgroups.services.subscriptions import SubscriptionService
from tests.clock import SettableClock
from tests.fakes import FakeGroupStore, FakeStatusReader, FakeSubscriptionStore
from tests.unit.services.conftest import NOW

WORKSPACE = 1


@pytest.fixture
def store() -> FakeSubscriptionStore:
    return FakeSubscriptionStore(FakeGroupStore())


@pytest.fixture
def service(store: FakeSubscriptionStore) -> StatusService:
    return StatusService(groups=store.groups, reader=FakeStatusReader(store))


@pytest.fixture
async def news(store: FakeSubscriptionStore) -> Group:
    return await store.groups.create(
        workspace_id=WORKSPACE,
        group_id="news",
        name="News",
        channel="email",
        description=None,
        at=NOW,
    )


async def set_state(
    store: FakeSubscriptionStore,
    clock: SettableClock,
    state: str,
    *,
    external_id: str,
    email: str | None = None,
) -> None:
    setter = SubscriptionService(groups=store.groups, store=store, clock=clock)
    request = GroupRequest(group_id="news", state=state, external_id=external_id, email=email)
    await setter.set_state(workspace_id=WORKSPACE, request=request, actor=Actor(Source.CLI))


async def statuses(service: StatusService, group_id: str | None, **sent: list[str]) -> object:
    return await service.statuses(
        workspace_id=WORKSPACE, group_id=group_id, identifiers=Identifiers(**sent)
    )


async def refusal(service: StatusService, group_id: str | None, **sent: list[str]) -> str:
    with pytest.raises(InvalidRequest) as caught:
        await statuses(service, group_id, **sent)
    return caught.value.message


@pytest.mark.usefixtures("news")
async def test_each_identifier_is_answered_as_it_was_sent(
    service: StatusService, store: FakeSubscriptionStore, clock: SettableClock
) -> None:
    await set_state(store, clock, "subscribed", external_id="u1", email="a@example.com")
    await set_state(store, clock, "unsubscribed", external_id="u2")

    by_id = await statuses(service, "news", external_id=["u1", "u2", "u3"])
    by_email = await statuses(service, "news", email=[" A@Example.com", "b@example.com"])

    assert by_id == {"u1": "Subscribed", "u2": "Unsubscribed", "u3": "Unknown"}
    assert by_email == {" A@Example.com": "Subscribed", "b@example.com": "Unknown"}


@pytest.mark.usefixtures("news")
async def test_external_ids_present_mean_emails_and_phones_are_not_looked_at(
    service: StatusService,
) -> None:
    # A phone with an email group, and an email with a phone, would each be refused alone.
    answer = await statuses(
        service, "news", external_id=["u1"], email=["a@example.com"], phone=["not a phone"]
    )

    assert answer == {"u1": "Unknown"}


@pytest.mark.usefixtures("news")
async def test_errors_come_in_the_set_endpoints_order(service: StatusService) -> None:
    both = {"email": ["a@example.com"], "phone": ["+12223334444"]}

    assert await refusal(service, None, **both) == "subscription_group_id is required"
    assert await refusal(service, "", **both) == "subscription_group_id is required"
    assert await refusal(service, "nope", **both) == INVALID_GROUP
    assert await refusal(service, "news", **both) == EMAIL_AND_PHONE
    assert await refusal(service, "news") == "One of external_id or email is required"
    assert await refusal(service, "news", email=["nope"]) == "Invalid email address: 'nope'"


async def test_an_archived_group_is_read_like_any_other(
    service: StatusService, store: FakeSubscriptionStore, news: Group, clock: SettableClock
) -> None:
    await set_state(store, clock, "subscribed", external_id="u1")
    await store.groups.archive(WORKSPACE, news.id, at=NOW)

    assert await statuses(service, "news", external_id=["u1"]) == {"u1": "Subscribed"}


async def test_another_workspaces_group_is_an_invalid_group(
    service: StatusService, store: FakeSubscriptionStore
) -> None:
    await store.groups.create(
        workspace_id=2, group_id="theirs", name="T", channel="email", description=None, at=NOW
    )

    assert await refusal(service, "theirs", external_id=["u1"]) == INVALID_GROUP


@pytest.mark.usefixtures("news")
async def test_user_status_pages_over_the_matching_profiles(
    service: StatusService, store: FakeSubscriptionStore, clock: SettableClock
) -> None:
    for n in range(3):
        await set_state(store, clock, "subscribed", external_id=f"u{n}", email="shared@example.com")

    page = await service.user_statuses(
        workspace_id=WORKSPACE,
        identifiers=Identifiers(email=["Shared@example.com"]),
        limit=2,
        offset=1,
    )

    assert page.total_count == 3
    assert [u.external_id for u in page.users] == ["u1", "u2"]
    assert [(g.group_id, g.name) for g in page.users[0].groups] == [("news", "News")]


@pytest.mark.parametrize(
    ("identifiers", "limit", "offset", "message"),
    [
        (Identifiers(), None, None, IDENTIFIER_REQUIRED),
        (Identifiers(email=["a@example.com"], phone=["+12223334444"]), None, None, EMAIL_AND_PHONE),
        (Identifiers(external_id=["u"]), 0, None, BAD_LIMIT),
        (Identifiers(external_id=["u"]), 101, None, BAD_LIMIT),
        (Identifiers(external_id=["u"]), None, -1, BAD_OFFSET),
    ],
)
async def test_user_status_checks_identifiers_then_paging(
    service: StatusService,
    identifiers: Identifiers,
    limit: int | None,
    offset: int | None,
    message: str,
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await service.user_statuses(
            workspace_id=WORKSPACE, identifiers=identifiers, limit=limit, offset=offset
        )

    assert caught.value.message == message
