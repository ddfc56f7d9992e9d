"""The requests this process is answering now: what its background work gives way to.

`subgroups serve` answers requests and delivers webhooks on one event loop, so every millisecond
of CPU a delivery takes is one a request waits for. Deliveries can wait a little (their contract
is at least once, soon); a caller of the API is waiting now. So before each delivery the
dispatcher asks for a quiet moment, up to a bound: a busy API slows delivery to a trickle rather
than delivery slowing the API, and what waited goes out as soon as the API has a gap.

Requests in flight alone do not make the process busy: a request waiting on PostgreSQL leaves
the CPU free, and deliveries may use it. So it is busy while requests queue (QUEUED or more in
flight at once: more than a server keeping up has), or while any is in flight and the process has
used most of a core of late (BUSY_SHARE over the last WINDOW_SECONDS). How long the loop takes to
come round was tried as well, but on a machine whose cores other processes share it is long
whether or not the API is busy. In `subgroups worker` nothing is ever in flight, and nothing
waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Final

# Requests in flight at once that make a queue.
QUEUED: Final = 4
# The share of one core the process must have used of late, with requests in flight, to be busy.
BUSY_SHARE: Final = 0.75
WINDOW_SECONDS: Final = 0.1
# How often a delivery waiting for a quiet moment looks again at how busy the process is.
RECHECK_SECONDS: Final = 0.02


class InFlight:
    def __init__(self, *, busy_share: float = BUSY_SHARE) -> None:
        self.count = 0
        self.busy_share = busy_share
        # Futures of the current loop (not an asyncio.Event, which binds to the first loop that
        # waits on it: one process's services can outlive a loop, in tests).
        self._waiting: list[asyncio.Future[None]] = []
        self._sampled_at = time.monotonic()
        self._cpu_at = time.process_time()
        self._share = 0.0

    def enter(self) -> None:
        self.count += 1

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0 and self._waiting:
            waiting, self._waiting = self._waiting, []
            for waiter in waiting:
                if not waiter.done():
                    waiter.set_result(None)

    def _cpu_busy(self) -> bool:
        now = time.monotonic()
        if now - self._sampled_at >= WINDOW_SECONDS:
            cpu = time.process_time()
            self._share = (cpu - self._cpu_at) / (now - self._sampled_at)
            self._sampled_at, self._cpu_at = now, cpu
        return self._share >= self.busy_share

    async def quiet(self, *, within: float) -> bool:
        """Returns once the process is not busy (True), or after `within` seconds (False).

        Asked after one pass of the loop: a request read from a socket meanwhile has entered
        the app by then."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            await asyncio.sleep(0)
            if self.count == 0:
                return True
            if self.count < QUEUED and not self._cpu_busy():
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            waiter = loop.create_future()
            self._waiting.append(waiter)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, RECHECK_SECONDS)):
                    await waiter
            with contextlib.suppress(ValueError):
                self._waiting.remove(waiter)
