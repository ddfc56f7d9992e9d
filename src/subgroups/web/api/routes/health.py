"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from subgroups.errors import DatabaseUnavailable
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
    except DatabaseUnavailable as unavailable:  # the driver's reason says it all: no traceback
        log.warning("readiness check could not reach the database: %s", unavailable.detail)
        return json_response({"message": "database unreachable"}, 503)
    except Exception:  # any other failure means "not ready" too, never a 500
        log.warning("readiness check failed", exc_info=True)
        return json_response({"message": "database unreachable"}, 503)
    if not current:
        return json_response(
            {"message": "database schema is not current: run `subgroups db upgrade`"}, 503
        )
    return json_response({"message": "ok"})
