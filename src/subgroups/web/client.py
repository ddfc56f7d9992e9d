"""Who is calling: the request id and the client's address.

The address is the socket peer's, unless that peer is a trusted proxy (SUBGROUPS_TRUSTED_PROXIES):
then it is read from X-Forwarded-For, right to left, skipping trusted hops, and the first
untrusted hop is the client. Everything left of it was written by the client and may be forged.
`forwarded_client` makes that decision once per request, in the request middleware, which puts the
answer in the ASGI scope, so every reader of `request.client` agrees.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import Request

from subgroups.domain.models import Network

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def request_id(request: Request) -> str:
    rid: str = request.scope["state"]["request_id"]
    return rid


def client_ip(request: Request) -> str | None:
    client = request.client
    return client.host if client else None


def parse_address(value: str) -> IPAddress | None:
    """An address as a proxy may write it: bare, `a.b.c.d:port` or `[v6]:port`; None if invalid."""
    text = value.strip()
    if text.startswith("["):
        text, closed, port = text[1:].partition("]")
        if not closed or (port and not port.startswith(":")):
            return None
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d
    return address


def in_networks(address: IPAddress, networks: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def forwarded_client(
    peer: str | None, forwarded_for: Iterable[str], trusted: tuple[Network, ...]
) -> str | None:
    """The client's address, from the socket peer and the X-Forwarded-For header values.

    None when a trusted proxy forwarded something that is not an address: the client is then
    unknown, which no IP allowlist admits.
    """
    peer_address = parse_address(peer) if peer is not None else None
    if peer_address is None or not in_networks(peer_address, trusted):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    client: IPAddress = peer_address
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            return None
        client = address
        if not in_networks(address, trusted):
            break
    return str(client)
