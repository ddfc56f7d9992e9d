"""`subgroups changes`: the audit trail of state changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from subgroups.cli.render import change_doc, table, utc_time
from subgroups.cli.runner import common, emit, run

if TYPE_CHECKING:
    from subgroups.container import Services
    from subgroups.domain.models import StateChange


@click.group()
def changes() -> None:
    """The record of every state change."""


@changes.command("list")
@click.option("--workspace", "workspace_id", type=int, required=True, help="Workspace id.")
@click.option("--after", type=int, default=None, help="Only changes with a larger id.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many.")
@common
def changes_list(
    workspace_id: int, after: int | None, limit: int | None, database_url: str | None, as_json: bool
) -> None:
    """List state changes, oldest first."""

    async def action(services: Services) -> list[StateChange]:
        await services.workspaces.get(workspace_id=workspace_id)
        return await services.subscriptions.changes(
            workspace_id=workspace_id, after=after, limit=limit
        )

    found = run(database_url, as_json, action)
    text = table(
        ["ID", "TIME (UTC)", "GROUP", "CHANGE", "PERSON", "SOURCE"],
        [
            (
                c.id,
                utc_time(c.occurred_at),
                c.subscription_group_id,
                f"{c.old_state.value if c.old_state else 'unknown'} -> {c.new_state.value}",
                c.external_id or c.email or c.phone,
                c.source.value,
            )
            for c in found
        ],
    )
    emit({"changes": [change_doc(c) for c in found]}, text or "no changes", as_json=as_json)
