from __future__ import annotations

import pytest

from subgroups.container import Services
from tests.factories import Tenant, make_tenant


@pytest.fixture
async def tenant(services: Services) -> Tenant:
    return await make_tenant(services)


@pytest.fixture
async def other_tenant(services: Services) -> Tenant:
    """A second workspace, for checking that nothing crosses workspaces."""
    return await make_tenant(services)
