"""What the services need from the outside world. `storage` implements these; tests may fake them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import UTC, date, datetime
from typing import Protocol

from subgroups.domain.exports import StateCells
from subgroups.domain.imports import (
    ImportCounts,
    ImportJob,
    ImportQueue,
    ImportRow,
    ImportStatus,
    RowError,
)
from subgroups.domain.links import LinkSecret
from subgroups.domain.models import (
    Actor,
    ApiKey,
    Channel,
    Group,
    Permission,
    ProfileView,
    Source,
    State,
    StateChange,
    Workspace,
)
from subgroups.domain.operators import Operator, OperatorSession
from subgroups.domain.person import Branding, SuppressionEntry
from subgroups.domain.reads import IdentifierKind, UserPage
from subgroups.domain.reports import GroupSummary, Sizes
from subgroups.domain.subscriptions import Assignment
from subgroups.domain.webhooks import Attempt, Backlog, Delivery, Endpoint, Result


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class WorkspaceStore(Protocol):
    async def create(self, *, name: str, at: datetime) -> Workspace:
        """Raises Conflict if the name is taken."""

    async def list(self) -> list[Workspace]: ...

    async def get(self, workspace_id: int) -> Workspace | None: ...


class KeyStore(Protocol):
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
    ) -> ApiKey: ...

    async def find_by_hash(self, secret_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or not."""

    async def get(self, key_id: int) -> ApiKey | None: ...

    async def list(self, workspace_id: int | None) -> list[ApiKey]: ...

    async def revoke(self, key_id: int, *, at: datetime) -> ApiKey | None:
        """Makes the key stop working at `at`, unless it already stops sooner (a revoked key, or
        one whose rotation grace ends earlier, keeps its end). The key; None if there is none."""

    async def rotate(
        self, key_id: int, *, prefix: str, secret_hash: str, at: datetime, old_stops_at: datetime
    ) -> ApiKey | None:
        """In one transaction: a copy of the key (workspace, name, permissions, allowlist) with this
        secret, created `at`, and the old key made to stop at `old_stops_at` (or sooner, if it
        already would). The new key; None if there is no key `key_id`."""

    async def touch(self, key_id: int, *, at: datetime) -> None:
        """Records that the key was used at `at` (never moving last_used_at backwards)."""


class GroupStore(Protocol):
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
        """Raises Conflict if the id or the name is taken in the workspace."""

    async def find(self, workspace_id: int, group_ids: Collection[str]) -> dict[str, Group]:
        """The groups of this workspace among `group_ids`, by public id."""

    async def list(self, workspace_id: int) -> list[Group]: ...

    async def archive(self, workspace_id: int, group_id: str, *, at: datetime) -> Group | None: ...

    async def update(
        self, workspace_id: int, group_id: str, *, name: str, description: str | None
    ) -> Group | None:
        """Renames and describes the group; None if there is no such group. Raises Conflict if
        the name is another group's."""


class SubscriptionStore(Protocol):
    async def apply(
        self,
        *,
        workspace_id: int,
        assignments: Sequence[Assignment],
        actor: Actor,
        at: datetime,
    ) -> list[str]:
        """Applies every assignment in one transaction, in order, recording each real change.

        Every assignment's group is one the GroupStore found in this workspace. Returns the
        non-fatal notes for the reply's `errors`. Raises GroupArchived (and writes nothing) if a
        group was archived since it was read.
        """

    async def profiles(
        self, workspace_id: int, kind: IdentifierKind, values: Sequence[str]
    ) -> list[ProfileView]:
        """The profiles matching any of `values`, oldest first, with their subscriptions."""

    async def profile(self, workspace_id: int, profile_id: int) -> ProfileView | None:
        """The workspace's profile with this id, with its subscriptions; None if there is none."""

    async def changes(
        self, workspace_id: int, *, after: int | None, limit: int | None
    ) -> list[StateChange]:
        """State changes of the workspace with id > `after`, oldest first."""


class ChangeFeed(Protocol):
    """The state-change records as the pull feed and webhooks hand them out (contract §9)."""

    async def changes(self, workspace_id: int, *, after: int, limit: int) -> list[StateChange]:
        """Records of the workspace with id > `after`, ascending, at most `limit`, and only those
        below which no record can still appear: a reader that continues after the last one it
        got never misses a record that commits later."""


