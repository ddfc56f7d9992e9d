"""The person's pages (contract §11), reached with a signed link and no key.

- `/unsubscribe/{token}`: RFC 8058 one-click. A POST carrying `List-Unsubscribe=One-Click` leaves
  the group and answers 200 with a page that holds no link and no form (a scanner finds nothing to
  follow), no redirect and no cookie. A GET (a person, or a link scanner fetching every link)
  changes nothing: it shows a page with a button that makes that POST.
- `/preferences/{token}`: every group on offer with a checkbox, a reason, one save; the form
  carries a token bound to the link (`domain/links.form_token`).

An invalid link gets the same 404 page whatever is wrong with it. Every request counts against the
client address's limit (SUBGROUPS_RATE_LIMIT_PUBLIC). The pages are never cached, never indexed,
and send no Referer (the link is the person's key).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from subgroups.domain.models import Actor, Source
from subgroups.domain.person import MAX_USER_AGENT, REASONS, reason_of
from subgroups.errors import RateLimited, SubgroupsError
from subgroups.services.person import PersonPage
from subgroups.web.client import client_ip, request_id
from subgroups.web.dashboard.render import render
from subgroups.web.errors import HttpError, problem_of
from subgroups.web.person.forms import every, field, is_one_click, read_pairs
from subgroups.web.state import services_of

NOT_ONE_CLICK: Final = (
    "This address unsubscribes with a POST of List-Unsubscribe=One-Click (RFC 8058)."
    " Nothing was changed."
)
_TITLES: Final = {
    400: "That did not work",
    404: "This link does not work",
    408: "Too slow",
    413: "Too large",
    429: "Too many requests",
    503: "Unavailable for now",
}


def _headers(nonce: str) -> dict[str, str]:
    return {
        "content-security-policy": (
            f"default-src 'none'; style-src 'self' 'nonce-{nonce}'; img-src 'self';"
            " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
        "x-robots-tag": "noindex, nofollow",
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
    }


def _page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(12)
    response = render(request, template, status, nonce=nonce, session=None, **values)
    response.headers.update(_headers(nonce))
    return response


def _problem_page(request: Request, error: Exception) -> Response:
    problem = problem_of(error)
    response = _page(
        request,
        "person_problem.html",
        problem.status,
        title=_TITLES.get(problem.status, "Something went wrong"),
        message=problem.message,
        page=None,
    )
    response.headers.update(problem.headers or {})
    return response


Handler = Callable[[Request], Awaitable[Response]]


def _guarded(handler: Handler) -> Handler:
    """Counts the request against its address's limit, and shows any refusal as a page."""

    async def endpoint(request: Request) -> Response:
        try:
            quota = await services_of(request).ratelimits.hit_address(client_ip(request) or "-")
            if not quota.allowed:
                raise RateLimited(quota.retry_after)
            return await handler(request)
        except (SubgroupsError, HttpError) as error:
            return _problem_page(request, error)

    endpoint.__name__ = handler.__name__
    return endpoint


def _actor(
    request: Request, source: Source, reason: str | None = None, detail: str | None = None
) -> Actor:
    agent = request.headers.get("user-agent")
    return Actor(
        source,
        request_id=request_id(request),
        client_ip=client_ip(request),
        user_agent=agent[:MAX_USER_AGENT] if agent else None,
        reason=reason,
        reason_detail=detail,
    )


def _token(request: Request) -> str:
    token: str = request.path_params["token"]
    return token


def _unsubscribe_view(request: Request, page: PersonPage, *, done: bool) -> Response:
    return _page(request, "person_unsubscribe.html", page=page, done=done)


async def unsubscribe_page(request: Request) -> Response:
    page = await services_of(request).person.unsubscribe_page(_token(request))
    return _unsubscribe_view(request, page, done=False)


async def one_click(request: Request) -> Response:
    token = _token(request)
    services = services_of(request)
    # The link is checked before the body is read: an invalid one is a 404 whatever was sent.
    await services.person.unsubscribe_page(token)
    if not is_one_click(await read_pairs(request)):
        raise HttpError(400, NOT_ONE_CLICK)
    page = await services.person.one_click(token, _actor(request, Source.ONE_CLICK))
    return _unsubscribe_view(request, page, done=True)


def _preferences_view(
    request: Request, page: PersonPage, *, saved: bool = False, status: int = 200
) -> Response:
    return _page(
        request, "person_preferences.html", status, page=page, reasons=REASONS, saved=saved
    )


async def preferences_page(request: Request) -> Response:
    page = await services_of(request).person.preferences(_token(request))
    return _preferences_view(request, page)


async def save_preferences(request: Request) -> Response:
    token = _token(request)
    services = services_of(request)
    await services.person.preferences(token)
    pairs = await read_pairs(request)
    reason, detail = reason_of(field(pairs, "reason"), field(pairs, "reason_detail"))
    page = await services.person.save_preferences(
        token,
        form_token=field(pairs, "form_token"),
        subscribed=every(pairs, "subscribed"),
        leave_all=field(pairs, "leave_all") == "1",
        actor=_actor(request, Source.PREFERENCE_PAGE, reason, detail),
    )
    return _preferences_view(request, page, saved=True)


def routes() -> list[Route]:
    return [
        Route("/unsubscribe/{token}", _guarded(unsubscribe_page), include_in_schema=False),
        Route(
            "/unsubscribe/{token}",
            _guarded(one_click),
            methods=["POST"],
            name="one_click",
            include_in_schema=False,
        ),
        Route("/preferences/{token}", _guarded(preferences_page), include_in_schema=False),
        Route(
            "/preferences/{token}",
            _guarded(save_preferences),
            methods=["POST"],
            name="preferences",
            include_in_schema=False,
        ),
    ]
