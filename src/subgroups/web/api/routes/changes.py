"""GET /changes (contract §9, pull): the workspace's state-change records, never skipping one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from subgroups.domain.feed import record_document
from subgroups.domain.models import Permission
from subgroups.web.api.auth import authorised_key
from subgroups.web.api.query import query_params, single, whole_number
from subgroups.web.responses import json_response
from subgroups.web.state import services_of


async def get_changes(request: Request) -> Response:
    services = services_of(request)
    key = await authorised_key(services, request, Permission.CHANGES_GET)
    params = query_params(request)
    page = await services.feed.page(
        workspace_id=key.workspace_id,
        after=whole_number(single(params, "after")),
        limit=whole_number(single(params, "limit")),
    )
    return json_response(
        {
            "changes": [record_document(change) for change in page.changes],
            "next_after": page.next_after,
            "has_more": page.has_more,
            "message": "success",
        }
    )
