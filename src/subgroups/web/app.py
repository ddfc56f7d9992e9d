"""The ASGI application factory."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable, Coroutine
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
from subgroups.web.api.routes.exports import export_changes, export_states
from subgroups.web.api.routes.health import healthz, readyz
from subgroups.web.api.routes.imports import create_import, get_import, get_import_errors
from subgroups.web.api.routes.links import preference_center_url, unsubscribe_links
from subgroups.web.api.routes.metrics import metrics
from subgroups.web.api.routes.read_status import get_status, get_user_status
from subgroups.web.api.routes.reference import docs_page, openapi_document
from subgroups.web.api.routes.set_status import set_status_v1
from subgroups.web.api.routes.set_status_v2 import set_status_v2
from subgroups.web.dashboard import landing
from subgroups.web.dashboard.app import dashboard_mount
from subgroups.web.errors import API_ERROR_HANDLERS, exception_handlers
from subgroups.web.middleware import RequestContext
from subgroups.web.person import pages as person_pages
from subgroups.web.state import keep_services


def routes() -> list[Route]:
    return [
        Route("/subscription/status/set", set_status_v1, methods=["POST"]),
        Route("/v2/subscription/status/set", set_status_v2, methods=["POST"]),
        Route("/subscription/status/get", get_status, methods=["GET"]),
        Route("/subscription/user/status", get_user_status, methods=["GET"]),
        Route("/changes", get_changes, methods=["GET"]),
        Route("/links/unsubscribe", unsubscribe_links, methods=["GET"]),
        Route("/imports", create_import, methods=["POST"]),
        Route("/imports/{import_id}", get_import, methods=["GET"]),
        Route("/imports/{import_id}/errors", get_import_errors, methods=["GET"]),
        Route("/exports/states", export_states, methods=["GET"]),
        Route("/exports/changes", export_changes, methods=["GET"]),
        Route(
            "/preference_center/v1/{preference_center_id}/url/{user_id}",
            preference_center_url,
            methods=["GET"],
        ),
        Route("/openapi.json", openapi_document, methods=["GET"], name="openapi"),
        Route("/docs", docs_page, methods=["GET"], name="docs"),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *landing.routes(),
        *person_pages.routes(),
    ]


# Routing's own answers (no such address, a wrong method) are pages for a browser; whatever an
# endpoint answers past routing stays the contract's JSON, whoever asks.
ERROR_HANDLERS: dict[Any, ExceptionHandler] = {
    **API_ERROR_HANDLERS,
    HTTPException: exception_handlers(landing.api_problem)[HTTPException],
}


def create_app(
    settings: Settings,
    services: Services | None = None,
    *,
    deliver: bool | None = None,
    run_imports: bool | None = None,
    settle_heap: bool = False,
) -> Starlette:
    """The application. Pass `services` to share them (tests); otherwise they are built here.

    While it runs, in the background, it delivers webhooks (`deliver`; by default when it builds
    its own services and SUBGROUPS_DELIVER_WEBHOOKS is not false) and runs the imports sent to
    it (`run_imports`; likewise, with SUBGROUPS_RUN_IMPORTS). `settle_heap`: see `settled_heap`,
    for a process that serves this one app."""
    built = services or build_services(settings)
    if deliver is None:
        deliver = services is None and settings.deliver_webhooks
    if run_imports is None:
        run_imports = services is None and settings.run_imports

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with delivering(built, deliver), importing(built, run_imports):
            if settle_heap:
                settled_heap()
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
                in_flight=built.in_flight,
            )
        ],
        exception_handlers=ERROR_HANDLERS,
        lifespan=lifespan,
    )
    # A path with an extra trailing slash is an unknown path (§1: a JSON 404), not an empty-bodied 307.
    app.router.redirect_slashes = False
    keep_services(app, built)
    return app


@asynccontextmanager
async def delivering(services: Services, deliver: bool) -> AsyncIterator[None]:
    """Runs a webhook dispatcher while the app serves; on shutdown its leases are let go, so
    another process takes its endpoints over at once."""
    if not deliver:
        yield
        return
    dispatcher = services.dispatcher()
    try:
        async with _in_background(dispatcher.run):
            yield
    finally:
        await dispatcher.aclose()


@asynccontextmanager
async def importing(services: Services, run: bool) -> AsyncIterator[None]:
    """Runs the import loop while the app serves; on shutdown the import in progress stops after
    its current batch and lets the import go, for the next process to resume at once."""
    if not run:
        yield
        return
    async with _in_background(services.import_loop().run):
        yield


@asynccontextmanager
async def _in_background(
    run: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
) -> AsyncIterator[None]:
    """`run(stop)` as a task while the block runs; then `stop` is set and the task awaited."""
    stop = asyncio.Event()
    running = asyncio.create_task(run(stop))
    try:
        yield
    finally:
        stop.set()
        await running


def app_from_env() -> Starlette:
    """The app of `subgroups serve`, settings from the environment. Serve it that way: the bound on
    request heads is in that server's protocol (`http_protocol.py`), not in the app."""
    return create_app(Settings.from_env(), settle_heap=True)


def settled_heap() -> None:
    """Leaves what the process holds once started out of every later garbage collection.

    A full collection walks every object that may be in a reference cycle, and a started server
    holds hundreds of thousands of them that live as long as it does (modules, SQLAlchemy's
    tables, the phone number metadata ...): under load one came every second or two and stopped
    the event loop for 50-80 ms, which made the p99 of every request (BENCHMARKS.md). Frozen,
    they are still freed when nothing refers to them, but no collection walks them again, and a
    full collection then walks only what was made since. Only for a process that serves one app
    until it exits: a frozen object in a cycle that later becomes garbage is never collected.
    """
    gc.collect()
    gc.freeze()
