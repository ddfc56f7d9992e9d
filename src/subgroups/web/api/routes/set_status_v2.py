"""POST /v2/subscription/status/set (§5): several group objects, one transaction.

Only the reading of the body differs from v1: both hand `GroupRequest`s to the same service call.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from subgroups.container import Services
from subgroups.domain.batches import group_requests
from subgroups.domain.models import Actor, ApiKey, Permission, Source
from subgroups.web.api.auth import authorise, bearer_token, legacy_key
from subgroups.web.api.body import read_json_object
from subgroups.web.client import client_ip, request_id
from subgroups.web.responses import created


async def _authorised_body(
    services: Services, request: Request, permission: Permission
) -> tuple[ApiKey, dict[str, Any]]:
    # With a header, the caller is checked before its body is read; the legacy form needs the body.
    header_key = bearer_token(request)
    if header_key is not None:
        key = await authorise(services.keys, request, header_key, permission)
        return key, await read_json_object(request)
    body = await read_json_object(request)
    return await authorise(services.keys, request, legacy_key(request, body), permission), body


async def set_status_v2(request: Request) -> Response:
    services: Services = request.app.state.services
    key, body = await _authorised_body(services, request, Permission.STATUS_SET)
    requests = group_requests(body.get("subscription_groups"))
    actor = Actor(Source.REST_API, key.id, request_id(request), client_ip(request))
    notes = await services.subscriptions.set_states(
        workspace_id=key.workspace_id, requests=requests, actor=actor
    )
    return created(notes)
