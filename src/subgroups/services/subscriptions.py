"""Setting and reading subscription states."""

from __future__ import annotations

from collections.abc import Sequence

from subgroups.domain.identifiers import normalise
from subgroups.domain.models import Actor, ProfileView, State, StateChange
from subgroups.domain.reads import IdentifierKind
from subgroups.domain.subscriptions import (
    INVALID_GROUP,
    GroupRequest,
    assignment,
    check_active,
    check_selectable,
    plan,
    requested_group_id,
)
from subgroups.errors import GroupArchived, InvalidRequest, ItemRejected, NotFound
from subgroups.services.ports import Clock, GroupStore, SubscriptionStore


class SubscriptionService:
    def __init__(self, *, groups: GroupStore, store: SubscriptionStore, clock: Clock) -> None:
        self._groups = groups
        self._store = store
        self._clock = clock

    async def set_state(
        self, *, workspace_id: int, request: GroupRequest, actor: Actor
    ) -> list[str]:
        """v1: one group object. Returns the non-fatal notes; raises InvalidRequest."""
        try:
            return await self.set_states(workspace_id=workspace_id, requests=[request], actor=actor)
        except ItemRejected as rejected:
            raise rejected.cause from None

    async def set_states(
        self, *, workspace_id: int, requests: Sequence[GroupRequest], actor: Actor
    ) -> list[str]:
        """Checks every object in order, then applies them all in one transaction.

        Raises ItemRejected for the first object that breaks a rule; nothing is written then.
        """
        wanted = {gid for r in requests if (gid := requested_group_id(r)) is not None}
        groups = await self._groups.find(workspace_id, wanted)
        assignments = []
        for position, request in enumerate(requests):
            try:
                assignments.append(plan(request, groups))
            except InvalidRequest as error:
                raise ItemRejected(position, error) from None
        try:
            return await self._store.apply(
                workspace_id=workspace_id,
                assignments=assignments,
                actor=actor,
                at=self._clock.now(),
            )
        except GroupArchived as archived:
            # Archived since it was read (another process, or a cached group): the refusal
            # still names the first object that uses the group.
            position = next(i for i, a in enumerate(assignments) if a.group.id == archived.group_id)
            raise ItemRejected(position, archived) from None

    async def set_profile_state(
        self,
        *,
        workspace_id: int,
        profile_id: int,
        group_id: str,
        state: State,
        actor: Actor,
    ) -> None:
        """Gives one profile (by its internal id) a state in one group: the dashboard's change.

        The group must exist and not be archived (the same messages as the API), and the change
        is held to the API's rules on identifiers and channels (`check_selectable`), so that the
        dashboard never gives a state the API would refuse, such as a phone-only profile's in an
        email group. Raises NotFound for a profile that is not the workspace's. The change is
        recorded like any other.
        """
        group = (await self._groups.find(workspace_id, [group_id])).get(group_id)
        if group is None:
            raise InvalidRequest(INVALID_GROUP)
        check_active(group)
        # Read before the write, in another transaction: safe, because a profile's identifiers
        # are only ever added, so what may be selected now still may be at the write.
        profile = await self._store.profile(workspace_id, profile_id)
        if profile is None:
            raise NotFound("There is no such profile in this workspace.")
        check_selectable(group, profile)
        change = assignment(group, state, profile_ids=(profile_id,))
        await self._store.apply(
            workspace_id=workspace_id, assignments=[change], actor=actor, at=self._clock.now()
        )

    async def profiles(
        self, *, workspace_id: int, kind: IdentifierKind, value: str
    ) -> list[ProfileView]:
        return await self._store.profiles(workspace_id, kind, [normalise(kind, value)])

    async def changes(
        self, *, workspace_id: int, after: int | None = None, limit: int | None = None
    ) -> list[StateChange]:
        return await self._store.changes(workspace_id, after=after, limit=limit)
