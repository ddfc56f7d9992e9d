"""The cache of keys and groups: never served past its time, reloaded before it, off the request."""

from __future__ import annotations

import asyncio
import logging

import pytest

from subgroups.services.refresh_ahead import RefreshAheadCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Source:
    """What the cache reloads from: a value per key, and a count of the loads; may be held."""

    def __init__(self) -> None:
        self.values: dict[str, str | None] = {}
        self.loads = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def load(self, key: str) -> str | None:
        self.loads += 1
        await self.gate.wait()
        return self.values.get(key)


def holding(value: str) -> tuple[Clock, Source, RefreshAheadCache[str, str]]:
    """A clock, a source and a 2-second cache that has just been given `value` for "k"."""
    clock = Clock()
    cache: RefreshAheadCache[str, str] = RefreshAheadCache(2.0, clock=clock)
    cache.put("k", value)
    return clock, Source(), cache


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_value_is_served_until_it_expires_and_never_after() -> None:
    clock, source, cache = holding("v1")
    source.gate.clear()  # a reload, if one starts, never finishes

    clock.now += 1.9
    assert cache.get("k", source.load) == "v1"
    clock.now += 0.1
    assert cache.get("k", source.load) is None


async def test_in_its_second_half_a_value_is_reloaded_once_in_the_background() -> None:
    clock, source, cache = holding("v1")
    source.values["k"] = "v2"

    clock.now += 0.9
    assert cache.get("k", source.load) == "v1"
    await settle()
    assert source.loads == 0  # first half: no reload
    clock.now += 0.2
    source.gate.clear()
    assert [cache.get("k", source.load) for _ in range(3)] == ["v1"] * 3
    await settle()
    assert source.loads == 1  # one reload, however many requests saw the entry
    source.gate.set()
    await settle()
    clock.now += 1.5  # past the first entry's expiry, within the reloaded one's
    assert cache.get("k", source.load) == "v2"


async def test_a_reload_that_finds_nothing_drops_the_value() -> None:
    clock, source, cache = holding("v1")
    clock.now += 1.5
    assert cache.get("k", source.load) == "v1"
    await settle()
    assert cache.get("k", source.load) is None


async def test_forgetting_a_value_stops_a_reload_from_putting_it_back() -> None:
    clock, source, cache = holding("old")
    source.values["k"] = "read before the change"
    source.gate.clear()
    clock.now += 1.5
    cache.get("k", source.load)
    await settle()

    cache.forget("k")
    source.gate.set()
    await settle()

    assert cache.get("k", source.load) is None


async def test_a_failed_reload_is_logged_and_the_value_expires_as_usual(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, _source, cache = holding("v1")
    attempts = 0

    async def failing(_key: str) -> str | None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("database unreachable")

    clock.now += 1.5
    with caplog.at_level(logging.WARNING, logger="subgroups.cache"):
        assert cache.get("k", failing) == "v1"
        await settle()
        assert cache.get("k", failing) == "v1"  # still within its time, and no second try
        await settle()
    clock.now += 0.5
    assert cache.get("k", failing) is None
    assert attempts == 1
    assert [r.levelname for r in caplog.records] == ["WARNING"]


async def test_zero_seconds_keeps_nothing() -> None:
    cache: RefreshAheadCache[str, str] = RefreshAheadCache(0.0)
    cache.put("k", "v1")
    assert cache.get("k", Source().load) is None


async def test_the_number_of_entries_is_bounded() -> None:
    cache: RefreshAheadCache[str, str] = RefreshAheadCache(60.0, max_entries=3)
    for n in range(10):
        cache.put(f"k{n}", "v")
    source = Source()
    assert sum(cache.get(f"k{n}", source.load) is not None for n in range(10)) <= 3
