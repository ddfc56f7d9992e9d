"""The person's own say (contract §11): reasons for leaving, page branding, suppression entries.

Everything here is a rule, decided once for every backend: which profiles a person's change
reaches, what an erased address keeps, and when an import may resubscribe such an address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from subgroups.domain.models import Channel, Group, ProfileView, State, StateChange
from subgroups.domain.subscriptions import Assignment, assignment, can_select, contact_column
from subgroups.errors import InvalidRequest

# The reasons a person may give for leaving, as stored and counted. "Other" is for someone whose
# reason is only their own words.
REASONS: Final = (
    "Too many messages",
    "Not relevant to me",
    "I never signed up",
    "I get them elsewhere",
    "Other",
)
MAX_REASON_DETAIL: Final = 500
MAX_USER_AGENT: Final = 512
MAX_DISPLAY_NAME: Final = 100
DEFAULT_ACCENT: Final = "#2456c7"
_HEX_COLOUR: Final = re.compile(r"#[0-9a-f]{6}")
# WCAG 2 AA for normal text: the accent is the background of white button text.
MIN_CONTRAST: Final = 4.5


def reason_of(choice: str, detail: str) -> tuple[str | None, str | None]:
    """The stored (reason, detail) from the form's choice and free text. An unknown choice is
    refused; words without a choice count as "Other"."""
    words = " ".join(detail.split())[:MAX_REASON_DETAIL] or None
    if choice and choice not in REASONS:
        raise InvalidRequest("Choose one of the listed reasons.")
    if not choice:
        return ("Other", words) if words else (None, None)
    return choice, words


@dataclass(frozen=True, slots=True)
class Branding:
    """How the person's pages present a workspace: a name people recognise and an accent colour."""

    display_name: str | None = None
    accent_color: str | None = None

    def name_or(self, fallback: str) -> str:
        return self.display_name or fallback

    @property
    def accent(self) -> str:
        return self.accent_color or DEFAULT_ACCENT


def branding(display_name: str | None, accent_color: str | None) -> Branding:
    """Checked branding: a name of 1-100 characters, a `#rrggbb` colour dark enough for white
    text on it to be readable (contrast at least 4.5:1). None or "" clears a value."""
    name = " ".join((display_name or "").split()) or None
    if name is not None and len(name) > MAX_DISPLAY_NAME:
        raise InvalidRequest(f"A display name is at most {MAX_DISPLAY_NAME} characters")
    colour = (accent_color or "").strip().lower() or None
    if colour is not None:
        if not _HEX_COLOUR.fullmatch(colour):
            raise InvalidRequest("An accent colour is written #rrggbb, for example #2456c7")
        if contrast_with_white(colour) < MIN_CONTRAST:
            raise InvalidRequest(
                f"The accent colour {colour} is too light: white text on it would be hard to read"
                f" (contrast {contrast_with_white(colour):.1f}:1, at least {MIN_CONTRAST}:1 needed)"
            )
    return Branding(name, colour)


def contrast_with_white(colour: str) -> float:
    """WCAG 2's contrast ratio of white on `#rrggbb`."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return 1.05 / (luminance + 0.05)


def person_groups(groups: Iterable[Group], profile: ProfileView) -> list[Group]:
    """The groups a person's page offers: the active ones on a channel the profile has an address
    for, and any other active one the profile has a state in (which it can then leave)."""
    stated = {s.group_id for s in profile.subscriptions}
    return [
        g
        for g in groups
        if g.archived_at is None
        and can_select(g, profile)
        and (g.id in stated or _address(g.channel, profile) is not None)
    ]


def _address(channel: Channel, profile: ProfileView) -> str | None:
    return profile.email if contact_column(channel) == "email" else profile.phone


def person_assignment(group: Group, state: State, profile: ProfileView) -> Assignment:
    """The change a person makes for themselves in `group`.

    Leaving reaches every profile of the workspace with the person's address on the group's
    channel: status/get answers for an address from all of them (§6), and the person asked for
    mail to that address to stop. Joining gives the state to this profile alone."""
    contact = _address(group.channel, profile)
    if state is State.UNSUBSCRIBED and contact is not None:
        return assignment(group, state, contacts=(contact,))
    return assignment(group, state, profile_ids=(profile.id,))


# Suppression entries: what an erasure keeps of an address.


@dataclass(frozen=True, slots=True)
class SuppressionEntry:
    """An erased address's standing in one group: its state at the erasure and its last opt-out."""

    contact_hash: str
    subscription_group_id: str
    channel: Channel
    state: State
    opted_out_at: datetime
    erased_at: datetime


def contact_hash(key: bytes, kind: str, value: str) -> str:
    """The suppression entry's name for a normalised email or phone: HMAC-SHA256 under the
    workspace's suppression key, so an entry cannot be matched to an address without it."""
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def suppression_entries(
    key: bytes, profile: ProfileView, changes: Sequence[StateChange], *, erased_at: datetime
) -> list[SuppressionEntry]:
    """What erasing `profile` keeps: for each of its addresses, each group in which it ever
    opted out, with its state then and the date of its last opt-out."""
    last_out: dict[str, StateChange] = {}
    for change in changes:
        if change.new_state is State.UNSUBSCRIBED:
            kept = last_out.get(change.subscription_group_id)
            if kept is None or change.occurred_at > kept.occurred_at:
                last_out[change.subscription_group_id] = change
    states = {s.group_id: s.state for s in profile.subscriptions}
    addresses = [
        (kind, value)
        for kind, value in (("email", profile.email), ("phone", profile.phone))
        if value is not None
    ]
    return [
        SuppressionEntry(
            contact_hash=contact_hash(key, kind, value),
            subscription_group_id=group_id,
            channel=change.channel,
            state=states.get(group_id, State.UNSUBSCRIBED),
            opted_out_at=change.occurred_at,
            erased_at=erased_at,
        )
        for kind, value in addresses
        for group_id, change in sorted(last_out.items())
        if contact_column(change.channel) == kind
    ]


def refusing_entry(
    entries: Iterable[SuppressionEntry], group_id: str, consented_at: datetime | None
) -> SuppressionEntry | None:
    """The entry that forbids resubscribing an erased address to `group_id`, if one does: the
    address left the group and is still out, and no consent was given after the erasure."""
    for entry in entries:
        if entry.subscription_group_id != group_id or entry.state is not State.UNSUBSCRIBED:
            continue
        if consented_at is None or consented_at <= entry.erased_at:
            return entry
    return None
