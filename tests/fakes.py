"""In-memory stores that satisfy `services/ports.py`, for testing the services' rules in milliseconds.

Like httpx's MockTransport: small and honest, with no patching. Each fake keeps its rows in plain
public attributes that a test may seed or read, and behaves as the SQL store of the same port does:
`tests/unit/services/test_ports.py` holds both to the port's signatures, `tests/test_fakes.py` holds
the fakes to the SQL stores' answers. The fakes execute, they do not decide: what a set request
means arrives decided in each `Assignment` (`domain/subscriptions.py`), as it does for both
databases.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from subgroups.domain.models import (
    Actor,
    ApiKey,
    Channel,
    Group,
    Permission,
    ProfileView,
    State,
    StateChange,
    Subscription,
    Workspace,
)
from subgroups.domain.operators import Operator, OperatorSession
from subgroups.domain.reads import GroupStatus, IdentifierKind, UserPage, UserStatus
from subgroups.domain.subscriptions import Assignment, contact_conflict_note
from subgroups.errors import Conflict, GroupArchived


class FakeWorkspaceStore:
    def __init__(self) -> None:
        self.rows: dict[int, Workspace] = {}

    async def create(self, *, name: str, at: datetime) -> Workspace:
        if any(w.name == name for w in self.rows.values()):
            raise Conflict(f"A workspace named '{name}' already exists")
        workspace = Workspace(len(self.rows) + 1, name, at)
        self.rows[workspace.id] = workspace
        return workspace

    async def list(self) -> list[Workspace]:
        return sorted(self.rows.values(), key=lambda w: w.id)

    async def get(self, workspace_id: int) -> Workspace | None:
        return self.rows.get(workspace_id)


class FakeKeyStore:
    def __init__(self) -> None:
        self.rows: dict[int, ApiKey] = {}

    async def create(
        self,
        *,
        workspace_id: int,
        name: str,
        prefix: str,
        secret_hash: str,
        permissions: frozenset[Permission],
        allowed_ips: Sequence[str],
        at: datetime,
    ) -> ApiKey:
        key = ApiKey(
            id=len(self.rows) + 1,
            workspace_id=workspace_id,
            name=name,
            prefix=prefix,
            permissions=permissions,
            allowed_networks=tuple(ipaddress.ip_network(n) for n in allowed_ips),
            created_at=at,
            revoked_at=None,
            last_used_at=None,
            secret_hash=secret_hash,
        )
        self.rows[key.id] = key
        return key

    async def find_by_hash(self, secret_hash: str) -> ApiKey | None:
        return next((k for k in self.rows.values() if k.secret_hash == secret_hash), None)

    async def get(self, key_id: int) -> ApiKey | None:
        return self.rows.get(key_id)

    async def list(self, workspace_id: int | None) -> list[ApiKey]:
        keys = sorted(self.rows.values(), key=lambda k: k.id)
        return [k for k in keys if workspace_id is None or k.workspace_id == workspace_id]

    async def revoke(self, key_id: int, *, at: datetime) -> ApiKey | None:
        self._stop(key_id, at)
        return self.rows.get(key_id)

    async def rotate(
        self, key_id: int, *, prefix: str, secret_hash: str, at: datetime, old_stops_at: datetime
    ) -> ApiKey | None:
        old = self.rows.get(key_id)
        if old is None:
            return None
        new = replace(
            old,
            id=len(self.rows) + 1,
            prefix=prefix,
            secret_hash=secret_hash,
            created_at=at,
            revoked_at=None,
            last_used_at=None,
        )
        self.rows[new.id] = new
        self._stop(key_id, old_stops_at)
        return new

    async def touch(self, key_id: int, *, at: datetime) -> None:
        key = self.rows.get(key_id)
        if key is not None and (key.last_used_at is None or key.last_used_at < at):
            self.rows[key_id] = replace(key, last_used_at=at)

    def _stop(self, key_id: int, at: datetime) -> None:
        """Makes the key stop working at `at`, unless it already stops sooner."""
        key = self.rows.get(key_id)
        if key is not None and (key.revoked_at is None or key.revoked_at > at):
            self.rows[key_id] = replace(key, revoked_at=at)


class FakeGroupStore:
    def __init__(self) -> None:
        self.rows: dict[int, Group] = {}  # by pk

    def _of(self, workspace_id: int) -> list[Group]:
        return [
            g
            for g in sorted(self.rows.values(), key=lambda g: g.pk)
            if g.workspace_id == workspace_id
        ]

    def _one(self, workspace_id: int, group_id: str) -> Group | None:
        return next((g for g in self._of(workspace_id) if g.id == group_id), None)

    async def create(
        self,
        *,
        workspace_id: int,
        group_id: str,
        name: str,
        channel: Channel,
        description: str | None,
        at: datetime,
    ) -> Group:
        for taken in self._of(workspace_id):
            if taken.id == group_id or taken.name == name:
                what = f"id '{group_id}'" if taken.id == group_id else f"name '{name}'"
                raise Conflict(f"A subscription group with {what} already exists in this workspace")
        group = Group(
            pk=len(self.rows) + 1,
            workspace_id=workspace_id,
            id=group_id,
            name=name,
            channel=channel,
            description=description,
            created_at=at,
            archived_at=None,
        )
        self.rows[group.pk] = group
        return group

    async def find(self, workspace_id: int, group_ids: Collection[str]) -> dict[str, Group]:
        return {g.id: g for g in self._of(workspace_id) if g.id in group_ids}

    async def list(self, workspace_id: int) -> list[Group]:
        return self._of(workspace_id)

    async def archive(self, workspace_id: int, group_id: str, *, at: datetime) -> Group | None:
        group = self._one(workspace_id, group_id)
        if group is not None and group.archived_at is None:
            group = self.rows[group.pk] = replace(group, archived_at=at)
        return group

    async def update(
        self, workspace_id: int, group_id: str, *, name: str, description: str | None
    ) -> Group | None:
        if any(g.name == name and g.id != group_id for g in self._of(workspace_id)):
            raise Conflict(
                f"A subscription group with name '{name}' already exists in this workspace"
            )
        group = self._one(workspace_id, group_id)
        if group is not None:
            group = self.rows[group.pk] = replace(group, name=name, description=description)
        return group


@dataclass
class StoredProfile:
    """A row of `profiles`: mutable, as the write path records a contact on it."""

    id: int
    workspace_id: int
    external_id: str | None
    email: str | None
    phone: str | None
    created_at: datetime

    def contact(self, column: str) -> str | None:
        return self.email if column == "email" else self.phone


@dataclass(frozen=True, slots=True)
class StoredState:
    state: State
    updated_at: datetime


class FakeSubscriptionStore:
    """Profiles, their states (by profile id and group pk) and the change records.

    It knows groups through `groups`, as the SQL stores know them through their table: `apply`
    re-checks archival there, and an assignment whose group that store never held is a test's
    mistake (a KeyError), as it would break a foreign key in the database.
    """

    def __init__(self, groups: FakeGroupStore | None = None) -> None:
        self.groups = groups if groups is not None else FakeGroupStore()
        self.people: dict[int, StoredProfile] = {}
        self.states: dict[tuple[int, int], StoredState] = {}
        self.records: list[StateChange] = []

    def add_profile(
        self,
        workspace_id: int,
        *,
        external_id: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        at: datetime,
    ) -> StoredProfile:
        """A profile with no state, as an import would leave it (the set path always sets one)."""
        profile = StoredProfile(len(self.people) + 1, workspace_id, external_id, email, phone, at)
        self.people[profile.id] = profile
        return profile

    async def apply(
        self,
        *,
        workspace_id: int,
        assignments: Sequence[Assignment],
        actor: Actor,
        at: datetime,
    ) -> list[str]:
        # Everything that can refuse is checked before the first write, so a refusal leaves the
        # store as it was: the one transaction of the SQL stores.
        for pk in sorted({a.group.pk for a in assignments}):
            if self.groups.rows[pk].archived_at is not None:
                raise GroupArchived(self.groups.rows[pk].id)
        notes: list[str] = []
        for a in assignments:
            notes.extend(a.notes)
            targets = self._resolve(workspace_id, a, at, notes)
            self._write_states(workspace_id, a, targets, actor, at)
        return notes

    def _resolve(
        self, workspace_id: int, a: Assignment, at: datetime, notes: list[str]
    ) -> list[StoredProfile]:
        column = a.contact_column
        if a.selector == "profile_id":
            return self.matching(workspace_id, "id", a.profile_ids)
        if a.selector == "contact":
            found = self.matching(workspace_id, column, a.contacts)
            known = {p.contact(column) for p in found}
            new = [c for c in a.contacts if c not in known]
            return found + [self._create(workspace_id, None, column, c, at) for c in new]
        found = self.matching(workspace_id, "external_id", a.external_ids)
        single = a.contact_to_record
        if single is not None and found:
            notes.extend(contact_conflict_note(a, found[0].contact(column)))
            if found[0].contact(column) is None:
                setattr(found[0], column, single)
        known_ids = {p.external_id for p in found}
        new_ids = [x for x in a.external_ids if x not in known_ids]
        return found + [self._create(workspace_id, x, column, single, at) for x in new_ids]

    def matching(
        self, workspace_id: int, column: str, values: Collection[str] | Collection[int]
    ) -> list[StoredProfile]:
        """The workspace's profiles whose `column` is one of `values`, oldest first."""
        return [
            p
            for _, p in sorted(self.people.items())
            if p.workspace_id == workspace_id and getattr(p, column) in values
        ]

    def _create(
        self,
        workspace_id: int,
        external_id: str | None,
        column: str,
        contact: str | None,
        at: datetime,
    ) -> StoredProfile:
        email = contact if column == "email" else None
        phone = contact if column == "phone" else None
        return self.add_profile(
            workspace_id, external_id=external_id, email=email, phone=phone, at=at
        )

    def _write_states(
        self,
        workspace_id: int,
        a: Assignment,
        targets: list[StoredProfile],
        actor: Actor,
        at: datetime,
    ) -> None:
        for profile in sorted(targets, key=lambda p: p.id):
            current = self.states.get((profile.id, a.group.pk))
            if current is not None and current.state is a.state:
                continue
            self.states[(profile.id, a.group.pk)] = StoredState(a.state, at)
            self.records.append(
                StateChange(
                    id=len(self.records) + 1,
                    workspace_id=workspace_id,
                    profile_id=profile.id,
                    external_id=profile.external_id,
                    email=profile.email,
                    phone=profile.phone,
                    subscription_group_id=a.group.id,
                    channel=a.group.channel,
                    old_state=current.state if current is not None else None,
                    new_state=a.state,
                    occurred_at=at,
                    source=actor.source,
                    api_key_id=actor.api_key_id,
                    request_id=actor.request_id,
                    client_ip=actor.client_ip,
                    operator=actor.operator,
                    user_agent=actor.user_agent,
                    reason=actor.reason if a.state is State.UNSUBSCRIBED else None,
                    reason_detail=actor.reason_detail if a.state is State.UNSUBSCRIBED else None,
                    import_id=actor.import_id,
                    consented_at=a.consented_at,
                    consent_source=a.consent_source,
                )
            )

    async def profiles(
        self, workspace_id: int, kind: IdentifierKind, values: Sequence[str]
    ) -> list[ProfileView]:
        return await self._views(self.matching(workspace_id, kind, values))

    async def _views(self, found: list[StoredProfile]) -> list[ProfileView]:
        return [
            ProfileView(
                id=p.id,
                external_id=p.external_id,
                email=p.email,
                phone=p.phone,
                created_at=p.created_at,
                subscriptions=tuple(
                    Subscription(group.id, stored.state, stored.updated_at)
                    for group, stored in self.states_of(p.id)
                ),
            )
            for p in found
        ]

    async def profile(self, workspace_id: int, profile_id: int) -> ProfileView | None:
        found = await self._views(self.matching(workspace_id, "id", [profile_id]))
        return found[0] if found else None

    async def changes(
        self, workspace_id: int, *, after: int | None, limit: int | None
    ) -> list[StateChange]:
        found = [
            c
            for c in self.records
            if c.workspace_id == workspace_id and (after is None or c.id > after)
        ]
        return found[:limit]

    def states_of(self, profile_id: int) -> list[tuple[Group, StoredState]]:
        """The profile's states, with their groups, in group order."""
        return [
            (self.groups.rows[pk], stored)
            for (pid, pk), stored in sorted(self.states.items())
            if pid == profile_id
        ]


