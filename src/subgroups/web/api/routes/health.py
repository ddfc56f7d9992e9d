"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from subgroups.web.responses import json_response
from subgroups.web.state import services_of

log = logging.getLogger("subgroups.api")


async def healthz(_request: Request) -> Response:
    """The process is up and serving."""
    return json_response({"message": "ok"})


async def readyz(request: Request) -> Response:
    """The database answers and its schema is the one this code expects."""
    services = services_of(request)
    try:
        current = await services.schema_is_current()
    except Exception:  # any failure to reach the database means "not ready", never a 500
        log.warning("readiness check could not reach the database", exc_info=True)
        return json_response({"message": "database unreachable"}, 503)
    if not current:
        return json_response(
            {"message": "database schema is not current: run `subgroups db upgrade`"}, 503
        )
    return json_response({"message": "ok"})
