"""Every error the API sends has one shape: `{"message": "..."}` with the contract's status code.

Domain errors map to status codes here and nowhere else. Protocol-level problems that the domain
knows nothing about (media type, body size) are `HttpError`s.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from subgroups.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidRequest,
    ItemRejected,
    NotFound,
    PermissionDenied,
    RateLimited,
    SubgroupsError,
)
from subgroups.web.responses import json_response


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_STATUS: dict[type[SubgroupsError], int] = {
    InvalidRequest: 400,
    AuthenticationFailed: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
}

_HTTP_MESSAGES = {404: "Not Found", 405: "Method Not Allowed"}


def status_of(error: SubgroupsError) -> int:
    for kind in type(error).__mro__:
        if kind in _STATUS:
            return _STATUS[kind]
    return 500


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"message": message}, status, headers)


def domain_error(error: SubgroupsError) -> Response:
    message = error.message
    if isinstance(error, ItemRejected):
        message = f"subscription_groups[{error.position}]: {message}"
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else None
    return error_response(status_of(error), message, headers)


async def handle_domain_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SubgroupsError)
    return domain_error(exc)


async def handle_http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HttpError)
    return error_response(exc.status, exc.message)


async def handle_starlette_error(_request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (no route, wrong method), in our shape."""
    assert isinstance(exc, HTTPException)
    message = _HTTP_MESSAGES.get(exc.status_code, exc.detail)
    return error_response(exc.status_code, message, dict(exc.headers or {}))
