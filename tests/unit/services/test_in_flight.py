"""What a process's background deliveries give way to: its requests in flight, while it is busy.

`busy_share=0` makes any use of the CPU busy: these tests run on an idle process."""

from __future__ import annotations

import asyncio

from subgroups.services.in_flight import QUEUED, InFlight


async def test_nothing_in_flight_is_quiet_at_once() -> None:
    assert await InFlight().quiet(within=0)


async def test_quiet_comes_when_the_last_request_leaves() -> None:
    requests = InFlight(busy_share=0)
    requests.enter()
    requests.enter()
    waiting = asyncio.create_task(requests.quiet(within=5))
    await asyncio.sleep(0.01)
    requests.leave()
    await asyncio.sleep(0.01)
    assert not waiting.done()
    requests.leave()
    assert await waiting


async def test_a_request_that_stays_is_given_way_to_only_for_a_while() -> None:
    requests = InFlight(busy_share=0)
    requests.enter()
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert not await requests.quiet(within=0.05)
    assert 0.05 <= loop.time() - began < 1


async def test_a_request_that_arrives_as_quiet_comes_is_waited_for_too() -> None:
    requests = InFlight(busy_share=0)
    # Ready to run when quiet is asked (a request read from its socket): it counts.
    asyncio.get_running_loop().call_soon(requests.enter)
    assert not await requests.quiet(within=0.05)


async def test_requests_that_leave_the_cpu_idle_are_not_given_way_to() -> None:
    requests = InFlight(busy_share=0.5)
    requests.enter()  # waiting on the database, say: the process uses no CPU meanwhile
    await asyncio.sleep(0.15)
    assert await requests.quiet(within=0)


async def test_requests_that_queue_are_given_way_to_however_idle_the_cpu() -> None:
    requests = InFlight(busy_share=float("inf"))
    for _ in range(QUEUED - 1):
        requests.enter()
    assert await requests.quiet(within=0)
    requests.enter()
    assert not await requests.quiet(within=0.05)
