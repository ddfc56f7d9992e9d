"""The dispatcher in this process, on a real database, sending to real receivers on 127.0.0.1:
what it does with each kind of answer, with an address it must not reach, and with a receiver
that is slow."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest

from subgroups.config import Settings
from subgroups.container import Services, build_services
from subgroups.domain.models import Actor, Source
from subgroups.domain.subscriptions import GroupRequest
from subgroups.domain.webhooks import KEPT_TEXT_BYTES, DeliveryStatus
from subgroups.errors import InvalidRequest, NotFound
from subgroups.web.app import create_app, delivering
from tests.factories import make_group, make_workspace
from tests.webhooks.receiver import Answer, Arrival, Receiver, receiving

SCHEDULE = (0.2, 0.2, 0.2)


FAST: dict[str, Any] = {
    "webhook_retry_schedule": SCHEDULE,
    "webhook_concurrency": 4,
    "webhook_lease_seconds": 2,
    "webhook_poll_seconds": 0.05,
}


@pytest.fixture
async def hooks(settings: Settings) -> AsyncIterator[Services]:
    """Services that accept receivers on 127.0.0.1, with short waits."""
    built = build_services(replace(settings, webhook_allow_private=True, **FAST))
    try:
        yield built
    finally:
        await built.aclose()


@asynccontextmanager
async def dispatching(services: Services, *, allow_private: bool = True) -> AsyncIterator[Services]:
    """A dispatcher running beside the test, as `subgroups serve` runs one; the services of its
    process (its counters are there)."""
    settings = replace(services.settings, webhook_allow_private=allow_private)
    own = build_services(settings)
    try:
        async with delivering(own, deliver=True):
            yield own
    finally:
        await own.aclose()


class Setup:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self) -> tuple[int, str]:
        workspace = await make_workspace(self.services)
        group = await make_group(self.services, workspace.id)
        return workspace.id, group.id

    async def change(self, workspace_id: int, group_id: str, *names: str) -> set[int]:
        """One change per name; the ids of every change of the workspace so far."""
        requests = [GroupRequest(group_id, "subscribed", external_id=name) for name in names]
        await self.services.subscriptions.set_states(
            workspace_id=workspace_id, requests=requests, actor=Actor(Source.REST_API)
        )
        return {c.id for c in await self.services.subscriptions.changes(workspace_id=workspace_id)}


async def until(check: object, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while True:
        assert callable(check)
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "it did not happen in time"
        await asyncio.sleep(0.05)


async def test_410_disables_the_endpoint_and_enabling_it_delivers_what_waited(
    hooks: Services,
) -> None:
    workspace_id, group_id = await Setup(hooks)()
    gone = True
    receiver = Receiver(answer=lambda _a: Answer(status=410 if gone else 204))
    new = await hooks.webhooks.create(workspace_id=workspace_id, url=receiver.url)
    receiver.secrets.append(new.secret)
    with receiving([new.secret], port=receiver.port, answer=receiver.answer) as live:
        async with dispatching(hooks):
            made = await Setup(hooks).change(workspace_id, group_id, "a", "b")

            async def disabled() -> bool:
                found = await hooks.webhooks.get(new.endpoint.id, workspace_id=workspace_id)
                return not found.enabled

            await until(disabled)
            found = await hooks.webhooks.get(new.endpoint.id, workspace_id=workspace_id)
            assert found.disabled_reason == "the receiver answered 410 Gone"
            waiting = await hooks.webhooks.deliveries(new.endpoint.id, workspace_id=workspace_id)
            assert {d.status for d in waiting} == {DeliveryStatus.PENDING}
            gone = False
            await hooks.webhooks.enable(new.endpoint.id, workspace_id=workspace_id)
            await live.wait_for(made)


async def test_retry_after_is_honoured(hooks: Services) -> None:
    workspace_id, group_id = await Setup(hooks)()
    seen: list[float] = []

    def answer(_arrival: Arrival) -> Answer:
        seen.append(time.monotonic())
        if len(seen) == 1:
            return Answer(status=429, headers={"Retry-After": "2"})
        return Answer()

    with receiving(answer=answer) as receiver:
        new = await hooks.webhooks.create(workspace_id=workspace_id, url=receiver.url)
        receiver.secrets.append(new.secret)
        async with dispatching(hooks):
            made = await Setup(hooks).change(workspace_id, group_id, "a")
            await receiver.wait_for(made)
    assert len(seen) == 2
    assert seen[1] - seen[0] >= 1.9  # not the schedule's 0.2 s


async def test_a_delivery_fails_after_its_last_attempt_and_a_replay_sends_it_again(
    hooks: Services,
) -> None:
    workspace_id, group_id = await Setup(hooks)()
    broken = True
    long_answer = b"x" * 5000

    def answer(_arrival: Arrival) -> Answer:
        return Answer(status=500, body=long_answer) if broken else Answer()

    with receiving(answer=answer) as receiver:
        new = await hooks.webhooks.create(workspace_id=workspace_id, url=receiver.url)
        receiver.secrets.append(new.secret)
        endpoint_id = new.endpoint.id
        async with dispatching(hooks):
            made = await Setup(hooks).change(workspace_id, group_id, "a")

            async def failed() -> bool:
                found = await hooks.webhooks.deliveries(
                    endpoint_id, workspace_id=workspace_id, failed_only=True
                )
                return len(found) == 1

            await until(failed)
            [delivery] = await hooks.webhooks.deliveries(endpoint_id, workspace_id=workspace_id)
            assert delivery.attempts == len(SCHEDULE) + 1
            assert delivery.response_status == 500
            assert delivery.detail == "x" * KEPT_TEXT_BYTES  # never more of an answer than 1 KiB
            broken = False
            assert (
                await hooks.webhooks.replay(
                    endpoint_id, workspace_id=workspace_id, after=0, failed_only=True
                )
                == 1
            )
            await receiver.wait_for(made)
        [delivery] = await hooks.webhooks.deliveries(endpoint_id, workspace_id=workspace_id)
        assert delivery.status is DeliveryStatus.DELIVERED


async def test_a_replay_after_a_change_sends_every_later_one_again(hooks: Services) -> None:
    workspace_id, group_id = await Setup(hooks)()
    with receiving() as receiver:
        new = await hooks.webhooks.create(workspace_id=workspace_id, url=receiver.url)
        receiver.secrets.append(new.secret)
        async with dispatching(hooks):
            made = await Setup(hooks).change(workspace_id, group_id, "a", "b", "c")
            await receiver.wait_for(made)
            first = min(made)
            # At once: the first sends may not be recorded yet; the replay still stands.
            await hooks.webhooks.replay(new.endpoint.id, workspace_id=workspace_id, after=first)
            await until(lambda: len(receiver.arrivals) >= 5)
            await asyncio.sleep(0.3)
    ids = sorted(a.change_id for a in receiver.arrivals)
    assert ids == sorted([*made, *(made - {first})])
    # The same webhook-id each time: receivers dedupe on it.
    assert len({a.webhook_id for a in receiver.arrivals}) == 3


async def test_an_address_it_must_not_reach_is_refused_at_delivery(
    hooks: Services,
) -> None:
    """Created while private addresses were allowed; delivered by a dispatcher that does not
    allow them (the check is made again at every delivery: DNS can change)."""
    workspace_id, group_id = await Setup(hooks)()
    with receiving() as receiver:
        new = await hooks.webhooks.create(workspace_id=workspace_id, url=receiver.url)
        async with dispatching(hooks, allow_private=False):
            await Setup(hooks).change(workspace_id, group_id, "a")

            async def attempted() -> bool:
                found = await hooks.webhooks.deliveries(new.endpoint.id, workspace_id=None)
                return bool(found) and found[0].attempts >= 1

            await until(attempted)
        [delivery] = await hooks.webhooks.deliveries(new.endpoint.id, workspace_id=None)
        assert delivery.response_status is None
        assert delivery.detail is not None
        assert delivery.detail.startswith("refused: url host 127.0.0.1 is at 127.0.0.1")
        assert receiver.arrivals == []
        assert receiver.unverified == []


async def test_creating_refuses_a_private_address_unless_allowed(services: Services) -> None:
    workspace_id, _ = await Setup(services)()
    with pytest.raises(Exception, match="loopback, private or link-local"):
        await services.webhooks.create(workspace_id=workspace_id, url="https://127.0.0.1/x")
    with pytest.raises(Exception, match="https://"):
        await services.webhooks.create(workspace_id=workspace_id, url="http://example.com/x")
    assert await services.webhooks.list(workspace_id=workspace_id) == []


async def test_a_slow_receiver_holds_up_no_other_endpoint(hooks: Services) -> None:
    workspace_id, group_id = await Setup(hooks)()
    with (
        receiving(answer=lambda _a: Answer(delay=5)) as slow,
        receiving() as fast,
    ):
        slow_endpoint = await hooks.webhooks.create(workspace_id=workspace_id, url=slow.url)
        fast_endpoint = await hooks.webhooks.create(workspace_id=workspace_id, url=fast.url)
        slow.secrets.append(slow_endpoint.secret)
        fast.secrets.append(fast_endpoint.secret)
        async with dispatching(hooks):
            started = time.monotonic()
            made = await Setup(hooks).change(workspace_id, group_id, *"abcdefgh")
            await fast.wait_for(made, within=4)
            assert time.monotonic() - started < 4
            # The slow one is still answering its first requests: at most `concurrency` (4) at once.
            assert len(slow.arrivals) <= 4


async def test_the_secret_is_not_in_the_database_in_the_clear(hooks: Services) -> None:
    workspace_id, _ = await Setup(hooks)()
    new = await hooks.webhooks.create(workspace_id=workspace_id, url="http://127.0.0.1:9/x")
    from sqlalchemy import select

    from subgroups.storage.tables import webhook_endpoints

    async with hooks.db.snapshot() as conn:
        stored = (await conn.execute(select(webhook_endpoints.c.secret))).scalar_one()
    key = new.secret.removeprefix("whsec_")
    assert key not in stored
    assert new.secret not in stored


async def test_metrics_show_the_backlog_and_what_was_delivered(hooks: Services) -> None:
    workspace_id, group_id = await Setup(hooks)()
    down = Receiver()
    new = await hooks.webhooks.create(workspace_id=workspace_id, url=down.url)
    async with dispatching(hooks) as server:
        app = create_app(server.settings, server)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        scraper = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        made = await Setup(hooks).change(workspace_id, group_id, "a", "b")

        async def scraped() -> str:
            return (await scraper.get("/metrics")).text

        await until(lambda: _has(scraped(), "subgroups_webhook_deliveries_queued 2.0\n"))
        waiting = await scraped()
        [age_line] = [
            line
            for line in waiting.splitlines()
            if line.startswith("subgroups_webhook_oldest_undelivered_age_seconds ")
        ]
        age = float(age_line.split()[1])
        assert age > 0
        with receiving([new.secret], port=down.port) as up:
            await up.wait_for(made)
            await until(lambda: _has(scraped(), "subgroups_webhook_deliveries_queued 0.0\n"))
        done = await scraped()
        await scraper.aclose()
    assert "subgroups_webhook_oldest_undelivered_age_seconds 0.0\n" in done
    assert "subgroups_webhook_deliveries_delivered_total 2.0\n" in done
    assert "subgroups_webhook_deliveries_failed 0.0\n" in done


async def _has(text: Awaitable[str], line: str) -> bool:
    return line in await text


async def test_a_replay_after_an_id_no_database_can_hold_is_refused(hooks: Services) -> None:
    workspace_id, _ = await Setup(hooks)()
    new = await hooks.webhooks.create(workspace_id=workspace_id, url="http://127.0.0.1:9/x")
    with pytest.raises(InvalidRequest, match="after must be a change id"):
        await hooks.webhooks.replay(new.endpoint.id, workspace_id=None, after=2**63)
    with pytest.raises(NotFound, match="No delivery of change"):
        await hooks.webhooks.replay_delivery(new.endpoint.id, workspace_id=None, change_id=2**70)


async def test_deliveries_give_way_to_the_requests_the_process_is_answering(
    hooks: Services,
) -> None:
    workspace_id, group_id = await Setup(hooks)()
    with receiving() as receiver:
        endpoint = await hooks.webhooks.create(workspace_id=workspace_id, url=receiver.url)
        receiver.secrets.append(endpoint.secret)
        async with dispatching(hooks) as own:
            own.in_flight.busy_share = 0  # this test's process is busy whenever a request is in
            own.in_flight.enter()  # flight; and one is, for a while
            made = await Setup(hooks).change(workspace_id, group_id, *(f"p{n}" for n in range(40)))
            # A few go anyway (delivery slows down, it does not stop)...
            await until(lambda: receiver.arrivals)
            await asyncio.sleep(0.3)  # without giving way, all 40 take a fraction of this
            assert len(receiver.change_ids()) < len(made)
            # ...and the rest as soon as the request is answered.
            own.in_flight.leave()
            await receiver.wait_for(made, within=10)
