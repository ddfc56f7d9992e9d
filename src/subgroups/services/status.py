"""Reading subscription state back: `status/get` and `user/status` (§6)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from subgroups.domain.models import Group, State
from subgroups.domain.reads import (
    IdentifierKind,
    Identifiers,
    StatusLabel,
    UserPage,
    combined_status,
    page_bounds,
    parse_as_sent,
)
from subgroups.domain.subscriptions import INVALID_GROUP, check_identifier_kinds
from subgroups.errors import InvalidRequest
from subgroups.services.ports import GroupStore, StatusReader


class StatusService:
    def __init__(self, *, groups: GroupStore, reader: StatusReader) -> None:
        # The group store may be the cached one: a read needs only the group's pk and channel,
        # which never change, and archived groups are read like any other.
        self._groups = groups
        self._reader = reader

    async def statuses(
        self, *, workspace_id: int, group_id: str | None, identifiers: Identifiers
    ) -> dict[str, StatusLabel]:
        """Each identifier as sent -> its status in the group. Raises InvalidRequest.

        Errors come in the set endpoints' order: group id, unknown group, kinds of identifier,
        then values.
        """
        lookup = await checked_lookup(self._groups, workspace_id, group_id, identifiers)
        if lookup is None:
            return {}
        group, kind, sent = lookup
        states = await self._reader.states(workspace_id, group.pk, kind, set(sent.values()))
        return labelled(sent, states)

    async def user_statuses(
        self,
        *,
        workspace_id: int,
        identifiers: Identifiers,
        limit: int | None = None,
        offset: int | None = None,
    ) -> UserPage:
        """One page of the profiles the identifiers select, with their states. Raises InvalidRequest."""
        page = checked_page(identifiers, limit, offset)
        return await self._reader.user_statuses(
            workspace_id, page.kind, page.values, limit=page.limit, offset=page.offset
        )


async def checked_lookup(
    groups: GroupStore, workspace_id: int, group_id: str | None, identifiers: Identifiers
) -> tuple[Group, IdentifierKind, dict[str, str]] | None:
    """status/get's checks, in the set endpoints' order (group id, unknown group, kinds of
    identifier, then values): the group, the kind looked up and each value as sent -> as
    normalised; None when nothing is to be looked up. Raises InvalidRequest."""
    if not group_id:
        raise InvalidRequest("subscription_group_id is required")
    group = (await groups.find(workspace_id, [group_id])).get(group_id)
    if group is None:
        raise InvalidRequest(INVALID_GROUP)
    # With external ids present, emails and phones are not looked at at all.
    by_external_id = identifiers.external_id is not None
    check_identifier_kinds(
        group,
        has_external_id=by_external_id,
        has_email=not by_external_id and identifiers.email is not None,
        has_phone=not by_external_id and identifiers.phone is not None,
    )
    selected = identifiers.selected()
    if selected is None:  # not after the check above (no kind, or email with phone, raise)
        return None
    kind, values = selected
    return group, kind, parse_as_sent(kind, values, kind) or {}


def labelled(
    sent: dict[str, str], states: Mapping[str, frozenset[State]]
) -> dict[str, StatusLabel]:
    """Each value as sent -> the status of the states found for its normalised form."""
    return {
        value: combined_status(states.get(normalised, frozenset()))
        for value, normalised in sent.items()
    }


@dataclass(frozen=True, slots=True)
class PageRequest:
    kind: IdentifierKind
    values: set[str]
    limit: int
    offset: int


def checked_page(identifiers: Identifiers, limit: int | None, offset: int | None) -> PageRequest:
    """user/status's checks: one kind of identifier, its values normalised, the page's bounds.
    Raises InvalidRequest."""
    kind, values = identifiers.require_one_kind()
    normalised = set((parse_as_sent(kind, values, kind) or {}).values())
    checked_limit, checked_offset = page_bounds(limit, offset)
    return PageRequest(kind, normalised, checked_limit, checked_offset)
