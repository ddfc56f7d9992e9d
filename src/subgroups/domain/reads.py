"""Reading state back (§6): which identifiers select profiles, how a shared one is answered, paging."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final, Literal

from subgroups.domain.identifiers import (
    _PHONE_FORMATTING,
    TOO_MANY_EXTERNAL_IDS,
    TOO_MANY_IDS,
    _distinct,
    normalise_email,
    normalise_external_id,
    normalise_phone,
    raw_values,
)
from subgroups.domain.models import Channel, State
from subgroups.domain.subscriptions import EMAIL_AND_PHONE
from subgroups.errors import InvalidRequest

StatusLabel = Literal["Subscribed", "Unsubscribed", "Unknown"]
IdentifierKind = Literal["external_id", "email", "phone"]

MAX_LIMIT: Final = 100
# Past the last matching profile every offset gives the same empty page, so a larger one is read as
# this: the largest number both databases can bind.
MAX_OFFSET: Final = 2**63 - 1
IDENTIFIER_REQUIRED: Final = "One of external_id, email or phone is required"
BAD_LIMIT: Final = f"limit must be a whole number from 1 to {MAX_LIMIT}"
BAD_OFFSET: Final = "offset must be a whole number, 0 or more"


# (normalise, the cheap key the 50-value cap counts, the cap's message): as parse_* in identifiers
_RULES: Final[dict[str, tuple[Callable[[str], str], Callable[[str], str], str]]] = {
    "external_id": (normalise_external_id, lambda v: v, TOO_MANY_EXTERNAL_IDS),
    "email": (normalise_email, lambda v: v.strip().lower(), TOO_MANY_IDS),
    "phone": (normalise_phone, lambda v: v.translate(_PHONE_FORMATTING), TOO_MANY_IDS),
}


def parse_as_sent(kind: IdentifierKind, value: object, field: str) -> dict[str, str] | None:
    """Like identifiers.parse_*, with the same checks, but keeps each value as sent, mapped to its
    normal form: the read endpoints answer with the identifiers exactly as the caller wrote them.
    """
    values = raw_values(value, field)
    if values is None:
        return None
    normalise, cheap_key, overflow = _RULES[kind]
    as_sent: dict[str, str] = {}

    def remember(raw: str) -> str:
        as_sent[raw] = normalise(raw)
        return as_sent[raw]

    _distinct(values, remember, cheap_key, overflow)
    return as_sent


def combined_status(states: Collection[State]) -> StatusLabel:
    """The answer for one identifier, given the states in the group of the profiles it names.

    Several profiles may share an email or a phone: Subscribed if any of them is subscribed, else
    Unsubscribed if any has a state, else Unknown (no profile, or none with a state).
    """
    if State.SUBSCRIBED in states:
        return "Subscribed"
    return "Unsubscribed" if states else "Unknown"


@dataclass(frozen=True, slots=True)
class Identifiers:
    """The identifier fields of a read request: each the list of values as sent, None when absent."""

    external_id: list[str] | None = None
    email: list[str] | None = None
    phone: list[str] | None = None

    def selected(self) -> tuple[IdentifierKind, list[str]] | None:
        """The one kind that selects profiles: external ids when present, else emails or phones.

        None when nothing usable was sent: no identifier, or emails together with phones.
        """
        if self.external_id is not None:
            return "external_id", self.external_id
        if self.email is not None and self.phone is not None:
            return None
        if self.email is not None:
            return "email", self.email
        if self.phone is not None:
            return "phone", self.phone
        return None

    def require_one_kind(self) -> tuple[IdentifierKind, list[str]]:
        """`selected()`, or the contract's error when it is None."""
        selected = self.selected()
        if selected is not None:
            return selected
        if self.email is not None and self.phone is not None:
            raise InvalidRequest(EMAIL_AND_PHONE)
        raise InvalidRequest(IDENTIFIER_REQUIRED)


@dataclass(frozen=True, slots=True)
class GroupStatus:
    """A profile's state in one group, as `GET /subscription/user/status` lists it."""

    group_id: str
    name: str
    channel: Channel
    state: State


@dataclass(frozen=True, slots=True)
class UserStatus:
    external_id: str | None
    email: str | None
    phone: str | None
    groups: tuple[GroupStatus, ...]


@dataclass(frozen=True, slots=True)
class UserPage:
    users: list[UserStatus]
    total_count: int


def page_bounds(limit: int | None, offset: int | None) -> tuple[int, int]:
    """`limit` (1-100, default 100) and `offset` (0 or more, default 0), checked."""
    if limit is None:
        limit = MAX_LIMIT
    elif not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(BAD_LIMIT)
    if offset is None:
        return limit, 0
    if offset < 0:
        raise InvalidRequest(BAD_OFFSET)
    return limit, min(offset, MAX_OFFSET)
