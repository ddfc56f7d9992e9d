"""Managing webhook endpoints (contract §9): what the CLI and the dashboard do with them."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from datetime import timedelta

from subgroups.domain.feed import MAX_ID
from subgroups.domain.webhooks import (
    DEFAULT_GRACE_SECONDS,
    Backlog,
    Delivery,
    Endpoint,
    NewEndpoint,
    check_events,
    check_url,
    new_secret,
)
from subgroups.errors import InvalidRequest, NotFound
from subgroups.services.ports import Clock, WebhookStore, WorkspaceStore

MAX_DELIVERIES_LISTED = 1000
MAX_GRACE_SECONDS = 30 * 86400


class WebhookService:
    def __init__(
        self,
        *,
        webhooks: WebhookStore,
        workspaces: WorkspaceStore,
        clock: Clock,
        allow_private: bool,
    ) -> None:
        self._webhooks = webhooks
        self._workspaces = workspaces
        self._clock = clock
        self._allow_private = allow_private

    async def create(
        self, *, workspace_id: int, url: str, events: Sequence[str] = ()
    ) -> NewEndpoint:
        """A new endpoint; its secret is in the answer and nowhere else in the clear. The URL is
        checked as written, not resolved: creating does not reach out to it (the dispatcher
        checks every address the host resolves to before each delivery)."""
        url = check_url(url.strip(), allow_private=self._allow_private)
        checked = check_events(events)
        if await self._workspaces.get(workspace_id) is None:
            raise NotFound(f"No workspace with id {workspace_id}")
        secret = new_secret()
        endpoint = await self._webhooks.create_endpoint(
            workspace_id=workspace_id,
            endpoint_id=str(uuid.uuid4()),
            url=url,
            events=checked,
            secret=secret,
            at=self._clock.now(),
        )
        return NewEndpoint(endpoint, secret)

    async def list(self, *, workspace_id: int) -> list[Endpoint]:
        if await self._workspaces.get(workspace_id) is None:
            raise NotFound(f"No workspace with id {workspace_id}")
        return await self._webhooks.endpoints(workspace_id)

    async def get(self, endpoint_id: str, *, workspace_id: int | None) -> Endpoint:
        """The endpoint, in `workspace_id` if given (None: an admin's command, any workspace)."""
        found = await self._webhooks.endpoint(endpoint_id, workspace_id=workspace_id)
        if found is None:
            raise NotFound(f"No webhook endpoint with id {endpoint_id}")
        return found

    async def disable(self, endpoint_id: str, *, workspace_id: int | None) -> Endpoint:
        endpoint = await self.get(endpoint_id, workspace_id=workspace_id)
        return await self._webhooks.set_enabled(
            endpoint, enabled=False, reason="disabled by an operator"
        )

    async def enable(self, endpoint_id: str, *, workspace_id: int | None) -> Endpoint:
        """Delivery resumes where it stopped: nothing queued meanwhile is lost."""
        endpoint = await self.get(endpoint_id, workspace_id=workspace_id)
        return await self._webhooks.set_enabled(endpoint, enabled=True, reason=None)

    async def rotate_secret(
        self,
        endpoint_id: str,
        *,
        workspace_id: int | None,
        grace_seconds: int = DEFAULT_GRACE_SECONDS,
    ) -> NewEndpoint:
        """A new secret signs from now on; the old one signs too for `grace_seconds` (0: stops
        at once), so receivers can switch without refusing a delivery."""
        if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
            raise InvalidRequest(f"grace must be from 0 to {MAX_GRACE_SECONDS} seconds")
        endpoint = await self.get(endpoint_id, workspace_id=workspace_id)
        secret = new_secret()
        until = self._clock.now() + timedelta(seconds=grace_seconds) if grace_seconds else None
        rotated = await self._webhooks.rotate_secret(endpoint, secret=secret, previous_until=until)
        return NewEndpoint(rotated, secret)

    async def deliveries(
        self,
        endpoint_id: str,
        *,
        workspace_id: int | None,
        failed_only: bool = False,
        limit: int = 50,
    ) -> builtins.list[Delivery]:
        if not 1 <= limit <= MAX_DELIVERIES_LISTED:
            raise InvalidRequest(f"limit must be from 1 to {MAX_DELIVERIES_LISTED}")
        endpoint = await self.get(endpoint_id, workspace_id=workspace_id)
        return await self._webhooks.deliveries(endpoint, failed_only=failed_only, limit=limit)

    async def replay(
        self,
        endpoint_id: str,
        *,
        workspace_id: int | None,
        after: int,
        failed_only: bool = False,
    ) -> int:
        """Sends again every change after `after` (or only those whose delivery failed), with
        the webhook-id each had: a receiver that deduplicates must apply them idempotently."""
        if not 0 <= after <= MAX_ID:
            raise InvalidRequest("after must be a change id, 0 or more")
        endpoint = await self.get(endpoint_id, workspace_id=workspace_id)
        return await self._webhooks.replay(
            endpoint, after=after, failed_only=failed_only, at=self._clock.now()
        )

    async def replay_delivery(
        self, endpoint_id: str, *, workspace_id: int | None, change_id: int
    ) -> None:
        """Sends one change again (the dashboard's replay button on a failed delivery)."""
        endpoint = await self.get(endpoint_id, workspace_id=workspace_id)
        if not 0 < change_id <= MAX_ID:
            raise NotFound(f"No delivery of change {change_id} to endpoint {endpoint_id}")
        if not await self._webhooks.replay_one(endpoint, change_id=change_id, at=self._clock.now()):
            raise NotFound(f"No delivery of change {change_id} to endpoint {endpoint_id}")

    async def backlog(self) -> Backlog:
        return await self._webhooks.backlog()
