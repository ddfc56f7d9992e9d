"""`KeyService.revoke` is scoped to a workspace: a key of another one is refused like a missing key.

The stores are in memory: the rule is the service's, whatever the database.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from subgroups.domain.models import ApiKey, Permission, Workspace
from subgroups.errors import AuthenticationFailed, NotFound
from subgroups.services.keys import KeyService
from tests.clock import SettableClock

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class MemoryWorkspaces:
    def __init__(self, *ids: int) -> None:
        self._workspaces = {i: Workspace(i, f"workspace {i}", NOW) for i in ids}

    async def create(self, *, name: str, at: datetime) -> Workspace:
        workspace = Workspace(len(self._workspaces) + 1, name, at)
        self._workspaces[workspace.id] = workspace
        return workspace

    async def list(self) -> list[Workspace]:
        return list(self._workspaces.values())

    async def get(self, workspace_id: int) -> Workspace | None:
        return self._workspaces.get(workspace_id)


class MemoryKeys:
    def __init__(self) -> None:
        self.keys: dict[int, ApiKey] = {}

    async def create(
        self,
        *,
        workspace_id: int,
        name: str,
        prefix: str,
        secret_hash: str,
        permissions: frozenset[Permission],
        allowed_ips: Sequence[str],
        at: datetime,
    ) -> ApiKey:
        key = ApiKey(
            id=len(self.keys) + 1,
            workspace_id=workspace_id,
            name=name,
            prefix=prefix,
            permissions=permissions,
            allowed_networks=(),
            created_at=at,
            revoked_at=None,
            last_used_at=None,
            secret_hash=secret_hash,
        )
        self.keys[key.id] = key
        return key

    async def find_by_hash(self, secret_hash: str) -> ApiKey | None:
        return next((k for k in self.keys.values() if k.secret_hash == secret_hash), None)

    async def get(self, key_id: int) -> ApiKey | None:
        return self.keys.get(key_id)

    async def list(self, workspace_id: int | None) -> list[ApiKey]:
        return [k for k in self.keys.values() if workspace_id in (None, k.workspace_id)]

    async def revoke(self, key_id: int, *, at: datetime) -> ApiKey | None:
        key = self.keys.get(key_id)
        if key is not None and key.revoked_at is None:
            self.keys[key_id] = key = dataclasses.replace(key, revoked_at=at)
        return key

    async def rotate(
        self, key_id: int, *, prefix: str, secret_hash: str, at: datetime, old_stops_at: datetime
    ) -> ApiKey | None:
        raise NotImplementedError

    async def touch(self, key_id: int, *, at: datetime) -> None:
        pass


@pytest.fixture
def store() -> MemoryKeys:
    return MemoryKeys()


@pytest.fixture
def keys(store: MemoryKeys) -> KeyService:
    return KeyService(keys=store, workspaces=MemoryWorkspaces(1, 2), clock=SettableClock(NOW))


async def test_a_key_is_revoked_in_its_own_workspace(keys: KeyService) -> None:
    new = await keys.create(workspace_id=1)

    revoked = await keys.revoke(key_id=new.key.id, workspace_id=1)

    assert revoked.revoked_at == NOW
    with pytest.raises(AuthenticationFailed):
        await keys.authenticate(new.secret)


async def test_a_key_of_another_workspace_is_refused_like_a_missing_one(
    keys: KeyService, store: MemoryKeys
) -> None:
    theirs = await keys.create(workspace_id=2)

    with pytest.raises(NotFound) as other:
        await keys.revoke(key_id=theirs.key.id, workspace_id=1)
    with pytest.raises(NotFound) as missing:
        await keys.revoke(key_id=999, workspace_id=1)

    assert other.value.message == f"No API key {theirs.key.id} in this workspace"
    assert missing.value.message == "No API key 999 in this workspace"
    assert store.keys[theirs.key.id].revoked_at is None
    assert await keys.authenticate(theirs.secret) == store.keys[theirs.key.id]
    await keys.flush()


async def test_without_a_workspace_any_key_is_revoked(keys: KeyService) -> None:
    theirs = await keys.create(workspace_id=2)

    revoked = await keys.revoke(key_id=theirs.key.id, workspace_id=None)

    assert revoked.revoked_at == NOW
    with pytest.raises(NotFound) as missing:
        await keys.revoke(key_id=999, workspace_id=None)
    assert missing.value.message == "No API key 999"
