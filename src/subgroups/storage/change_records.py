"""The state-change record's columns, taken from `tables.state_changes`, for both write paths.

Every record of one assignment shares the request's values (who, when, which group, the new
state); the rest differ per profile. The two kinds are named here, once: tests/unit hold them to
the table (together they are its columns), and both write paths build their INSERT from them, so
a column added to the table is a column both must fill.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from subgroups.domain.models import Actor
from subgroups.domain.subscriptions import Assignment
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
)


def request_values(
    workspace_id: int, a: Assignment, actor: Actor, at: datetime | str
) -> tuple[object, ...]:
    """The values every record of `a` shares, in PER_REQUEST's order (`at` as the backend binds
    it). A tuple, not a mapping: this runs once per group object on the hot path."""
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
    )


def old_state_name(subscribed: object) -> str | None:
    """A stored `subscribed` value (bool, or 0/1 on SQLite; None when unknown) as a state name."""
    if subscribed is None:
        return None
    return "subscribed" if subscribed else "unsubscribed"
