"""The dispatcher: pushes each endpoint's events to it, signed, until they are delivered.

An endpoint is served by one dispatcher at a time, the one holding its lease (any number of server
or worker processes run one each; they share the endpoints, never an endpoint). For each endpoint
it holds, a dispatcher runs one loop of its own, so a slow or dead receiver holds up nobody else:

1. queue: the changes after the endpoint's cursor that the change feed may hand out (never one
   below which another can still commit) become deliveries, and the cursor moves past them, in
   one transaction. The events are the change records themselves, committed with their changes,
   so a crash at any moment loses nothing: the cursor has either moved with its deliveries or not.
2. send: the deliveries whose time has come, oldest change first, at most `concurrency` requests
   at once, each signed with every secret that signs now (Standard Webhooks). In a process that
   also answers the API, each delivery first waits while the process is busy answering it (up
   to GIVE_WAY_SECONDS): the API's callers come first (services/in_flight.py).
3. record: every attempt's result in one transaction: delivered, failed for good, or when to try
   again.

A crash between sending and recording sends those again after the restart: delivery is at least
once, and receivers deduplicate on `webhook-id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from standardwebhooks.webhooks import Webhook

from subgroups.domain.models import StateChange
from subgroups.domain.webhooks import (
    Delivery,
    DeliveryStatus,
    Endpoint,
    Result,
    event_body,
    outcome,
)
from subgroups.services.in_flight import InFlight
from subgroups.services.metrics import WEBHOOKS_DELIVERED, WEBHOOKS_FAILED, Metrics
from subgroups.services.ports import ChangeFeed, Clock, WebhookQueue, WebhookSender

log = logging.getLogger("subgroups.webhooks")

# Changes queued, and deliveries sent, per round of one endpoint's loop.
BATCH: Final = 500
# Endpoints one dispatcher holds at most.
MAX_ENDPOINTS: Final = 1000
PRUNE_EVERY_SECONDS: Final = 3600
# The longest a delivery waits while this process is busy answering requests (see InFlight).
GIVE_WAY_SECONDS: Final = 0.2


class Dispatcher:
    def __init__(
        self,
        *,
        queue: WebhookQueue,
        feed: ChangeFeed,
        sender: WebhookSender,
        clock: Clock,
        metrics: Metrics,
        schedule: Sequence[float],
        concurrency: int,
        lease_seconds: float,
        poll_seconds: float,
        keep_days: float,
        in_flight: InFlight | None = None,
    ) -> None:
        self._queue = queue
        self._feed = feed
        self._sender = sender
        self._clock = clock
        self._metrics = metrics
        self._schedule = tuple(schedule)
        self._concurrency = concurrency
        self._lease = timedelta(seconds=lease_seconds)
        self._poll_seconds = poll_seconds
        self._keep = timedelta(days=keep_days)
        # The requests this process answers, which deliveries give way to (none in a worker).
        self._in_flight = in_flight or InFlight()
        # Unique per process and start: a restarted process does not inherit its old leases.
        self.owner = f"{socket.gethostname()[:40]}:{secrets.token_hex(6)}"
        self._held: dict[tuple[int, str], Endpoint] = {}
        self._loops: dict[tuple[int, str], asyncio.Task[None]] = {}
        self._handing_over: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Claims and serves endpoints until `stop` is set; then lets its leases go."""
        pruned_at: datetime | None = None
        try:
            while not stop.is_set():
                try:
                    await self._claim()
                    now = self._clock.now()
                    if pruned_at is None or now - pruned_at > timedelta(
                        seconds=PRUNE_EVERY_SECONDS
                    ):
                        await self._queue.prune(before=now - self._keep)
                        pruned_at = now
                except Exception:  # the database is away for a moment: try again next round
                    log.exception("webhook dispatcher round failed")
                # Renew well before the lease runs out; new endpoints are found this often too.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._lease.total_seconds() / 3)
        finally:
            await self._stop_loops(set(self._loops))
            with contextlib.suppress(Exception):
                await self._queue.release(owner=self.owner)

    async def aclose(self) -> None:
        await self._sender.aclose()

    async def _claim(self) -> None:
        now = self._clock.now()
        held = await self._queue.claim(
            owner=self.owner, now=now, until=now + self._lease, limit=MAX_ENDPOINTS
        )
        current = {(e.workspace_id, e.id): e for e in held}
        for key in set(self._loops) - set(current):
            self._hand_over(key)
        for key, endpoint in current.items():
            # Secrets and URL as they are now. The cursor read may be behind one the loop has
            # moved since: its next queueing finds that out and takes the cursor as it is.
            self._held[key] = endpoint
            if key not in self._loops or self._loops[key].done():
                self._loops[key] = asyncio.create_task(self._serve(key))

    def _hand_over(self, key: tuple[int, str]) -> None:
        """Stops serving an endpoint beyond this dispatcher's share (or disabled): its loop sends
        nothing new and records what is in flight; then the endpoint is let go, so its next
        holder sends nothing twice. Until then this dispatcher's claims keep renewing it."""
        endpoint = self._held.pop(key, None)
        loop = self._loops.pop(key)

        async def hand_over() -> None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await loop
            if endpoint is not None:
                await self._queue.release(owner=self.owner, endpoints_given_up=[endpoint])

        self._handing_over.add(asyncio.create_task(hand_over()))
        self._handing_over = {t for t in self._handing_over if not t.done()}

    async def _stop_loops(self, keys: set[tuple[int, str]]) -> None:
        """Ends the loops of these endpoints: each finishes the round it is in (so what it sent
        is recorded, and not sent again by the next holder) unless that takes too long."""
        for key in keys:
            self._held.pop(key, None)
        loops = [self._loops.pop(key) for key in keys] + list(self._handing_over)
        if not loops:
            return
        _, late = await asyncio.wait(loops, timeout=self._lease.total_seconds() / 3)
        for loop in late:
            loop.cancel()
        for loop in late:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await loop

    async def _serve(self, key: tuple[int, str]) -> None:
        failures = 0
        while key in self._held:
            try:
                busy = await self._round(key)
                failures = 0
            except Exception:
                # The database away for a moment, most likely: wait longer after each failure
                # in a row (up to a minute) rather than fill the log.
                failures += 1
                log.exception("webhook delivery round failed", extra={"endpoint_id": key[1]})
                await asyncio.sleep(min(60.0, self._poll_seconds * 2**failures))
                continue
            if not busy:
                await asyncio.sleep(self._poll_seconds)

    async def _round(self, key: tuple[int, str]) -> bool:
        """One round of queueing and sending; True if there was work (there may be more)."""
        endpoint = self._held[key]
        changes = await self._feed.changes(
            endpoint.workspace_id, after=endpoint.cursor, limit=BATCH
        )
        queued = False
        if changes:
            now = self._clock.now()
            cursor = await self._queue.enqueue(
                endpoint,
                owner=self.owner,
                change_ids=[c.id for c in changes],
                cursor=changes[-1].id,
                at=now,
            )
            if cursor is None:  # the lease is gone: another dispatcher serves it now
                self._held.pop(key, None)
                return False
            endpoint = replace(endpoint, cursor=cursor)
            if key in self._held:  # not handed over meanwhile
                self._held[key] = endpoint
            queued = True
        due = await self._queue.due(endpoint, owner=self.owner, now=self._clock.now(), limit=BATCH)
        if due:
            results = await self._send(key, endpoint, due)
            await self._queue.record(endpoint, results, at=self._clock.now())
            for result in results:
                if result.outcome.status is DeliveryStatus.DELIVERED:
                    self._metrics.inc(WEBHOOKS_DELIVERED)
                elif result.outcome.status is DeliveryStatus.FAILED:
                    self._metrics.inc(WEBHOOKS_FAILED)
            if any(r.outcome.disables_endpoint for r in results):
                self._held.pop(key, None)
        return queued or len(due) == BATCH

    async def _send(
        self,
        key: tuple[int, str],
        endpoint: Endpoint,
        due: Sequence[tuple[Delivery, StateChange]],
    ) -> list[Result]:
        signers = [Webhook(secret) for secret in endpoint.secrets]
        gate = asyncio.Semaphore(self._concurrency)
        sending: list[asyncio.Task[Result]] = []
        burst = 0
        # One at a time, in change id order, each started before the next is considered: first
        # attempts leave in id order (contract §9), at most `concurrency` in flight.
        for delivery, change in due:
            await gate.acquire()
            if burst:
                burst -= 1
            elif not await self._in_flight.quiet(within=GIVE_WAY_SECONDS):
                # The API has had requests in flight all along: a few go anyway, so that
                # delivery slows down under load but never stops.
                burst = self._concurrency - 1
            if key not in self._held:  # handed over meanwhile: the next holder sends the rest
                gate.release()
                break
            sending.append(
                asyncio.create_task(self._attempt(endpoint, signers, delivery, change, gate))
            )
        return list(await asyncio.gather(*sending))

    async def _attempt(
        self,
        endpoint: Endpoint,
        signers: Sequence[Webhook],
        delivery: Delivery,
        change: StateChange,
        gate: asyncio.Semaphore,
    ) -> Result:
        try:
            body = event_body(change)
            at = self._clock.now()
            webhook_id = delivery.webhook_id
            text = body.decode()
            headers = {
                "content-type": "application/json",
                "webhook-id": webhook_id,
                "webhook-timestamp": str(int(at.timestamp())),
                "webhook-signature": " ".join(s.sign(webhook_id, at, text) for s in signers),
            }
            sent = await self._sender.send(endpoint.url, headers=headers, body=body)
        finally:
            gate.release()
        attempts = delivery.attempts + 1
        decided = outcome(sent, attempts=attempts, schedule=self._schedule, now=self._clock.now())
        return Result(delivery.change_id, attempts, sent, decided, delivery.next_attempt_at)
