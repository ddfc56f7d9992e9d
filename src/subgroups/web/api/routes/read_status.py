"""GET /subscription/status/get and GET /subscription/user/status (§6): read-only, no write lock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from subgroups.domain.exports import moment
from subgroups.domain.models import Permission
from subgroups.domain.reads import UserStatus
from subgroups.web.api.auth import authorised_key
from subgroups.web.api.query import identifiers, query_params, single, whole_number
from subgroups.web.responses import json_response
from subgroups.web.state import services_of


async def get_status(request: Request) -> Response:
    services = services_of(request)
    key = await authorised_key(services, request, Permission.STATUS_GET)
    params = query_params(request)
    at = as_of(params)
    if at is None:
        statuses = await services.status.statuses(
            workspace_id=key.workspace_id,
            group_id=single(params, "subscription_group_id"),
            identifiers=identifiers(params),
        )
    else:
        statuses = await services.history.statuses(
            workspace_id=key.workspace_id,
            group_id=single(params, "subscription_group_id"),
            identifiers=identifiers(params),
            at=at,
        )
    return json_response({"status": statuses, "message": "success"})


async def get_user_status(request: Request) -> Response:
    services = services_of(request)
    key = await authorised_key(services, request, Permission.GROUPS_GET)
    params = query_params(request)
    at = as_of(params)
    if at is None:
        page = await services.status.user_statuses(
            workspace_id=key.workspace_id,
            identifiers=identifiers(params),
            limit=whole_number(single(params, "limit")),
            offset=whole_number(single(params, "offset")),
        )
    else:
        page = await services.history.user_statuses(
            workspace_id=key.workspace_id,
            identifiers=identifiers(params),
            at=at,
            limit=whole_number(single(params, "limit")),
            offset=whole_number(single(params, "offset")),
        )
    return json_response(
        {
            "users": [_user_doc(user) for user in page.users],
            "total_count": page.total_count,
            "message": "success",
        }
    )


def as_of(params: QueryParams) -> datetime | None:
    """The `as_of` moment asked for (§10), None for the live state; InvalidRequest if malformed."""
    value = single(params, "as_of")
    return None if value is None else moment(value, "as_of")


def _user_doc(user: UserStatus) -> dict[str, Any]:
    return {
        "external_id": user.external_id,
        "email": user.email,
        "phone": user.phone,
        "subscription_groups": [
            {"id": g.group_id, "name": g.name, "channel": g.channel, "status": g.state.label}
            for g in user.groups
        ],
    }
