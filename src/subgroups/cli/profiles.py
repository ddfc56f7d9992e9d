"""`subgroups profile`: look a person up."""

from __future__ import annotations

import click

from subgroups.cli.render import profile_doc
from subgroups.cli.runner import common, emit, fail, run
from subgroups.container import Services
from subgroups.domain.models import ProfileView
from subgroups.domain.reads import IdentifierKind


@click.group()
def profile() -> None:
    """Profiles and their subscription states."""


@profile.command("show")
@click.option("--workspace", "workspace_id", type=int, required=True, help="Workspace id.")
@click.option("--external-id", default=None)
@click.option("--email", default=None)
@click.option("--phone", default=None)
@common
def profile_show(
    workspace_id: int,
    external_id: str | None,
    email: str | None,
    phone: str | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Show the profiles with this external id, email or phone."""
    options: tuple[tuple[IdentifierKind, str | None], ...] = (
        ("external_id", external_id),
        ("email", email),
        ("phone", phone),
    )
    given = [(kind, value) for kind, value in options if value is not None]
    if len(given) != 1:
        fail("give exactly one of --external-id, --email, --phone", as_json=as_json)
    kind, value = given[0]

    async def action(services: Services) -> list[ProfileView]:
        return await services.subscriptions.profiles(
            workspace_id=workspace_id, kind=kind, value=value
        )

    found = run(database_url, as_json, action)
    lines = []
    for p in found:
        lines.append(f"profile external_id={p.external_id} email={p.email} phone={p.phone}")
        lines += [
            f"  {s.group_id}\t{s.state.value}\t{s.updated_at.isoformat()}" for s in p.subscriptions
        ]
    emit(
        {"profiles": [profile_doc(p) for p in found]},
        "\n".join(lines) or "no profile",
        as_json=as_json,
    )
