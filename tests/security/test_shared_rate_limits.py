"""Two real server processes sharing the local Redis share each workspace's count (contract §8)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from subgroups.container import Services
from tests.factories import Tenant
from tests.security.servers import running_servers

pytestmark = pytest.mark.e2e

PATH = "/subscription/status/set"


async def test_two_server_processes_count_together(
    database_url: str,
    services: Services,
    tenant: Tenant,
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    env = {
        "SUBGROUPS_REDIS_URL": redis_url,
        "SUBGROUPS_REDIS_PREFIX": redis_prefix,
        "SUBGROUPS_RATE_LIMIT_SET": "6/minute",
    }
    logs = [tmp_path / "one.log", tmp_path / "two.log"]
    with running_servers(database_url, logs, env) as [one, two]:
        async with httpx.AsyncClient() as http:
            responses = []
            for i in range(8):
                server = (one, two)[i % 2]
                body = {
                    "subscription_group_id": tenant.email_group.id,
                    "subscription_state": "subscribed",
                    "external_id": f"user-{i}",
                }
                responses.append(await http.post(server.url + PATH, json=body, headers=tenant.auth))

    assert [r.status_code for r in responses] == [201] * 6 + [429] * 2
    assert [int(r.headers["x-ratelimit-remaining"]) for r in responses] == [5, 4, 3, 2, 1, 0, 0, 0]
    assert {r.headers["x-ratelimit-limit"] for r in responses} == {"6"}
    assert len({r.headers["x-ratelimit-reset"] for r in responses}) <= 2
    changes = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert sorted(c.external_id or "" for c in changes) == [f"user-{i}" for i in range(6)]
