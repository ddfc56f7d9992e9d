"""Workspaces (tenants)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from subgroups.domain.models import Workspace
from subgroups.errors import Conflict
from subgroups.storage.engine import Database
from subgroups.storage.tables import workspaces


class SqlWorkspaceStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, *, name: str, at: datetime) -> Workspace:
        insert = workspaces.insert().values(name=name, created_at=at).returning(workspaces.c.id)
        try:
            workspace_id: int = await self._db.write(lambda conn: conn.execute(insert).scalar_one())
        except IntegrityError:
            raise Conflict(f"A workspace named '{name}' already exists") from None
        return Workspace(workspace_id, name, at)

    async def list(self) -> list[Workspace]:
        async with self._db.snapshot() as conn:
            rows = await conn.execute(select(workspaces).order_by(workspaces.c.id))
            return [Workspace(*row) for row in rows]

    async def get(self, workspace_id: int) -> Workspace | None:
        async with self._db.snapshot() as conn:
            row = (
                await conn.execute(select(workspaces).where(workspaces.c.id == workspace_id))
            ).first()
            return Workspace(*row) if row else None