class FakeStatusReader:
    """Reads what a FakeSubscriptionStore holds."""

    def __init__(self, store: FakeSubscriptionStore) -> None:
        self.store = store

    async def states(
        self, workspace_id: int, group_pk: int, kind: IdentifierKind, values: Collection[str]
    ) -> dict[str, frozenset[State]]:
        found: dict[str, set[State]] = {}
        for profile in self.store.matching(workspace_id, kind, values):
            stored = self.store.states.get((profile.id, group_pk))
            value = getattr(profile, kind)
            if stored is not None:
                found.setdefault(value, set()).add(stored.state)
        return {value: frozenset(states) for value, states in found.items()}

    async def user_statuses(
        self,
        workspace_id: int,
        kind: IdentifierKind,
        values: Collection[str],
        *,
        limit: int,
        offset: int,
    ) -> UserPage:
        matching = self.store.matching(workspace_id, kind, values)
        return UserPage(
            [
                UserStatus(
                    p.external_id,
                    p.email,
                    p.phone,
                    tuple(
                        GroupStatus(group.id, group.name, group.channel, stored.state)
                        for group, stored in self.store.states_of(p.id)
                    ),
                )
                for p in matching[offset : offset + limit]
            ],
            len(matching),
        )


@dataclass
class FailedSignIns:
    """A row of the failed sign-ins of one email from one address."""

    failures: int
    first_failed_at: datetime
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class StoredSession:
    operator_id: int
    csrf_token: str
    expires_at: datetime


