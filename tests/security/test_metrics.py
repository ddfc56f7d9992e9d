"""GET /metrics: counters for the operator's scraper, invisible to everyone else."""

from __future__ import annotations

import ipaddress

from subgroups.config import Settings
from subgroups.container import Services
from tests.security.support import app_client


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
