"""Webhook endpoints and deliveries (contract §9), on both backends.

Every write goes through `Database.write`: on SQLite the one writer, which is also what makes a
claim exclusive there; on PostgreSQL a claim skips the endpoints another dispatcher has locked
at that moment (`FOR UPDATE SKIP LOCKED`), so several processes claim at once without waiting on
each other or taking the same endpoint. The SQL is the same on both: SQLite has no row locks and
SQLAlchemy leaves the clause out there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, or_, select, tuple_, update

from subgroups.domain.models import StateChange
from subgroups.domain.webhooks import (
    Backlog,
    Delivery,
    DeliveryStatus,
    Endpoint,
    Result,
)
from subgroups.storage.change_records import change_from_row
from subgroups.storage.engine import Database
from subgroups.storage.sealed_secrets import LazySecretBox
from subgroups.storage.tables import (
    state_changes,
    webhook_deliveries,
    webhook_dispatchers,
    webhook_endpoints,
)

endpoints = webhook_endpoints
deliveries = webhook_deliveries
dispatchers = webhook_dispatchers
PENDING = DeliveryStatus.PENDING.value


def _secret_context(workspace_id: int, endpoint_id: str) -> str:
    return f"webhook-secret:{workspace_id}:{endpoint_id}"


def _endpoint(row: Mapping[Any, Any], secrets: tuple[str, ...] = ()) -> Endpoint:
    return Endpoint(
        workspace_id=row["workspace_id"],
        id=row["id"],
        url=row["url"],
        events=tuple(row["events"].split()),
        enabled=row["enabled"],
        disabled_reason=row["disabled_reason"],
        created_at=row["created_at"],
        secrets=secrets,
        previous_secret_expires_at=row["previous_secret_expires_at"],
        cursor=row["cursor"],
    )


def _delivery(row: Mapping[Any, Any]) -> Delivery:
    return Delivery(
        workspace_id=row["workspace_id"],
        endpoint_id=row["endpoint_id"],
        change_id=row["change_id"],
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_attempt_at=row["last_attempt_at"],
        response_status=row["response_status"],
        latency_ms=row["latency_ms"],
        detail=row["detail"],
    )


def _key(endpoint: Endpoint) -> Any:
    return and_(endpoints.c.workspace_id == endpoint.workspace_id, endpoints.c.id == endpoint.id)


def _of(endpoint: Endpoint) -> Any:
    return and_(
        deliveries.c.workspace_id == endpoint.workspace_id,
        deliveries.c.endpoint_id == endpoint.id,
    )


class SqlWebhookStore:
    def __init__(self, db: Database, box: LazySecretBox) -> None:
        self._db = db
        self._box = box

    # Operators' side --------------------------------------------------------------------------

    async def create_endpoint(
        self,
        *,
        workspace_id: int,
        endpoint_id: str,
        url: str,
        events: Sequence[str],
        secret: str,
        at: datetime,
    ) -> Endpoint:
        sealed = self._box.seal(secret, context=_secret_context(workspace_id, endpoint_id))
        # From now on: the newest change of the workspace so far is where its queue starts.
        newest = (
            select(func.coalesce(func.max(state_changes.c.id), 0))
            .where(state_changes.c.workspace_id == workspace_id)
            .scalar_subquery()
        )
        insert = (
            endpoints.insert()
            .values(
                workspace_id=workspace_id,
                id=endpoint_id,
                url=url,
                events=" ".join(events),
                enabled=True,
                secret=sealed,
                cursor=newest,
                created_at=at,
            )
            .returning(*endpoints.c)
        )
        row = await self._db.write(lambda conn: conn.execute(insert).mappings().one())
        return _endpoint(row)

    async def endpoints(self, workspace_id: int) -> list[Endpoint]:
        query = (
            select(endpoints)
            .where(endpoints.c.workspace_id == workspace_id)
            .order_by(endpoints.c.created_at, endpoints.c.id)
        )
        async with self._db.snapshot() as conn:
            return [_endpoint(row) for row in (await conn.execute(query)).mappings()]

    async def endpoint(self, endpoint_id: str, *, workspace_id: int | None) -> Endpoint | None:
        query = select(endpoints).where(endpoints.c.id == endpoint_id)
        if workspace_id is not None:
            query = query.where(endpoints.c.workspace_id == workspace_id)
        async with self._db.snapshot() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _endpoint(row) if row else None

    async def set_enabled(
        self, endpoint: Endpoint, *, enabled: bool, reason: str | None
    ) -> Endpoint:
        change = (
            update(endpoints)
            .where(_key(endpoint))
            .values(enabled=enabled, disabled_reason=None if enabled else reason)
            .returning(*endpoints.c)
        )
        row = await self._db.write(lambda conn: conn.execute(change).mappings().one())
        return _endpoint(row)

    async def rotate_secret(
        self, endpoint: Endpoint, *, secret: str, previous_until: datetime | None
    ) -> Endpoint:
        context = _secret_context(endpoint.workspace_id, endpoint.id)
        sealed = self._box.seal(secret, context=context)

        def rotate(conn: Connection) -> Mapping[Any, Any]:
            current = conn.execute(select(endpoints.c.secret).where(_key(endpoint))).scalar_one()
            change = (
                update(endpoints)
                .where(_key(endpoint))
                .values(
                    secret=sealed,
                    previous_secret=current if previous_until is not None else None,
                    previous_secret_expires_at=previous_until,
                )
                .returning(*endpoints.c)
            )
            return conn.execute(change).mappings().one()

        return _endpoint(await self._db.write(rotate))

    async def deliveries(
        self, endpoint: Endpoint, *, failed_only: bool, limit: int
    ) -> list[Delivery]:
        query = select(deliveries).where(_of(endpoint))
        if failed_only:
            query = query.where(deliveries.c.status == DeliveryStatus.FAILED.value)
        query = query.order_by(deliveries.c.change_id.desc()).limit(limit)
        async with self._db.snapshot() as conn:
            return [_delivery(row) for row in (await conn.execute(query)).mappings()]

    async def replay(
        self, endpoint: Endpoint, *, after: int, failed_only: bool, at: datetime
    ) -> int:
        again = (
            update(deliveries)
            .where(_of(endpoint), deliveries.c.change_id > after)
            .values(status=PENDING, attempts=0, next_attempt_at=at)
        )
        if failed_only:
            again = again.where(deliveries.c.status == DeliveryStatus.FAILED.value)

        def replay(conn: Connection) -> int:
            count = conn.execute(again).rowcount
            if not failed_only:
                # Changes after `after` that were never queued for it (before it existed, or
                # pruned since) are queued again from the cursor; rows already there are kept.
                conn.execute(
                    update(endpoints)
                    .where(_key(endpoint), endpoints.c.cursor > after)
                    .values(cursor=after)
                )
            return count

        return await self._db.write(replay)

    async def replay_one(self, endpoint: Endpoint, *, change_id: int, at: datetime) -> bool:
        again = (
            update(deliveries)
            .where(_of(endpoint), deliveries.c.change_id == change_id)
            .values(status=PENDING, attempts=0, next_attempt_at=at)
        )
        return bool(await self._db.write(lambda conn: conn.execute(again).rowcount))

    async def backlog(self) -> Backlog:
        counts = (
            select(deliveries.c.status, func.count())
            .where(deliveries.c.status != DeliveryStatus.DELIVERED.value)
            .group_by(deliveries.c.status)
        )
        # When the first pending delivery of each enabled endpoint (the lowest change id, which
        # the partial index of pending rows hands out first) happened: one probe per endpoint,
        # where a join of every pending row to its change would read them all.
        first_pending = (
            select(func.min(deliveries.c.change_id))
            .where(
                deliveries.c.workspace_id == endpoints.c.workspace_id,
                deliveries.c.endpoint_id == endpoints.c.id,
                deliveries.c.status == PENDING,
            )
            .correlate(endpoints)
            .scalar_subquery()
        )
        first_pending_at = (
            select(state_changes.c.occurred_at)
            .where(
                state_changes.c.workspace_id == endpoints.c.workspace_id,
                state_changes.c.id == first_pending,
            )
            .correlate(endpoints)
            .scalar_subquery()
        )
        oldest_pending = select(func.min(first_pending_at)).where(endpoints.c.enabled)
        # When the first change not yet queued for each enabled endpoint (its cursor's next)
        # happened: one index probe per endpoint.
        first_unqueued_at = (
            select(state_changes.c.occurred_at)
            .where(
                state_changes.c.workspace_id == endpoints.c.workspace_id,
                state_changes.c.id > endpoints.c.cursor,
            )
            .order_by(state_changes.c.id)
            .limit(1)
            .correlate(endpoints)
            .scalar_subquery()
        )
        oldest_unqueued = select(func.min(first_unqueued_at)).where(endpoints.c.enabled)
        async with self._db.snapshot() as conn:
            by_status: dict[str, int] = dict((await conn.execute(counts)).all())
            oldest = [
                (await conn.execute(oldest_pending)).scalar(),
                (await conn.execute(oldest_unqueued)).scalar(),
            ]
        found = [at for at in oldest if at is not None]
        return Backlog(
            pending=by_status.get(PENDING, 0),
            failed=by_status.get(DeliveryStatus.FAILED.value, 0),
            oldest_undelivered_at=min(found) if found else None,
        )

    # The dispatcher's side --------------------------------------------------------------------

    async def claim(
        self, *, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[Endpoint]:
        enabled = endpoints.c.enabled
        free = and_(
            enabled,
            or_(endpoints.c.lease_expires_at.is_(None), endpoints.c.lease_expires_at < now),
        )
        here = self._db.insert(dispatchers).values(owner=owner, expires_at=until)
        announce = here.on_conflict_do_update(
            index_elements=[dispatchers.c.owner], set_={"expires_at": until}
        )
        forget_gone = delete(dispatchers).where(dispatchers.c.expires_at < now)
        count_live = select(func.count()).select_from(dispatchers)
        count_enabled = select(func.count()).select_from(endpoints).where(enabled)
        renew = (
            update(endpoints)
            .where(enabled, endpoints.c.lease_owner == owner)
            .values(lease_expires_at=until)
            .returning(*endpoints.c)
        )

        def claim(conn: Connection) -> list[Mapping[Any, Any]]:
            conn.execute(announce)
            conn.execute(forget_gone)
            live = max(1, int(conn.execute(count_live).scalar_one()))
            total = int(conn.execute(count_enabled).scalar_one())
            # An even share each. What a dispatcher holds beyond its share stays leased to it
            # (renewed) until it has finished sending and lets it go with `release`.
            share = min(limit, -(-total // live))
            mine = sorted(
                conn.execute(renew).mappings(), key=lambda r: (r["workspace_id"], r["id"])
            )
            held: list[Mapping[Any, Any]] = list(mine[:share])
            room = share - len(held)
            if room > 0:
                takeable = (
                    select(endpoints.c.workspace_id, endpoints.c.id)
                    .where(free)
                    .order_by(endpoints.c.workspace_id, endpoints.c.id)
                    .limit(room)
                    .with_for_update(skip_locked=True)
                )
                take = (
                    update(endpoints)
                    .where(tuple_(endpoints.c.workspace_id, endpoints.c.id).in_(takeable))
                    .values(lease_owner=owner, lease_expires_at=until)
                    .returning(*endpoints.c)
                )
                held += conn.execute(take).mappings()
            return held

        rows = await self._db.write(claim)
        return [_endpoint(row, self._secrets(row, now)) for row in rows]

    def _secrets(self, row: Mapping[Any, Any], now: datetime) -> tuple[str, ...]:
        context = _secret_context(row["workspace_id"], row["id"])
        opened = [self._box.open(row["secret"], context=context)]
        expires = row["previous_secret_expires_at"]
        if row["previous_secret"] is not None and expires is not None and expires > now:
            opened.append(self._box.open(row["previous_secret"], context=context))
        return tuple(opened)

    async def release(self, *, owner: str, endpoints_given_up: Sequence[Endpoint] = ()) -> None:
        mine = endpoints.c.lease_owner == owner
        if endpoints_given_up:
            keys = [(e.workspace_id, e.id) for e in endpoints_given_up]
            mine = and_(mine, tuple_(endpoints.c.workspace_id, endpoints.c.id).in_(keys))
        end = update(endpoints).where(mine).values(lease_owner=None, lease_expires_at=None)
        leave = delete(dispatchers).where(dispatchers.c.owner == owner)

        def release(conn: Connection) -> None:
            conn.execute(end)
            if not endpoints_given_up:
                conn.execute(leave)

        await self._db.write(release)

    async def enqueue(
        self,
        endpoint: Endpoint,
        *,
        owner: str,
        change_ids: Sequence[int],
        cursor: int,
        at: datetime,
    ) -> int | None:
        move = (
            update(endpoints)
            .where(
                _key(endpoint),
                endpoints.c.cursor == endpoint.cursor,
                endpoints.c.lease_owner == owner,
            )
            .values(cursor=cursor)
        )
        rows = [
            {
                "workspace_id": endpoint.workspace_id,
                "endpoint_id": endpoint.id,
                "change_id": change_id,
                "status": PENDING,
                "attempts": 0,
                "queued_at": at,
                "next_attempt_at": at,
            }
            for change_id in change_ids
        ]
        # A replay may have queued some of these again already: those rows stay as they are.
        insert = self._db.insert(deliveries).on_conflict_do_nothing()

        def enqueue(conn: Connection) -> int | None:
            if conn.execute(move).rowcount == 0:
                now = conn.execute(
                    select(endpoints.c.cursor).where(
                        _key(endpoint), endpoints.c.lease_owner == owner
                    )
                ).scalar()
                return None if now is None else int(now)
            if rows:
                conn.execute(insert, rows)
            return cursor

        return await self._db.write(enqueue)

    async def due(
        self, endpoint: Endpoint, *, owner: str, now: datetime, limit: int
    ) -> list[tuple[Delivery, StateChange]]:
        held = (
            select(endpoints.c.id)
            .where(_key(endpoint), endpoints.c.enabled, endpoints.c.lease_owner == owner)
            .exists()
        )
        query = (
            select(deliveries, *(c.label(f"sc_{c.name}") for c in state_changes.c))
            .join(
                state_changes,
                and_(
                    state_changes.c.workspace_id == deliveries.c.workspace_id,
                    state_changes.c.id == deliveries.c.change_id,
                ),
            )
            .where(
                _of(endpoint),
                deliveries.c.status == PENDING,
                deliveries.c.next_attempt_at <= now,
                held,
            )
            .order_by(deliveries.c.change_id)
            .limit(limit)
        )
        async with self._db.snapshot() as conn:
            found = (await conn.execute(query)).mappings().all()
        prefix = len("sc_")
        return [
            (
                _delivery(row),
                change_from_row(
                    {key[prefix:]: value for key, value in row.items() if key.startswith("sc_")}
                ),
            )
            for row in found
        ]

    async def record(self, endpoint: Endpoint, results: Sequence[Result], *, at: datetime) -> None:
        if not results:
            return
        one = (
            update(deliveries)
            .where(
                deliveries.c.workspace_id == endpoint.workspace_id,
                deliveries.c.endpoint_id == endpoint.id,
                deliveries.c.change_id == bindparam("key_change_id"),
                # A replay meanwhile queued it again from the start: its new life wins.
                deliveries.c.attempts == bindparam("key_attempts_before"),
                deliveries.c.next_attempt_at == bindparam("key_due_at"),
            )
            .values(
                status=bindparam("new_status"),
                attempts=bindparam("new_attempts"),
                next_attempt_at=bindparam("new_next_attempt_at"),
                last_attempt_at=at,
                response_status=bindparam("new_response_status"),
                latency_ms=bindparam("new_latency_ms"),
                detail=bindparam("new_detail"),
            )
        )
        params = [
            {
                "key_change_id": r.change_id,
                "key_attempts_before": r.attempts - 1,
                "key_due_at": r.due_at,
                "new_status": r.outcome.status.value,
                "new_attempts": r.attempts,
                "new_next_attempt_at": r.outcome.next_attempt_at,
                "new_response_status": r.attempt.status,
                "new_latency_ms": r.attempt.latency_ms,
                "new_detail": r.attempt.detail,
            }
            for r in results
        ]
        gone = any(r.outcome.disables_endpoint for r in results)

        def record(conn: Connection) -> None:
            conn.execute(one, params)
            if gone:
                conn.execute(
                    update(endpoints)
                    .where(_key(endpoint))
                    .values(enabled=False, disabled_reason="the receiver answered 410 Gone")
                )

        await self._db.write(record)

    async def prune(self, *, before: datetime) -> int:
        old = delete(deliveries).where(
            deliveries.c.status == DeliveryStatus.DELIVERED.value,
            deliveries.c.last_attempt_at < before,
        )
        return int(await self._db.write(lambda conn: conn.execute(old).rowcount))
