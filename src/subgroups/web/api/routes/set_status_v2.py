"""POST /v2/subscription/status/set (§5): several group objects, one transaction.

Only the reading of the body differs from v1: both hand `GroupRequest`s to the same service call.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from subgroups.domain.batches import group_requests
from subgroups.domain.models import Actor, Permission, Source
from subgroups.web.api.auth import authorised_body
from subgroups.web.client import client_ip, request_id
from subgroups.web.responses import created
from subgroups.web.state import services_of


async def set_status_v2(request: Request) -> Response:
    services = services_of(request)
    key, body = await authorised_body(services, request, Permission.STATUS_SET)
    requests = group_requests(body.get("subscription_groups"))
    actor = Actor(Source.REST_API, key.id, request_id(request), client_ip(request))
    notes = await services.subscriptions.set_states(
        workspace_id=key.workspace_id, requests=requests, actor=actor
    )
    return created(notes)
