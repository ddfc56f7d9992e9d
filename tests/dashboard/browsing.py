"""What the browser tests share: an operator with a workspace and a key, signing in, API calls,
running queued imports."""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from subgroups.container import Services
from subgroups.domain.imports import ImportStatus
from subgroups.domain.models import Group
from subgroups.domain.webhooks import Endpoint
from tests.dashboard.conftest import LiveServer
from tests.dashboard.helpers import record_deliveries

PASSWORD = "a long enough password"
IMPORT_WORKER = "browser-test-worker"
_serial = itertools.count(1)


@dataclass(frozen=True)
class Setup:
    workspace_id: int
    workspace_name: str
    email: str
    key: str


def make_setup(
    live_server: LiveServer, *, workspace: str = "Browser", operator: str = "operator"
) -> Setup:
    """A workspace with a full-permission key, and an operator who can sign in. The names given
    are made unique."""
    # One count for every module: on PostgreSQL the modules' servers share a database.
    n = next(_serial)

    async def action(services: Services) -> Setup:
        made = await services.workspaces.create(name=f"{workspace} {live_server.backend} {n}")
        signs_in = await services.operators.create(
            email=f"{operator}{n}@example.com", password=PASSWORD
        )
        new = await services.keys.create(workspace_id=made.id, name="website")
        return Setup(made.id, made.name, signs_in.email, new.secret)

    return live_server.call(action)


def make_group(live_server: LiveServer, setup: Setup, name: str, channel: str) -> Group:
    async def action(services: Services) -> Group:
        return await services.groups.create(
            workspace_id=setup.workspace_id, name=name, channel=channel
        )

    return live_server.call(action)


def make_endpoint(live_server: LiveServer, setup: Setup, url: str) -> Endpoint:
    async def action(services: Services) -> Endpoint:
        made = await services.webhooks.create(workspace_id=setup.workspace_id, url=url)
        return made.endpoint

    return live_server.call(action)


def record_changes(live_server: LiveServer, setup: Setup, group: Group, endpoint: Endpoint) -> None:
    """The group's changes, queued for the endpoint and attempted (see record_deliveries)."""

    async def action(services: Services) -> None:
        report = await services.reports.group_report(
            workspace_id=setup.workspace_id, group_id=group.id, days=30
        )
        await record_deliveries(services, endpoint, sorted(c.id for c in report.recent))

    live_server.call(action)


def run_imports(live_server: LiveServer, setup: Setup) -> None:
    """Runs the queued imports until none of the workspace's is left unfinished (one that the
    server's own loop holds is waited for)."""

    async def action(services: Services) -> None:
        async with asyncio.timeout(10):
            while True:
                while await services.imports.run_next(owner=IMPORT_WORKER) is not None:
                    pass
                jobs = await services.imports.recent(workspace_id=setup.workspace_id)
                if all(job.status in (ImportStatus.FINISHED, ImportStatus.FAILED) for job in jobs):
                    return
                await asyncio.sleep(0.05)

    live_server.call(action)


def sign_in(page: Page, setup: Setup, *, go_to: str = "/dashboard/") -> None:
    page.goto(go_to)
    expect(page).to_have_title(re.compile("^Sign in"))
    page.get_by_label("Email").fill(setup.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def api_set(
    live_server: LiveServer, key: str, group_id: str, state: str, **ids: Any
) -> httpx.Response:
    return httpx.post(
        f"{live_server.base_url}/subscription/status/set",
        json={"subscription_group_id": group_id, "subscription_state": state, **ids},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
