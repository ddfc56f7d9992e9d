"""Rate limits at the HTTP edge (contract §8): the X-RateLimit-* headers.

`auth.py` counts each authorised request in the pool of the permission it requires. The quota is
kept in the request state, and the request middleware copies it into the response's headers,
whatever the response turns out to be.
"""

from __future__ import annotations

from starlette.requests import Request

from subgroups.container import Services
from subgroups.domain.models import ApiKey, Permission
from subgroups.services.ratelimits import Pool, Quota


async def show_quota(
    services: Services, request: Request, key: ApiKey, p: Permission, pool: Pool | None = None
) -> None:
    """For a refused request (403) of a known key: the headers, without counting the request."""
    request.state.rate_limit = await services.ratelimits.peek(
        workspace_id=key.workspace_id, permission=p, pool=pool
    )


def quota_headers(quota: Quota) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-ratelimit-limit", str(quota.limit).encode()),
        (b"x-ratelimit-remaining", str(quota.remaining).encode()),
        (b"x-ratelimit-reset", str(quota.reset_at).encode()),
    ]
