"""The rules of a set request (§4 steps 2-9), shared by v1 and v2.

A `GroupRequest` is one group object exactly as received, its values unchecked; `plan()` checks it
against its group, in the contract's order, and returns what to apply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from subgroups.domain.identifiers import parse_emails, parse_external_ids, parse_phones
from subgroups.domain.models import Channel, Group, ProfileView, State
from subgroups.errors import GroupArchived, InvalidRequest

EMAIL_AND_PHONE: Final = (
    "Either an email address or a phone number should be provided, but not both."
)
INVALID_GROUP: Final = "Invalid subscription group ID"
_STATES: Final = {s.value: s for s in State}
ContactColumn = Literal["email", "phone"]


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


Selector = Literal["external_id", "contact", "profile_id"]


@dataclass(frozen=True, slots=True)
class Assignment:
    """A checked group object: give `state` in `group` to the profiles these identifiers select.

    Everything here depends on the request alone, so both storage backends execute the same
    decisions; what depends on stored rows (which profiles exist, the contact a profile already
    has) is left to the write path, with `contact_conflict_note` for its wording. Build one with
    `assignment()`.

    - `selector`: which identifiers select the profiles. Profile ids (the dashboard's way) select
      exactly those profiles and create none; else external ids, when sent, select (and create)
      profiles by external id, and the contacts only annotate them; else the contacts select (and
      create) profiles by email or phone.
    - `contacts` are emails for an email group and phones for an SMS group, normalised.
    - `contact_to_record`: with exactly one external id and one contact, that contact is stored on
      the profile, but only if the profile has none of that kind yet (a stored contact is never
      overwritten: `contact_conflict_note` says so instead). None otherwise.
    - `notes`: the non-fatal notes the request earns whatever is stored.
    - `consented_at`, `consent_source`: the consent an imported row vouches for (§10), recorded
      with its changes; None for every other kind of change.
    """

    group: Group
    state: State
    selector: Selector
    external_ids: tuple[str, ...]
    contacts: tuple[str, ...]
    profile_ids: tuple[int, ...]
    contact_to_record: str | None
    notes: tuple[str, ...]
    consented_at: datetime | None = None
    consent_source: str | None = None

    @property
    def contact_column(self) -> ContactColumn:
        """The profile column the group's channel reaches people at."""
        return contact_column(self.group.channel)

    @property
    def subscribed(self) -> bool:
        return self.state is State.SUBSCRIBED

    @property
    def selected_by(self) -> tuple[str, ...] | tuple[int, ...]:
        """The values of the selecting identifiers."""
        if self.selector == "profile_id":
            return self.profile_ids
        return self.external_ids if self.selector == "external_id" else self.contacts

    @property
    def creates_by_contact(self) -> bool:
        """Whether profiles may be created or changed by email/phone, which no unique key guards."""
        return bool(self.contacts) and self.selector != "profile_id"


def assignment(
    group: Group,
    state: State,
    *,
    external_ids: Sequence[str] = (),
    contacts: Sequence[str] = (),
    profile_ids: Sequence[int] = (),
) -> Assignment:
    """The assignment of `state` in `group` to the profiles these identifiers select."""
    selector: Selector = (
        "profile_id" if profile_ids else "external_id" if external_ids else "contact"
    )
    single = len(external_ids) == 1 and len(contacts) == 1 and selector == "external_id"
    notes: tuple[str, ...] = ()
    if selector == "external_id" and contacts and not single:
        notes = (_ignored_contacts_note(group.channel),)
    return Assignment(
        group=group,
        state=state,
        selector=selector,
        external_ids=tuple(external_ids),
        contacts=tuple(contacts),
        profile_ids=tuple(profile_ids),
        contact_to_record=contacts[0] if single else None,
        notes=notes,
    )


def contact_column(channel: Channel) -> ContactColumn:
    return "email" if channel == "email" else "phone"


def contact_conflict_note(a: Assignment, stored: str | None) -> list[str]:
    """The note for a profile that already has another email (phone) than the one to record."""
    sent = a.contact_to_record
    if sent is None or stored is None or stored == sent:
        return []
    return [
        f"external_id '{a.external_ids[0]}' already has a different {a.contact_column};"
        f" '{sent}' was not recorded"
    ]


def _ignored_contacts_note(channel: Channel) -> str:
    field = contact_column(channel)
    return (
        f"{field} was ignored: it is recorded only when exactly one external_id and one"
        f" {field} are sent"
    )


def check_active(group: Group) -> None:
    """Raises GroupArchived if the group is archived."""
    if group.archived_at is not None:
        raise GroupArchived(group.id)


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
    check_active(group)
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
    return assignment(group, state, external_ids=external_ids, contacts=contacts)


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


def can_select(group: Group, profile: ProfileView) -> bool:
    """Whether some set request could select `profile` in `group`: by its external id (in any
    group), or by its email in an email group, its phone in an SMS group."""
    contact = profile.email if group.channel == "email" else profile.phone
    return profile.external_id is not None or contact is not None


def check_selectable(group: Group, profile: ProfileView) -> None:
    """Steps 6-8 for a change of one known profile (the dashboard's): what no set request could
    do, the dashboard does not do either, and it is refused with the words the API uses for the
    identifiers the profile has (a phone-only profile and an email group: "Phone numbers cannot
    be used with an email subscription group; use external_id or email")."""
    if can_select(group, profile):
        return
    # The profile has no external id and not the group's kind of contact: at most the other kind,
    # which these steps refuse.
    check_identifier_kinds(
        group,
        has_external_id=False,
        has_email=profile.email is not None,
        has_phone=profile.phone is not None,
    )


def _state(value: object) -> State:
    state = _STATES.get(value.lower()) if isinstance(value, str) else None
    if state is None:
        raise InvalidRequest("subscription_state must be 'subscribed' or 'unsubscribed'")
    return state
