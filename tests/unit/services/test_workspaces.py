"""WorkspaceService: a workspace's name, and a missing workspace."""

from __future__ import annotations

import pytest

from subgroups.errors import Conflict, InvalidRequest, NotFound
from subgroups.services.workspaces import WorkspaceService
from tests.clock import SettableClock
from tests.fakes import FakeWorkspaceStore
from tests.unit.services.conftest import NOW


@pytest.fixture
def service(clock: SettableClock) -> WorkspaceService:
    return WorkspaceService(workspaces=FakeWorkspaceStore(), clock=clock)


async def test_a_workspace_is_created_with_its_trimmed_name_at_the_clocks_time(
    service: WorkspaceService,
) -> None:
    created = await service.create(name="  Acme  ")

    assert (created.name, created.created_at) == ("Acme", NOW)
    assert await service.get(workspace_id=created.id) == created
    assert await service.list() == [created]


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
async def test_a_name_is_1_to_200_characters(service: WorkspaceService, name: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await service.create(name=name)

    assert refused.value.message == "A workspace name is 1-200 characters"
    assert await service.list() == []


async def test_the_longest_name_is_accepted(service: WorkspaceService) -> None:
    assert (await service.create(name="x" * 200)).name == "x" * 200


async def test_a_taken_name_is_a_conflict(service: WorkspaceService) -> None:
    await service.create(name="Acme")

    with pytest.raises(Conflict):
        await service.create(name=" Acme")


async def test_a_missing_workspace_is_not_found(service: WorkspaceService) -> None:
    with pytest.raises(NotFound) as missing:
        await service.get(workspace_id=7)

    assert missing.value.message == "No workspace 7"
