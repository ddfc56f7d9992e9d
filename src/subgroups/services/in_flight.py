"""The requests this process is answering now: what its background work gives way to.

`subgroups serve` answers requests and delivers webhooks on one event loop, so every millisecond
of CPU a delivery takes is one a request waits for. Deliveries can wait a little (their contract
is at least once, soon); a caller of the API is waiting now. So before each delivery the
dispatcher waits for a moment with no request in flight, up to a bound: a busy API slows
delivery to a trickle rather than delivery slowing the API, and what waited goes out as soon as
the API has a gap. In `subgroups worker` nothing is ever in flight, and nothing waits.
"""

from __future__ import annotations

import asyncio
import contextlib


class InFlight:
    def __init__(self) -> None:
        self.count = 0
        # Futures of the current loop (not an asyncio.Event, which binds to the first loop that
        # waits on it: one process's services can outlive a loop, in tests).
        self._waiting: list[asyncio.Future[None]] = []

    def enter(self) -> None:
        self.count += 1

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0 and self._waiting:
            waiting, self._waiting = self._waiting, []
            for waiter in waiting:
                if not waiter.done():
                    waiter.set_result(None)

    async def quiet(self, *, within: float) -> bool:
        """Returns once no request is in flight (True), or after `within` seconds (False).

        Quiet means quiet once the loop has run what it had ready: a request read from a socket
        meanwhile has not entered the app yet."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            if self.count == 0:
                await asyncio.sleep(0)
                if self.count == 0:
                    return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            waiter = loop.create_future()
            self._waiting.append(waiter)
            try:
                async with asyncio.timeout(left):
                    await waiter
            except TimeoutError:
                return False
            finally:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(waiter)
