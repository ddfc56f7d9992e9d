"""The ASGI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import ExceptionHandler

from subgroups.config import Settings
from subgroups.container import Services, build_services
from subgroups.web.api.routes.changes import get_changes
from subgroups.web.api.routes.health import healthz, readyz
from subgroups.web.api.routes.metrics import metrics
from subgroups.web.api.routes.read_status import get_status, get_user_status
from subgroups.web.api.routes.reference import docs_page, openapi_document
from subgroups.web.api.routes.set_status import set_status_v1
from subgroups.web.api.routes.set_status_v2 import set_status_v2
from subgroups.web.dashboard import landing
from subgroups.web.dashboard.app import dashboard_mount
from subgroups.web.errors import API_ERROR_HANDLERS, exception_handlers
from subgroups.web.middleware import RequestContext
from subgroups.web.state import keep_services


def routes() -> list[Route]:
    return [
        Route("/subscription/status/set", set_status_v1, methods=["POST"]),
        Route("/v2/subscription/status/set", set_status_v2, methods=["POST"]),
        Route("/subscription/status/get", get_status, methods=["GET"]),
        Route("/subscription/user/status", get_user_status, methods=["GET"]),
        Route("/changes", get_changes, methods=["GET"]),
        Route("/openapi.json", openapi_document, methods=["GET"], name="openapi"),
        Route("/docs", docs_page, methods=["GET"], name="docs"),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *landing.routes(),
    ]


# Routing's own answers (no such address, a wrong method) are pages for a browser; whatever an
# endpoint answers past routing stays the contract's JSON, whoever asks.
ERROR_HANDLERS: dict[Any, ExceptionHandler] = {
    **API_ERROR_HANDLERS,
    HTTPException: exception_handlers(landing.api_problem)[HTTPException],
}


def create_app(settings: Settings, services: Services | None = None) -> Starlette:
    """The application. Pass `services` to share them (tests); otherwise they are built here."""
    built = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        if services is None:
            await built.aclose()

    app = Starlette(
        routes=[*routes(), dashboard_mount(built)],
        middleware=[
            Middleware(
                RequestContext,
                trusted_proxies=settings.trusted_proxies,
                metrics=built.metrics if built.metrics.enabled else None,
            )
        ],
        exception_handlers=ERROR_HANDLERS,
        lifespan=lifespan,
    )
    # A path with an extra trailing slash is an unknown path (§1: a JSON 404), not an empty-bodied 307.
    app.router.redirect_slashes = False
    keep_services(app, built)
    return app


def app_from_env() -> Starlette:
    """The app of `subgroups serve`, settings from the environment. Serve it that way: the bound on
    request heads is in that server's protocol (`http_protocol.py`), not in the app."""
    return create_app(Settings.from_env())
