"""API keys: stored as a hash of the secret, never the secret itself."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Update, or_, select, update

from subgroups.domain.models import ApiKey, Permission
from subgroups.storage.engine import Database
from subgroups.storage.tables import api_keys


def key_from_row(row: Mapping[Any, Any]) -> ApiKey:
    return ApiKey(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        prefix=row["prefix"],
        permissions=frozenset(Permission(p) for p in row["permissions"].split()),
        allowed_networks=tuple(ipaddress.ip_network(n) for n in row["allowed_ips"].split()),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
        secret_hash=row["secret_hash"],
    )


class SqlKeyStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        workspace_id: int,
        name: str,
        prefix: str,
        secret_hash: str,
        permissions: frozenset[Permission],
        allowed_ips: Sequence[str],
        at: datetime,
    ) -> ApiKey:
        values = {
            "workspace_id": workspace_id,
            "name": name,
            "prefix": prefix,
            "secret_hash": secret_hash,
            "permissions": " ".join(sorted(p.value for p in permissions)),
            "allowed_ips": " ".join(allowed_ips),
            "created_at": at,
        }
        insert = api_keys.insert().values(values).returning(api_keys.c.id)
        key_id = await self._db.write(lambda conn: conn.execute(insert).scalar_one())
        return key_from_row({**values, "id": key_id, "revoked_at": None, "last_used_at": None})

    async def find_by_hash(self, secret_hash: str) -> ApiKey | None:
        query = select(api_keys).where(api_keys.c.secret_hash == secret_hash)
        async with self._db.snapshot() as conn:
            row = (await conn.execute(query)).mappings().first()
        return key_from_row(row) if row else None

    async def get(self, key_id: int) -> ApiKey | None:
        async with self._db.snapshot() as conn:
            row = (
                (await conn.execute(select(api_keys).where(api_keys.c.id == key_id)))
                .mappings()
                .first()
            )
        return key_from_row(row) if row else None

    async def list(self, workspace_id: int | None) -> list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.id)
        if workspace_id is not None:
            query = query.where(api_keys.c.workspace_id == workspace_id)
        async with self._db.snapshot() as conn:
            return [key_from_row(row) for row in (await conn.execute(query)).mappings()]

    async def revoke(self, key_id: int, *, at: datetime) -> ApiKey | None:
        def revoke(conn: Connection) -> ApiKey | None:
            conn.execute(_stop(key_id, at))
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
            return key_from_row(row) if row else None

        return await self._db.write(revoke)

    async def rotate(
        self, key_id: int, *, prefix: str, secret_hash: str, at: datetime, old_stops_at: datetime
    ) -> ApiKey | None:
        def rotate(conn: Connection) -> ApiKey | None:
            # FOR UPDATE on PostgreSQL; SQLite has no row locks and needs none (one writer).
            query = select(api_keys).where(api_keys.c.id == key_id).with_for_update()
            old = conn.execute(query).mappings().first()
            if old is None:
                return None
            values = {
                "workspace_id": old["workspace_id"],
                "name": old["name"],
                "prefix": prefix,
                "secret_hash": secret_hash,
                "permissions": old["permissions"],
                "allowed_ips": old["allowed_ips"],
                "created_at": at,
            }
            insert = api_keys.insert().values(values).returning(api_keys.c.id)
            new_id = conn.execute(insert).scalar_one()
            conn.execute(_stop(key_id, old_stops_at))
            return key_from_row({**values, "id": new_id, "revoked_at": None, "last_used_at": None})

        return await self._db.write(rotate)

    async def touch(self, key_id: int, *, at: datetime) -> None:
        statement = (
            update(api_keys)
            .where(
                api_keys.c.id == key_id,
                or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at < at),
            )
            .values(last_used_at=at)
        )
        await self._db.write(lambda conn: conn.execute(statement))


def _stop(key_id: int, at: datetime) -> Update:
    """Makes the key stop working at `at`, unless it already stops sooner."""
    return (
        update(api_keys)
        .where(
            api_keys.c.id == key_id,
            or_(api_keys.c.revoked_at.is_(None), api_keys.c.revoked_at > at),
        )
        .values(revoked_at=at)
    )
