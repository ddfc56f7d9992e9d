"""CSV imports (§10): what one row asks, the rule that never resubscribes by accident, and the
counts an import reports.

A row is checked by the set endpoints' own rules (`plan`), so an invalid row gets the message the
API would give; the consent columns are ours. What depends on stored state (who exists, who
unsubscribed when) is the write path's, which reports it per row as a `RowOutcome`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from subgroups.domain.models import Group, State
from subgroups.domain.subscriptions import (
    EMAIL_AND_PHONE,
    INVALID_GROUP,
    Assignment,
    GroupRequest,
    plan,
)
from subgroups.errors import InvalidRequest

IDENTIFIER_COLUMNS: Final = ("external_id", "email", "phone")
COLUMNS: Final = (
    *IDENTIFIER_COLUMNS,
    "subscription_group_id",
    "subscription_state",
    "consented_at",
    "consent_source",
)
MAX_CONSENT_SOURCE: Final = 200

# Which column an error of `plan` is about, by the start of its message (the contract fixes them).
_COLUMN_OF_MESSAGE: Final = (
    ("subscription_group_id", "subscription_group_id"),
    (INVALID_GROUP, "subscription_group_id"),
    ("Subscription group '", "subscription_group_id"),
    ("subscription_state", "subscription_state"),
    (EMAIL_AND_PHONE, "phone"),
    ("Email addresses cannot", "email"),
    ("Invalid email", "email"),
    ("Phone numbers cannot", "phone"),
    ("Invalid phone", "phone"),
    ("One of external_id", "external_id"),
    ("Invalid external_id", "external_id"),
)


@dataclass(frozen=True, slots=True)
class ImportQueue:
    """The imports not yet over, across workspaces (for /metrics): how many wait for a runner,
    how many run, and the rows the running ones have done of the rows their files hold."""

    queued: int
    running: int
    rows_done: int
    rows_total: int


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RowError:
    """An invalid or refused row: `line` is the file line the row starts on (the header is 1)."""

    line: int
    column: str
    value: str
    message: str
    # Refused by a consent rule (counted as refused), rather than invalid.
    refused: bool = False


@dataclass(frozen=True, slots=True)
class ImportRow:
    """A valid row: the assignment it asks for, and the cell that selects its person."""

    line: int
    assignment: Assignment

    @property
    def key(self) -> str:
        """The person the row names, as the write path would find or create them."""
        a = self.assignment
        if a.selector == "external_id":
            return f"external_id:{a.external_ids[0]}"
        return f"{a.contact_column}:{a.contacts[0]}"


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """What the write path did with one valid row: profiles it created, whether a state changed,
    and, when it refused to resubscribe someone, when that person had unsubscribed."""

    line: int
    created: int
    changed: bool
    refused_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class ImportCounts:
    rows: int = 0
    unchanged: int = 0
    refused: int = 0
    invalid: int = 0
    profiles_created: int = 0
    subscribed: int = 0
    unsubscribed: int = 0

    @property
    def applied(self) -> int:
        """Rows that changed a state."""
        return self.subscribed + self.unsubscribed

    def __add__(self, other: ImportCounts) -> ImportCounts:
        return ImportCounts(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


@dataclass(frozen=True, slots=True)
class ImportJob:
    id: str
    workspace_id: int
    file_name: str
    sha256: str
    size: int
    dry_run: bool
    status: ImportStatus
    total_rows: int | None
    counts: ImportCounts
    failure: str | None
    ignored_columns: tuple[str, ...]
    created_at: datetime
    finished_at: datetime | None
    # Takings-up in a row that wrote no batch (see ImportService's MAX_ATTEMPTS).
    attempts: int = 0


def plan_row(
    line: int, cells: Mapping[str, str], groups: Mapping[str, Group], *, now: datetime
) -> ImportRow | RowError:
    """Checks one row (its non-empty cells by column) as the API would, then its consent cells."""
    request = GroupRequest(
        group_id=cells.get("subscription_group_id"),
        state=cells.get("subscription_state"),
        external_id=cells.get("external_id"),
        email=cells.get("email"),
        phone=cells.get("phone"),
    )
    given_at, source = cells.get("consented_at"), cells.get("consent_source")
    try:
        a = plan(request, groups)
        if given_at is None and source is None:  # most files: no consent columns to add
            return ImportRow(line, a)
        consented_at = _consented_at(given_at, now)
        consent_source = _consent_source(source)
    except InvalidRequest as error:
        column = _column_of(error.message)
        return RowError(line, column, cells.get(column, ""), error.message)
    return ImportRow(line, replace(a, consented_at=consented_at, consent_source=consent_source))


def parse_time(value: str) -> datetime:
    """An ISO 8601 date-time (or date) as an aware UTC datetime; without an offset it is UTC.

    Raises ValueError."""
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _consented_at(value: str | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        at = parse_time(value)
    except ValueError:
        raise InvalidRequest("consented_at must be an ISO 8601 date-time") from None
    if at > now:
        raise InvalidRequest("consented_at is later than now: consent cannot come from the future")
    return at


def _consent_source(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_CONSENT_SOURCE:
        raise InvalidRequest(f"consent_source must be at most {MAX_CONSENT_SOURCE} characters")
    return value


def _column_of(message: str) -> str:
    if message.startswith("consent"):
        return message.split(" ", 1)[0]
    return next((c for prefix, c in _COLUMN_OF_MESSAGE if message.startswith(prefix)), "")


def refusal(line: int, value: str, unsubscribed_at: datetime) -> RowError:
    """The error row of a refused resubscription (§10's words)."""
    when = unsubscribed_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return RowError(
        line,
        "subscription_state",
        value,
        f"would resubscribe a person who unsubscribed on {when};"
        " give consented_at later than that to import it",
        refused=True,
    )


def may_resubscribe(consented_at: datetime | None, unsubscribed_at: datetime) -> bool:
    """The rule of §10: an import resubscribes only with consent given after the unsubscribe."""
    return consented_at is not None and consented_at > unsubscribed_at


def tally(
    rows: Sequence[ImportRow],
    outcomes: Sequence[RowOutcome],
    invalid: Sequence[RowError],
    created_before: set[str] | None = None,
) -> tuple[ImportCounts, list[RowError]]:
    """The counts of one batch (valid rows with their outcomes, in the same order, and the
    invalid rows), and its error rows: the invalid rows and the refused ones, by line.

    `created_before`: for a dry run, whose batches are each rolled back, the people that earlier
    batches created; a person created again is not counted twice, and is added to it."""
    refused_invalid = sum(1 for e in invalid if e.refused)
    errors = list(invalid)
    # Counted in plain integers: an ImportCounts per row would cost more than the row's writes.
    refused = unchanged = subscribed = unsubscribed = profiles_created = 0
    for row, outcome in zip(rows, outcomes, strict=True):
        created = outcome.created
        if created and created_before is not None:
            if row.key in created_before:
                created = 0
            else:
                created_before.add(row.key)
        profiles_created += created
        if outcome.refused_since is not None:
            errors.append(refusal(row.line, row.assignment.state.value, outcome.refused_since))
            refused += 1
        elif not outcome.changed:
            unchanged += 1
        elif row.assignment.state is State.SUBSCRIBED:
            subscribed += 1
        else:
            unsubscribed += 1
    errors.sort(key=lambda e: e.line)
    counts = ImportCounts(
        rows=len(rows) + len(invalid),
        unchanged=unchanged,
        refused=refused_invalid + refused,
        invalid=len(invalid) - refused_invalid,
        profiles_created=profiles_created,
        subscribed=subscribed,
        unsubscribed=unsubscribed,
    )
    return counts, errors


def import_document(job: ImportJob) -> dict[str, object]:
    """The job as `GET /imports/{id}` and `subgroups import --json` show it (§10)."""
    c = job.counts
    return {
        "import_id": job.id,
        "status": job.status.value,
        "dry_run": job.dry_run,
        "file_name": job.file_name,
        "total_rows": job.total_rows,
        "rows": c.rows,
        "applied": c.applied,
        "unchanged": c.unchanged,
        "refused": c.refused,
        "invalid": c.invalid,
        "profiles_created": c.profiles_created,
        "subscribed": c.subscribed,
        "unsubscribed": c.unsubscribed,
        "ignored_columns": list(job.ignored_columns),
        "failure": job.failure,
        "message": "success",
    }
