"""Signed links for the person (contract §11): minting them, checking them, rotating their secret."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from subgroups.domain.identifiers import parse_emails, parse_external_ids, parse_phones
from subgroups.domain.links import Claim, LinkKind, LinkSecret, read_claim, sign, verifies
from subgroups.domain.models import Group, ProfileView
from subgroups.domain.reads import IdentifierKind
from subgroups.domain.subscriptions import INVALID_GROUP, check_active, check_identifier_kinds
from subgroups.errors import InvalidRequest, NotFound
from subgroups.services.ports import Clock, GroupStore, LinkStore, SubscriptionStore

SECRET_BYTES = 32
MAX_GRACE_SECONDS = 90 * 24 * 3600
# A link that is not valid (forged, altered, of a retired secret, of a profile that is gone) is
# answered with these words whatever the cause: the answer must not tell the causes apart.
NOT_A_LINK = "This link is not valid. It may have expired, or been copied incompletely."

_PARSERS: dict[IdentifierKind, Callable[[object, str], list[str] | None]] = {
    "external_id": parse_external_ids,
    "email": parse_emails,
    "phone": parse_phones,
}


@dataclass(frozen=True, slots=True)
class PersonLinks:
    """The tokens of one person's links: unsubscribe (None when no group was named) and preferences."""

    unsubscribe: str | None
    preferences: str


@dataclass(frozen=True, slots=True)
class VerifiedLink:
    claim: Claim
    secret: bytes


class LinkService:
    def __init__(
        self,
        *,
        links: LinkStore,
        groups: GroupStore,
        subscriptions: SubscriptionStore,
        clock: Clock,
        random: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self._links = links
        self._groups = groups
        self._subscriptions = subscriptions
        self._clock = clock
        self._random = random

    async def unsubscribe_links(
        self, *, workspace_id: int, group_id: object, identifiers: dict[IdentifierKind, object]
    ) -> PersonLinks:
        """GET /links/unsubscribe: checked in §4's order (group, archived, identifier kinds),
        then the one identifier's value; the person must exist."""
        if not isinstance(group_id, str):
            raise InvalidRequest("subscription_group_id is required")
        group = (await self._groups.find(workspace_id, [group_id])).get(group_id)
        if group is None:
            raise InvalidRequest(INVALID_GROUP)
        check_active(group)
        check_identifier_kinds(
            group,
            has_external_id="external_id" in identifiers,
            has_email="email" in identifiers,
            has_phone="phone" in identifiers,
        )
        if len(identifiers) != 1:
            raise InvalidRequest("Give one of external_id, email or phone, not several")
        [(kind, raw)] = identifiers.items()
        profile = await self._person(workspace_id, kind, raw)
        return await self._tokens(workspace_id, profile, group)

    async def preference_link(self, *, workspace_id: int, external_id: str) -> str:
        """The token of the preference page of the profile with this external id (Braze's
        preference-center URL endpoint)."""
        profile = await self._person(workspace_id, "external_id", external_id)
        return (await self._tokens(workspace_id, profile, None)).preferences

    async def verify(self, token: str, kind: LinkKind) -> VerifiedLink:
        """The link's claim, if the token is one of ours, unaltered, signed by a live secret;
        NotFound (with the same words for every cause) otherwise."""
        claim = read_claim(token, kind)
        if claim is not None:
            secret = await self._links.find_secret(
                claim.workspace_id, claim.secret_id, at=self._clock.now()
            )
            if secret is not None and verifies(token, claim, secret):
                return VerifiedLink(claim, secret)
        raise NotFound(NOT_A_LINK)

    async def rotate(self, *, workspace_id: int, grace_seconds: int) -> LinkSecret:
        """A new secret signs every link from now on; links signed before keep working for
        `grace_seconds`, then stop."""
        if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
            raise InvalidRequest(f"--grace-seconds is 0 to {MAX_GRACE_SECONDS} (90 days)")
        now = self._clock.now()
        return await self._links.rotate(
            workspace_id,
            new_secret=self._random(SECRET_BYTES),
            at=now,
            retire_at=now + timedelta(seconds=grace_seconds),
        )

    async def _person(self, workspace_id: int, kind: IdentifierKind, raw: object) -> ProfileView:
        values = _PARSERS[kind](raw, kind) or []
        if len(values) != 1:
            raise InvalidRequest(f"Give one {kind}")
        found = await self._subscriptions.profiles(workspace_id, kind, values)
        if not found:
            raise InvalidRequest(f"No profile matches {kind} '{values[0]}'")
        # Several profiles may share an email or phone: the oldest stands for them (leaving a
        # group through its link reaches all of them: see domain/person.person_assignment).
        return found[0]

    async def _tokens(
        self, workspace_id: int, profile: ProfileView, group: Group | None
    ) -> PersonLinks:
        secret = await self._links.secret(
            workspace_id, new_secret=self._random(SECRET_BYTES), at=self._clock.now()
        )
        claim = Claim(LinkKind.PREFERENCES, workspace_id, secret.id, profile.id)
        unsubscribe = None
        if group is not None:
            unsubscribe = sign(
                Claim(LinkKind.UNSUBSCRIBE, workspace_id, secret.id, profile.id, group.pk),
                secret.secret,
            )
        return PersonLinks(unsubscribe, sign(claim, secret.secret))
