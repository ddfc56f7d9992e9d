"""Subscription groups."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from subgroups.domain.models import Channel, Group
from subgroups.errors import Conflict
from subgroups.storage.engine import Database
from subgroups.storage.tables import subscription_groups as groups

GROUP_ID_MAX = 64  # the length of subscription_groups.id


def group_from_row(row: Mapping[Any, Any]) -> Group:
    return Group(
        pk=row["pk"],
        workspace_id=row["workspace_id"],
        id=row["id"],
        name=row["name"],
        channel=row["channel"],
        description=row["description"],
        created_at=row["created_at"],
        archived_at=row["archived_at"],
    )


class SqlGroupStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        workspace_id: int,
        group_id: str,
        name: str,
        channel: Channel,
        description: str | None,
        at: datetime,
    ) -> Group:
        values = {
            "workspace_id": workspace_id,
            "id": group_id,
            "name": name,
            "channel": channel,
            "description": description,
            "created_at": at,
        }

        def create(conn: Connection) -> int:
            taken = conn.execute(
                select(groups.c.id, groups.c.name).where(
                    groups.c.workspace_id == workspace_id,
                    (groups.c.id == group_id) | (groups.c.name == name),
                )
            )
            for existing_id, _ in taken:
                what = f"id '{group_id}'" if existing_id == group_id else f"name '{name}'"
                raise Conflict(f"A subscription group with {what} already exists in this workspace")
            pk: int = conn.execute(
                groups.insert().values(values).returning(groups.c.pk)
            ).scalar_one()
            return pk

        try:
            pk = await self._db.write(create)
        except IntegrityError:
            raise Conflict("A subscription group with this id or name already exists") from None
        return group_from_row({**values, "pk": pk, "archived_at": None})

    async def find(self, workspace_id: int, group_ids: Collection[str]) -> dict[str, Group]:
        # An id no group can have is not looked up: PostgreSQL refuses NUL in text outright, and a
        # hostile id must read as unknown, never fail the request.
        group_ids = [g for g in group_ids if len(g) <= GROUP_ID_MAX and "\x00" not in g]
        if not group_ids:
            return {}
        query = select(groups).where(
            groups.c.workspace_id == workspace_id, groups.c.id.in_(group_ids)
        )
        async with self._db.snapshot() as conn:
            rows = (await conn.execute(query)).mappings()
            return {row["id"]: group_from_row(row) for row in rows}

    async def list(self, workspace_id: int) -> list[Group]:
        query = select(groups).where(groups.c.workspace_id == workspace_id).order_by(groups.c.pk)
        async with self._db.snapshot() as conn:
            return [group_from_row(row) for row in (await conn.execute(query)).mappings()]

    async def archive(self, workspace_id: int, group_id: str, *, at: datetime) -> Group | None:
        where = (groups.c.workspace_id == workspace_id, groups.c.id == group_id)

        def archive(conn: Connection) -> Group | None:
            conn.execute(
                update(groups).where(*where, groups.c.archived_at.is_(None)).values(archived_at=at)
            )
            row = conn.execute(select(groups).where(*where)).mappings().first()
            return group_from_row(row) if row else None

        return await self._db.write(archive)

    async def update(
        self, workspace_id: int, group_id: str, *, name: str, description: str | None
    ) -> Group | None:
        where = (groups.c.workspace_id == workspace_id, groups.c.id == group_id)
        taken = select(groups.c.pk).where(
            groups.c.workspace_id == workspace_id, groups.c.name == name, groups.c.id != group_id
        )

        def rename(conn: Connection) -> Group | None:
            if conn.execute(taken).first() is not None:
                raise Conflict(
                    f"A subscription group with name '{name}' already exists in this workspace"
                )
            conn.execute(update(groups).where(*where).values(name=name, description=description))
            row = conn.execute(select(groups).where(*where)).mappings().first()
            return group_from_row(row) if row else None

        try:
            return await self._db.write(rename)
        except IntegrityError:
            raise Conflict("A subscription group with this name already exists") from None
