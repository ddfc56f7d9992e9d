"""Driving the dashboard through the real ASGI app (a client, signing in, a form's CSRF token),
and a tiny app with the dashboard's error handling."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from subgroups.container import Services
from subgroups.web.app import create_app
from subgroups.web.dashboard.app import ERROR_HANDLERS, dashboard_routes

PASSWORD = "correct horse battery"


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
