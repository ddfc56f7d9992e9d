"""API keys: issuing, authenticating, revoking.

A key is `sgk_` followed by 43 URL-safe characters (256 random bits). The prefix lets secret
scanners recognise a leaked key. Only its SHA-256 is stored: with that much entropy a fast hash is
as safe as a slow one, and it keeps authentication off the request's critical path.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import time
from collections.abc import Iterable

from subgroups.domain.models import ALL_PERMISSIONS, ApiKey, NewApiKey, Permission
from subgroups.errors import AuthenticationFailed, InvalidRequest, NotFound
from subgroups.services.ports import Clock, KeyStore, WorkspaceStore

KEY_PREFIX = "sgk_"
_SHOWN_CHARS = len(KEY_PREFIX) + 8


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
    ) -> None:
        self._keys = keys
        self._workspaces = workspaces
        self._clock = clock
        # Known keys are remembered briefly so the hot path skips a database round trip; a revoked
        # key is refused by every process within this many seconds.
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ApiKey]] = {}

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
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
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
        """The live key for `secret`; raises AuthenticationFailed for anything else."""
        if not secret.startswith(KEY_PREFIX) or len(secret) > 128:
            raise AuthenticationFailed()
        digest = hash_secret(secret)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        key = await self._keys.find_by_hash(digest)
        if key is None or key.revoked_at is not None:
            self._cache.pop(digest, None)
            raise AuthenticationFailed()
        if self._cache_seconds > 0:
            self._cache[digest] = (time.monotonic() + self._cache_seconds, key)
        return key

    async def list(self, *, workspace_id: int | None = None) -> list[ApiKey]:
        return await self._keys.list(workspace_id)

    async def revoke(self, *, key_id: int) -> ApiKey:
        key = await self._keys.revoke(key_id, at=self._clock.now())
        if key is None:
            raise NotFound(f"No API key {key_id}")
        self._cache = {d: entry for d, entry in self._cache.items() if entry[1].id != key_id}
        return key


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