class WebhookStore(Protocol):
    """Webhook endpoints and their deliveries, as operators manage them. An endpoint read here
    carries no secrets (`secrets` is empty): only the dispatcher opens them."""

    async def create_endpoint(
        self,
        *,
        workspace_id: int,
        endpoint_id: str,
        url: str,
        events: Sequence[str],
        secret: str,
        at: datetime,
    ) -> Endpoint:
        """A new, enabled endpoint that receives the workspace's changes from now on."""

    async def endpoints(self, workspace_id: int) -> list[Endpoint]: ...

    async def endpoint(self, endpoint_id: str, *, workspace_id: int | None) -> Endpoint | None:
        """The endpoint with this id (in this workspace, unless None: an admin's command)."""

    async def set_enabled(
        self, endpoint: Endpoint, *, enabled: bool, reason: str | None
    ) -> Endpoint: ...

    async def rotate_secret(
        self, endpoint: Endpoint, *, secret: str, previous_until: datetime | None
    ) -> Endpoint:
        """`secret` signs from now on; the current one also signs until `previous_until`."""

    async def deliveries(
        self, endpoint: Endpoint, *, failed_only: bool, limit: int
    ) -> list[Delivery]:
        """The endpoint's deliveries, newest change first."""

    async def replay(
        self, endpoint: Endpoint, *, after: int, failed_only: bool, at: datetime
    ) -> int:
        """Queues again every change after `after` (or only the failed deliveries among them);
        returns how many deliveries were queued again (changes not yet queued come later)."""

    async def replay_one(self, endpoint: Endpoint, *, change_id: int, at: datetime) -> bool:
        """Queues the delivery of one change again; False if it has none."""

    async def backlog(self) -> Backlog: ...


