"""A workspace's link-signing secrets and its person pages' settings (contract §11)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Connection, or_, select, update
from sqlalchemy.exc import IntegrityError

from subgroups.domain.links import LinkSecret
from subgroups.domain.person import Branding
from subgroups.errors import Conflict
from subgroups.storage.engine import Database
from subgroups.storage.tables import link_secrets, person_pages


def _live(at: datetime) -> ColumnElement[bool]:
    return or_(link_secrets.c.retires_at.is_(None), link_secrets.c.retires_at > at)


def _newest(conn: Connection, workspace_id: int, at: datetime) -> LinkSecret | None:
    row = conn.execute(
        select(link_secrets)
        .where(link_secrets.c.workspace_id == workspace_id, _live(at))
        .order_by(link_secrets.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return LinkSecret(row.id, bytes.fromhex(row.secret), row.created_at, row.retires_at)


class SqlLinkStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def secret(self, workspace_id: int, *, new_secret: bytes, at: datetime) -> LinkSecret:
        async with self._db.snapshot() as conn:
            found = await conn.run_sync(lambda sync: _newest(sync, workspace_id, at))
        if found is not None:
            return found

        def first(conn: Connection) -> LinkSecret:
            # Concurrent first calls: the primary key admits one row 1, and every caller reads
            # back whichever was written.
            conn.execute(
                self._db.insert(link_secrets)
                .values(workspace_id=workspace_id, id=1, secret=new_secret.hex(), created_at=at)
                .on_conflict_do_nothing()
            )
            newest = _newest(conn, workspace_id, at)
            assert newest is not None  # row 1 exists now; a retired one means a later one lives
            return newest

        return await self._db.write(first)

    async def find_secret(self, workspace_id: int, secret_id: int, *, at: datetime) -> bytes | None:
        query = select(link_secrets.c.secret).where(
            link_secrets.c.workspace_id == workspace_id,
            link_secrets.c.id == secret_id,
            _live(at),
        )
        async with self._db.snapshot() as conn:
            found = (await conn.execute(query)).scalar_one_or_none()
        return bytes.fromhex(found) if found is not None else None

    async def rotate(
        self, workspace_id: int, *, new_secret: bytes, at: datetime, retire_at: datetime
    ) -> LinkSecret:
        def write(conn: Connection) -> LinkSecret:
            newest = conn.execute(
                select(link_secrets.c.id)
                .where(link_secrets.c.workspace_id == workspace_id)
                .order_by(link_secrets.c.id.desc())
                .limit(1)
                .with_for_update()
            ).scalar_one_or_none()
            conn.execute(
                update(link_secrets)
                .where(
                    link_secrets.c.workspace_id == workspace_id,
                    or_(link_secrets.c.retires_at.is_(None), link_secrets.c.retires_at > retire_at),
                )
                .values(retires_at=retire_at)
            )
            secret_id = (newest or 0) + 1
            conn.execute(
                link_secrets.insert().values(
                    workspace_id=workspace_id, id=secret_id, secret=new_secret.hex(), created_at=at
                )
            )
            return LinkSecret(secret_id, new_secret, at, None)

        try:
            return await self._db.write(write)
        except IntegrityError:
            # Two rotations of one workspace at the same moment both chose the next id.
            raise Conflict(
                "Another rotation of this workspace's link secret ran at the same time; run it again"
            ) from None

    async def branding(self, workspace_id: int) -> Branding:
        query = select(person_pages.c.display_name, person_pages.c.accent_color).where(
            person_pages.c.workspace_id == workspace_id
        )
        async with self._db.snapshot() as conn:
            row = (await conn.execute(query)).first()
        return Branding(row.display_name, row.accent_color) if row is not None else Branding()

    async def set_branding(self, workspace_id: int, value: Branding, *, new_key: bytes) -> None:
        values = {"display_name": value.display_name, "accent_color": value.accent_color}
        insert = self._db.insert(person_pages).values(
            workspace_id=workspace_id, suppression_key=new_key.hex(), **values
        )
        upsert = insert.on_conflict_do_update(index_elements=["workspace_id"], set_=values)
        await self._db.write(lambda conn: conn.execute(upsert))

    async def suppression_key(self, workspace_id: int, *, new_key: bytes | None) -> bytes | None:
        query = select(person_pages.c.suppression_key).where(
            person_pages.c.workspace_id == workspace_id
        )
        async with self._db.snapshot() as conn:
            found = (await conn.execute(query)).scalar_one_or_none()
        if found is not None:
            return bytes.fromhex(found)
        if new_key is None:
            return None

        def first(conn: Connection) -> bytes:
            conn.execute(
                self._db.insert(person_pages)
                .values(workspace_id=workspace_id, suppression_key=new_key.hex())
                .on_conflict_do_nothing()
            )
            key: str = conn.execute(query).scalar_one()
            return bytes.fromhex(key)

        return await self._db.write(first)
