"""POST /subscription/status/set (v1): the hot path. Parse, authorise, call the service, reply."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from subgroups.domain.models import Actor, Permission, Source
from subgroups.domain.subscriptions import GroupRequest
from subgroups.web.api.auth import authorised_body
from subgroups.web.client import client_ip, request_id
from subgroups.web.responses import created
from subgroups.web.state import services_of


async def set_status_v1(request: Request) -> Response:
    services = services_of(request)
    key, body = await authorised_body(services, request, Permission.STATUS_SET)
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
