"""`subgroups key`: API keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from subgroups.cli.render import key_doc, table
from subgroups.cli.runner import common, emit, run
from subgroups.domain.models import ApiKey, NewApiKey, Permission

if TYPE_CHECKING:
    from subgroups.container import Services


@click.group()
def key() -> None:
    """API keys."""


@key.command("create")
@click.option("--workspace", "workspace_id", type=int, required=True, help="Workspace id.")
@click.option("--name", default="", help="A label for people.")
@click.option(
    "--permission",
    "permissions",
    multiple=True,
    type=click.Choice([p.value for p in Permission]),
    help="Repeat for several. Default: all.",
)
@click.option(
    "--allow-ip", "allowed_ips", multiple=True, metavar="CIDR", help="Repeatable. Default: any."
)
@common
def key_create(
    workspace_id: int,
    name: str,
    permissions: tuple[str, ...],
    allowed_ips: tuple[str, ...],
    database_url: str | None,
    as_json: bool,
) -> None:
    """Create an API key. Its secret is printed now and never again."""

    async def action(services: Services) -> NewApiKey:
        return await services.keys.create(
            workspace_id=workspace_id, name=name, permissions=permissions, allowed_ips=allowed_ips
        )

    new = run(database_url, as_json, action)
    doc = {
        "id": new.key.id,
        "key": new.secret,
        "workspace_id": new.key.workspace_id,
        "permissions": sorted(p.value for p in new.key.permissions),
    }
    text = f"created key {new.key.id}; its secret (shown only now):\n{new.secret}"
    emit(doc, text, as_json=as_json)


@key.command("list")
@click.option("--workspace", "workspace_id", type=int, default=None, help="Only this workspace.")
@common
def key_list(workspace_id: int | None, database_url: str | None, as_json: bool) -> None:
    """List API keys (never their secrets)."""

    async def action(services: Services) -> list[ApiKey]:
        return await services.keys.list(workspace_id=workspace_id)

    found = run(database_url, as_json, action)
    now = datetime.now(UTC)
    text = table(
        ["ID", "WORKSPACE", "PREFIX", "NAME", "STATUS"],
        [(k.id, k.workspace_id, f"{k.prefix}…", k.name, _status(k, now)) for k in found],
    )
    emit({"keys": [key_doc(k) for k in found]}, text or "no keys", as_json=as_json)


@key.command("revoke")
@click.argument("key_id", type=int)
@common
def key_revoke(key_id: int, database_url: str | None, as_json: bool) -> None:
    """Revoke an API key at once."""

    async def action(services: Services) -> ApiKey:
        return await services.keys.revoke(key_id=key_id, workspace_id=None)

    revoked = run(database_url, as_json, action)
    emit(key_doc(revoked), f"revoked key {revoked.id}", as_json=as_json)


@key.command("rotate")
@click.argument("key_id", type=int)
@click.option(
    "--grace-seconds",
    type=click.IntRange(min=0),
    callback=lambda _ctx, _param, value: _grace_seconds(value),
    default=0,
    show_default=True,
    help="How long the old key keeps working, so clients can switch. 0: it stops at once.",
)
@common
def key_rotate(key_id: int, grace_seconds: int, database_url: str | None, as_json: bool) -> None:
    """Replace an API key: a new key with the same workspace, name, permissions and allowlist.

    The new secret is printed now and never again; the old key stops after the grace period."""

    async def action(services: Services) -> NewApiKey:
        return await services.keys.rotate(key_id=key_id, grace_seconds=grace_seconds)

    new = run(database_url, as_json, action)
    doc = {
        "id": new.key.id,
        "key": new.secret,
        "workspace_id": new.key.workspace_id,
        "permissions": sorted(p.value for p in new.key.permissions),
        "replaces": key_id,
    }
    when = f"in {grace_seconds} seconds" if grace_seconds else "now"
    text = (
        f"created key {new.key.id} to replace key {key_id}, which stops working {when};"
        f" its secret (shown only now):\n{new.secret}"
    )
    emit(doc, text, as_json=as_json)


def _grace_seconds(value: int) -> int:
    # The bound is the service's; read here so that loading the CLI does not import the services.
    from subgroups.services.keys import MAX_GRACE_SECONDS

    if value > MAX_GRACE_SECONDS:
        raise click.BadParameter(f"{value} is not in the range 0<=x<={MAX_GRACE_SECONDS}.")
    return value


def _status(k: ApiKey, now: datetime) -> str:
    if k.revoked_at is None:
        return "active"
    if k.revoked_at <= now:
        return "revoked"
    return f"active until {k.revoked_at.isoformat(timespec='seconds')}"
