"""`subgroups group`: subscription groups."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from subgroups.cli.render import group_doc, table, utc_day
from subgroups.cli.runner import common, emit, run

if TYPE_CHECKING:
    from subgroups.container import Services
    from subgroups.domain.models import Group


@click.group()
def group() -> None:
    """Subscription groups."""


@group.command("create")
@click.option("--workspace", "workspace_id", type=int, required=True, help="Workspace id.")
@click.option("--name", required=True, help="Unique in the workspace.")
@click.option("--channel", required=True, type=click.Choice(["email", "sms"]))
@click.option("--description", default=None)
@click.option("--id", "group_id", default=None, help="Keep an existing Braze group id.")
@common
def group_create(
    workspace_id: int,
    name: str,
    channel: str,
    description: str | None,
    group_id: str | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Create a subscription group."""

    async def action(services: Services) -> Group:
        return await services.groups.create(
            workspace_id=workspace_id,
            name=name,
            channel=channel,
            description=description,
            group_id=group_id,
        )

    g = run(database_url, as_json, action)
    doc = {"id": g.id, "name": g.name, "channel": g.channel}
    emit(doc, f"created {g.channel} group {g.id} ({g.name})", as_json=as_json)


@group.command("list")
@click.option("--workspace", "workspace_id", type=int, required=True, help="Workspace id.")
@common
def group_list(workspace_id: int, database_url: str | None, as_json: bool) -> None:
    """List a workspace's subscription groups."""

    async def action(services: Services) -> list[Group]:
        return await services.groups.list(workspace_id=workspace_id)

    found = run(database_url, as_json, action)
    text = table(
        ["ID", "CHANNEL", "NAME", "ARCHIVED (UTC)"],
        [(g.id, g.channel, g.name, utc_day(g.archived_at)) for g in found],
    )
    emit({"groups": [group_doc(g) for g in found]}, text or "no groups", as_json=as_json)


@group.command("archive")
@click.argument("group_id")
@click.option("--workspace", "workspace_id", type=int, required=True, help="Workspace id.")
@common
def group_archive(
    group_id: str, workspace_id: int, database_url: str | None, as_json: bool
) -> None:
    """Archive a group: its states are kept and readable, and can no longer change."""

    async def action(services: Services) -> Group:
        return await services.groups.archive(workspace_id=workspace_id, group_id=group_id)

    g = run(database_url, as_json, action)
    emit(group_doc(g), f"archived group {g.id}", as_json=as_json)
