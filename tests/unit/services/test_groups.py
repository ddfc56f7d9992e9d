"""GroupService: what a group's id, name, channel and description may be, and missing things."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from subgroups.errors import Conflict, InvalidRequest, NotFound
from subgroups.services.groups import MAX_DESCRIPTION, GroupService
from tests.clock import SettableClock
from tests.fakes import FakeGroupStore, FakeWorkspaceStore
from tests.unit.services.conftest import NOW

NAME_RULE = "A group name is 1-200 characters"


@pytest.fixture
async def workspace_id(workspaces: FakeWorkspaceStore) -> int:
    return (await workspaces.create(name="Acme", at=NOW)).id


@pytest.fixture
def workspaces() -> FakeWorkspaceStore:
    return FakeWorkspaceStore()


@pytest.fixture
def store() -> FakeGroupStore:
    return FakeGroupStore()


@pytest.fixture
def service(
    store: FakeGroupStore, workspaces: FakeWorkspaceStore, clock: SettableClock
) -> GroupService:
    return GroupService(groups=store, workspaces=workspaces, clock=clock)


async def test_a_group_gets_a_uuid_unless_it_keeps_its_own_id(
    service: GroupService, workspace_id: int
) -> None:
    generated = await service.create(workspace_id=workspace_id, name="News", channel="email")
    kept = await service.create(
        workspace_id=workspace_id, name="Alerts", channel="sms", group_id="braze-Id_1"
    )

    assert str(uuid.UUID(generated.id)) == generated.id
    assert (kept.id, kept.channel, kept.created_at) == ("braze-Id_1", "sms", NOW)


@pytest.mark.parametrize("group_id", ["", "x" * 65, "has space", "dot.ted", "é"])
async def test_a_group_id_is_1_to_64_letters_digits_dashes_and_underscores(
    service: GroupService, store: FakeGroupStore, workspace_id: int, group_id: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await service.create(
            workspace_id=workspace_id, name="News", channel="email", group_id=group_id
        )

    assert refused.value.message == "A group id is 1-64 of letters, digits, '-' and '_'"
    assert store.rows == {}


@pytest.mark.parametrize("name", ["", "  ", "x" * 201])
async def test_a_group_name_is_1_to_200_characters_once_trimmed(
    service: GroupService, workspace_id: int, name: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await service.create(workspace_id=workspace_id, name=name, channel="email")

    assert refused.value.message == NAME_RULE


async def test_a_name_is_stored_trimmed(service: GroupService, workspace_id: int) -> None:
    group = await service.create(workspace_id=workspace_id, name="  News ", channel="email")

    assert group.name == "News"


@pytest.mark.parametrize("channel", ["Email", "push", ""])
async def test_the_channel_is_email_or_sms(
    service: GroupService, workspace_id: int, channel: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await service.create(workspace_id=workspace_id, name="News", channel=channel)

    assert refused.value.message == "A group's channel is 'email' or 'sms'"


async def test_the_input_is_checked_before_the_workspace_is_looked_for(
    service: GroupService,
) -> None:
    with pytest.raises(InvalidRequest):
        await service.create(workspace_id=99, name="", channel="email")
    with pytest.raises(NotFound) as missing:
        await service.create(workspace_id=99, name="News", channel="email")

    assert missing.value.message == "No workspace 99"


async def test_a_taken_id_or_name_in_the_workspace_is_a_conflict(
    service: GroupService, workspaces: FakeWorkspaceStore, workspace_id: int
) -> None:
    other = (await workspaces.create(name="Other", at=NOW)).id
    await service.create(workspace_id=workspace_id, name="News", channel="email", group_id="g")

    with pytest.raises(Conflict):
        await service.create(workspace_id=workspace_id, name="News", channel="sms")
    with pytest.raises(Conflict):
        await service.create(workspace_id=workspace_id, name="Else", channel="sms", group_id="g")
    # Another workspace has names and ids of its own.
    assert (await service.create(workspace_id=other, name="News", channel="email", group_id="g")).id


async def test_listing_a_missing_workspace_is_not_found(service: GroupService) -> None:
    with pytest.raises(NotFound):
        await service.list(workspace_id=5)


async def test_a_workspace_lists_only_its_own_groups_oldest_first(
    service: GroupService, workspaces: FakeWorkspaceStore, workspace_id: int
) -> None:
    other = (await workspaces.create(name="Other", at=NOW)).id
    first = await service.create(workspace_id=workspace_id, name="A", channel="email")
    await service.create(workspace_id=other, name="B", channel="email")
    second = await service.create(workspace_id=workspace_id, name="C", channel="sms")

    assert await service.list(workspace_id=workspace_id) == [first, second]


async def test_archiving_stamps_the_first_time_only(
    service: GroupService, clock: SettableClock, workspace_id: int
) -> None:
    group = await service.create(workspace_id=workspace_id, name="News", channel="email")

    archived = await service.archive(workspace_id=workspace_id, group_id=group.id)
    clock.advance(timedelta(hours=1))
    again = await service.archive(workspace_id=workspace_id, group_id=group.id)

    assert archived.archived_at == again.archived_at == NOW


async def test_a_group_is_archived_only_in_its_own_workspace(
    service: GroupService, workspaces: FakeWorkspaceStore, workspace_id: int
) -> None:
    other = (await workspaces.create(name="Other", at=NOW)).id
    group = await service.create(workspace_id=workspace_id, name="News", channel="email")

    with pytest.raises(NotFound) as missing:
        await service.archive(workspace_id=other, group_id=group.id)

    assert missing.value.message == f"No subscription group '{group.id}' in workspace {other}"
    assert (await service.list(workspace_id=workspace_id))[0].archived_at is None


async def test_an_update_trims_and_an_empty_description_removes_it(
    service: GroupService, workspace_id: int
) -> None:
    group = await service.create(
        workspace_id=workspace_id, name="News", channel="email", description="Weekly"
    )

    described = await service.update(
        workspace_id=workspace_id, group_id=group.id, name=" Letters ", description="  Monthly  "
    )
    cleared = await service.update(
        workspace_id=workspace_id, group_id=group.id, name="Letters", description="   "
    )

    assert (described.name, described.description) == ("Letters", "Monthly")
    assert cleared.description is None


async def test_an_update_checks_the_name_the_description_and_the_group(
    service: GroupService, workspace_id: int
) -> None:
    group = await service.create(workspace_id=workspace_id, name="News", channel="email")
    await service.create(workspace_id=workspace_id, name="Taken", channel="email")

    with pytest.raises(InvalidRequest) as unnamed:
        await service.update(
            workspace_id=workspace_id, group_id=group.id, name=" ", description=None
        )
    with pytest.raises(InvalidRequest) as too_long:
        await service.update(
            workspace_id=workspace_id,
            group_id=group.id,
            name="News",
            description="x" * (MAX_DESCRIPTION + 1),
        )
    with pytest.raises(Conflict):
        await service.update(
            workspace_id=workspace_id, group_id=group.id, name="Taken", description=None
        )
    with pytest.raises(NotFound):
        await service.update(workspace_id=workspace_id, group_id="nope", name="N", description=None)

    assert unnamed.value.message == NAME_RULE
    assert too_long.value.message == f"A group description is at most {MAX_DESCRIPTION} characters"
    assert (await service.list(workspace_id=workspace_id))[0] == group


async def test_the_longest_description_is_accepted(
    service: GroupService, workspace_id: int
) -> None:
    group = await service.create(workspace_id=workspace_id, name="News", channel="email")

    updated = await service.update(
        workspace_id=workspace_id, group_id=group.id, name="News", description="x" * MAX_DESCRIPTION
    )

    assert updated.description == "x" * MAX_DESCRIPTION
