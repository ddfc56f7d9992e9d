"""GET /metrics: the process's counters, and the webhook backlog (read from the database, so the
same whichever process answers), in the Prometheus text format, for the operator's scraper.

Only addresses in SUBGROUPS_METRICS_ALLOWED_IPS (default: loopback) see it; to everyone else it
does not exist (404), like any unknown path.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from subgroups.services.metrics import render_backlog
from subgroups.web.client import client_ip, in_networks, parse_address
from subgroups.web.state import services_of

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


async def metrics(request: Request) -> Response:
    services = services_of(request)
    host = client_ip(request)
    address = parse_address(host) if host is not None else None
    if address is None or not in_networks(address, services.settings.metrics_allowed):
        raise HTTPException(404)
    backlog = render_backlog(await services.webhooks.backlog(), now=services.clock.now())
    return Response(services.metrics.render() + backlog, media_type=PROMETHEUS_TEXT)