class WebhookQueue(Protocol):
    """The dispatcher's side of the deliveries. An endpoint is sent to by the one dispatcher
    that holds its lease; each method that changes an endpoint's queue names that owner."""

    async def claim(
        self, *, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[Endpoint]:
        """The endpoints `owner` is to serve now, with their secrets opened (a rotated-out one
        only while its grace lasts): its even share of the enabled endpoints among the
        dispatchers running, at most `limit`, leased to it until `until`. Those it held and
        are not among them stay leased to it (it must `release` them once it stopped sending to
        them); free or expired ones are taken, skipping any another dispatcher is claiming at
        this moment."""

    async def release(self, *, owner: str, endpoints_given_up: Sequence[Endpoint] = ()) -> None:
        """Lets go of these endpoints, or, with none named, of all `owner` holds (a dispatcher
        that stops)."""

    async def enqueue(
        self,
        endpoint: Endpoint,
        *,
        owner: str,
        change_ids: Sequence[int],
        cursor: int,
        at: datetime,
    ) -> int | None:
        """Queues a delivery of each change and moves the endpoint's cursor from
        `endpoint.cursor` to `cursor`, in one transaction. If the cursor has moved meanwhile (a
        replay) or `owner` lost the lease, queues nothing and returns the cursor as it is now
        (None: the lease is lost)."""

    async def due(
        self, endpoint: Endpoint, *, owner: str, now: datetime, limit: int
    ) -> list[tuple[Delivery, StateChange]]:
        """Pending deliveries whose time has come, in change id order, with their changes; none
        once the endpoint is disabled or `owner` no longer holds its lease."""

    async def record(self, endpoint: Endpoint, results: Sequence[Result], *, at: datetime) -> None:
        """Each attempt's result, in one transaction; disables the endpoint if a result says so."""

    async def prune(self, *, before: datetime) -> int:
        """Deletes delivered rows last attempted before `before`; returns how many."""


class WebhookSender(Protocol):
    async def send(self, url: str, *, headers: dict[str, str], body: bytes) -> Attempt:
        """POSTs `body` to `url` and returns what came back, within the time allowed: an error
        (no answer, refused address) is an Attempt without status, never an exception."""

    async def aclose(self) -> None: ...


class StatusReader(Protocol):
    """The read side of subscription state (§6). Reads take no write lock."""

    async def states(
        self, workspace_id: int, group_pk: int, kind: IdentifierKind, values: Collection[str]
    ) -> dict[str, frozenset[State]]:
        """From one consistent snapshot: for each of `values` (normalised), the distinct states
        that the workspace's profiles with that identifier have in the group. A value with no
        state in the group is absent.
        """

    async def user_statuses(
        self,
        workspace_id: int,
        kind: IdentifierKind,
        values: Collection[str],
        *,
        limit: int,
        offset: int,
    ) -> UserPage:
        """The profiles matching any of `values`, oldest first, from `offset`, at most `limit` of
        them, each with its states in every group where it has one (groups oldest first); and
        how many profiles match in all.
        """


class OperatorStore(Protocol):
    """Dashboard users, their sessions (by the SHA-256 of the cookie's token) and failed sign-ins."""

    async def create(self, *, email: str, password_hash: str, at: datetime) -> Operator:
        """Raises Conflict if the email is taken."""

    async def find(self, email: str) -> tuple[Operator, str] | None:
        """The operator with this (lowercase) email and their password hash."""

    async def list(self) -> list[Operator]: ...

    async def set_password_hash(self, operator_id: int, password_hash: str) -> None:
        """Replaces the hash; does not end sessions (see end_sessions)."""

    async def end_sessions(self, operator_id: int) -> None: ...

    async def start_session(
        self,
        *,
        token_hash: str,
        operator: Operator,
        csrf_token: str,
        at: datetime,
        expires_at: datetime,
    ) -> OperatorSession:
        """Also deletes every session that expired before `at`."""

    async def session(self, token_hash: str, *, now: datetime) -> OperatorSession | None:
        """The unexpired session with this token hash."""

    async def end_session(self, token_hash: str) -> None: ...

    async def locked_until(self, email: str, client_ip: str) -> datetime | None:
        """When the lock on this email from this address ends, if it was ever locked."""

    async def count_failure(
        self, email: str, client_ip: str, *, at: datetime, window_start: datetime
    ) -> int:
        """Counts one failed sign-in and returns the failures since the first one that is not
        older than `window_start` (older ones are forgotten, and so is an old lock). Atomic."""

    async def lock(self, email: str, client_ip: str, *, until: datetime) -> None: ...

    async def clear_failures(self, email: str, client_ip: str) -> None: ...


class ReportStore(Protocol):
    """Read-only views for the dashboard."""

    async def summaries(self, workspace_id: int, *, live_from: date) -> list[GroupSummary]:
        """Every group of the workspace with its sizes, oldest group first.

        Days before `live_from` are over: what their changes add up to may be summed once and kept."""

    async def sizes_and_deltas(
        self, group: Group, *, first_day: date, live_from: date
    ) -> tuple[Sizes, dict[date, Sizes]]:
        """The group's sizes now and the net change of each UTC day from `first_day` on.

        Days before `live_from` are over: their changes may be counted once and kept. The sizes
        and the changes from `live_from` on are read from one snapshot, so they agree."""

    async def group_changes(self, group: Group, *, limit: int) -> list[StateChange]:
        """The group's most recent state changes, newest first."""

    async def profile_changes(
        self, workspace_id: int, profile_ids: Collection[int]
    ) -> list[StateChange]:
        """Every state change of these profiles, newest first."""

    async def reason_counts(self, group: Group, *, since: datetime) -> dict[str, int]:
        """How many of the group's records since `since` carry each reason (§11)."""


class LinkStore(Protocol):
    """A workspace's link-signing secrets and its person pages' settings (§11)."""

    async def secret(self, workspace_id: int, *, new_secret: bytes, at: datetime) -> LinkSecret:
        """The workspace's newest secret that is live at `at`; when it has none, `new_secret`
        becomes its first (concurrent callers all get the same one)."""

    async def find_secret(self, workspace_id: int, secret_id: int, *, at: datetime) -> bytes | None:
        """The secret `secret_id` of the workspace if it is still live at `at`."""

    async def rotate(
        self, workspace_id: int, *, new_secret: bytes, at: datetime, retire_at: datetime
    ) -> LinkSecret:
        """In one transaction: `new_secret` becomes the newest secret, and every older one that
        would live longer retires at `retire_at`."""

    async def branding(self, workspace_id: int) -> Branding: ...

    async def set_branding(self, workspace_id: int, value: Branding, *, new_key: bytes) -> None:
        """Stores the branding (`new_key` is the suppression key if the workspace has none)."""

    async def suppression_key(self, workspace_id: int, *, new_key: bytes | None) -> bytes | None:
        """The workspace's suppression key, which never changes. If it has none: `new_key` becomes
        it, or with None, None (a reader has nothing to find without a key)."""


class PersonDataStore(Protocol):
    """Suppression entries and erasures (§11)."""

    async def erase(
        self,
        workspace_id: int,
        profile_id: int,
        *,
        entries: Sequence[SuppressionEntry],
        at: datetime,
        by: str,
    ) -> bool:
        """In one transaction: keeps `entries` (a newer erasure of the same address and group
        replaces an older one), removes the profile's identifiers from it and from every one of
        its records, and records the erasure. False (nothing written) if the workspace has no
        such profile or it was erased already."""

    async def suppressions(
        self, workspace_id: int, contact_hashes: Collection[str]
    ) -> list[SuppressionEntry]:
        """The workspace's entries for these hashed addresses."""


class CounterStore(Protocol):
    """Fixed-window counters (the `limits` library's async storage satisfies this)."""

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Adds `amount` to the counter, starting a window of `expiry` seconds if there was none.
        The new count."""

    async def get(self, key: str) -> int: ...

    async def get_expiry(self, key: str) -> float:
        """When the counter's window ends, in UTC epoch seconds."""


class ImportStore(Protocol):
    """Import jobs (§10): their rows, their files, their error rows, and the batches they apply.

    A job is run by one process at a time, its `owner`, which renews its lease with every batch;
    another process may claim it once the lease is older than `stale_before`."""

    async def create(
        self,
        *,
        workspace_id: int,
        import_id: str,
        file_name: str,
        sha256: str,
        size: int,
        total_rows: int,
        dry_run: bool,
        ignored_columns: Sequence[str],
        owner: str | None,
        content: bytes | bytearray | None,
        at: datetime,
    ) -> ImportJob:
        """A new job: running (by `owner`) or, with no owner, queued for a background worker.
        `content` keeps the file with the job, for imports whose file is not on a disk."""

    async def get(self, workspace_id: int, import_id: str) -> ImportJob | None: ...

    async def recent(self, workspace_id: int, *, limit: int) -> list[ImportJob]:
        """The workspace's newest `limit` jobs, newest first."""

    async def queue(self) -> ImportQueue:
        """The jobs queued or running, in every workspace, and the running ones' progress."""

    async def resumable(self, workspace_id: int, sha256: str) -> ImportJob | None:
        """The newest unfinished import (not a dry run) of the file with this hash."""

    async def claim(
        self, workspace_id: int, import_id: str, *, owner: str, at: datetime, stale_before: datetime
    ) -> bool:
        """Makes `owner` run the unfinished job if nobody holds a lease newer than `stale_before`."""

    async def claim_next(
        self, *, owner: str, at: datetime, stale_before: datetime
    ) -> ImportJob | None:
        """Claims the oldest queued job, or one whose runner stopped renewing its lease, among
        those whose file is kept with them. Claiming counts one attempt (see `attempts`), and
        every batch written starts the count again."""

    async def release(self, workspace_id: int, import_id: str, *, owner: str) -> bool:
        """Lets go of a running job `owner` still holds: it is queued again, with its progress,
        for any process to claim at once. False (nothing changed) if `owner` no longer runs it."""

    async def content(self, workspace_id: int, import_id: str) -> bytearray | None:
        """The file kept with the job, if it was."""

    async def apply(
        self,
        *,
        workspace_id: int,
        import_id: str,
        owner: str,
        rows: Sequence[ImportRow],
        invalid: Sequence[RowError],
        at: datetime,
        dry_run: bool,
        created_before: set[str] | None = None,
    ) -> ImportCounts:
        """Applies one batch in one transaction: its rows' changes and records (source CSV
        Import), its error rows, and the job's progress, which advances by the batch. A dry run
        writes only the progress and the error rows. Raises LeaseLost (writing nothing) if
        `owner` no longer runs the job, GroupArchived if a row's group was archived.
        `created_before`: for a dry run, see `domain.imports.tally`."""

    async def finish(
        self,
        workspace_id: int,
        import_id: str,
        *,
        owner: str,
        status: ImportStatus,
        failure: str | None,
        at: datetime,
    ) -> None:
        """Ends the job (and forgets its kept file)."""

    def errors(self, workspace_id: int, import_id: str) -> AsyncIterator[RowError]:
        """The job's error rows by line, streamed."""


class ExportReader(Protocol):
    """The exports' reads (§10), streamed from one snapshot each, in a stable order."""

    def states(self, workspace_id: int, group_id: str | None) -> AsyncIterator[list[StateCells]]:
        """Every state of the workspace (of one group), by profile, then group, a few thousand
        at a time."""

    def states_as_of(
        self, workspace_id: int, group_id: str | None, at: datetime
    ) -> AsyncIterator[list[StateCells]]:
        """The states as the records stood at `at`: each profile's newest record per group, a
        few thousand at a time."""

    def changes(
        self,
        workspace_id: int,
        *,
        group_id: str | None,
        since: datetime | None,
        until: datetime | None,
        source: Source | None,
    ) -> AsyncIterator[StateChange]:
        """The records, ascending, with since <= occurred_at < until."""


class HistoryReader(Protocol):
    """State as it stood at a moment, from the records (§10, `as_of`)."""

    async def states(
        self,
        workspace_id: int,
        group_id: str,
        kind: IdentifierKind,
        values: Collection[str],
        *,
        at: datetime,
    ) -> dict[str, frozenset[State]]:
        """As StatusReader.states, at `at`: the states the newest records at or before it set."""

    async def user_statuses(
        self,
        workspace_id: int,
        kind: IdentifierKind,
        values: Collection[str],
        *,
        at: datetime,
        limit: int,
        offset: int,
    ) -> UserPage:
        """As StatusReader.user_statuses, at `at`, among the profiles that existed then."""
