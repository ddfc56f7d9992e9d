"""The state-change record's columns, taken from `tables.state_changes`, for both write paths.

Every record of one assignment shares the request's values (who, when, which group, the new
state); the rest differ per profile. Both write paths build their INSERT from `COLUMNS`, so a
column added to the table is a column both must fill, or fail at import.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from subgroups.domain.models import Actor
from subgroups.domain.subscriptions import Assignment
from subgroups.storage.tables import state_changes

COLUMNS: Final = tuple(c.name for c in state_changes.columns if not c.primary_key)
PER_PROFILE: Final = ("profile_id", "external_id", "email", "phone", "old_state")
PER_REQUEST: Final = tuple(c for c in COLUMNS if c not in PER_PROFILE)


def request_values(
    workspace_id: int, a: Assignment, actor: Actor, at: datetime | str
) -> dict[str, object]:
    """The values every record of `a` shares, by column (`at` as the backend binds it)."""
    return {
        "workspace_id": workspace_id,
        "subscription_group_id": a.group.id,
        "channel": a.group.channel,
        "new_state": a.state.value,
        "occurred_at": at,
        "source": actor.source.value,
        "api_key_id": actor.api_key_id,
        "request_id": actor.request_id,
        "client_ip": actor.client_ip,
        "operator": actor.operator,
    }


def old_state_name(subscribed: object) -> str | None:
    """A stored `subscribed` value (bool, or 0/1 on SQLite; None when unknown) as a state name."""
    if subscribed is None:
        return None
    return "subscribed" if subscribed else "unsubscribed"
