"""GET /metrics: counters for the operator's scraper, invisible to everyone else."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from subgroups.config import Settings
from subgroups.container import Services
from tests.factories import make_tenant
from tests.security.support import app_client

SET = "/subscription/status/set"


async def test_metrics_are_served_only_to_allowed_addresses(
    settings: Settings, services: Services
) -> None:
    async with app_client(settings) as (outsider, _):
        hidden = await outsider.get("/metrics")
        await outsider.post("/subscription/status/set", json={})
    scraper = (ipaddress.ip_network("203.0.113.0/28"),)
    async with app_client(settings, metrics_allowed=scraper) as (allowed, _):
        await allowed.post("/subscription/status/set", json={})
        shown = await allowed.get("/metrics")

    assert (hidden.status_code, hidden.json()) == (404, {"message": "Not Found"})
    assert shown.status_code == 200
    assert shown.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE subgroups_auth_failures_total counter" in shown.text
    assert "subgroups_auth_failures_total 1.0\n" in shown.text
    assert "subgroups_rate_limit_store_errors_total 0.0\n" in shown.text


async def test_loopback_is_allowed_by_default(settings: Settings, services: Services) -> None:
    async with app_client(settings, client=("127.0.0.1", 5000)) as (local, _):
        response = await local.get("/metrics")

    assert response.status_code == 200


async def test_requests_the_writer_and_the_pools_are_recorded(
    settings: Settings, services: Services
) -> None:
    tenant = await make_tenant(services)
    body = {
        "subscription_group_id": tenant.email_group.id,
        "subscription_state": "subscribed",
        "email": "a@example.com",
    }
    async with app_client(settings, client=("127.0.0.1", 5000)) as (http, _):
        assert (await http.post(SET, json=body, headers=tenant.auth)).status_code == 201
        assert (await http.get("/no/such/path/42")).status_code == 404
        text = (await http.get("/metrics")).text

    assert f'subgroups_http_requests_total{{method="POST",route="{SET}",status="201"}} 1.0' in text
    # Every unknown path is one series, whatever its path.
    assert 'subgroups_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert f'subgroups_http_request_duration_seconds_count{{route="{SET}"}} 1.0' in text
    assert 'subgroups_key_cache_lookups_total{result="miss"} 1.0' in text
    if settings.database_url.startswith("sqlite"):
        # The set, and the key's last use: one commit or two, as they were batched.
        assert re.search(r"^subgroups_sqlite_writer_commit_seconds_count [12]\.0$", text, re.M)
        assert re.search(r"^subgroups_sqlite_writer_batch_size_sum 2\.0$", text, re.M)
    else:
        pool = settings.db_pool_size
        assert f'subgroups_postgres_pool_connections_max{{pool="raw"}} {pool}.0' in text
        assert 'subgroups_postgres_pool_connections_in_use{pool="raw"} 0.0' in text


async def test_with_metrics_off_nothing_on_the_hot_paths_is_recorded(
    settings: Settings, services: Services
) -> None:
    async with app_client(settings, client=("127.0.0.1", 5000), metrics="off") as (http, _):
        await http.get("/healthz")
        text = (await http.get("/metrics")).text

    assert "subgroups_auth_failures_total 0.0" in text
    assert "subgroups_http_requests_total{" not in text
    assert "subgroups_sqlite_writer_commit_seconds_count 0.0" in text


async def test_every_metric_served_is_documented_in_the_readme(
    settings: Settings, services: Services
) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    async with app_client(settings, client=("127.0.0.1", 5000)) as (http, _):
        await http.get("/healthz")
        text = (await http.get("/metrics")).text
    families = re.findall(r"^# TYPE (\S+) ", text, re.M)

    assert len(families) >= 10
    assert [name for name in families if f"| `{name}` |" not in readme] == []