class FakeOperatorStore:
    def __init__(self) -> None:
        self.rows: dict[int, tuple[Operator, str]] = {}  # by id: the operator, its password hash
        self.sessions: dict[str, StoredSession] = {}  # by token hash
        self.failures: dict[tuple[str, str], FailedSignIns] = {}  # by (email, client address)

    async def create(self, *, email: str, password_hash: str, at: datetime) -> Operator:
        if await self.find(email) is not None:
            raise Conflict(f"A dashboard user '{email}' already exists")
        operator = Operator(len(self.rows) + 1, email, at)
        self.rows[operator.id] = (operator, password_hash)
        return operator

    async def find(self, email: str) -> tuple[Operator, str] | None:
        return next((row for row in self.rows.values() if row[0].email == email), None)

    async def list(self) -> list[Operator]:
        return [operator for _, (operator, _) in sorted(self.rows.items())]

    async def set_password_hash(self, operator_id: int, password_hash: str) -> None:
        if operator_id in self.rows:
            self.rows[operator_id] = (self.rows[operator_id][0], password_hash)

    async def end_sessions(self, operator_id: int) -> None:
        self.sessions = {t: s for t, s in self.sessions.items() if s.operator_id != operator_id}

    async def start_session(
        self,
        *,
        token_hash: str,
        operator: Operator,
        csrf_token: str,
        at: datetime,
        expires_at: datetime,
    ) -> OperatorSession:
        self.sessions = {t: s for t, s in self.sessions.items() if s.expires_at >= at}
        self.sessions[token_hash] = StoredSession(operator.id, csrf_token, expires_at)
        return OperatorSession(operator, csrf_token, expires_at)

    async def session(self, token_hash: str, *, now: datetime) -> OperatorSession | None:
        stored = self.sessions.get(token_hash)
        if stored is None or stored.expires_at <= now:
            return None
        return OperatorSession(
            self.rows[stored.operator_id][0], stored.csrf_token, stored.expires_at
        )

    async def end_session(self, token_hash: str) -> None:
        self.sessions.pop(token_hash, None)

    async def locked_until(self, email: str, client_ip: str) -> datetime | None:
        row = self.failures.get((email, client_ip))
        return row.locked_until if row is not None else None

    async def count_failure(
        self, email: str, client_ip: str, *, at: datetime, window_start: datetime
    ) -> int:
        row = self.failures.get((email, client_ip))
        if row is None or row.first_failed_at < window_start:
            row = self.failures[(email, client_ip)] = FailedSignIns(1, at, None)
        else:
            row.failures += 1
        return row.failures

    async def lock(self, email: str, client_ip: str, *, until: datetime) -> None:
        row = self.failures.get((email, client_ip))
        if row is not None:
            row.locked_until = until

    async def clear_failures(self, email: str, client_ip: str) -> None:
        self.failures.pop((email, client_ip), None)


class FakeChangeFeed:
    """The feed over a FakeSubscriptionStore's records: in memory, every record is committed in id
    order, as on SQLite; `held_back_from` stands for a transaction still in flight, whose id and
    every later one the feed must not hand out yet."""

    def __init__(self, store: FakeSubscriptionStore) -> None:
        self.store = store
        self.held_back_from: int | None = None

    async def changes(self, workspace_id: int, *, after: int, limit: int) -> list[StateChange]:
        found = [
            c
            for c in self.store.records
            if c.workspace_id == workspace_id
            and c.id > after
            and (self.held_back_from is None or c.id < self.held_back_from)
        ]
        return found[:limit]
