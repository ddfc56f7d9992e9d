"""Creating, listing and archiving subscription groups."""

from __future__ import annotations

import re
import uuid

from subgroups.domain.models import CHANNELS, Channel, Group
from subgroups.errors import InvalidRequest, NotFound
from subgroups.services.ports import Clock, GroupStore, WorkspaceStore

# Ids carried over from Braze are UUIDs; we accept any id of this shape so teams keep theirs.
_GROUP_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_DESCRIPTION = 2000


class GroupService:
    def __init__(self, *, groups: GroupStore, workspaces: WorkspaceStore, clock: Clock) -> None:
        self._groups = groups
        self._workspaces = workspaces
        self._clock = clock

    async def create(
        self,
        *,
        workspace_id: int,
        name: str,
        channel: str,
        description: str | None = None,
        group_id: str | None = None,
    ) -> Group:
        if group_id is not None and not _GROUP_ID.fullmatch(group_id):
            raise InvalidRequest("A group id is 1-64 of letters, digits, '-' and '_'")
        name = _checked_name(name)
        if channel not in CHANNELS:
            raise InvalidRequest("A group's channel is 'email' or 'sms'")
        await self._require_workspace(workspace_id)
        checked: Channel = "email" if channel == "email" else "sms"
        return await self._groups.create(
            workspace_id=workspace_id,
            group_id=group_id or str(uuid.uuid4()),
            name=name,
            channel=checked,
            description=description,
            at=self._clock.now(),
        )

    async def list(self, *, workspace_id: int) -> list[Group]:
        await self._require_workspace(workspace_id)
        return await self._groups.list(workspace_id)

    async def archive(self, *, workspace_id: int, group_id: str) -> Group:
        group = await self._groups.archive(workspace_id, group_id, at=self._clock.now())
        if group is None:
            raise NotFound(f"No subscription group '{group_id}' in workspace {workspace_id}")
        return group

    async def update(
        self, *, workspace_id: int, group_id: str, name: str, description: str | None
    ) -> Group:
        """Renames and (re)describes a group; an empty description removes it."""
        name = _checked_name(name)
        description = (description or "").strip() or None
        if description is not None and len(description) > MAX_DESCRIPTION:
            raise InvalidRequest(f"A group description is at most {MAX_DESCRIPTION} characters")
        group = await self._groups.update(
            workspace_id, group_id, name=name, description=description
        )
        if group is None:
            raise NotFound(f"No subscription group '{group_id}' in workspace {workspace_id}")
        return group

    async def _require_workspace(self, workspace_id: int) -> None:
        if await self._workspaces.get(workspace_id) is None:
            raise NotFound(f"No workspace {workspace_id}")


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidRequest("A group name is 1-200 characters")
    return name
