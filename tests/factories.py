"""Builders for the data a test needs, through the real services. Override only what matters."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from subgroups.container import Services
from subgroups.domain.models import Group, Workspace

_counter = 0


def _unique(prefix: str) -> str:
    global _counter
    _counter += 1
    return f"{prefix} {_counter}"


async def make_workspace(services: Services, name: str | None = None) -> Workspace:
    return await services.workspaces.create(name=name or _unique("workspace"))


async def make_key(
    services: Services,
    workspace_id: int,
    *,
    permissions: Iterable[str] = (),
    allowed_ips: Iterable[str] = (),
    name: str = "test",
) -> str:
    """A new key's secret."""
    new = await services.keys.create(
        workspace_id=workspace_id, name=name, permissions=permissions, allowed_ips=allowed_ips
    )
    return new.secret


async def make_group(
    services: Services,
    workspace_id: int,
    *,
    channel: str = "email",
    name: str | None = None,
    group_id: str | None = None,
) -> Group:
    return await services.groups.create(
        workspace_id=workspace_id,
        name=name or _unique(f"{channel} group"),
        channel=channel,
        group_id=group_id,
    )


@dataclass(frozen=True)
class Tenant:
    """A workspace with a full-permission key and one group per channel."""

    workspace: Workspace
    key: str
    email_group: Group
    sms_group: Group

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def make_tenant(services: Services) -> Tenant:
    workspace = await make_workspace(services)
    return Tenant(
        workspace=workspace,
        key=await make_key(services, workspace.id),
        email_group=await make_group(services, workspace.id, channel="email"),
        sms_group=await make_group(services, workspace.id, channel="sms"),
    )
