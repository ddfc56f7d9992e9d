"""`KeyService.revoke` is scoped to a workspace: a key of another one is refused like a missing key.

The stores are the in-memory ones (`tests/fakes.py`): the rule is the service's, whatever the
database.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from subgroups.errors import AuthenticationFailed, NotFound
from subgroups.services.keys import KeyService
from tests.clock import SettableClock
from tests.fakes import FakeKeyStore, FakeWorkspaceStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store() -> FakeKeyStore:
    return FakeKeyStore()


@pytest.fixture
async def keys(store: FakeKeyStore) -> KeyService:
    workspaces = FakeWorkspaceStore()
    for name in ("ours", "theirs"):
        await workspaces.create(name=name, at=NOW)
    return KeyService(keys=store, workspaces=workspaces, clock=SettableClock(NOW))


async def test_a_key_is_revoked_in_its_own_workspace(keys: KeyService) -> None:
    new = await keys.create(workspace_id=1)

    revoked = await keys.revoke(key_id=new.key.id, workspace_id=1)

    assert revoked.revoked_at == NOW
    with pytest.raises(AuthenticationFailed):
        await keys.authenticate(new.secret)


async def test_a_key_of_another_workspace_is_refused_like_a_missing_one(
    keys: KeyService, store: FakeKeyStore
) -> None:
    theirs = await keys.create(workspace_id=2)

    with pytest.raises(NotFound) as other:
        await keys.revoke(key_id=theirs.key.id, workspace_id=1)
    with pytest.raises(NotFound) as missing:
        await keys.revoke(key_id=999, workspace_id=1)

    assert other.value.message == f"No API key {theirs.key.id} in this workspace"
    assert missing.value.message == "No API key 999 in this workspace"
    assert store.rows[theirs.key.id].revoked_at is None
    assert await keys.authenticate(theirs.secret) == store.rows[theirs.key.id]
    await keys.flush()


async def test_without_a_workspace_any_key_is_revoked(keys: KeyService) -> None:
    theirs = await keys.create(workspace_id=2)

    revoked = await keys.revoke(key_id=theirs.key.id, workspace_id=None)

    assert revoked.revoked_at == NOW
    with pytest.raises(NotFound) as missing:
        await keys.revoke(key_id=999, workspace_id=None)
    assert missing.value.message == "No API key 999"
