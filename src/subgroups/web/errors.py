"""What an error becomes over HTTP, decided once for both surfaces.

`problem_of` gives the status code, the message and the headers of every error a request can end
in: a domain error (`subgroups.errors`), a protocol error of the API (`HttpError`: media type, body
size) or one of Starlette's (`HTTPException`: no such route, wrong method, the dashboard's 404s).
Each surface only renders the problem: the JSON API as `{"message": ...}` (`json_error`), the
dashboard as its error page with the same status. `exception_handlers(render)` installs it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ExceptionHandler

from subgroups.errors import (
    AuthenticationFailed,
    Conflict,
    DatabaseUnavailable,
    InvalidRequest,
    ItemRejected,
    NotFound,
    PermissionDenied,
    RateLimited,
    SignInRefused,
    SubgroupsError,
)
from subgroups.web.responses import json_response

log = logging.getLogger("subgroups.api")


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Problem:
    status: int
    message: str
    headers: Mapping[str, str] | None = None


_STATUS: dict[type[SubgroupsError], int] = {
    InvalidRequest: 400,
    AuthenticationFailed: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
    DatabaseUnavailable: 503,
}


def status_of(error: SubgroupsError) -> int:
    if isinstance(error, SignInRefused):
        return 401 if error.retry_after is None else 429
    for kind in type(error).__mro__:
        if kind in _STATUS:
            return _STATUS[kind]
    return 500


def problem_of(exc: Exception) -> Problem:
    if isinstance(exc, SubgroupsError):
        return Problem(status_of(exc), _message(exc), _retry_after(exc))
    if isinstance(exc, HttpError):
        return Problem(exc.status, exc.message)
    if isinstance(exc, HTTPException):
        return Problem(exc.status_code, exc.detail, exc.headers)
    return Problem(500, "Internal Server Error")


def _message(error: SubgroupsError) -> str:
    if isinstance(error, ItemRejected):
        return f"subscription_groups[{error.position}]: {error.message}"
    return error.message


def _retry_after(error: SubgroupsError) -> dict[str, str] | None:
    if isinstance(error, RateLimited | SignInRefused) and error.retry_after is not None:
        return {"Retry-After": str(error.retry_after)}
    return None


Render = Callable[[Request, Problem], Response]


def exception_handlers(render: Render) -> dict[Any, ExceptionHandler]:
    """Starlette's `exception_handlers` for a surface that shows a problem with `render`."""

    async def handle(request: Request, exc: Exception) -> Response:
        if isinstance(exc, DatabaseUnavailable):
            # The driver's words are for operators only; the traceback would add nothing to them.
            state = request.scope.get("state", {})
            log.error("database unavailable: %s", exc.detail, extra=_request_fields(state))
        return render(request, problem_of(exc))

    return {SubgroupsError: handle, HttpError: handle, HTTPException: handle}


def _request_fields(state: Mapping[str, Any]) -> dict[str, Any]:
    key = state.get("api_key")
    return {
        "request_id": state.get("request_id"),
        "workspace_id": key.workspace_id if key is not None else None,
        "key_id": key.id if key is not None else None,
    }


def json_error(_request: Request, problem: Problem) -> Response:
    """The API's rendering: `{"message": ...}` with the problem's status and headers."""
    return json_response({"message": problem.message}, problem.status, problem.headers)


API_ERROR_HANDLERS = exception_handlers(json_error)
