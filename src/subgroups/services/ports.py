"""What the services need from the outside world. `storage` implements these; tests may fake them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Literal, Protocol

from subgroups.domain.models import (
    Actor,
    ApiKey,
    Channel,
    Group,
    Permission,
    ProfileView,
    StateChange,
    Workspace,
)
from subgroups.domain.subscriptions import Assignment

IdentifierKind = Literal["external_id", "email", "phone"]


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class WorkspaceStore(Protocol):
    async def create(self, *, name: str, at: datetime) -> Workspace:
        """Raises Conflict if the name is taken."""

    async def list(self) -> list[Workspace]: ...

    async def get(self, workspace_id: int) -> Workspace | None: ...


class KeyStore(Protocol):
    async def create(
        self,
        *,
        workspace_id: int,
        name: str,
        prefix: str,
        secret_hash: str,
        permissions: frozenset[Permission],
        allowed_ips: Sequence[str],
        at: datetime,
    ) -> ApiKey: ...

    async def find_by_hash(self, secret_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or not."""

    async def get(self, key_id: int) -> ApiKey | None: ...

    async def list(self, workspace_id: int | None) -> list[ApiKey]: ...

    async def revoke(self, key_id: int, *, at: datetime) -> ApiKey | None:
        """Revokes the key (once); None if there is no such key."""

    async def rotate(
        self, key_id: int, *, prefix: str, secret_hash: str, at: datetime, old_stops_at: datetime
    ) -> ApiKey | None:
        """In one transaction: a copy of the key (workspace, name, permissions, allowlist) with this
        secret, created `at`, and the old key made to stop at `old_stops_at` (or sooner, if it
        already would). The new key; None if there is no key `key_id`."""

    async def touch(self, key_id: int, *, at: datetime) -> None:
        """Records that the key was used at `at` (never moving last_used_at backwards)."""


class GroupStore(Protocol):
    async def create(
        self,
        *,
        workspace_id: int,
        group_id: str,
        name: str,
        channel: Channel,
        description: str | None,
        at: datetime,
    ) -> Group:
        """Raises Conflict if the id or the name is taken in the workspace."""

    async def find(self, workspace_id: int, group_ids: Collection[str]) -> dict[str, Group]:
        """The groups of this workspace among `group_ids`, by public id."""

    async def list(self, workspace_id: int) -> list[Group]: ...

    async def archive(self, workspace_id: int, group_id: str, *, at: datetime) -> Group | None: ...


class SubscriptionStore(Protocol):
    async def apply(
        self,
        *,
        workspace_id: int,
        assignments: Sequence[Assignment],
        actor: Actor,
        at: datetime,
    ) -> list[str]:
        """Applies every assignment in one transaction, in order, recording each real change.

        Returns the non-fatal notes for the reply's `errors`. Raises InvalidRequest (and writes
        nothing) if a group was archived since it was read.
        """

    async def profiles(
        self, workspace_id: int, kind: IdentifierKind, values: Sequence[str]
    ) -> list[ProfileView]:
        """The profiles matching any of `values`, oldest first, with their subscriptions."""

    async def changes(
        self, workspace_id: int, *, after: int | None, limit: int | None
    ) -> list[StateChange]:
        """State changes of the workspace with id > `after`, oldest first."""


class CounterStore(Protocol):
    """Fixed-window counters (the `limits` library's async storage satisfies this)."""

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Adds `amount` to the counter, starting a window of `expiry` seconds if there was none.
        The new count."""

    async def get(self, key: str) -> int: ...

    async def get_expiry(self, key: str) -> float:
        """When the counter's window ends, in UTC epoch seconds."""
