"""The shape of every error on both surfaces, decided by the one mapper in `web/errors.py`.

The API answers `{"message": ...}` as JSON; the dashboard answers its error page as HTML. Both use
the same status and headers for the same error. Each case raises the error in a tiny app that has
the surface's real error handling.
"""

from __future__ import annotations

import logging

import httpx
import orjson
import pytest
from markupsafe import escape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from subgroups.errors import (
    AuthenticationFailed,
    Conflict,
    DatabaseUnavailable,
    GroupArchived,
    InvalidRequest,
    ItemRejected,
    LeaseLost,
    NotConfigured,
    NotFound,
    PermissionDenied,
    RateLimited,
    SchemaNotCurrent,
    SignInRefused,
    SubgroupsError,
)
from subgroups.web.errors import API_ERROR_HANDLERS, HttpError
from tests.dashboard.helpers import dashboard_raising

# (the error, the status, the message a client reads, the headers beside it)
CASES: list[tuple[Exception, int, str, dict[str, str]]] = [
    (InvalidRequest("external_id is required"), 400, "external_id is required", {}),
    (
        GroupArchived("news"),
        400,
        "Subscription group 'news' is archived and cannot be changed",
        {},
    ),
    (
        ItemRejected(2, InvalidRequest("external_id is required")),
        400,
        "subscription_groups[2]: external_id is required",
        {},
    ),
    (AuthenticationFailed(), 401, "Invalid API key", {}),
    (PermissionDenied("Access Denied"), 403, "Access Denied", {}),
    (NotFound("No API key 7"), 404, "No API key 7", {}),
    (Conflict("That name is taken"), 409, "That name is taken", {}),
    (LeaseLost("imp-1"), 409, "Import imp-1 is now run by another process", {}),
    (RateLimited(17), 429, "Rate limit exceeded", {"retry-after": "17"}),
    (SignInRefused("Wrong email or password"), 401, "Wrong email or password", {}),
    (SignInRefused("Try later", retry_after=900), 429, "Try later", {"retry-after": "900"}),
    (SchemaNotCurrent("Run `subgroups db upgrade`"), 500, "Run `subgroups db upgrade`", {}),
    (NotConfigured("Set SUBGROUPS_SECRET_KEY"), 500, "Set SUBGROUPS_SECRET_KEY", {}),
    (DatabaseUnavailable("connection refused"), 503, "The database is unavailable", {}),
    (HttpError(415, "Unsupported Media Type"), 415, "Unsupported Media Type", {}),
    (HTTPException(404), 404, "Not Found", {}),
    (HTTPException(405, headers={"Allow": "POST"}), 405, "Method Not Allowed", {"allow": "POST"}),
]
IDS = [f"{type(error).__name__}-{status}" for error, status, _, _ in CASES]


def api_raising(error: Exception) -> Starlette:
    async def boom(_request: Request) -> Response:
        raise error

    return Starlette(routes=[Route("/boom", boom)], exception_handlers=API_ERROR_HANDLERS)


async def get(app: Starlette, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await http.get(path)


@pytest.mark.parametrize(("error", "status", "message", "headers"), CASES, ids=IDS)
async def test_the_api_answers_one_json_shape(
    error: Exception, status: int, message: str, headers: dict[str, str]
) -> None:
    response = await get(api_raising(error), "/boom")

    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert orjson.loads(response.content) == {"message": message}
    assert {name: response.headers.get(name) for name in headers} == headers


@pytest.mark.parametrize(("error", "status", "message", "headers"), CASES, ids=IDS)
async def test_the_dashboard_answers_its_error_page_with_the_same_status(
    error: Exception, status: int, message: str, headers: dict[str, str]
) -> None:
    response = await get(dashboard_raising(error), "/dashboard/boom")

    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    shown = "There is no page at this address." if message == "Not Found" else message
    # As the page's template escapes it (markupsafe, which Jinja uses).
    assert f"<p>{escape(shown)}</p>" in response.text
    assert {name: response.headers.get(name) for name in headers} == headers


def _subclasses(kind: type[SubgroupsError]) -> set[type[SubgroupsError]]:
    found = set(kind.__subclasses__())
    return found.union(*(_subclasses(sub) for sub in found))


def test_every_domain_error_has_its_shape_pinned() -> None:
    assert _subclasses(SubgroupsError) <= {type(error) for error, *_ in CASES}


@pytest.mark.parametrize("surface", ["api", "dashboard"])
async def test_an_unavailable_database_is_logged_once_without_a_traceback(
    surface: str, caplog: pytest.LogCaptureFixture
) -> None:
    error = DatabaseUnavailable("could not connect to server: Connection refused")
    app, path = (
        (api_raising(error), "/boom")
        if surface == "api"
        else (dashboard_raising(error), "/dashboard/boom")
    )

    with caplog.at_level(logging.DEBUG, logger="subgroups"):
        response = await get(app, path)

    assert response.status_code == 503
    assert "Connection refused" not in response.text
    [record] = [r for r in caplog.records if r.name.startswith("subgroups")]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == (
        "database unavailable: could not connect to server: Connection refused"
    )
    assert record.exc_info is None
