"""The rules of a set request (§4 steps 2-9), shared by v1 and v2.

A `GroupRequest` is one group object exactly as received, its values unchecked; `plan()` checks it
against its group, in the contract's order, and returns what to apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from subgroups.domain.identifiers import parse_emails, parse_external_ids, parse_phones
from subgroups.domain.models import Group, State
from subgroups.errors import InvalidRequest

EMAIL_AND_PHONE: Final = (
    "Either an email address or a phone number should be provided, but not both."
)
_STATES: Final = {s.value: s for s in State}


@dataclass(frozen=True, slots=True)
class GroupRequest:
    """One group object as received: each value is the raw JSON value, None when absent."""

    group_id: object
    state: object
    external_id: object = None
    email: object = None
    phone: object = None


@dataclass(frozen=True, slots=True)
class Assignment:
    """A checked group object: give `state` in `group` to the profiles these identifiers select.

    `contacts` are emails for an email group and phones for an SMS group, normalised.
    `profile_ids`, when given, select exactly those profiles instead (the dashboard's way).
    """

    group: Group
    state: State
    external_ids: tuple[str, ...]
    contacts: tuple[str, ...]
    profile_ids: tuple[int, ...] = ()


def requested_group_id(request: GroupRequest) -> str | None:
    return request.group_id if isinstance(request.group_id, str) else None


def plan(request: GroupRequest, groups: Mapping[str, Group]) -> Assignment:
    """Check one group object in the contract's order; the first failure is raised."""
    group_id = requested_group_id(request)
    if group_id is None:
        raise InvalidRequest("subscription_group_id is required")
    state = _state(request.state)
    group = groups.get(group_id)
    if group is None:
        raise InvalidRequest("Invalid subscription group ID")
    if group.archived_at is not None:
        raise InvalidRequest(f"Subscription group '{group_id}' is archived and cannot be changed")
    has_email, has_phone = request.email is not None, request.phone is not None
    if has_email and has_phone:
        raise InvalidRequest(EMAIL_AND_PHONE)
    if group.channel == "sms" and has_email:
        raise InvalidRequest(
            "Email addresses cannot be used with an SMS subscription group; use external_id or phone"
        )
    if group.channel == "email" and has_phone:
        raise InvalidRequest(
            "Phone numbers cannot be used with an email subscription group;"
            " use external_id or email"
        )
    if request.external_id is None and not (has_email or has_phone):
        contact = "email" if group.channel == "email" else "phone"
        raise InvalidRequest(f"One of external_id or {contact} is required")
    external_ids = parse_external_ids(request.external_id) or []
    contacts = (
        parse_emails(request.email) if group.channel == "email" else parse_phones(request.phone)
    ) or []
    return Assignment(group, state, tuple(external_ids), tuple(contacts))


def _state(value: object) -> State:
    state = _STATES.get(value.lower()) if isinstance(value, str) else None
    if state is None:
        raise InvalidRequest("subscription_state must be 'subscribed' or 'unsubscribed'")
    return state
