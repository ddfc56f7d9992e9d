"""GET /metrics of a real server with two workers: one scrape sees the whole server, and every
metric the Grafana dashboard (docs/grafana-dashboard.json) draws is in it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from tests.e2e.conftest import LaunchServer
from tests.factories import Tenant

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
READS = 12
SCRAPES = 6


def dashboard_metrics() -> set[str]:
    document = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in document["panels"] for target in panel.get("targets", ())]
    return {name for expr in exprs for name in re.findall(r"\bsubgroups_[a-z_]+", expr)}


def samples(text: str) -> dict[str, float]:
    """Each sample line of a scrape, `name{labels}` -> value."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            found[series] = float(value)
    return found


def names(scrape: dict[str, float]) -> set[str]:
    return {series.partition("{")[0] for series in scrape}


def status_gets(scrape: dict[str, float]) -> float:
    return sum(
        value
        for series, value in scrape.items()
        if series.startswith("subgroups_http_requests_total{")
        and 'route="/subscription/status/get"' in series
    )


async def test_one_scrape_of_two_workers_sees_them_both_and_all_the_dashboard_draws(
    launch: LaunchServer, e2e_database: str, tenant: Tenant
) -> None:
    server = launch(e2e_database, workers=2)
    group = tenant.email_group.id
    body = {"subscription_group_id": group, "subscription_state": "subscribed", "email": "a@x.io"}
    # A connection of its own for each request: the two workers take connections in turn
    # as the kernel hands them out, so both answer some of them.
    for n in range(READS):
        async with httpx.AsyncClient(base_url=server.url, timeout=30.0) as http:
            if n == 0:
                written = await http.post(
                    "/subscription/status/set", json=body, headers=tenant.auth
                )
                assert written.status_code == 201
                bad = await http.get("/subscription/status/get", headers={"Authorization": "x"})
                assert bad.status_code == 401
            read = await http.get(
                "/subscription/status/get",
                params={"subscription_group_id": group, "email": "a@x.io"},
                headers=tenant.auth,
            )
            assert read.status_code == 200
    scrapes = []
    for _ in range(SCRAPES):
        async with httpx.AsyncClient(base_url=server.url, timeout=30.0) as http:
            response = await http.get("/metrics")
        assert response.status_code == 200
        scrapes.append(samples(response.text))

    # Whichever worker answers, it reports every worker's requests: the 12 reads and the refusal.
    assert [scrape["subgroups_processes"] for scrape in scrapes] == [2] * SCRAPES
    assert [status_gets(scrape) for scrape in scrapes] == [READS + 1] * SCRAPES
    missing = dashboard_metrics() - names(scrapes[-1])
    assert not missing, f"the dashboard draws metrics the server does not have: {missing}"
    assert len(dashboard_metrics()) >= 10
    assert all(scrape["subgroups_auth_failures_total"] == 1 for scrape in scrapes)
