"""`subgroups workspace`: tenants."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from subgroups.cli.render import table, utc_day, workspace_doc
from subgroups.cli.runner import common, emit, run

if TYPE_CHECKING:
    from subgroups.container import Services
    from subgroups.domain.models import Workspace


@click.group()
def workspace() -> None:
    """Workspaces (tenants)."""


@workspace.command("create")
@click.argument("name")
@common
def workspace_create(name: str, database_url: str | None, as_json: bool) -> None:
    """Create a workspace."""

    async def action(services: Services) -> Workspace:
        return await services.workspaces.create(name=name)

    w = run(database_url, as_json, action)
    emit({"id": w.id, "name": w.name}, f"created workspace {w.id} ({w.name})", as_json=as_json)


@workspace.command("list")
@common
def workspace_list(database_url: str | None, as_json: bool) -> None:
    """List workspaces."""

    async def action(services: Services) -> list[Workspace]:
        return await services.workspaces.list()

    found = run(database_url, as_json, action)
    text = table(
        ["ID", "NAME", "CREATED (UTC)"], [(w.id, w.name, utc_day(w.created_at)) for w in found]
    )
    emit(
        {"workspaces": [workspace_doc(w) for w in found]}, text or "no workspaces", as_json=as_json
    )
