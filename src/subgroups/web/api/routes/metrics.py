"""GET /metrics: the server's metrics in the Prometheus text format, for the operator's scraper.

Only addresses in SUBGROUPS_METRICS_ALLOWED_IPS (default: loopback) see it; to everyone else it
does not exist (404), like any unknown path.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from subgroups.services.metrics import CONTENT_TYPE
from subgroups.web.client import client_ip, in_networks, parse_address
from subgroups.web.state import services_of


async def metrics(request: Request) -> Response:
    services = services_of(request)
    host = client_ip(request)
    address = parse_address(host) if host is not None else None
    if address is None or not in_networks(address, services.settings.metrics_allowed):
        raise HTTPException(404)
    return Response(await services.metrics.render(), media_type=CONTENT_TYPE)
