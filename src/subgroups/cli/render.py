"""Domain values as the JSON documents the CLI prints, and the tables it prints for people."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from subgroups.domain.models import ApiKey, Group, ProfileView, StateChange, Workspace
    from subgroups.domain.person import SuppressionEntry
    from subgroups.domain.webhooks import Delivery, Endpoint


def workspace_doc(w: Workspace) -> dict[str, Any]:
    return {"id": w.id, "name": w.name, "created_at": w.created_at}


def key_doc(k: ApiKey) -> dict[str, Any]:
    return {
        "id": k.id,
        "workspace_id": k.workspace_id,
        "name": k.name,
        "prefix": k.prefix,
        "permissions": sorted(p.value for p in k.permissions),
        "allowed_ips": [str(n) for n in k.allowed_networks],
        "created_at": k.created_at,
        "last_used_at": k.last_used_at,
        "revoked_at": k.revoked_at,
    }


def group_doc(g: Group) -> dict[str, Any]:
    return {
        "id": g.id,
        "workspace_id": g.workspace_id,
        "name": g.name,
        "channel": g.channel,
        "description": g.description,
        "created_at": g.created_at,
        "archived_at": g.archived_at,
    }


def profile_doc(p: ProfileView) -> dict[str, Any]:
    return {
        "external_id": p.external_id,
        "email": p.email,
        "phone": p.phone,
        "subscriptions": [
            {"group_id": s.group_id, "state": s.state.value, "updated_at": s.updated_at}
            for s in p.subscriptions
        ],
    }


def change_doc(c: StateChange) -> dict[str, Any]:
    return {
        "id": c.id,
        "workspace_id": c.workspace_id,
        "profile_id": c.profile_id,
        "external_id": c.external_id,
        "email": c.email,
        "phone": c.phone,
        "subscription_group_id": c.subscription_group_id,
        "channel": c.channel,
        "old_state": c.old_state.value if c.old_state else None,
        "new_state": c.new_state.value,
        "occurred_at": c.occurred_at,
        "source": c.source.value,
        "api_key_id": c.api_key_id,
        "request_id": c.request_id,
        "client_ip": c.client_ip,
    }


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Rows under a header line, each column as wide as its widest cell; "" when there are no rows.

    None prints as an empty cell. Columns are separated by two spaces, so that a header of two
    words ("CREATED (UTC)") still reads as one column."""
    lines = [list(headers)] + [["" if cell is None else str(cell) for cell in row] for row in rows]
    if len(lines) == 1:
        return ""
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def utc_day(at: datetime | None) -> str | None:
    return None if at is None else f"{at.astimezone(UTC):%Y-%m-%d}"


def utc_time(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


def endpoint_doc(e: Endpoint) -> dict[str, Any]:
    return {
        "id": e.id,
        "workspace_id": e.workspace_id,
        "url": e.url,
        "events": list(e.events),
        "enabled": e.enabled,
        "disabled_reason": e.disabled_reason,
        "created_at": e.created_at,
        "previous_secret_expires_at": e.previous_secret_expires_at,
    }


def delivery_doc(d: Delivery) -> dict[str, Any]:
    return {
        "change_id": d.change_id,
        "webhook_id": d.webhook_id,
        "status": d.status.value,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at,
        "last_attempt_at": d.last_attempt_at,
        "response_status": d.response_status,
        "latency_ms": d.latency_ms,
        "detail": d.detail,
    }


def suppression_doc(entry: SuppressionEntry) -> dict[str, Any]:
    return {
        "subscription_group_id": entry.subscription_group_id,
        "channel": entry.channel,
        "state": entry.state.value,
        "opted_out_at": entry.opted_out_at,
        "erased_at": entry.erased_at,
    }
