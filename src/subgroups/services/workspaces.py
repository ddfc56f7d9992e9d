"""Workspaces: the tenants everything else belongs to."""

from __future__ import annotations

from subgroups.domain.models import Workspace
from subgroups.errors import InvalidRequest, NotFound
from subgroups.services.ports import Clock, WorkspaceStore


class WorkspaceService:
    def __init__(self, *, workspaces: WorkspaceStore, clock: Clock) -> None:
        self._workspaces = workspaces
        self._clock = clock

    async def create(self, *, name: str) -> Workspace:
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidRequest("A workspace name is 1-200 characters")
        return await self._workspaces.create(name=name, at=self._clock.now())

    async def list(self) -> list[Workspace]:
        return await self._workspaces.list()

    async def get(self, *, workspace_id: int) -> Workspace:
        workspace = await self._workspaces.get(workspace_id)
        if workspace is None:
            raise NotFound(f"No workspace {workspace_id}")
        return workspace
