"""API keys: their form, how they are stored, last use, revocation and rotation."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from subgroups.config import Settings
from subgroups.container import Services, open_backend
from subgroups.errors import AuthenticationFailed, Conflict, NotFound
from subgroups.services.keys import KeyService
from subgroups.storage.keys import SqlKeyStore
from subgroups.storage.tables import api_keys
from subgroups.storage.workspaces import SqlWorkspaceStore
from tests.factories import Tenant, make_workspace
from tests.security.support import app_client

PATH = "/subscription/status/set"


class SettableClock:
    def __init__(self) -> None:
        self.at = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


async def test_a_key_is_prefixed_random_and_stored_only_as_its_hash(services: Services) -> None:
    workspace = await make_workspace(services)
    first = await services.keys.create(workspace_id=workspace.id)
    second = await services.keys.create(workspace_id=workspace.id)

    for new in (first, second):
        assert re.fullmatch(r"sgk_[A-Za-z0-9_-]{43}", new.secret)  # 43 x 6 bits >= 256 bits
    assert first.secret != second.secret
    async with services.db.snapshot() as conn:
        rows = (await conn.execute(select(api_keys))).mappings().all()
    stored = " ".join(str(value) for row in rows for value in row.values())
    assert first.secret not in stored
    assert second.secret[4:] not in stored
    assert {row["secret_hash"] for row in rows} == {
        hashlib.sha256(s.encode()).hexdigest() for s in (first.secret, second.secret)
    }
    assert "secret_hash" not in repr(first.key)


async def test_last_use_is_recorded_once_per_interval_not_per_request(
    settings: Settings, services: Services, tenant: Tenant
) -> None:
    async with app_client(settings, key_touch_seconds=3600) as (http, app_services):
        await http.post(PATH, json={}, headers=tenant.auth)
        await app_services.keys.flush()
        [after_first] = await services.keys.list(workspace_id=tenant.workspace.id)
        await http.post(PATH, json={}, headers=tenant.auth)
        await app_services.keys.flush()
        [after_second] = await services.keys.list(workspace_id=tenant.workspace.id)

    assert after_first.last_used_at is not None
    assert after_second.last_used_at == after_first.last_used_at


async def test_with_no_interval_every_use_is_recorded(
    settings: Settings, services: Services, tenant: Tenant
) -> None:
    async with app_client(settings, key_touch_seconds=0) as (http, app_services):
        await http.post(PATH, json={}, headers=tenant.auth)
        await app_services.keys.flush()
        [first] = await services.keys.list(workspace_id=tenant.workspace.id)
        await http.post(PATH, json={}, headers=tenant.auth)
        await app_services.keys.flush()
        [second] = await services.keys.list(workspace_id=tenant.workspace.id)

    assert first.last_used_at is not None
    assert second.last_used_at is not None
    assert second.last_used_at > first.last_used_at


async def test_rotation_copies_the_key_and_retires_the_old_one(
    services: Services, tenant: Tenant
) -> None:
    old = await services.keys.create(
        workspace_id=tenant.workspace.id,
        name="billing",
        permissions=["subscription.status.get"],
        allowed_ips=["198.51.100.0/24", "2001:db8::/32"],
    )

    new = await services.keys.rotate(key_id=old.key.id)

    assert new.secret != old.secret
    assert new.key.id != old.key.id
    assert (new.key.workspace_id, new.key.name, new.key.permissions, new.key.allowed_networks) == (
        old.key.workspace_id,
        old.key.name,
        old.key.permissions,
        old.key.allowed_networks,
    )
    assert (await services.keys.authenticate(new.secret)).id == new.key.id
    with pytest.raises(AuthenticationFailed):
        await services.keys.authenticate(old.secret)


async def test_a_grace_period_keeps_the_old_key_working_until_it_ends(
    services: Services, tenant: Tenant
) -> None:
    old = await services.keys.create(workspace_id=tenant.workspace.id)

    new = await services.keys.rotate(key_id=old.key.id, grace_seconds=3600)

    assert (await services.keys.authenticate(old.secret)).id == old.key.id
    assert (await services.keys.authenticate(new.secret)).id == new.key.id
    listed = {k.id: k for k in await services.keys.list(workspace_id=tenant.workspace.id)}
    stops = listed[old.key.id].revoked_at
    assert stops is not None
    assert stops - listed[new.key.id].created_at == timedelta(hours=1)
    await services.keys.revoke(key_id=old.key.id, workspace_id=None)  # ending the grace early
    with pytest.raises(AuthenticationFailed):
        await services.keys.authenticate(old.secret)


async def test_a_grace_period_ends_on_time_even_for_a_remembered_key(database_url: str) -> None:
    db = open_backend(Settings(database_url=database_url)).db
    clock = SettableClock()
    workspaces = SqlWorkspaceStore(db)
    keys = KeyService(keys=SqlKeyStore(db), workspaces=workspaces, clock=clock, cache_seconds=3600)
    try:
        workspace = await workspaces.create(name="w", at=clock.now())
        old = await keys.create(workspace_id=workspace.id)
        await keys.rotate(key_id=old.key.id, grace_seconds=60)
        await keys.authenticate(old.secret)  # now remembered for an hour

        clock.at += timedelta(seconds=59)
        assert (await keys.authenticate(old.secret)).id == old.key.id
        clock.at += timedelta(seconds=1)
        with pytest.raises(AuthenticationFailed):
            await keys.authenticate(old.secret)
    finally:
        await keys.flush()
        await db.dispose()


async def test_revoking_through_the_same_service_takes_effect_at_once(
    settings: Settings, services: Services, tenant: Tenant
) -> None:
    async with app_client(settings, key_cache_seconds=3600) as (http, app_services):
        before = await http.post(PATH, json={}, headers=tenant.auth)
        [key] = await app_services.keys.list(workspace_id=tenant.workspace.id)
        await app_services.keys.revoke(key_id=key.id, workspace_id=None)
        after = await http.post(PATH, json={}, headers=tenant.auth)

    assert (before.status_code, after.status_code) == (400, 401)


async def test_another_process_sees_a_revocation_after_the_cache_window(
    settings: Settings, services: Services, tenant: Tenant
) -> None:
    """The documented trade-off: a key revoked elsewhere is accepted for at most the window."""
    async with (
        app_client(settings, key_cache_seconds=3600) as (remembering, _),
        app_client(settings, key_cache_seconds=0) as (forgetting, _),
    ):
        await remembering.post(PATH, json={}, headers=tenant.auth)
        [key] = await services.keys.list(workspace_id=tenant.workspace.id)
        await services.keys.revoke(
            key_id=key.id, workspace_id=None
        )  # as the CLI would, in another process

        within_window = await remembering.post(PATH, json={}, headers=tenant.auth)
        without_cache = await forgetting.post(PATH, json={}, headers=tenant.auth)

    assert (within_window.status_code, without_cache.status_code) == (400, 401)


async def test_rotating_a_revoked_or_unknown_key_is_refused(
    services: Services, tenant: Tenant
) -> None:
    old = await services.keys.create(workspace_id=tenant.workspace.id)
    await services.keys.revoke(key_id=old.key.id, workspace_id=None)

    with pytest.raises(Conflict):
        await services.keys.rotate(key_id=old.key.id)
    with pytest.raises(NotFound):
        await services.keys.rotate(key_id=99_999)
    assert len(await services.keys.list(workspace_id=tenant.workspace.id)) == 2
