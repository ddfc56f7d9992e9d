"""API keys: issuing, authenticating, revoking, rotating.

A key is `sgk_` followed by 43 URL-safe characters (256 random bits). The prefix lets secret
scanners recognise a leaked key. Only its SHA-256 is stored: with that much entropy a fast hash is
as safe as a slow one, and it keeps authentication off the request's critical path.

Revocation and the cache: a key found valid is remembered for `cache_seconds` (default 2), so a key
revoked by another process (the CLI, another server process) can still be accepted for that long.
A revocation made through this service clears its own cache at once, and a key rotated with a grace
period stops at its stop time exactly, cached or not. A key in use is reloaded in the background
before it expires (`refresh_ahead.py`), so requests do not wait for that look-up.

`last_used_at` is written at most once per `touch_seconds` per key and process, by a background
task: a request never waits for that write.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
from collections.abc import Iterable
from datetime import timedelta

from prometheus_client import Counter

from subgroups.domain.models import ALL_PERMISSIONS, ApiKey, NewApiKey, Permission
from subgroups.errors import AuthenticationFailed, Conflict, InvalidRequest, NotFound
from subgroups.services.metrics import Metrics
from subgroups.services.ports import Clock, KeyStore, WorkspaceStore
from subgroups.services.refresh_ahead import RefreshAheadCache

log = logging.getLogger("subgroups.keys")

KEY_PREFIX = "sgk_"
_SHOWN_CHARS = len(KEY_PREFIX) + 8
# An unknown key is compared against this, so that it costs what a known one does.
_NO_HASH = "0" * 64
# A longer grace period is no rotation at all.
MAX_GRACE_SECONDS = 30 * 24 * 3600


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyService:
    def __init__(
        self,
        *,
        keys: KeyStore,
        workspaces: WorkspaceStore,
        clock: Clock,
        cache_seconds: float = 0.0,
        touch_seconds: float = 300.0,
        metrics: Metrics | None = None,
    ) -> None:
        self._keys = keys
        self._workspaces = workspaces
        self._clock = clock
        # Known keys are remembered briefly so the hot path skips a database round trip; a revoked
        # key is refused by every process within this many seconds.
        self._cache: RefreshAheadCache[str, ApiKey] = RefreshAheadCache(cache_seconds)
        # The two children of the counter, found once: `labels()` per request costs a lookup.
        self._cache_hits: Counter | None = None
        self._cache_misses: Counter | None = None
        if metrics is not None:
            self._cache_hits = metrics.key_cache.labels(result="hit")
            self._cache_misses = metrics.key_cache.labels(result="miss")
        self._touch_seconds = touch_seconds
        self._touched: dict[int, float] = {}
        self._touches: set[asyncio.Task[None]] = set()

    async def create(
        self,
        *,
        workspace_id: int,
        name: str = "",
        permissions: Iterable[str] = (),
        allowed_ips: Iterable[str] = (),
    ) -> NewApiKey:
        if await self._workspaces.get(workspace_id) is None:
            raise NotFound(f"No workspace {workspace_id}")
        granted = _permissions(permissions)
        networks = [str(_network(ip)) for ip in allowed_ips]
        secret = new_secret()
        key = await self._keys.create(
            workspace_id=workspace_id,
            name=name,
            prefix=secret[:_SHOWN_CHARS],
            secret_hash=hash_secret(secret),
            permissions=granted,
            allowed_ips=networks,
            at=self._clock.now(),
        )
        return NewApiKey(key, secret)

    async def authenticate(self, secret: str) -> ApiKey:
        """The live key for `secret`; raises AuthenticationFailed for anything else.

        Unknown and revoked keys take the same path (one look-up, one constant-time comparison),
        so their timings do not tell them apart.
        """
        if not secret.startswith(KEY_PREFIX) or len(secret) > 128:
            raise AuthenticationFailed()
        digest = hash_secret(secret)
        now = self._clock.now()
        cached = self._cache.get(digest, self._keys.find_by_hash)
        key = cached if cached is not None else await self._keys.find_by_hash(digest)
        stored = key.secret_hash if key is not None else _NO_HASH
        if not hmac.compare_digest(stored, digest) or key is None or not key.is_live(now):
            self._cache.forget(digest)
            raise AuthenticationFailed()
        if cached is None:
            self._cache.put(digest, key)
        counted = self._cache_misses if cached is None else self._cache_hits
        if counted is not None:
            counted.inc()
        self._touch_later(key)
        return key

    def _touch_later(self, key: ApiKey) -> None:
        """Records the use in the background, at most once per `touch_seconds` per key."""
        due = time.monotonic()
        if self._touched.get(key.id, -self._touch_seconds - 1) + self._touch_seconds > due:
            return
        self._touched[key.id] = due
        task = asyncio.get_running_loop().create_task(self._touch(key.id))
        self._touches.add(task)
        task.add_done_callback(self._touches.discard)

    async def _touch(self, key_id: int) -> None:
        try:
            await self._keys.touch(key_id, at=self._clock.now())
        except Exception:  # a lost last_used_at must never fail or stall a request
            log.warning("could not record the use of API key %s", key_id, exc_info=True)

    async def flush(self) -> None:
        """Waits for the pending last_used_at writes (at shutdown, and in tests)."""
        while self._touches:
            await asyncio.gather(*self._touches)
        await self._cache.close()

    async def list(self, *, workspace_id: int | None = None) -> list[ApiKey]:
        return await self._keys.list(workspace_id)

    async def revoke(self, *, key_id: int, workspace_id: int | None) -> ApiKey:
        """Revokes the key at once. A key of another workspace than `workspace_id` is refused like
        one that does not exist (NotFound); only the admin CLI passes None, to reach any workspace.
        """
        if workspace_id is not None:
            found = await self._keys.get(key_id)  # a key never changes workspace: no race here
            if found is None or found.workspace_id != workspace_id:
                raise NotFound(f"No API key {key_id} in this workspace")
        key = await self._keys.revoke(key_id, at=self._clock.now())
        if key is None:
            raise NotFound(f"No API key {key_id}")
        self._forget(key_id)
        return key

    async def rotate(self, *, key_id: int, grace_seconds: int = 0) -> NewApiKey:
        """A new key with the old one's workspace, name, permissions and allowlist.

        The old key stops working after `grace_seconds` (at once for 0), so clients can move to
        the new secret without a moment where neither works. A revoked key cannot be rotated.
        """
        if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
            raise InvalidRequest(f"The grace period must be 0 to {MAX_GRACE_SECONDS} seconds")
        now = self._clock.now()
        old = await self._keys.get(key_id)
        if old is None:
            raise NotFound(f"No API key {key_id}")
        if not old.is_live(now):
            raise Conflict(f"API key {key_id} is revoked: create a new key instead")
        secret = new_secret()
        key = await self._keys.rotate(
            key_id,
            prefix=secret[:_SHOWN_CHARS],
            secret_hash=hash_secret(secret),
            at=now,
            old_stops_at=now + timedelta(seconds=grace_seconds),
        )
        if key is None:
            raise NotFound(f"No API key {key_id}")
        self._forget(key_id)
        return NewApiKey(key, secret)

    def _forget(self, key_id: int) -> None:
        self._cache.forget_if(lambda key: key.id == key_id)


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _permissions(names: Iterable[str]) -> frozenset[Permission]:
    names = list(names)
    if not names:
        return ALL_PERMISSIONS
    known = {p.value: p for p in Permission}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidRequest(
            f"Unknown permission '{unknown[0]}': use one of {', '.join(sorted(known))}"
        )
    return frozenset(known[n] for n in names)


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise InvalidRequest(f"Invalid IP address or CIDR range: '{value}'") from None
