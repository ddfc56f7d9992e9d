"""Per-workspace rate limits (contract §8): fixed windows counted in a `limits` storage.

Two pools: the set endpoints share one, the reads share the other; the pool follows from the
permission an endpoint requires, so a new endpoint is limited without knowing about this module.

With a shared store (Redis), every process counts in it. When it fails, the service fails open to a
degraded mode: it keeps serving and counts in this process instead (so each process still enforces
the limit on its own), logs a warning at most once a minute, counts the failure in the metrics,
and tries the shared store again after `retry_seconds`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from limits import RateLimitItem, parse

from subgroups.domain.models import Permission
from subgroups.services.metrics import RATE_LIMIT_STORE_ERRORS, RATE_LIMITED, Metrics
from subgroups.services.ports import CounterStore

log = logging.getLogger("subgroups.ratelimits")

WARNING_INTERVAL_SECONDS = 60.0


class Pool(StrEnum):
    SET = "set"
    GET = "get"
    # The person's pages (§11), which no key opens: counted per client address, not workspace.
    PUBLIC = "public"


POOL_OF: Mapping[Permission, Pool] = {
    Permission.STATUS_SET: Pool.SET,
    Permission.STATUS_GET: Pool.GET,
    Permission.GROUPS_GET: Pool.GET,
    Permission.CHANGES_GET: Pool.GET,  # contract §9: keyed GETs count against the GET limit
    Permission.LINKS_CREATE: Pool.GET,
    Permission.IMPORTS_WRITE: Pool.SET,  # POST /imports; its GETs name their pool (see auth.py)
    Permission.EXPORTS_GET: Pool.GET,
}


@dataclass(frozen=True, slots=True)
class Quota:
    """Where a workspace stands in one pool, as the X-RateLimit-* headers tell it."""

    limit: int
    remaining: int
    reset_at: int  # UTC epoch seconds of the window's end
    allowed: bool
    retry_after: int  # seconds until the window ends, at least 1


class RateLimitService:
    def __init__(
        self,
        *,
        rates: Mapping[Pool, str],
        local: CounterStore,
        shared: CounterStore | None,
        metrics: Metrics,
        retry_seconds: float = 5.0,
    ) -> None:
        self._items: dict[Pool, RateLimitItem] = {pool: parse(rate) for pool, rate in rates.items()}
        self._local = local
        self._shared = shared
        self._metrics = metrics
        self._retry_seconds = retry_seconds
        self._shared_retry_at = 0.0
        self._next_warning = 0.0
        self._failures_unreported = 0
        # The window end of each counter as last learned, per store, to save a round trip.
        self._ends: dict[tuple[bool, str], float] = {}
        # Each workspace's counter key per pool, made once: `key_for` builds it anew at every call.
        # Workspaces are few and made by an operator, so this stays small.
        self._workspace_keys: dict[tuple[Pool, int], str] = {}

    async def hit(
        self, *, workspace_id: int, permission: Permission, pool: Pool | None = None
    ) -> Quota:
        """Counts one request of the workspace in `pool`, by default the permission's."""
        quota = await self._count(workspace_id, pool or POOL_OF[permission], amount=1)
        if not quota.allowed:
            self._metrics.inc(RATE_LIMITED)
        return quota

    async def hit_address(self, address: str) -> Quota:
        """Counts one request to the person's pages from this client address."""
        quota = await self._count_key(Pool.PUBLIC, address, amount=1)
        if not quota.allowed:
            self._metrics.inc(RATE_LIMITED)
        return quota

    async def peek(
        self, *, workspace_id: int, permission: Permission, pool: Pool | None = None
    ) -> Quota:
        """Where the workspace stands, without counting a request."""
        return await self._count(workspace_id, pool or POOL_OF[permission], amount=0)

    async def _count(self, workspace_id: int, pool: Pool, *, amount: int) -> Quota:
        key = self._workspace_keys.get((pool, workspace_id))
        if key is None:
            key = self._workspace_keys[pool, workspace_id] = self._items[pool].key_for(
                pool.value, str(workspace_id)
            )
        return await self._count_in(self._items[pool], key, amount)

    async def _count_key(self, pool: Pool, who: str, *, amount: int) -> Quota:
        item = self._items[pool]
        return await self._count_in(item, item.key_for(pool.value, who), amount)

    async def _count_in(self, item: RateLimitItem, key: str, amount: int) -> Quota:
        if self._shared is not None and time.monotonic() >= self._shared_retry_at:
            try:
                return await self._quota(self._shared, item, key, amount)
            except Exception as error:  # any failure of the shared store: fail open, see above
                self._shared_failed(error)
        return await self._quota(self._local, item, key, amount)

    async def _quota(
        self, store: CounterStore, item: RateLimitItem, key: str, amount: int
    ) -> Quota:
        expiry = item.get_expiry()
        count = await store.incr(key, expiry, amount) if amount else await store.get(key)
        now = time.time()
        cache_key = (store is self._shared, key)
        if count == 0:
            end = now + expiry  # no window yet: the next request would start one
        elif count == amount:
            end = self._ends[cache_key] = now + expiry  # this request started the window
        else:
            end = self._ends.get(cache_key, 0.0)
            if end <= now:
                end = self._ends[cache_key] = await store.get_expiry(key)
        reset_at = math.ceil(end)
        return Quota(
            limit=item.amount,
            remaining=max(0, item.amount - count),
            reset_at=reset_at,
            allowed=count <= item.amount,
            retry_after=max(1, math.ceil(end - now)),
        )

    def _shared_failed(self, error: Exception) -> None:
        self._metrics.inc(RATE_LIMIT_STORE_ERRORS)
        now = time.monotonic()
        self._shared_retry_at = now + self._retry_seconds
        self._failures_unreported += 1
        if now >= self._next_warning:
            self._next_warning = now + WARNING_INTERVAL_SECONDS
            log.warning(
                "rate-limit store unavailable (%s: %s); counting in this process until it answers"
                " again (%d failures since the last warning)",
                type(error).__name__,
                error,
                self._failures_unreported,
            )
            self._failures_unreported = 0
