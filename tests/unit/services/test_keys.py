"""KeyService: issuing keys, who they authenticate, revocation, rotation and its grace period.

(That revocation is scoped to a workspace is tested in tests/unit/test_key_revocation.py.)
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from datetime import datetime, timedelta

import pytest

from subgroups.domain.models import ALL_PERMISSIONS, Permission
from subgroups.errors import AuthenticationFailed, Conflict, InvalidRequest, NotFound
from subgroups.services.keys import MAX_GRACE_SECONDS, KeyService
from tests.clock import SettableClock
from tests.fakes import FakeKeyStore, FakeWorkspaceStore
from tests.unit.services.conftest import NOW


@pytest.fixture
def store() -> FakeKeyStore:
    return FakeKeyStore()


@pytest.fixture
async def workspaces() -> FakeWorkspaceStore:
    workspaces = FakeWorkspaceStore()
    await workspaces.create(name="Acme", at=NOW)
    return workspaces


def key_service(
    store: FakeKeyStore,
    workspaces: FakeWorkspaceStore,
    clock: SettableClock,
    *,
    cache_seconds: float = 0.0,
    touch_seconds: float = 300.0,
) -> KeyService:
    return KeyService(
        keys=store,
        workspaces=workspaces,
        clock=clock,
        cache_seconds=cache_seconds,
        touch_seconds=touch_seconds,
    )


@pytest.fixture
def service(
    store: FakeKeyStore, workspaces: FakeWorkspaceStore, clock: SettableClock
) -> KeyService:
    return key_service(store, workspaces, clock)


async def refused(service: KeyService, secret: str) -> bool:
    try:
        await service.authenticate(secret)
    except AuthenticationFailed:
        return True
    return False


async def test_only_the_secrets_hash_is_stored_and_the_prefix_shows_its_start(
    service: KeyService, store: FakeKeyStore
) -> None:
    new = await service.create(workspace_id=1, name="backend")

    stored = store.rows[new.key.id]
    assert new.secret.startswith("sgk_")
    assert len(new.secret) == 4 + 43
    assert stored.secret_hash == hashlib.sha256(new.secret.encode()).hexdigest()
    assert stored.prefix == new.secret[:12]
    assert new.secret not in repr(stored)
    assert (stored.name, stored.created_at, stored.revoked_at) == ("backend", NOW, None)


async def test_a_key_without_permissions_has_all_of_them(service: KeyService) -> None:
    everything = await service.create(workspace_id=1)
    reader = await service.create(workspace_id=1, permissions=["subscription.status.get"])

    assert everything.key.permissions == ALL_PERMISSIONS
    assert reader.key.permissions == {Permission.STATUS_GET}


async def test_an_unknown_permission_is_refused_naming_it(
    service: KeyService, store: FakeKeyStore
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await service.create(workspace_id=1, permissions=["subscription.status.get", "admin"])

    assert caught.value.message == (
        "Unknown permission 'admin': use one of changes.get, exports.get, imports.write,"
        " links.create, subscription.groups.get, subscription.status.get, subscription.status.set"
    )
    assert store.rows == {}


async def test_allowed_addresses_are_read_as_networks(service: KeyService) -> None:
    new = await service.create(workspace_id=1, allowed_ips=[" 10.1.2.3 ", "10.9.9.9/8", "::1"])

    assert new.key.allowed_networks == (
        ipaddress.ip_network("10.1.2.3/32"),
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )


async def test_an_invalid_address_is_refused_naming_it(service: KeyService) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await service.create(workspace_id=1, allowed_ips=["10.0.0.0/8", "intranet"])

    assert caught.value.message == "Invalid IP address or CIDR range: 'intranet'"


async def test_a_key_needs_an_existing_workspace(service: KeyService, store: FakeKeyStore) -> None:
    with pytest.raises(NotFound) as caught:
        await service.create(workspace_id=2)

    assert caught.value.message == "No workspace 2"
    assert store.rows == {}


async def test_a_live_key_authenticates_as_itself(service: KeyService) -> None:
    new = await service.create(workspace_id=1)

    assert await service.authenticate(new.secret) == new.key
    await service.flush()


@pytest.mark.parametrize(
    "secret",
    ["", "sgk_", "sgk_unknown", "SGK_" + "a" * 43, "key_" + "a" * 43, "sgk_" + "a" * 125],
)
async def test_anything_but_a_known_secret_is_refused(service: KeyService, secret: str) -> None:
    new = await service.create(workspace_id=1)

    assert await refused(service, secret)
    assert await refused(service, new.secret + "x")
    assert await refused(service, new.secret.upper())


async def test_a_revoked_key_is_refused_at_once(service: KeyService) -> None:
    new = await service.create(workspace_id=1)
    await service.authenticate(new.secret)

    revoked = await service.revoke(key_id=new.key.id, workspace_id=None)

    assert revoked.revoked_at == NOW
    assert await refused(service, new.secret)
    await service.flush()


async def test_revoking_a_missing_key_is_not_found(service: KeyService) -> None:
    with pytest.raises(NotFound) as caught:
        await service.revoke(key_id=41, workspace_id=None)

    assert caught.value.message == "No API key 41"


async def test_revoking_again_keeps_the_first_time(
    service: KeyService, clock: SettableClock
) -> None:
    new = await service.create(workspace_id=1)
    await service.revoke(key_id=new.key.id, workspace_id=None)
    clock.advance(timedelta(days=1))

    again = await service.revoke(key_id=new.key.id, workspace_id=None)

    assert again.revoked_at == NOW


async def test_a_revocation_through_the_service_clears_its_cache(
    store: FakeKeyStore, workspaces: FakeWorkspaceStore, clock: SettableClock
) -> None:
    service = key_service(store, workspaces, clock, cache_seconds=60)
    new = await service.create(workspace_id=1)
    await service.authenticate(new.secret)

    await service.revoke(key_id=new.key.id, workspace_id=None)

    assert await refused(service, new.secret)
    await service.flush()


async def test_a_key_revoked_elsewhere_is_accepted_while_cached(
    store: FakeKeyStore, workspaces: FakeWorkspaceStore, clock: SettableClock
) -> None:
    # The documented price of the cache: another process's revocation takes up to
    # cache_seconds to reach this one.
    cached = key_service(store, workspaces, clock, cache_seconds=60)
    uncached = key_service(store, workspaces, clock)
    new = await cached.create(workspace_id=1)
    await cached.authenticate(new.secret)

    await store.revoke(new.key.id, at=NOW)
    clock.advance(timedelta(seconds=1))

    assert not await refused(cached, new.secret)
    assert await refused(uncached, new.secret)
    await cached.flush()


async def test_a_rotated_key_copies_the_old_one_with_a_new_secret(
    service: KeyService, clock: SettableClock
) -> None:
    old = await service.create(
        workspace_id=1, name="ci", permissions=["subscription.status.set"], allowed_ips=["10.0.0.1"]
    )
    clock.advance(timedelta(minutes=5))

    new = await service.rotate(key_id=old.key.id)

    assert new.secret != old.secret
    assert new.key.id != old.key.id
    assert (new.key.workspace_id, new.key.name, new.key.created_at) == (1, "ci", clock.at)
    assert new.key.permissions == old.key.permissions
    assert new.key.allowed_networks == old.key.allowed_networks
    assert await service.authenticate(new.secret) == new.key
    assert await refused(service, old.secret)
    await service.flush()


async def test_the_old_key_works_until_its_grace_period_ends(
    service: KeyService, clock: SettableClock
) -> None:
    old = await service.create(workspace_id=1)

    new = await service.rotate(key_id=old.key.id, grace_seconds=600)
    clock.advance(timedelta(seconds=599))
    works_before = not await refused(service, old.secret)
    clock.advance(timedelta(seconds=1))

    assert works_before
    assert await refused(service, old.secret)
    assert not await refused(service, new.secret)
    await service.flush()


async def test_the_grace_period_ends_on_time_even_for_a_cached_key(
    store: FakeKeyStore, workspaces: FakeWorkspaceStore, clock: SettableClock
) -> None:
    service = key_service(store, workspaces, clock, cache_seconds=3600)
    old = await service.create(workspace_id=1)
    await service.authenticate(old.secret)

    await service.rotate(key_id=old.key.id, grace_seconds=60)
    await service.authenticate(old.secret)  # cached again, now with its stop time
    clock.advance(timedelta(seconds=60))

    assert await refused(service, old.secret)
    await service.flush()


async def test_rotating_again_never_lengthens_the_old_keys_grace(
    service: KeyService, store: FakeKeyStore, clock: SettableClock
) -> None:
    old = await service.create(workspace_id=1)

    await service.rotate(key_id=old.key.id, grace_seconds=60)
    clock.advance(timedelta(seconds=30))
    await service.rotate(key_id=old.key.id, grace_seconds=3600)

    assert store.rows[old.key.id].revoked_at == NOW + timedelta(seconds=60)


@pytest.mark.parametrize("grace_seconds", [-1, MAX_GRACE_SECONDS + 1])
async def test_the_grace_period_is_0_to_30_days(
    service: KeyService, store: FakeKeyStore, grace_seconds: int
) -> None:
    old = await service.create(workspace_id=1)

    with pytest.raises(InvalidRequest) as caught:
        await service.rotate(key_id=old.key.id, grace_seconds=grace_seconds)

    assert caught.value.message == f"The grace period must be 0 to {MAX_GRACE_SECONDS} seconds"
    assert list(store.rows) == [old.key.id]


async def test_the_longest_grace_period_is_accepted(service: KeyService) -> None:
    old = await service.create(workspace_id=1)

    await service.rotate(key_id=old.key.id, grace_seconds=MAX_GRACE_SECONDS)

    assert not await refused(service, old.secret)
    await service.flush()


async def test_a_revoked_or_missing_key_cannot_be_rotated(
    service: KeyService, store: FakeKeyStore
) -> None:
    old = await service.create(workspace_id=1)
    await service.revoke(key_id=old.key.id, workspace_id=None)

    with pytest.raises(Conflict) as revoked:
        await service.rotate(key_id=old.key.id)
    with pytest.raises(NotFound) as missing:
        await service.rotate(key_id=9)

    assert revoked.value.message == f"API key {old.key.id} is revoked: create a new key instead"
    assert missing.value.message == "No API key 9"
    assert list(store.rows) == [old.key.id]


async def test_a_use_is_recorded_at_most_once_per_touch_period(
    service: KeyService, store: FakeKeyStore, clock: SettableClock
) -> None:
    new = await service.create(workspace_id=1)

    await service.authenticate(new.secret)
    await service.flush()
    clock.advance(timedelta(minutes=1))
    await service.authenticate(new.secret)
    await service.flush()

    assert store.rows[new.key.id].last_used_at == NOW


async def test_with_no_touch_period_every_use_is_recorded(
    store: FakeKeyStore, workspaces: FakeWorkspaceStore, clock: SettableClock
) -> None:
    service = key_service(store, workspaces, clock, touch_seconds=0)
    new = await service.create(workspace_id=1)

    await service.authenticate(new.secret)
    await service.flush()
    clock.advance(timedelta(minutes=1))
    await service.authenticate(new.secret)
    await service.flush()

    assert store.rows[new.key.id].last_used_at == NOW + timedelta(minutes=1)


class UntouchableKeys(FakeKeyStore):
    async def touch(self, key_id: int, *, at: datetime) -> None:
        raise OSError("disk full")


async def test_a_failed_use_record_never_fails_the_request(
    workspaces: FakeWorkspaceStore, clock: SettableClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = UntouchableKeys()
    service = key_service(store, workspaces, clock)
    new = await service.create(workspace_id=1)

    with caplog.at_level(logging.WARNING, logger="subgroups.keys"):
        assert await service.authenticate(new.secret) == new.key
        await service.flush()

    assert [r.getMessage() for r in caplog.records] == [
        f"could not record the use of API key {new.key.id}"
    ]
