"""`subgroups workspace`: tenants."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import click

from subgroups.cli.render import table, utc_day, utc_time, workspace_doc
from subgroups.cli.runner import common, emit, run

if TYPE_CHECKING:
    from subgroups.container import Services
    from subgroups.domain.links import LinkSecret
    from subgroups.domain.models import Workspace
    from subgroups.domain.person import Branding


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


@workspace.command("rotate-link-secret")
@click.argument("workspace_id", type=int)
@click.option(
    "--grace-seconds",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="How long links signed by the old secrets keep working.",
)
@common
def workspace_rotate_link_secret(
    workspace_id: int, grace_seconds: int, database_url: str | None, as_json: bool
) -> None:
    """Sign the workspace's unsubscribe and preference links with a new secret from now on.
    Links signed before keep working for --grace-seconds, then stop."""

    async def action(services: Services) -> LinkSecret:
        await services.workspaces.get(workspace_id=workspace_id)
        return await services.links.rotate(workspace_id=workspace_id, grace_seconds=grace_seconds)

    secret = run(database_url, as_json, action)
    until = secret.created_at + timedelta(seconds=grace_seconds)
    emit(
        {"workspace_id": workspace_id, "secret_id": secret.id, "old_links_work_until": until},
        f"workspace {workspace_id} signs links with secret {secret.id} from now on;"
        f" links signed before work until {utc_time(until)} UTC",
        as_json=as_json,
    )


@workspace.command("branding")
@click.argument("workspace_id", type=int)
@click.option("--display-name", default=None, help="The name people see ('' to clear).")
@click.option("--accent-color", default=None, help="#rrggbb, dark enough for white text on it.")
@common
def workspace_branding(
    workspace_id: int,
    display_name: str | None,
    accent_color: str | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Show, or set, how the person's pages (unsubscribe, preferences) present the workspace."""

    async def action(services: Services) -> Branding:
        current = await services.person.branding(workspace_id=workspace_id)
        if display_name is None and accent_color is None:
            await services.workspaces.get(workspace_id=workspace_id)
            return current
        return await services.person.set_branding(
            workspace_id=workspace_id,
            display_name=current.display_name if display_name is None else display_name,
            accent_color=current.accent_color if accent_color is None else accent_color,
        )

    value = run(database_url, as_json, action)
    emit(
        {
            "workspace_id": workspace_id,
            "display_name": value.display_name,
            "accent_color": value.accent_color,
        },
        f"display name: {value.display_name or '(the workspace name)'}\n"
        f"accent colour: {value.accent_color or f'(default {value.accent})'}",
        as_json=as_json,
    )
