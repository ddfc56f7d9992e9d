"""What a person meets outside the dashboard: the page at `/`, `/dashboard` without its slash, and
an API address opened in a browser.

Only a client that prefers HTML (a browser opening an address) gets these pages. Every other one
(curl and the Braze libraries send `*/*`, API clients `application/json`, and any POST) gets the
API's JSON answers exactly as before: to them `/` is still an unknown path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route, request_response
from starlette.types import Receive, Scope, Send

from subgroups.web.dashboard.app import PAGE_HEADERS
from subgroups.web.dashboard.render import render
from subgroups.web.errors import Problem, json_error

_PAGE_MEDIA: Final = ("text/html", "application/xhtml+xml")


def quality(accept: str, media: str) -> float:
    """The weight `accept` gives `media`: that of the most specific range matching it (RFC 9110
    §12.5.1), 0 when none does."""
    family = media.split("/")[0] + "/*"
    best, weight = -1, 0.0
    for entry in accept.lower().split(","):
        media_range, *params = (part.strip() for part in entry.split(";"))
        specificity = {media: 2, family: 1, "*/*": 0}.get(media_range, -1)
        if specificity > best:
            best, weight = specificity, _q(params)
    return weight


def _q(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def wants_page(request: Request) -> bool:
    """A browser opening an address: a GET that weighs HTML above JSON. A tie (`*/*`, or no
    Accept at all) is an API client's, and keeps JSON."""
    if request.method not in ("GET", "HEAD"):
        return False
    accept = request.headers.get("accept", "")
    page = max(quality(accept, media) for media in _PAGE_MEDIA)
    return page > 0 and page > quality(accept, "application/json")


def _page(request: Request, template: str, status: int = 200, **values: object) -> Response:
    response = render(
        request,
        template,
        status,
        session=None,
        front=request.url_for("front").path,
        docs=request.url_for("docs").path,
        openapi=request.url_for("openapi").path,
        **values,
    )
    response.headers.update(PAGE_HEADERS)
    return response


async def front_page(request: Request) -> Response:
    """`/`: where a person goes from here."""
    if not wants_page(request):
        raise HTTPException(404)
    return _page(request, "landing.html")


async def to_dashboard(request: Request) -> Response:
    """`/dashboard`, as people type it: the dashboard is at `/dashboard/`. Any client's GET is
    sent on (this is the dashboard's address, not the API's)."""
    if request.method not in ("GET", "HEAD"):
        raise HTTPException(404)
    target = request.url_for("dashboard:home").path
    if request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(target, status_code=307)


class _AnyMethod:
    """An endpoint that every method reaches (Starlette routes a plain function for GET only), so
    that it can answer what it does not serve as an unknown path (404), as before it existed,
    rather than with a 405."""

    def __init__(self, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self._app = request_response(endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def routes() -> list[Route]:
    return [
        Route("/", _AnyMethod(front_page), name="front", include_in_schema=False),
        Route("/dashboard", _AnyMethod(to_dashboard), include_in_schema=False),
    ]


_TITLES: Final = {404: "Not found", 405: "This address is for API calls"}


def api_problem(request: Request, problem: Problem) -> Response:
    """How the API answers "no such address" and "wrong method": a page pointing to the
    dashboard and the API reference for a browser, the contract's JSON for everyone else."""
    if not wants_page(request):
        return json_error(request, problem)
    headers = dict(problem.headers or {})
    response = _page(
        request,
        "api_address.html",
        problem.status,
        title=_TITLES.get(problem.status, problem.message),
        code=problem.status,
        path=request.url.path,
        allowed=headers.get("Allow", ""),
    )
    response.headers.update(headers)
    return response
