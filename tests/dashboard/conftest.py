"""A real `subgroups serve` process and a real Chromium, for the browser tests.

The server runs on a free localhost port against a private database (SQLite, and PostgreSQL too);
data is made in-process through the services on the same database. Chromium is Debian's
(`scripts/ensure-chromium` installs it); without it the browser tests are skipped, except under
CI=true, where that is a failure.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Response,
    sync_playwright,
)

from subgroups.config import Settings
from subgroups.container import Services, build_services
from subgroups.domain.models import Workspace
from tests.conftest import IN_CI
from tests.dashboard.helpers import PASSWORD, client_for, sign_in
from tests.factories import make_workspace
from tests.servers import ServerProcess, running, subgroups

# Seals webhook signing secrets: the server and the tests' own services share it (PostgreSQL needs
# one; on SQLite it replaces the key file the server would make).
LIVE_SECRET_KEY = bytes(range(32, 64))
CHROMIUM = Path(os.environ.get("SUBGROUPS_TEST_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
T = TypeVar("T")


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    database_url: str
    backend: str

    def call(self, action: Callable[[Services], Awaitable[T]]) -> T:
        """Runs `action` against services on the server's database, from this (sync) test."""

        async def go() -> T:
            settings = Settings(
                database_url=self.database_url, db_pool_size=2, secret_key=LIVE_SECRET_KEY
            )
            services = build_services(settings)
            try:
                return await action(services)
            finally:
                await services.aclose()

        # A thread of its own: Playwright's sync API owns this thread's event loop.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, go()).result()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    backend: str = request.param
    folder = tmp_path_factory.mktemp("live")
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, folder / "live.db")
        database_url = f"sqlite:///{folder / 'live.db'}"
    else:
        database_url = request.getfixturevalue("postgres_database")
    server = ServerProcess(
        subgroups("serve", database_url),
        log=folder / "server.log",
        env={
            "SUBGROUPS_KEY_CACHE_SECONDS": "0",
            "SUBGROUPS_SECRET_KEY": base64.b64encode(LIVE_SECRET_KEY).decode(),
            # The tests record webhook deliveries themselves (helpers.record_deliveries): a
            # dispatcher of the server's own would race them for the endpoints.
            "SUBGROUPS_DELIVER_WEBHOOKS": "false",
        },
        inherit_settings=True,
    )
    with running(server):
        yield LiveServer(server.url, database_url, backend)


@pytest.fixture(scope="module")
def playwright(live_server: LiveServer) -> Iterator[Playwright]:
    # Playwright's sync API keeps an event loop running on this thread until it stops, and
    # asyncio.run (migrations, other modules' async tests) cannot run meanwhile: so it starts
    # after the server's database is ready and stops with this module.
    if not CHROMIUM.exists():
        message = f"Chromium is not installed at {CHROMIUM}: run scripts/ensure-chromium"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )
    yield browser
    browser.close()


@pytest.fixture
def context(live_server: LiveServer, browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(
        base_url=live_server.base_url, viewport={"width": 1280, "height": 860}
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.base_url)
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # Pages answered 401/403/429 on purpose are logged as failed loads: those are the
        # documents'; a failed script, stylesheet or image is caught by on_response below.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    def on_response(response: Response) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            problems.append(f"{response.status} for {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("response", on_response)
    yield page
    # A script error, a Content-Security-Policy violation or a missing asset fails the test.
    assert problems == []


def screenshot(page: Page, live_server: LiveServer, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{live_server.backend}-{name}.png"), full_page=True)


@pytest.fixture
async def web(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A signed-in dashboard client over the real app, in process."""
    await services.operators.create(email="ops@example.com", password=PASSWORD)
    async with client_for(services) as http:
        assert (await sign_in(http)).status_code == 303
        yield http


@pytest.fixture
async def workspace(services: Services) -> Workspace:
    return await make_workspace(services)
