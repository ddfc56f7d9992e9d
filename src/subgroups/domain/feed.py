"""The pull feed's page (contract §9): which records, and where the next page starts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Final

from subgroups.domain.models import StateChange
from subgroups.errors import InvalidRequest

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
# An id the database can hold (64-bit); anything larger is no id at all.
MAX_ID: Final = 2**63 - 1


@dataclass(frozen=True, slots=True)
class FeedPage:
    changes: Sequence[StateChange]
    next_after: int
    has_more: bool


def feed_bounds(after: int | None, limit: int | None) -> tuple[int, int]:
    """`after` (default 0) and `limit` (default 100) checked; InvalidRequest names the parameter.

    None means absent; a negative number stands for text that is not a whole number."""
    after = 0 if after is None else after
    if not 0 <= after <= MAX_ID:
        raise InvalidRequest("after must be a whole number, 0 or more")
    limit = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return after, limit


def page_of(found: Sequence[StateChange], *, after: int, limit: int) -> FeedPage:
    """The page from up to `limit + 1` records found after `after`: one more means more follow."""
    changes = found[:limit]
    return FeedPage(changes, changes[-1].id if changes else after, len(found) > limit)


def record_document(change: StateChange) -> dict[str, object]:
    """A record as the feed and webhooks send it: the fields of contract §7, timestamps in ISO
    8601 UTC with microseconds. The dashboard operator's email is not among them: it is a
    person's address, kept for the dashboard's own history."""
    return {
        "id": change.id,
        "workspace_id": change.workspace_id,
        "profile_id": change.profile_id,
        "external_id": change.external_id,
        "email": change.email,
        "phone": change.phone,
        "subscription_group_id": change.subscription_group_id,
        "channel": change.channel,
        "old_state": change.old_state.value if change.old_state is not None else None,
        "new_state": change.new_state.value,
        "occurred_at": change.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "source": change.source.value,
        "api_key_id": change.api_key_id,
        "request_id": change.request_id,
        "client_ip": change.client_ip,
        "user_agent": change.user_agent,
        "reason": change.reason,
        "reason_detail": change.reason_detail,
        "import_id": change.import_id,
        "consented_at": None
        if change.consented_at is None
        else change.consented_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "consent_source": change.consent_source,
    }
