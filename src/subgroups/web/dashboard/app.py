"""The dashboard: a small Starlette app of its own, mounted at /dashboard.

Being its own app gives it its own rendering of errors (an HTML page, with the status that
`web/errors.py` decides for both surfaces) and its own response headers, including a
Content-Security-Policy that lets pages load only what this server serves.
"""

from __future__ import annotations

from typing import Final

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from subgroups.container import Services
from subgroups.web.dashboard import auth, groups, imports, keys, person_pages, profiles, webhooks
from subgroups.web.dashboard.render import STATIC, render
from subgroups.web.errors import Problem, exception_handlers
from subgroups.web.state import keep_services

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_HEADERS: Final = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)
_PAGE_CACHE: Final = (b"cache-control", b"no-store")  # pages show personal data and secrets
_STATIC_CACHE: Final = (b"cache-control", b"public, max-age=31536000, immutable")
# The same headers for a page served outside the dashboard's app (see landing.py).
PAGE_HEADERS: Final = {name.decode(): value.decode() for name, value in (*_HEADERS, _PAGE_CACHE)}


class DashboardHeaders:
    """Adds the dashboard's security and caching headers, replacing any set further in."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        versioned_static = "/static/" in scope["path"] and b"v=" in scope["query_string"]
        ours = (*_HEADERS, _STATIC_CACHE if versioned_static else _PAGE_CACHE)
        replaced = {name for name, _ in ours}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in replaced]
                message["headers"] = [*kept, *ours]
            await send(message)

        await self.app(scope, receive, send_with_headers)


_TITLES: Final = {
    400: "That did not work",
    401: "Not signed in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "That clashes with what exists",
    408: "Too slow",
    413: "Too large",
    429: "Too many attempts",
    503: "Unavailable for now",
}


def error_page(request: Request, problem: Problem) -> Response:
    """The dashboard's rendering of a problem: its status, with a page a person can read."""
    message = problem.message
    if problem.status == 404 and message == "Not Found":
        message = "There is no page at this address."
    title = _TITLES.get(problem.status, "Something went wrong")
    response = render(
        request, "error.html", problem.status, title=title, message=message, session=None
    )
    response.headers.update(problem.headers or {})
    return response


ERROR_HANDLERS: Final = exception_handlers(error_page)


def dashboard_routes() -> list[BaseRoute]:
    return [
        Route("/", auth.home, name="home"),
        Route("/sign-in", auth.sign_in_page, methods=["GET"], name="sign_in"),
        Route("/sign-in", auth.sign_in, methods=["POST"]),
        Route("/sign-out", auth.sign_out, methods=["POST"], name="sign_out"),
        Route("/switch", auth.switch, name="switch"),
        Route("/w/{workspace_id:int}/groups", groups.list_groups, name="groups"),
        Route("/w/{workspace_id:int}/groups", groups.create_group, methods=["POST"]),
        Route("/w/{workspace_id:int}/groups/{group_id}", groups.show_group, name="group"),
        Route(
            "/w/{workspace_id:int}/groups/{group_id}/edit",
            groups.edit_group,
            methods=["POST"],
            name="edit_group",
        ),
        Route(
            "/w/{workspace_id:int}/groups/{group_id}/archive",
            groups.archive_group,
            methods=["POST"],
            name="archive_group",
        ),
        Route("/w/{workspace_id:int}/profiles", profiles.look_up, name="profiles"),
        Route(
            "/w/{workspace_id:int}/profiles/{profile_id:int}/state",
            profiles.change_state,
            methods=["POST"],
            name="profile_state",
        ),
        Route(
            "/w/{workspace_id:int}/profiles/{profile_id:int}/erase",
            profiles.erase,
            methods=["POST"],
            name="erase_profile",
        ),
        Route("/w/{workspace_id:int}/imports", imports.list_imports, name="imports"),
        Route("/w/{workspace_id:int}/imports", imports.upload_import, methods=["POST"]),
        Route("/w/{workspace_id:int}/imports/{import_id}", imports.show_import, name="import"),
        Route(
            "/w/{workspace_id:int}/imports/{import_id}/progress",
            imports.import_progress,
            name="import_progress",
        ),
        Route(
            "/w/{workspace_id:int}/imports/{import_id}/errors.csv",
            imports.import_errors,
            name="import_errors",
        ),
        Route("/w/{workspace_id:int}/pages", person_pages.show, name="person_pages"),
        Route("/w/{workspace_id:int}/pages", person_pages.save, methods=["POST"]),
        Route("/w/{workspace_id:int}/keys", keys.list_keys, name="keys"),
        Route("/w/{workspace_id:int}/keys", keys.create_key, methods=["POST"]),
        Route(
            "/w/{workspace_id:int}/keys/{key_id:int}/revoke",
            keys.revoke_key,
            methods=["POST"],
            name="revoke_key",
        ),
        Route("/w/{workspace_id:int}/webhooks", webhooks.list_webhooks, name="webhooks"),
        Route("/w/{workspace_id:int}/webhooks", webhooks.create_webhook, methods=["POST"]),
        Route(
            "/w/{workspace_id:int}/webhooks/{endpoint_id}", webhooks.show_webhook, name="webhook"
        ),
        Route(
            "/w/{workspace_id:int}/webhooks/{endpoint_id}/disable",
            webhooks.disable_webhook,
            methods=["POST"],
            name="disable_webhook",
        ),
        Route(
            "/w/{workspace_id:int}/webhooks/{endpoint_id}/enable",
            webhooks.enable_webhook,
            methods=["POST"],
            name="enable_webhook",
        ),
        Route(
            "/w/{workspace_id:int}/webhooks/{endpoint_id}/rotate-secret",
            webhooks.rotate_webhook_secret,
            methods=["POST"],
            name="rotate_webhook_secret",
        ),
        Route(
            "/w/{workspace_id:int}/webhooks/{endpoint_id}/replay",
            webhooks.replay_webhook,
            methods=["POST"],
            name="replay_webhook",
        ),
        Route(
            "/w/{workspace_id:int}/webhooks/{endpoint_id}/deliveries/{change_id:int}/replay",
            webhooks.replay_delivery,
            methods=["POST"],
            name="replay_delivery",
        ),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


def create_dashboard(services: Services) -> Starlette:
    app = Starlette(
        routes=dashboard_routes(),
        middleware=[Middleware(DashboardHeaders)],
        exception_handlers=ERROR_HANDLERS,
    )
    keep_services(app, services)
    return app


def dashboard_mount(services: Services) -> Mount:
    return Mount("/dashboard", app=create_dashboard(services), name="dashboard")
