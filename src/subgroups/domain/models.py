"""The things the service keeps, as plain immutable values."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

Channel = Literal["email", "sms"]
CHANNELS: tuple[Channel, ...] = ("email", "sms")


class State(StrEnum):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"

    @property
    def label(self) -> str:
        """How the read endpoints spell it (`Subscribed`)."""
        return self.value.capitalize()


class Source(StrEnum):
    """Where a state change came from (§7), spelled as Braze's Currents spell it."""

    REST_API = "REST API"
    DASHBOARD = "Dashboard"
    CSV_IMPORT = "CSV Import"
    CLI = "CLI"
    # The person's own say (§11): a mail client's one-click unsubscribe, or their preference page.
    ONE_CLICK = "One-Click Unsubscribe"
    PREFERENCE_PAGE = "Preference Page"


class Permission(StrEnum):
    STATUS_SET = "subscription.status.set"
    STATUS_GET = "subscription.status.get"
    GROUPS_GET = "subscription.groups.get"
    CHANGES_GET = "changes.get"
    LINKS_CREATE = "links.create"
    IMPORTS_WRITE = "imports.write"
    EXPORTS_GET = "exports.get"


ALL_PERMISSIONS: frozenset[Permission] = frozenset(Permission)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Workspace:
    id: int
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    workspace_id: int
    name: str
    prefix: str
    permissions: frozenset[Permission]
    allowed_networks: tuple[Network, ...]
    created_at: datetime
    # The moment the key stops working: now for a revoked key, later for one rotated with a grace period.
    revoked_at: datetime | None
    last_used_at: datetime | None
    # SHA-256 of the secret, never the secret; kept out of repr so it stays out of logs.
    secret_hash: str = field(repr=False, compare=False)

    def is_live(self, at: datetime) -> bool:
        return self.revoked_at is None or self.revoked_at > at


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A key as created: the only moment its secret exists outside the caller's hands."""

    key: ApiKey
    secret: str


@dataclass(frozen=True, slots=True)
class Group:
    pk: int
    workspace_id: int
    id: str
    name: str
    channel: Channel
    description: str | None
    created_at: datetime
    archived_at: datetime | None


@dataclass(frozen=True, slots=True)
class Subscription:
    group_id: str
    state: State
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ProfileView:
    id: int
    external_id: str | None
    email: str | None
    phone: str | None
    created_at: datetime
    subscriptions: tuple[Subscription, ...]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who causes a change: recorded on every state change (§7)."""

    source: Source
    api_key_id: int | None = None
    request_id: str | None = None
    client_ip: str | None = None
    # The dashboard user's email, for changes made from the dashboard.
    operator: str | None = None
    # The person's own changes (§11): their browser or mail client, and why they left.
    user_agent: str | None = None
    reason: str | None = None
    reason_detail: str | None = None
    # The import whose rows cause the changes (source CSV Import).
    import_id: str | None = None


@dataclass(frozen=True, slots=True)
class StateChange:
    id: int
    workspace_id: int
    profile_id: int
    external_id: str | None
    email: str | None
    phone: str | None
    subscription_group_id: str
    channel: Channel
    old_state: State | None
    new_state: State
    occurred_at: datetime
    source: Source
    api_key_id: int | None
    request_id: str | None
    client_ip: str | None
    operator: str | None = None
    user_agent: str | None = None
    reason: str | None = None
    reason_detail: str | None = None
    import_id: str | None = None
    consented_at: datetime | None = None
    consent_source: str | None = None
