"""POST /subscription/status/set (v1): the hot path. Parse, authorise, call the service, reply."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from subgroups.container import Services
from subgroups.domain.models import Actor, Permission, Source
from subgroups.domain.subscriptions import GroupRequest
from subgroups.web.api.auth import authorise, bearer_token, legacy_key
from subgroups.web.api.body import read_json_object
from subgroups.web.client import client_ip, request_id
from subgroups.web.responses import created


async def set_status_v1(request: Request) -> Response:
    services: Services = request.app.state.services
    # With a header, the caller is checked before its body is read; the legacy forms need the body.
    header_key = bearer_token(request)
    if header_key is not None:
        key = await authorise(services.keys, request, header_key, Permission.STATUS_SET)
        body = await read_json_object(request)
    else:
        body = await read_json_object(request)
        key = await authorise(
            services.keys, request, legacy_key(request, body), Permission.STATUS_SET
        )
    group_request = GroupRequest(
        group_id=body.get("subscription_group_id"),
        state=body.get("subscription_state"),
        external_id=body.get("external_id"),
        email=body.get("email"),
        phone=body.get("phone"),
    )
    actor = Actor(Source.REST_API, key.id, request_id(request), client_ip(request))
    notes = await services.subscriptions.set_state(
        workspace_id=key.workspace_id, request=group_request, actor=actor
    )
    return created(notes)
