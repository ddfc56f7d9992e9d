"""Reading subscription state back: `status/get` and `user/status` (§6)."""

from __future__ import annotations

from subgroups.domain.reads import (
    Identifiers,
    StatusLabel,
    UserPage,
    combined_status,
    page_bounds,
    parse_as_sent,
)
from subgroups.domain.subscriptions import INVALID_GROUP, check_identifier_kinds
from subgroups.errors import InvalidRequest
from subgroups.services.ports import StatusReader


class StatusService:
    def __init__(self, *, reader: StatusReader) -> None:
        self._reader = reader

    async def statuses(
        self, *, workspace_id: int, group_id: str | None, identifiers: Identifiers
    ) -> dict[str, StatusLabel]:
        """Each identifier as sent -> its status in the group. Raises InvalidRequest.

        Errors come in the set endpoints' order: group id, unknown group, kinds of identifier,
        then values. The values are parsed before the group is read, so that one snapshot answers
        the request; a bad value is only reported once the group is known to exist.
        """
        if not group_id:
            raise InvalidRequest("subscription_group_id is required")
        selected = identifiers.selected()
        sent: dict[str, str] = {}
        bad_value: InvalidRequest | None = None
        if selected is not None:
            kind, values = selected
            try:
                sent = parse_as_sent(kind, values, kind) or {}
            except InvalidRequest as error:
                bad_value = error
        group, states = await self._reader.group_states(
            workspace_id,
            group_id,
            selected[0] if selected else "external_id",
            set(sent.values()),
        )
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
        if bad_value is not None:
            raise bad_value
        return {
            value: combined_status(states.get(normalised, frozenset()))
            for value, normalised in sent.items()
        }

    async def user_statuses(
        self,
        *,
        workspace_id: int,
        identifiers: Identifiers,
        limit: str | None = None,
        offset: str | None = None,
    ) -> UserPage:
        """One page of the profiles the identifiers select, with their states. Raises InvalidRequest."""
        kind, values = identifiers.require_one_kind()
        normalised = set((parse_as_sent(kind, values, kind) or {}).values())
        checked_limit, checked_offset = page_bounds(limit, offset)
        return await self._reader.user_statuses(
            workspace_id, kind, normalised, limit=checked_limit, offset=checked_offset
        )
