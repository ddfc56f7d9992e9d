"""The person's own say (contract §11): their unsubscribe and preference pages, and their data
(export, erasure, and the suppression entries an erasure leaves)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from subgroups.domain.identifiers import normalise
from subgroups.domain.links import Claim, LinkKind, form_token, form_token_matches, sign
from subgroups.domain.models import (
    Actor,
    Group,
    ProfileView,
    State,
    StateChange,
    Workspace,
)
from subgroups.domain.person import (
    Branding,
    SuppressionEntry,
    branding,
    contact_hash,
    person_assignment,
    person_groups,
    refusing_entry,
    suppression_entries,
)
from subgroups.domain.reads import IdentifierKind
from subgroups.domain.subscriptions import Assignment, can_select
from subgroups.errors import InvalidRequest, NotFound
from subgroups.services.links import NOT_A_LINK, SECRET_BYTES, LinkService, VerifiedLink
from subgroups.services.ports import (
    Clock,
    GroupStore,
    LinkStore,
    PersonDataStore,
    ReportStore,
    SubscriptionStore,
    WorkspaceStore,
)

FORM_EXPIRED = "This form has expired. Open the page from your link again and save once more."


@dataclass(frozen=True, slots=True)
class PersonPage:
    """What the person's pages show: whose they are, how the workspace presents itself, the
    groups on offer with the person's state in each, and the form's anti-forgery token."""

    workspace: Workspace
    branding: Branding
    profile: ProfileView
    groups: list[Group]
    states: dict[str, State]
    form_token: str
    preferences_token: str
    group: Group | None = None  # the unsubscribe link's group
    can_leave: bool = False  # whether that group can be left (active, and the person in reach)


@dataclass(frozen=True, slots=True)
class PersonExport:
    """Everything held about one profile: itself, its states, every record, and the opt-outs of
    erased profiles that had one of its addresses."""

    profile: ProfileView
    changes: list[StateChange]
    earlier_opt_outs: list[SuppressionEntry]


class PersonService:
    def __init__(
        self,
        *,
        links: LinkService,
        link_store: LinkStore,
        data: PersonDataStore,
        workspaces: WorkspaceStore,
        groups: GroupStore,
        subscriptions: SubscriptionStore,
        reports: ReportStore,
        clock: Clock,
        random: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self._links = links
        self._link_store = link_store
        self._data = data
        self._workspaces = workspaces
        self._groups = groups
        self._subscriptions = subscriptions
        self._reports = reports
        self._clock = clock
        self._random = random

    # The pages.

    async def unsubscribe_page(self, token: str) -> PersonPage:
        """The one-click link's page; NotFound for a link that is not valid."""
        link = await self._links.verify(token, LinkKind.UNSUBSCRIBE)
        page = await self._page(token, link)
        all_groups = await self._groups.list(link.claim.workspace_id)
        group = next((g for g in all_groups if g.pk == link.claim.group_pk), None)
        if group is None:
            raise NotFound(NOT_A_LINK)
        # A group archived since the link was minted keeps its states: there is nothing to leave.
        can_leave = group.archived_at is None and can_select(group, page.profile)
        return replace(page, group=group, can_leave=can_leave)

    async def one_click(self, token: str, actor: Actor) -> PersonPage:
        """RFC 8058: leaves the link's group (from any state, unknown included). Repeating it
        changes nothing more."""
        page = await self.unsubscribe_page(token)
        if page.group is not None and page.can_leave:
            leave = person_assignment(page.group, State.UNSUBSCRIBED, page.profile)
            await self._apply(page, [leave], actor)
            return await self.unsubscribe_page(token)
        return page

    async def preferences(self, token: str) -> PersonPage:
        link = await self._links.verify(token, LinkKind.PREFERENCES)
        return await self._page(token, link)

    async def save_preferences(
        self,
        token: str,
        *,
        form_token: str,
        subscribed: Collection[str],
        leave_all: bool,
        actor: Actor,
    ) -> PersonPage:
        """Applies the form in one transaction: each offered group checked is joined, each
        unchecked one the person is subscribed to is left (`leave_all`: every offered group is
        left, states unknown until now included). `actor` carries the reason, recorded on the
        groups left."""
        link = await self._links.verify(token, LinkKind.PREFERENCES)
        if not form_token_matches(form_token, token, link.secret):
            raise InvalidRequest(FORM_EXPIRED)
        page = await self._page(token, link)
        changes = []
        for group in page.groups:
            current = page.states.get(group.id)
            if not leave_all and group.id in subscribed:
                if current is not State.SUBSCRIBED:
                    changes.append(person_assignment(group, State.SUBSCRIBED, page.profile))
            elif current is State.SUBSCRIBED or (leave_all and current is None):
                changes.append(person_assignment(group, State.UNSUBSCRIBED, page.profile))
        await self._apply(page, changes, actor)
        return await self._page(token, link)

    async def _apply(
        self, page: PersonPage, assignments: Sequence[Assignment], actor: Actor
    ) -> None:
        """All of them in one transaction. The actor's reason is recorded on the groups left
        only (see change_records.request_values)."""
        if assignments:
            await self._subscriptions.apply(
                workspace_id=page.workspace.id,
                assignments=assignments,
                actor=actor,
                at=self._clock.now(),
            )

    async def _page(self, token: str, link: VerifiedLink) -> PersonPage:
        claim = link.claim
        workspace = await self._workspaces.get(claim.workspace_id)
        profile = await self._subscriptions.profile(claim.workspace_id, claim.profile_id)
        if workspace is None or profile is None or _erased(profile):
            raise NotFound(NOT_A_LINK)
        groups = person_groups(await self._groups.list(workspace.id), profile)
        return PersonPage(
            workspace=workspace,
            branding=await self._link_store.branding(workspace.id),
            profile=profile,
            groups=groups,
            states={s.group_id: s.state for s in profile.subscriptions},
            form_token=form_token(token, link.secret),
            preferences_token=sign(
                Claim(LinkKind.PREFERENCES, workspace.id, claim.secret_id, profile.id), link.secret
            ),
        )

    # Branding.

    async def branding(self, *, workspace_id: int) -> Branding:
        return await self._link_store.branding(workspace_id)

    async def set_branding(
        self, *, workspace_id: int, display_name: str | None, accent_color: str | None
    ) -> Branding:
        if await self._workspaces.get(workspace_id) is None:
            raise NotFound(f"No workspace {workspace_id}")
        value = branding(display_name, accent_color)
        await self._link_store.set_branding(workspace_id, value, new_key=self._random(SECRET_BYTES))
        return value

    # The person's data.

    async def export(
        self, *, workspace_id: int, kind: IdentifierKind, value: str
    ) -> list[PersonExport]:
        """Everything held about each profile with this identifier."""
        found = await self._lookup(workspace_id, kind, value)
        changes = await self._reports.profile_changes(workspace_id, [p.id for p in found])
        exports = []
        for profile in found:
            mine = sorted((c for c in changes if c.profile_id == profile.id), key=lambda c: c.id)
            earlier = await self.earlier_opt_outs(workspace_id=workspace_id, profile=profile)
            exports.append(PersonExport(profile, mine, earlier))
        return exports

    async def earlier_opt_outs(
        self, *, workspace_id: int, profile: ProfileView
    ) -> list[SuppressionEntry]:
        """The suppression entries of erased profiles that had this profile's email or phone."""
        hashes = await self.contact_hashes(
            workspace_id=workspace_id, email=profile.email, phone=profile.phone
        )
        return await self._data.suppressions(workspace_id, hashes) if hashes else []

    async def erase(self, *, workspace_id: int, profile_id: int, by: str) -> int:
        """Removes the profile's identifiers from it and its records and keeps its suppression
        entries; records who erased it and when. The number of entries kept; NotFound if the
        workspace has no such profile (or it was erased already)."""
        profile = await self._subscriptions.profile(workspace_id, profile_id)
        if profile is None or _erased(profile):
            raise NotFound("There is no such profile in this workspace.")
        changes = await self._reports.profile_changes(workspace_id, [profile_id])
        key = await self._link_store.suppression_key(
            workspace_id, new_key=self._random(SECRET_BYTES)
        )
        assert key is not None  # made now if there was none
        now = self._clock.now()
        entries = suppression_entries(key, profile, changes, erased_at=now)
        if not await self._data.erase(workspace_id, profile_id, entries=entries, at=now, by=by):
            raise NotFound("There is no such profile in this workspace.")
        return len(entries)

    async def erase_matching(
        self, *, workspace_id: int, kind: IdentifierKind, value: str, by: str
    ) -> list[tuple[int, int]]:
        """Erases every profile with this identifier: (profile id, entries kept) for each."""
        found = await self._lookup(workspace_id, kind, value)
        if not found:
            raise NotFound(f"No profile matches {kind} '{value}'")
        return [
            (p.id, await self.erase(workspace_id=workspace_id, profile_id=p.id, by=by))
            for p in found
        ]

    # What an importer consults.

    async def contact_hashes(
        self, *, workspace_id: int, email: str | None = None, phone: str | None = None
    ) -> list[str]:
        """The suppression names of these normalised addresses in the workspace; none while the
        workspace has no suppression key (no one was erased: there is no entry to find)."""
        key = await self._link_store.suppression_key(workspace_id, new_key=None)
        if key is None:
            return []
        return [
            contact_hash(key, kind, value)
            for kind, value in (("email", email), ("phone", phone))
            if value is not None
        ]

    async def refusing_entries(
        self, workspace_id: int, wanted: Sequence[tuple[str, str, str, datetime | None]]
    ) -> list[SuppressionEntry | None]:
        """For each (group id, "email" or "phone", normalised address, consented_at) that would
        subscribe the address: the entry of an erased person that forbids it, or None. One read
        of the key and one of the entries, for a whole batch of an import."""
        key = await self._link_store.suppression_key(workspace_id, new_key=None)
        if key is None or not wanted:
            return [None] * len(wanted)
        hashes = [contact_hash(key, kind, value) for _, kind, value, _ in wanted]
        by_hash: dict[str, list[SuppressionEntry]] = {}
        for entry in await self._data.suppressions(workspace_id, set(hashes)):
            by_hash.setdefault(entry.contact_hash, []).append(entry)
        return [
            refusing_entry(by_hash.get(name, ()), group_id, consented_at)
            for name, (group_id, _, _, consented_at) in zip(hashes, wanted, strict=True)
        ]

    async def suppressed_resubscription(
        self,
        *,
        workspace_id: int,
        group_id: str,
        email: str | None = None,
        phone: str | None = None,
        consented_at: datetime | None = None,
    ) -> SuppressionEntry | None:
        """The suppression entry that forbids subscribing this (normalised) address to the group
        without new consent: an erased person had left it. None when nothing forbids it. A
        `consented_at` (an aware datetime) after the erasure lifts the entry."""
        hashes = await self.contact_hashes(workspace_id=workspace_id, email=email, phone=phone)
        entries = await self._data.suppressions(workspace_id, hashes) if hashes else []
        return refusing_entry(entries, group_id, consented_at)

    async def _lookup(
        self, workspace_id: int, kind: IdentifierKind, value: str
    ) -> list[ProfileView]:
        if await self._workspaces.get(workspace_id) is None:
            raise NotFound(f"No workspace {workspace_id}")
        found = await self._subscriptions.profiles(workspace_id, kind, [normalise(kind, value)])
        return [p for p in found if not _erased(p)]


def _erased(profile: ProfileView) -> bool:
    return profile.external_id is None and profile.email is None and profile.phone is None
