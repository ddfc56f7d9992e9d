from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from subgroups.container import Services
from tests.conftest import IN_CI
from tests.factories import Tenant, make_tenant
from tests.security.endpoints import import_id_of
from tests.security.support import finished_import

REDIS_URL = os.environ.get("SUBGROUPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def _tenant(services: Services) -> Tenant:
    """A tenant holding the import the endpoint matrix names by its email group."""
    made = await make_tenant(services)
    await finished_import(services, made.workspace.id, import_id_of(made.email_group.id))
    return made


@pytest.fixture
async def tenant(services: Services) -> Tenant:
    return await _tenant(services)


@pytest.fixture
async def other(services: Services) -> Tenant:
    """A second workspace, the one `tenant` must never reach."""
    return await _tenant(services)


@pytest.fixture
def redis_url() -> str:
    """The local Redis; a test that needs it is skipped without it, except under CI=true."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        message = f"Redis at {REDIS_URL} is not available: {error}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix private to this test; its keys are deleted afterwards."""
    prefix = f"subgroups-test-{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
    finally:
        client.close()
