"""Webhooks (contract §9): endpoints, deliveries, and the rules that need no I/O.

What a delivery carries, which URLs may receive one, and when a failed attempt is tried again are
decided here once; storage keeps the queue and the outbound client only sends what it is given.
"""

from __future__ import annotations

import base64
import ipaddress
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit

import orjson

from subgroups.domain.feed import record_document
from subgroups.domain.models import StateChange
from subgroups.errors import InvalidRequest

STATE_CHANGED: Final = "subscription.state_changed"
EVENT_TYPES: Final = (STATE_CHANGED,)

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 (the prefix the standard gives every secret)
# The Standard Webhooks schedule: the waits before the 2nd to the 10th attempt.
DEFAULT_RETRY_SCHEDULE: Final = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
# A wait is drawn from [90%, 110%] of the scheduled one, so that the retries of many deliveries
# that failed together (a receiver's outage) do not all arrive together when it comes back.
JITTER: Final = 0.1
# A receiver's Retry-After is honoured up to a day; a longer one is taken as a day.
MAX_RETRY_AFTER_SECONDS: Final = 86400
DEFAULT_GRACE_SECONDS: Final = 86400
MAX_URL_LENGTH: Final = 2000
# The most of a receiver's answer (or of an error) kept with a delivery.
KEPT_TEXT_BYTES: Final = 1024


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Endpoint:
    workspace_id: int
    id: str
    url: str
    events: tuple[str, ...]
    enabled: bool
    # Why it is disabled: by an operator, or the receiver answered 410 Gone.
    disabled_reason: str | None
    created_at: datetime
    # The secrets that sign now: the current one first, then a rotated-out one during its grace.
    secrets: tuple[str, ...] = field(repr=False, compare=False)
    # When the rotated-out secret stops signing; None when there is none.
    previous_secret_expires_at: datetime | None = None
    # The id of the last state change queued for the endpoint.
    cursor: int = 0


@dataclass(frozen=True, slots=True)
class NewEndpoint:
    """An endpoint as created or as its secret was rotated: the only moment the secret is shown."""

    endpoint: Endpoint
    secret: str


@dataclass(frozen=True, slots=True)
class Delivery:
    workspace_id: int
    endpoint_id: str
    change_id: int
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    response_status: int | None
    latency_ms: int | None
    # The receiver's answer, or why there was none (at most KEPT_TEXT_BYTES).
    detail: str | None

    @property
    def webhook_id(self) -> str:
        return webhook_id(self.endpoint_id, self.change_id)


@dataclass(frozen=True, slots=True)
class Result:
    """An attempt at a delivery, and what becomes of the delivery."""

    change_id: int
    attempts: int
    attempt: Attempt
    outcome: Outcome
    # When the delivery was due: a replay meanwhile makes it due anew, and then wins.
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Backlog:
    """What is waiting to be delivered, over every enabled endpoint."""

    pending: int
    failed: int
    # When the oldest change not yet delivered to an enabled endpoint happened; None: there is none.
    oldest_undelivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt brought back: a status code, or an error where no answer came."""

    status: int | None
    latency_ms: int
    detail: str | None = None
    retry_after: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What becomes of a delivery after an attempt."""

    status: DeliveryStatus
    next_attempt_at: datetime | None
    # The receiver said the endpoint is gone (410): it is disabled, the delivery waits for it.
    disables_endpoint: bool = False


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_id(endpoint_id: str, change_id: int) -> str:
    """One per event and endpoint, the same on every attempt: receivers dedupe on it."""
    return f"msg_{change_id}_{endpoint_id}"


def event_body(change: StateChange) -> bytes:
    """The same on every attempt: `timestamp` is when the change happened (the attempt's own
    time is in the `webhook-timestamp` header)."""
    return orjson.dumps(
        {
            "type": STATE_CHANGED,
            "timestamp": change.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "data": record_document(change),
        }
    )


def check_events(events: Sequence[str]) -> tuple[str, ...]:
    """The event types an endpoint asks for, checked; none named means all."""
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise InvalidRequest(
            f"unknown event type {unknown[0]!r}: the types are {', '.join(EVENT_TYPES)}"
        )
    return tuple(dict.fromkeys(events)) or EVENT_TYPES


def check_url(url: str, *, allow_private: bool) -> str:
    """A URL a delivery may be sent to, as far as it can be told without resolving its host.

    `https` only, unless private addresses are allowed (a receiver on the same machine or network
    is usually plain HTTP); no credentials in it (they would be logged and shown)."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(f"url must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidRequest(f"url {url!r} is not a valid URL") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise InvalidRequest(
            "url must start with https://"
            + ("" if allow_private else " (http:// needs SUBGROUPS_WEBHOOK_ALLOW_PRIVATE=true)")
        )
    if not parts.hostname:
        raise InvalidRequest(f"url {url!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest("url must not hold a user name or password")
    if port == 0:
        raise InvalidRequest(f"url {url!r} has no usable port")
    if not allow_private:
        literal = _ip_literal(parts.hostname)
        if literal is not None and not is_public(literal):
            raise InvalidRequest(private_address_message(parts.hostname, str(literal)))
    return url


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """An address on the public internet: not loopback, private, link-local, multicast, shared
    (carrier-grade NAT), reserved or unspecified, also when written as IPv4 inside IPv6."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def private_address_message(host: str, address: str) -> str:
    return (
        f"url host {host} is at {address}, a loopback, private or link-local address"
        " (allowed only with SUBGROUPS_WEBHOOK_ALLOW_PRIVATE=true)"
    )


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def parse_schedule(text: str) -> tuple[float, ...]:
    """`5,300,1800`: the waits in seconds before each retry; ValueError if it is not that."""
    try:
        waits = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(
            f"must be seconds separated by commas, such as 5,300,1800, not {text!r}"
        ) from None
    if any(not 0 <= wait <= 7 * 86400 for wait in waits):
        raise ValueError("each wait must be from 0 to 604800 seconds")
    return waits


def outcome(
    attempt: Attempt,
    *,
    attempts: int,
    schedule: Sequence[float],
    now: datetime,
    rng: random.Random | None = None,
) -> Outcome:
    """What becomes of a delivery after its `attempts`-th attempt brought `attempt`."""
    if attempt.status is not None and 200 <= attempt.status < 300:
        return Outcome(DeliveryStatus.DELIVERED, None)
    if attempt.status == 410:
        # Nothing is lost: the delivery waits, and goes first when the endpoint is enabled again.
        return Outcome(DeliveryStatus.PENDING, now, disables_endpoint=True)
    if attempts > len(schedule):
        return Outcome(DeliveryStatus.FAILED, None)
    wait = schedule[attempts - 1] * (1 + (rng or random).uniform(-JITTER, JITTER))
    if attempt.status in (429, 503) and attempt.retry_after is not None:
        wait = max(wait, retry_after_seconds(attempt.retry_after, now=now) or 0)
    return Outcome(DeliveryStatus.PENDING, now + timedelta(seconds=wait))


def retry_after_seconds(value: str, *, now: datetime) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now, at most a day."""
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - now).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def kept_text(text: str) -> str:
    """`text` cut to at most KEPT_TEXT_BYTES of UTF-8 (whole characters)."""
    encoded = text.encode()
    if len(encoded) <= KEPT_TEXT_BYTES:
        return text
    return encoded[:KEPT_TEXT_BYTES].decode(errors="ignore")
