"""Authentication and authorisation of API requests (contract §2)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from subgroups.api.client import client_ip
from subgroups.domain.models import ApiKey, Permission
from subgroups.errors import AuthenticationFailed, PermissionDenied
from subgroups.services.keys import KeyService


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
    if not secret:
        raise AuthenticationFailed()
    key = await keys.authenticate(secret)
    if key.allowed_networks and not _address_allowed(client_ip(request), key):
        raise PermissionDenied("Access Denied: this IP address is not allowed for this API key")
    if permission not in key.permissions:
        raise PermissionDenied(
            f"Access Denied: this API key lacks the '{permission.value}' permission"
        )
    return key


def _address_allowed(address: str | None, key: ApiKey) -> bool:
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d
    return any(ip in network for network in key.allowed_networks)
