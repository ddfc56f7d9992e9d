"""The in-process fixed-window counters, on a clock the test moves."""

from __future__ import annotations

from subgroups.storage.counters import LocalCounters


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_window_counts_until_it_ends_then_starts_again() -> None:
    clock = Clock()
    store = LocalCounters(clock)

    first = [await store.incr("set/1", 60) for _ in range(3)]
    ends = await store.get_expiry("set/1")
    clock.now += 59.9
    last = await store.incr("set/1", 60)
    clock.now += 0.1
    fresh = await store.get("set/1"), await store.incr("set/1", 60)

    assert (first, ends, last) == ([1, 2, 3], 1_060.0, 4)
    assert fresh == (0, 1)
    assert await store.get_expiry("set/1") == 1_060.0 + 60


async def test_counters_are_per_key_and_count_the_amount() -> None:
    store = LocalCounters(Clock())

    await store.incr("set/1", 60, amount=5)
    await store.incr("get/1", 3600)

    assert (await store.get("set/1"), await store.get("get/1"), await store.get("set/2")) == (
        5,
        1,
        0,
    )


async def test_an_unknown_or_ended_window_ends_now() -> None:
    clock = Clock()
    store = LocalCounters(clock)
    await store.incr("set/1", 10)
    clock.now += 10

    assert await store.get_expiry("set/1") == clock.now
    assert await store.get_expiry("never") == clock.now


async def test_ended_windows_are_swept_once_there_are_many() -> None:
    clock = Clock()
    store = LocalCounters(clock, sweep_at=4)
    for workspace in range(4):
        await store.incr(f"set/{workspace}", 10)
    clock.now += 10
    live = await store.incr("set/live", 10)

    assert live == 1
    assert len(store) == 1


async def test_windows_still_running_survive_a_sweep() -> None:
    clock = Clock()
    store = LocalCounters(clock, sweep_at=4)
    for workspace in range(3):
        await store.incr(f"set/{workspace}", 10)
    await store.incr("get/0", 3600)
    clock.now += 10
    await store.incr("set/new", 10)

    assert len(store) == 2
    assert await store.get("get/0") == 1


async def test_many_running_windows_do_not_make_every_new_window_sweep() -> None:
    clock = Clock()
    store = LocalCounters(clock, sweep_at=4)
    for workspace in range(5):  # the fifth finds 4 windows, sweeps, and none has ended
        await store.incr(f"get/{workspace}", 3600)
    for workspace in range(2):
        await store.incr(f"set/{workspace}", 10)
    clock.now += 10
    await store.incr("set/next", 10)  # 7 windows: under twice the 4 left running, so no sweep

    assert len(store) == 8
    await store.incr("set/after", 10)  # 8 windows: the two ended ones go

    assert len(store) == 7
    assert await store.get("get/0") == 1
