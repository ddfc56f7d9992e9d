"""Driving the dashboard through the real ASGI app (a client, signing in, a form's CSRF token),
a tiny app with the dashboard's error handling, and webhook deliveries recorded as a dispatcher
records them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from subgroups.container import Services
from subgroups.domain.webhooks import Attempt, DeliveryStatus, Endpoint, Outcome, Result
from subgroups.web.app import create_app
from subgroups.web.dashboard.app import ERROR_HANDLERS, dashboard_routes

PASSWORD = "correct horse battery"
# The dispatcher that the tests play: it holds the endpoints it records deliveries for.
OWNER = "test-dispatcher"


def client_for(
    services: Services, *, ip: str = "203.0.113.7", base_url: str = "http://testserver"
) -> httpx.AsyncClient:
    app = create_app(services.settings, services)
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "the page has a form with a CSRF token"
    return found.group(1)


async def post_form(
    web: httpx.AsyncClient, page: str, action: str, data: dict[str, str]
) -> httpx.Response:
    """Posts `data` to `action` with the CSRF token of the form on `page`, as a browser would."""
    token = csrf_of((await web.get(page)).text)
    return await web.post(action, data={"csrf": token, **data})


async def sign_in(
    client: httpx.AsyncClient, email: str = "ops@example.com", password: str = PASSWORD
) -> httpx.Response:
    page = await client.get("/dashboard/sign-in")
    return await client.post(
        "/dashboard/sign-in",
        data={"csrf": csrf_of(page.text), "email": email, "password": password, "next": ""},
    )


def dashboard_raising(error: Exception) -> Starlette:
    """The dashboard's routes and error handling, plus `/dashboard/boom`, which raises `error`:
    for errors that no dashboard view can be made to raise."""

    async def boom(_request: Request) -> Response:
        raise error

    inner = Starlette(
        routes=[*dashboard_routes(), Route("/boom", boom)], exception_handlers=ERROR_HANDLERS
    )
    return Starlette(routes=[Mount("/dashboard", app=inner, name="dashboard")])


async def record_deliveries(services: Services, endpoint: Endpoint, ids: Sequence[int]) -> None:
    """Queues a delivery of each change in `ids` (ascending, after the endpoint's cursor) and
    records, as a dispatcher would, the first delivered (200 in 42 ms) and the second failed for
    good (500 in 1234 ms, with a long answer); the others stay pending, not yet attempted."""
    queue, now = services.webhook_queue, datetime.now(UTC)
    claimed = await queue.claim(owner=OWNER, now=now, until=now + timedelta(hours=1), limit=1000)
    [held] = [e for e in claimed if e.id == endpoint.id]
    cursor = await queue.enqueue(held, owner=OWNER, change_ids=ids, cursor=ids[-1], at=now)
    assert cursor == ids[-1]
    held = replace(held, cursor=cursor)
    due = await queue.due(held, owner=OWNER, now=now, limit=len(ids))
    assert [d.change_id for d, _ in due] == list(ids)
    failed = Attempt(500, 1234, "upstream exploded: " + "x" * 300)
    await queue.record(
        held,
        [
            Result(ids[0], 1, Attempt(200, 42), Outcome(DeliveryStatus.DELIVERED, None), now),
            Result(ids[1], 1, failed, Outcome(DeliveryStatus.FAILED, None), now),
        ],
        at=now,
    )
