"""The state-change record's columns, taken from `tables.state_changes`, for both write paths.

Every record of one assignment shares the request's values (who, when, which group, the new
state); the rest differ per profile. The two kinds are named here, once: tests/unit hold them to
the table (together they are its columns), and both write paths build their INSERT from them, so
a column added to the table is a column both must fill.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select

from subgroups.domain.models import Actor, Source, State, StateChange
from subgroups.domain.subscriptions import Assignment
from subgroups.storage.engine import Database
from subgroups.storage.tables import state_changes

COLUMNS: Final = tuple(c.name for c in state_changes.columns if not c.primary_key)
PER_PROFILE: Final = ("profile_id", "external_id", "email", "phone", "old_state")
# In the order of request_values().
PER_REQUEST: Final = (
    "workspace_id",
    "subscription_group_id",
    "channel",
    "new_state",
    "occurred_at",
    "source",
    "api_key_id",
    "request_id",
    "client_ip",
    "operator",
    "user_agent",
    "reason",
    "reason_detail",
    "import_id",
    "consented_at",
    "consent_source",
)


def request_values(
    workspace_id: int,
    a: Assignment,
    actor: Actor,
    at: datetime | str,
    consented_at: datetime | str | None = None,
) -> tuple[object, ...]:
    """The values every record of `a` shares, in PER_REQUEST's order (`at` and `consented_at` as
    the backend binds them; `consented_at` is `a.consented_at` unless given). A tuple, not a
    mapping: this runs once per group object on the hot path.

    A reason is why a person left: the records of a group they joined in the same save carry none."""
    leaving = a.state is State.UNSUBSCRIBED
    return (
        workspace_id,
        a.group.id,
        a.group.channel,
        a.state.value,
        at,
        actor.source.value,
        actor.api_key_id,
        actor.request_id,
        actor.client_ip,
        actor.operator,
        actor.user_agent,
        actor.reason if leaving else None,
        actor.reason_detail if leaving else None,
        actor.import_id,
        a.consented_at if consented_at is None else consented_at,
        a.consent_source,
    )


def old_state_name(subscribed: object) -> str | None:
    """A stored `subscribed` value (bool, or 0/1 on SQLite; None when unknown) as a state name."""
    if subscribed is None:
        return None
    return "subscribed" if subscribed else "unsubscribed"


def change_from_row(row: Mapping[Any, Any]) -> StateChange:
    return StateChange(
        **{k: v for k, v in row.items() if k not in ("old_state", "new_state", "source")},
        old_state=State(row["old_state"]) if row["old_state"] else None,
        new_state=State(row["new_state"]),
        source=Source(row["source"]),
    )


async def read_changes(
    db: Database, workspace_id: int, *, after: int | None, limit: int | None, through: int | None
) -> list[StateChange]:
    """The workspace's records with `after` < id <= `through`, ascending, at most `limit`."""
    query = select(state_changes).where(state_changes.c.workspace_id == workspace_id)
    if after is not None:
        query = query.where(state_changes.c.id > after)
    if through is not None:
        query = query.where(state_changes.c.id <= through)
    query = query.order_by(state_changes.c.id).limit(limit)
    async with db.snapshot() as conn:
        return [change_from_row(row) for row in (await conn.execute(query)).mappings()]
