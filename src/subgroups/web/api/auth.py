"""Authentication and authorisation of API requests (contract §2), and the rate limit (§8).

Every endpoint calls `authorise` with the permission it requires; that one call checks the key, the
client's address against the key's allowlist, the permission, and counts the request against the
workspace's rate limit, so an endpoint cannot forget any of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from subgroups.container import Services
from subgroups.domain.models import ApiKey, Permission
from subgroups.errors import AuthenticationFailed, PermissionDenied
from subgroups.services.keys import KeyService
from subgroups.services.metrics import AUTH_FAILURES
from subgroups.web.api.ratelimit import count_request, show_quota
from subgroups.web.client import client_ip, in_networks, parse_address


def bearer_token(request: Request) -> str | None:
    """The key from `Authorization: Bearer <key>`; "" for a header that is present but malformed."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def legacy_key(request: Request, body: Mapping[str, Any] | None) -> str | None:
    """The pre-2020 forms: `api_key` in the JSON body, then in the query string."""
    if body is not None and "api_key" in body:
        value = body["api_key"]
        return value if isinstance(value, str) else ""
    return request.query_params.get("api_key")


async def authorise(
    keys: KeyService, request: Request, secret: str | None, permission: Permission
) -> ApiKey:
    """The caller's key, allowed to do `permission` from this address and within its limit.

    Raises AuthenticationFailed (401), PermissionDenied (403) or RateLimited (429).
    """
    services: Services = request.app.state.services
    try:
        if not secret:
            raise AuthenticationFailed()
        key = await keys.authenticate(secret)
    except AuthenticationFailed:
        services.metrics.inc(AUTH_FAILURES)
        raise
    request.state.api_key = key
    if key.allowed_networks and not _address_allowed(client_ip(request), key):
        await show_quota(services, request, key, permission)
        raise PermissionDenied("Access Denied: this IP address is not allowed for this API key")
    if permission not in key.permissions:
        await show_quota(services, request, key, permission)
        raise PermissionDenied(
            f"Access Denied: this API key lacks the '{permission.value}' permission"
        )
    await count_request(services, request, key, permission)
    return key


def _address_allowed(address: str | None, key: ApiKey) -> bool:
    ip = parse_address(address) if address is not None else None
    return ip is not None and in_networks(ip, key.allowed_networks)
