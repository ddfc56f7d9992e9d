"""`subgroups changes`: the audit trail of state changes."""

from __future__ import annotations

import click

from subgroups.cli.render import change_doc
from subgroups.cli.runner import common, emit, run
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
    text = "\n".join(
        f"{c.id}\t{c.occurred_at.isoformat()}\t{c.subscription_group_id}\t"
        f"{c.old_state.value if c.old_state else 'unknown'} -> {c.new_state.value}\t"
        f"{c.external_id or c.email or c.phone}\t{c.source.value}"
        for c in found
    )
    emit({"changes": [change_doc(c) for c in found]}, text or "no changes", as_json=as_json)
