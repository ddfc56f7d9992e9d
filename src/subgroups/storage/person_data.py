"""Suppression entries and erasures (contract §11): what is kept of a person who is erased."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import Connection, select, update

from subgroups.domain.models import Source, State
from subgroups.domain.person import SuppressionEntry
from subgroups.storage.engine import Database
from subgroups.storage.tables import erasures, profiles, state_changes, suppressions

_IDENTIFIERS = {"external_id": None, "email": None, "phone": None}
_PERSONS_OWN = (Source.ONE_CLICK.value, Source.PREFERENCE_PAGE.value)


class SqlPersonDataStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def erase(
        self,
        workspace_id: int,
        profile_id: int,
        *,
        entries: Sequence[SuppressionEntry],
        at: datetime,
        by: str,
    ) -> bool:
        def write(conn: Connection) -> bool:
            recorded = conn.execute(
                self._db.insert(erasures)
                .values(
                    workspace_id=workspace_id,
                    profile_id=profile_id,
                    erased_at=at,
                    erased_by=by,
                    suppressed=len(entries),
                )
                .on_conflict_do_nothing()
            )
            if recorded.rowcount != 1:
                return False
            erased = conn.execute(
                update(profiles)
                .where(profiles.c.workspace_id == workspace_id, profiles.c.id == profile_id)
                .values(**_IDENTIFIERS)
            )
            if erased.rowcount != 1:
                raise _NoSuchProfile
            of_profile = (state_changes.c.workspace_id == workspace_id) & (
                state_changes.c.profile_id == profile_id
            )
            conn.execute(update(state_changes).where(of_profile).values(**_IDENTIFIERS))
            # What the person's own browser or mail client sent is theirs too: their address,
            # their user agent, their own words. The reason's category stays, counted.
            conn.execute(
                update(state_changes)
                .where(of_profile, state_changes.c.source.in_(_PERSONS_OWN))
                .values(client_ip=None, user_agent=None, reason_detail=None)
            )
            for entry in entries:
                self._keep(conn, workspace_id, entry)
            return True

        try:
            return await self._db.write(write)
        except _NoSuchProfile:
            return False

    def _keep(self, conn: Connection, workspace_id: int, entry: SuppressionEntry) -> None:
        values = {
            "channel": entry.channel,
            "state": entry.state.value,
            "opted_out_at": entry.opted_out_at,
            "erased_at": entry.erased_at,
        }
        insert = self._db.insert(suppressions).values(
            workspace_id=workspace_id,
            contact_hash=entry.contact_hash,
            subscription_group_id=entry.subscription_group_id,
            **values,
        )
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["workspace_id", "contact_hash", "subscription_group_id"],
                set_=values,
            )
        )

    async def suppressions(
        self, workspace_id: int, contact_hashes: Collection[str]
    ) -> list[SuppressionEntry]:
        if not contact_hashes:
            return []
        query = (
            select(suppressions)
            .where(
                suppressions.c.workspace_id == workspace_id,
                suppressions.c.contact_hash.in_(contact_hashes),
            )
            .order_by(suppressions.c.contact_hash, suppressions.c.subscription_group_id)
        )
        async with self._db.snapshot() as conn:
            rows = (await conn.execute(query)).mappings()
            return [
                SuppressionEntry(
                    contact_hash=r["contact_hash"],
                    subscription_group_id=r["subscription_group_id"],
                    channel=r["channel"],
                    state=State(r["state"]),
                    opted_out_at=r["opted_out_at"],
                    erased_at=r["erased_at"],
                )
                for r in rows
            ]


class _NoSuchProfile(Exception):
    """Undoes an erasure's first write when the profile is not the workspace's."""
