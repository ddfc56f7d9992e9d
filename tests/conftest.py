"""Shared fixtures: a migrated database on each backend, services over it, and an HTTP client.

Every test that takes `database_url` (directly or through `services`/`client`) runs twice: on a
SQLite file and on the real PostgreSQL. The schema is migrated once per run; each test then gets a
fresh copy of the SQLite file or freshly truncated PostgreSQL tables.

PostgreSQL comes from SUBGROUPS_TEST_POSTGRES_URL (default: the local server, database `test`); the
tests create and drop their own scratch database there. When it cannot be reached the PostgreSQL
half is skipped, except under CI=true, where that is a failure.

`--backend sqlite` runs only the SQLite half (the fast loop, `make test-fast`); CI refuses it, so
that nothing there passes without PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from subgroups.config import Settings
from subgroups.container import Services, build_services
from subgroups.storage.migrate import upgrade
from subgroups.storage.tables import metadata
from subgroups.web.app import create_app

POSTGRES_ADMIN_URL = os.environ.get(
    "SUBGROUPS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = ("sqlite", "postgresql")
# Seals webhook secrets in tests (PostgreSQL needs one set; SQLite would make a key file).
TEST_SECRET_KEY = bytes(range(32))
TEST_SECRET_KEY_TEXT = base64.b64encode(TEST_SECRET_KEY).decode()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=BACKENDS,
        help="run only the tests on this database backend (default: every backend)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if IN_CI and config.getoption("backend") is not None:
        raise pytest.UsageError("--backend is refused under CI=true: CI runs every backend")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --backend, deselects every test parametrised with another backend.

    Deselecting rather than narrowing the `backend` fixture also covers the tests that name their
    backends in their own parametrize, and the server fixtures that take a backend as their param.
    """
    chosen = config.getoption("backend")
    if chosen is None:
        return
    others = set(BACKENDS) - {chosen}
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        values = callspec.params.values() if callspec is not None else ()
        elsewhere = any(isinstance(v, str) and v in others for v in values)
        (dropped if elsewhere else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def _postgres_url(database: str) -> str:
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A scratch PostgreSQL database for this test run, migrated to the newest schema."""
    name = f"subgroups_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as error:
        message = f"PostgreSQL at {POSTGRES_ADMIN_URL} is not available: {error}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    url = _postgres_url(name)
    upgrade(url)
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database on `backend`, private to this test."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "subgroups.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
def empty_database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """A database on `backend` with no schema at all, private to this test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    request.getfixturevalue("postgres_database")  # PostgreSQL is there (or skip/fail as above)
    name = f"subgroups_empty_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    yield _postgres_url(name)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    """Empties every table and restarts every id sequence.

    DELETE, children first, rather than TRUNCATE: on tables this small it is the same result at a
    tenth of the cost, and the suite does it before every PostgreSQL test.
    """
    deletes = "; ".join(f'DELETE FROM "{t.name}"' for t in reversed(metadata.sorted_tables))
    restart = (
        "SELECT setval(c.oid, 1, false) FROM pg_class c"
        " WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace"
    )
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(f"{deletes}; {restart}")
    finally:
        await conn.close()


@pytest.fixture
def settings(database_url: str) -> Settings:
    # No key cache: a test that revokes a key expects the very next request to be refused.
    return Settings(
        database_url=database_url,
        key_cache_seconds=0.0,
        db_pool_size=5,
        secret_key=TEST_SECRET_KEY,
    )


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    built = build_services(settings)
    try:
        yield built
    finally:
        await built.aclose()


@pytest.fixture
async def client(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, services)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
