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
INVALID_GROUP: Final = "Invalid subscription group ID"
_STATES: Final = {s.value: s for s in State}


@dataclass(frozen=True, slots=True)
class GroupRequest:
    """One group object as received: each value is the raw JSON value, None when absent."""

    group_id: object
    state: object
    external_id: object = None
    email: object = None
    phone: object = None
    # The names the identifier fields were sent under (v2 sends `external_ids`, or the singular
    # alias), so that an error names the field the caller actually wrote.
    external_id_field: str = "external_id"
    email_field: str = "email"
    phone_field: str = "phone"


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
        raise InvalidRequest(INVALID_GROUP)
    if group.archived_at is not None:
        raise InvalidRequest(f"Subscription group '{group_id}' is archived and cannot be changed")
    check_identifier_kinds(
        group,
        has_external_id=request.external_id is not None,
        has_email=request.email is not None,
        has_phone=request.phone is not None,
    )
    external_ids = parse_external_ids(request.external_id, request.external_id_field) or []
    contacts = (
        parse_emails(request.email, request.email_field)
        if group.channel == "email"
        else parse_phones(request.phone, request.phone_field)
    ) or []
    return Assignment(group, state, tuple(external_ids), tuple(contacts))


def check_identifier_kinds(
    group: Group, *, has_external_id: bool, has_email: bool, has_phone: bool
) -> None:
    """Steps 6-8: which kinds of identifier were sent, against the group's channel.

    Shared by the set endpoints and the status lookup.
    """
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
    if not (has_external_id or has_email or has_phone):
        contact = "email" if group.channel == "email" else "phone"
        raise InvalidRequest(f"One of external_id or {contact} is required")


def _state(value: object) -> State:
    state = _STATES.get(value.lower()) if isinstance(value, str) else None
    if state is None:
        raise InvalidRequest("subscription_state must be 'subscribed' or 'unsubscribed'")
    return state
