"""Minting the person's links (contract §11): ours, and Braze's preference-center URL endpoint."""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from subgroups.domain.models import Permission
from subgroups.domain.reads import IdentifierKind
from subgroups.web.api.auth import authorised_key
from subgroups.web.api.query import phones, query_params, single, values
from subgroups.web.responses import json_response
from subgroups.web.state import services_of

ONE_CLICK_BODY: Final = "List-Unsubscribe=One-Click"
UNSUBSCRIBE_PATH: Final = "/unsubscribe/"
PREFERENCES_PATH: Final = "/preferences/"


def public_base(request: Request) -> str:
    """Where people reach this service: SUBGROUPS_PUBLIC_URL, else the address this request came to."""
    configured = services_of(request).settings.public_url
    return configured or str(request.base_url).rstrip("/")


async def unsubscribe_links(request: Request) -> Response:
    services = services_of(request)
    key = await authorised_key(services, request, Permission.LINKS_CREATE)
    params = query_params(request)
    sent: dict[IdentifierKind, object] = {}
    sources: tuple[tuple[IdentifierKind, list[str] | None], ...] = (
        ("external_id", values(params, "external_id")),
        ("email", values(params, "email")),
        ("phone", phones(params)),
    )
    for kind, found in sources:
        if found is not None:
            sent[kind] = found[0] if len(found) == 1 else found
    links = await services.links.unsubscribe_links(
        workspace_id=key.workspace_id,
        group_id=single(params, "subscription_group_id"),
        identifiers=sent,
    )
    base = public_base(request)
    url = f"{base}{UNSUBSCRIBE_PATH}{links.unsubscribe}"
    return json_response(
        {
            "url": url,
            "list_unsubscribe": f"<{url}>",
            "list_unsubscribe_post": ONE_CLICK_BODY,
            "preferences_url": f"{base}{PREFERENCES_PATH}{links.preferences}",
            "message": "success",
        }
    )


async def preference_center_url(request: Request) -> Response:
    """Braze's `GET /preference_center/v1/{preferenceCenterExternalID}/url/{userID}`: a workspace
    has one preference page, so any preference center id names it."""
    services = services_of(request)
    key = await authorised_key(services, request, Permission.LINKS_CREATE)
    token = await services.links.preference_link(
        workspace_id=key.workspace_id, external_id=request.path_params["user_id"]
    )
    return json_response(
        {
            "preference_center_url": f"{public_base(request)}{PREFERENCES_PATH}{token}",
            "message": "success",
        }
    )
