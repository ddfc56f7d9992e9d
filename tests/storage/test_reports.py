"""Group sizes, their daily history and audit trails, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from subgroups.config import Settings
from subgroups.container import Services
from subgroups.domain.models import Actor, Source, State
from subgroups.domain.reports import Sizes
from subgroups.domain.subscriptions import GroupRequest
from subgroups.errors import Conflict, InvalidRequest, NotFound
from tests.clock import SettableClock, services_at
from tests.factories import make_group, make_workspace
from tests.readback import group_sizes_counted

API = Actor(Source.REST_API, api_key_id=None, request_id="r1", client_ip="192.0.2.1")


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(datetime(2026, 3, 10, 9, 30, tzinfo=UTC))


@pytest.fixture
async def timed(settings: Settings, clock: SettableClock) -> AsyncIterator[Services]:
    async with services_at(settings, clock) as built:
        yield built


async def set_state(
    services: Services, workspace_id: int, group_id: str, state: str, *external_ids: str
) -> None:
    request = GroupRequest(group_id, state, external_id=list(external_ids))
    await services.subscriptions.set_state(workspace_id=workspace_id, request=request, actor=API)


async def test_summaries_count_each_groups_subscribed_and_unsubscribed_profiles(
    timed: Services,
) -> None:
    workspace = await make_workspace(timed)
    news, quiet = await make_group(timed, workspace.id), await make_group(timed, workspace.id)
    other = await make_workspace(timed)
    elsewhere = await make_group(timed, other.id)
    await set_state(timed, workspace.id, news.id, "subscribed", "a", "b", "c")
    await set_state(timed, workspace.id, news.id, "unsubscribed", "c", "d")
    await set_state(timed, other.id, elsewhere.id, "subscribed", "a", "b")

    summaries = await timed.reports.summaries(workspace_id=workspace.id)

    assert [(s.group.id, s.sizes) for s in summaries] == [
        (news.id, Sizes(2, 2)),
        (quiet.id, Sizes(0, 0)),
    ]


async def test_the_daily_series_is_rebuilt_from_the_state_changes(
    timed: Services, clock: SettableClock
) -> None:
    workspace = await make_workspace(timed)
    group = await make_group(timed, workspace.id)
    today = clock.at
    clock.at = today - timedelta(days=40)
    await set_state(timed, workspace.id, group.id, "subscribed", "old")
    clock.at = today - timedelta(days=2)
    await set_state(timed, workspace.id, group.id, "subscribed", "a", "b")
    clock.at = today - timedelta(days=1)
    await set_state(timed, workspace.id, group.id, "unsubscribed", "b", "c")
    clock.at = today

    report = await timed.reports.group_report(workspace_id=workspace.id, group_id=group.id, days=30)

    assert report.sizes == Sizes(2, 2)
    assert len(report.series) == 30
    assert [(p.day.isoformat(), p.sizes) for p in report.series[-4:]] == [
        ("2026-03-07", Sizes(1, 0)),
        ("2026-03-08", Sizes(3, 0)),
        ("2026-03-09", Sizes(2, 2)),
        ("2026-03-10", Sizes(2, 2)),
    ]
    assert report.series[0].sizes == Sizes(1, 0)
    assert [(c.external_id, c.new_state) for c in report.recent[:2]] == [
        ("c", State.UNSUBSCRIBED),
        ("b", State.UNSUBSCRIBED),
    ]
    longer = await timed.reports.group_report(workspace_id=workspace.id, group_id=group.id, days=90)
    assert longer.series[0].sizes == Sizes(0, 0)
    assert longer.series[-1].sizes == Sizes(2, 2)


async def test_the_series_follows_new_changes_after_settled_days_were_kept(
    timed: Services, clock: SettableClock
) -> None:
    workspace = await make_workspace(timed)
    group = await make_group(timed, workspace.id)
    today = clock.at
    clock.at = today - timedelta(days=3)
    await set_state(timed, workspace.id, group.id, "subscribed", "a")
    clock.at = today
    first = await timed.reports.group_report(workspace_id=workspace.id, group_id=group.id, days=30)

    clock.at = today + timedelta(hours=1)
    await set_state(timed, workspace.id, group.id, "unsubscribed", "a", "b")
    clock.at = today + timedelta(days=1)  # the next day: the one before is kept now too
    await set_state(timed, workspace.id, group.id, "subscribed", "c")
    again = await timed.reports.group_report(workspace_id=workspace.id, group_id=group.id, days=30)

    assert [p.sizes for p in first.series[-4:]] == [Sizes(1, 0)] * 4
    assert [(p.day.isoformat(), p.sizes) for p in again.series[-5:]] == [
        ("2026-03-07", Sizes(1, 0)),
        ("2026-03-08", Sizes(1, 0)),
        ("2026-03-09", Sizes(1, 0)),
        ("2026-03-10", Sizes(0, 2)),
        ("2026-03-11", Sizes(1, 2)),
    ]
    assert again.series[0].sizes == Sizes(0, 0)


async def sizes_of(services: Services, workspace_id: int) -> dict[str, Sizes]:
    return {
        s.group.id: s.sizes for s in await services.reports.summaries(workspace_id=workspace_id)
    }


async def test_sizes_kept_for_the_days_that_are_over_agree_with_the_states_every_day(
    timed: Services, clock: SettableClock
) -> None:
    """The sizes are what the records add up to: kept for the days that are over, counted since.
    Day after day, with changes on each, they must match a count of the states themselves."""
    workspace = await make_workspace(timed)
    news, offers = await make_group(timed, workspace.id), await make_group(timed, workspace.id)
    start = clock.at
    clock.at = start - timedelta(days=5)
    await set_state(timed, workspace.id, news.id, "subscribed", "a", "b", "c", "d")
    await set_state(timed, workspace.id, offers.id, "unsubscribed", "a")
    for day in range(8):
        clock.at = start - timedelta(days=4) + timedelta(days=day)
        first = f"p{day}"
        await set_state(timed, workspace.id, news.id, "subscribed", first, "a")
        await set_state(timed, workspace.id, news.id, "unsubscribed", "b" if day % 2 else "c")
        await set_state(
            timed, workspace.id, offers.id, "subscribed" if day % 3 else "unsubscribed", "a", first
        )
        if day % 2:  # viewed on some days only: the kept totals must catch up over several days
            continue
        shown = await sizes_of(timed, workspace.id)
        for group in (news, offers):
            assert shown[group.id] == Sizes(*await group_sizes_counted(timed, group.pk))

    report = await timed.reports.group_report(workspace_id=workspace.id, group_id=news.id, days=30)
    assert report.sizes == Sizes(*await group_sizes_counted(timed, news.pk)) == Sizes(10, 2)
    assert report.series[-1].sizes == report.sizes


async def test_a_first_view_by_many_at_once_keeps_each_groups_totals_once(
    timed: Services, clock: SettableClock
) -> None:
    workspace = await make_workspace(timed)
    group = await make_group(timed, workspace.id)
    start = clock.at
    clock.at = start - timedelta(days=3)
    await set_state(timed, workspace.id, group.id, "subscribed", "a", "b", "c")
    clock.at = start

    views = await asyncio.gather(*(sizes_of(timed, workspace.id) for _ in range(6)))

    assert [v[group.id] for v in views] == [Sizes(3, 0)] * 6
    assert await sizes_of(timed, workspace.id) == {group.id: Sizes(3, 0)}


async def test_totals_kept_further_by_a_server_whose_clock_is_ahead_are_not_counted_twice(
    timed: Services, clock: SettableClock
) -> None:
    workspace = await make_workspace(timed)
    group = await make_group(timed, workspace.id)
    start = clock.at
    clock.at = start - timedelta(days=3)
    await set_state(timed, workspace.id, group.id, "subscribed", "a", "b")
    clock.at = start - timedelta(days=1)
    await set_state(timed, workspace.id, group.id, "unsubscribed", "a")
    clock.at = start + timedelta(days=1)  # a server a day ahead keeps what is yesterday to us
    assert await sizes_of(timed, workspace.id) == {group.id: Sizes(1, 1)}

    clock.at = start  # a server with the right time: to it, that day is still live
    await set_state(timed, workspace.id, group.id, "subscribed", "c")
    assert await sizes_of(timed, workspace.id) == {group.id: Sizes(2, 1)}


async def test_a_dashboard_change_is_recorded_with_its_operator(timed: Services) -> None:
    workspace = await make_workspace(timed)
    group = await make_group(timed, workspace.id)
    await set_state(timed, workspace.id, group.id, "subscribed", "user-1")
    [profile] = await timed.subscriptions.profiles(
        workspace_id=workspace.id, kind="external_id", value="user-1"
    )
    actor = Actor(Source.DASHBOARD, client_ip="192.0.2.9", operator="ops@example.com")

    await timed.subscriptions.set_profile_state(
        workspace_id=workspace.id,
        profile_id=profile.id,
        group_id=group.id,
        state=State.UNSUBSCRIBED,
        actor=actor,
    )

    history = await timed.reports.profile_changes(
        workspace_id=workspace.id, profile_ids=[profile.id]
    )
    assert [(c.source, c.operator, c.old_state, c.new_state) for c in history] == [
        (Source.DASHBOARD, "ops@example.com", State.SUBSCRIBED, State.UNSUBSCRIBED),
        (Source.REST_API, None, None, State.SUBSCRIBED),
    ]


async def test_a_dashboard_change_cannot_touch_an_archived_group_or_another_workspace(
    timed: Services,
) -> None:
    workspace, other = await make_workspace(timed), await make_workspace(timed)
    group = await make_group(timed, workspace.id)
    theirs = await make_group(timed, other.id)
    await set_state(timed, other.id, theirs.id, "subscribed", "them")
    [profile] = await timed.subscriptions.profiles(
        workspace_id=other.id, kind="external_id", value="them"
    )
    actor = Actor(Source.DASHBOARD, operator="ops@example.com")

    with pytest.raises(NotFound):
        await timed.subscriptions.set_profile_state(
            workspace_id=workspace.id,
            profile_id=profile.id,
            group_id=group.id,
            state=State.SUBSCRIBED,
            actor=actor,
        )
    assert await timed.subscriptions.changes(workspace_id=workspace.id) == []

    await timed.groups.archive(workspace_id=other.id, group_id=theirs.id)
    with pytest.raises(InvalidRequest, match="is archived"):
        await timed.subscriptions.set_profile_state(
            workspace_id=other.id,
            profile_id=profile.id,
            group_id=theirs.id,
            state=State.UNSUBSCRIBED,
            actor=actor,
        )


async def test_a_group_is_renamed_and_described_but_not_to_a_taken_name(timed: Services) -> None:
    workspace = await make_workspace(timed)
    first = await make_group(timed, workspace.id, name="First")
    await make_group(timed, workspace.id, name="Second")

    renamed = await timed.groups.update(
        workspace_id=workspace.id, group_id=first.id, name=" Renamed ", description=" About "
    )
    assert (renamed.name, renamed.description) == ("Renamed", "About")
    cleared = await timed.groups.update(
        workspace_id=workspace.id, group_id=first.id, name="Renamed", description="  "
    )
    assert cleared.description is None
    with pytest.raises(Conflict, match="name 'Second'"):
        await timed.groups.update(
            workspace_id=workspace.id, group_id=first.id, name="Second", description=None
        )
