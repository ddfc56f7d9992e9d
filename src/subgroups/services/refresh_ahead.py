"""A short-lived memory of what the hot paths look up on every request (API keys, groups).

An entry is served for `seconds` at most, never longer: that bound is what the settings promise
(a revoked key is refused within it). Without more, every busy entry expires at once, and each
request in flight at that moment goes to the database: under load, a stall of every connection
every `seconds`, the largest part of the read endpoints' p99 (BENCHMARKS.md). So an entry in the
second half of its life is reloaded in the background by the first request that sees it, once,
while requests go on being answered from memory; a busy entry is then never found expired.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger("subgroups.cache")

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RefreshAheadCache(Generic[K, V]):
    """Values by key for `seconds` (0: nothing is kept), at most `max_entries` of them."""

    def __init__(
        self,
        seconds: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seconds = seconds
        self._clock = clock
        self._max_entries = max_entries
        # key -> (reload from, expires at, value), in the clock's seconds
        self._entries: dict[K, tuple[float, float, V]] = {}
        self._reloads: dict[K, asyncio.Task[None]] = {}

    def get(self, key: K, reload: Callable[[K], Awaitable[V | None]]) -> V | None:
        """The value, if it has not expired; past its half-life also starts `reload(key)` in the
        background, which replaces it (None: drops it)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        now = self._clock()
        if entry[1] <= now:
            return None
        if entry[0] <= now and key not in self._reloads:
            task = asyncio.get_running_loop().create_task(self._reload(key, reload))
            self._reloads[key] = task
        return entry[2]

    def put(self, key: K, value: V) -> None:
        if self._seconds <= 0:
            return
        if len(self._entries) >= self._max_entries and key not in self._entries:
            # A flood of distinct keys cannot grow the process without limit.
            self._entries.clear()
        now = self._clock()
        self._entries[key] = (now + self._seconds / 2, now + self._seconds, value)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)
        # A reload that began before the change could put back what it read before it.
        task = self._reloads.pop(key, None)
        if task is not None:
            task.cancel()

    def forget_if(self, matches: Callable[[V], bool]) -> None:
        for key in [k for k, entry in self._entries.items() if matches(entry[2])]:
            self.forget(key)

    async def close(self) -> None:
        """Ends the reloads under way (at shutdown: their answers would go nowhere)."""
        tasks = list(self._reloads.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _reload(self, key: K, reload: Callable[[K], Awaitable[V | None]]) -> None:
        try:
            value = await reload(key)
        except Exception:
            # The entry expires as usual, with no other reload before (one warning, not one per
            # request); the next request after that looks it up itself, and meets the error in
            # its own answer.
            log.warning("could not reload a cached entry", exc_info=True)
            entry = self._entries.get(key)
            if entry is not None:
                self._entries[key] = (entry[1], entry[1], entry[2])
            return
        finally:
            if self._reloads.get(key) is asyncio.current_task():
                del self._reloads[key]
        if value is None:
            self._entries.pop(key, None)
        else:
            self.put(key, value)
