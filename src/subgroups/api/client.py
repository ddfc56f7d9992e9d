"""Who is calling: the request id and the client's address."""

from __future__ import annotations

from starlette.requests import Request


def request_id(request: Request) -> str:
    rid: str = request.scope["state"]["request_id"]
    return rid


def client_ip(request: Request) -> str | None:
    client = request.client
    return client.host if client else None
