"""Authentication and authorisation of API requests (contract §2), and the rate limit (§8).

Every endpoint gets its caller's key from one of two helpers, with the permission it requires:
`authorised_key` for a request without a body, `authorised_body` for one with a JSON body (it
returns the body too). Either checks the key, the client's address against the key's allowlist,
the permission, and counts the request against the workspace's rate limit, so an endpoint cannot
forget any of them, nor check them in another order (401, then 403, then 429).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from subgroups.container import Services
from subgroups.domain.models import ApiKey, Permission
from subgroups.errors import AuthenticationFailed, PermissionDenied, RateLimited
from subgroups.services.metrics import AUTH_FAILURES
from subgroups.services.ratelimits import Pool
from subgroups.web.api.body import read_json_object
from subgroups.web.api.ratelimit import show_quota
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


async def authorised_key(
    services: Services, request: Request, permission: Permission, *, pool: Pool | None = None
) -> ApiKey:
    """The caller's key, from the Authorization header or, the legacy way, `?api_key=`.

    `pool`: the rate-limit pool to count in, when it is not the permission's own (a GET that
    needs a write permission still counts as a GET, §8)."""
    secret = bearer_token(request)
    if secret is None:
        secret = legacy_key(request, None)
    return await _authorise(services, request, secret, permission, pool)


async def authorised_body(
    services: Services, request: Request, permission: Permission
) -> tuple[ApiKey, dict[str, Any]]:
    """The caller's key and the request's JSON object.

    With a header, the caller is checked before its body is read; the legacy forms need the body.
    """
    header_key = bearer_token(request)
    time_limit = services.settings.body_timeout_seconds
    if header_key is not None:
        key = await _authorise(services, request, header_key, permission)
        return key, await read_json_object(request, time_limit)
    body = await read_json_object(request, time_limit)
    return await _authorise(services, request, legacy_key(request, body), permission), body


async def _authorise(
    services: Services,
    request: Request,
    secret: str | None,
    permission: Permission,
    pool: Pool | None = None,
) -> ApiKey:
    """Raises AuthenticationFailed (401), PermissionDenied (403) or RateLimited (429)."""
    try:
        if not secret:
            raise AuthenticationFailed()
        key = await services.keys.authenticate(secret)
    except AuthenticationFailed:
        services.metrics.inc(AUTH_FAILURES)
        raise
    request.state.api_key = key
    if key.allowed_networks and not _address_allowed(client_ip(request), key):
        await show_quota(services, request, key, permission, pool)
        raise PermissionDenied("Access Denied: this IP address is not allowed for this API key")
    if permission not in key.permissions:
        await show_quota(services, request, key, permission, pool)
        raise PermissionDenied(
            f"Access Denied: this API key lacks the '{permission.value}' permission"
        )
    # Counted inline rather than in a helper: a coroutine fewer for every request of the hot path.
    quota = await services.ratelimits.hit(
        workspace_id=key.workspace_id, permission=permission, pool=pool
    )
    request.state.rate_limit = quota
    if not quota.allowed:
        raise RateLimited(quota.retry_after)
    return key


def _address_allowed(address: str | None, key: ApiKey) -> bool:
    ip = parse_address(address) if address is not None else None
    return ip is not None and in_networks(ip, key.allowed_networks)
