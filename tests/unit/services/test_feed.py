"""FeedService: the pull feed's paging (contract §9), on the in-memory stores."""

from __future__ import annotations

import pytest

from subgroups.domain.models import Actor, Source
from subgroups.domain.subscriptions import GroupRequest
from subgroups.errors import InvalidRequest
from subgroups.services.feed import FeedService
from subgroups.services.subscriptions import SubscriptionService
from tests.clock import SettableClock
from tests.fakes import FakeChangeFeed, FakeGroupStore, FakeSubscriptionStore
from tests.unit.services.conftest import NOW

WORKSPACE = 1


@pytest.fixture
async def store() -> FakeSubscriptionStore:
    store = FakeSubscriptionStore(FakeGroupStore())
    await store.groups.create(
        workspace_id=WORKSPACE,
        group_id="news",
        name="News",
        channel="email",
        description=None,
        at=NOW,
    )
    setter = SubscriptionService(groups=store.groups, store=store, clock=SettableClock(NOW))
    for person in ("a", "b", "c", "d", "e"):
        request = GroupRequest("news", "subscribed", external_id=person)
        await setter.set_state(workspace_id=WORKSPACE, request=request, actor=Actor(Source.CLI))
    return store


@pytest.fixture
def feed(store: FakeSubscriptionStore) -> FakeChangeFeed:
    return FakeChangeFeed(store)


@pytest.fixture
def service(feed: FakeChangeFeed) -> FeedService:
    return FeedService(feed=feed)


async def test_pages_continue_from_next_after_until_there_is_no_more(service: FeedService) -> None:
    first = await service.page(workspace_id=WORKSPACE, after=None, limit=2)
    second = await service.page(workspace_id=WORKSPACE, after=first.next_after, limit=2)
    last = await service.page(workspace_id=WORKSPACE, after=second.next_after, limit=2)
    empty = await service.page(workspace_id=WORKSPACE, after=last.next_after, limit=2)

    pages = [first, second, last]
    assert [[c.external_id for c in p.changes] for p in pages] == [["a", "b"], ["c", "d"], ["e"]]
    assert [p.has_more for p in pages] == [True, True, False]
    assert (list(empty.changes), empty.next_after, empty.has_more) == ([], last.next_after, False)


async def test_a_page_exactly_as_long_as_the_rest_says_nothing_more(service: FeedService) -> None:
    page = await service.page(workspace_id=WORKSPACE, after=0, limit=5)

    assert (len(page.changes), page.has_more) == (5, False)


async def test_records_after_one_still_in_flight_are_held_back(
    service: FeedService, feed: FakeChangeFeed, store: FakeSubscriptionStore
) -> None:
    feed.held_back_from = store.records[2].id

    page = await service.page(workspace_id=WORKSPACE, after=0, limit=100)

    assert [c.external_id for c in page.changes] == ["a", "b"]
    assert (page.next_after, page.has_more) == (store.records[1].id, False)


async def test_the_default_limit_is_100_and_after_starts_at_0(service: FeedService) -> None:
    page = await service.page(workspace_id=WORKSPACE, after=None, limit=None)

    assert [c.external_id for c in page.changes] == ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize(
    ("after", "limit", "message"),
    [
        (-1, None, "after must be a whole number, 0 or more"),
        (2**63, None, "after must be a whole number, 0 or more"),
        (None, 0, "limit must be a whole number from 1 to 1000"),
        (None, 1001, "limit must be a whole number from 1 to 1000"),
        (None, -1, "limit must be a whole number from 1 to 1000"),
    ],
)
async def test_bad_bounds_name_their_parameter(
    service: FeedService, after: int | None, limit: int | None, message: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await service.page(workspace_id=WORKSPACE, after=after, limit=limit)

    assert refused.value.message == message
