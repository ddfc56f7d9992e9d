"""Exports (§10): their formats, their filters and the lines they are made of."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from subgroups.domain.imports import parse_time
from subgroups.domain.models import Source
from subgroups.errors import InvalidRequest

# The import's columns, so that an export can be imported elsewhere, and when the state was set.
STATE_COLUMNS: Final = (
    "external_id",
    "email",
    "phone",
    "subscription_group_id",
    "subscription_state",
    "updated_at",
)


class ExportFormat(StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"


# One profile's state in one group as an export shows it, in STATE_COLUMNS' order: the
# identifiers, the group's id, the state's name and when it was set (ISO 8601, UTC).
StateCells = tuple[str | None, str | None, str | None, str, str, str]


def iso(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def export_format(value: str | None) -> ExportFormat:
    if value is None:
        return ExportFormat.CSV
    try:
        return ExportFormat(value)
    except ValueError:
        raise InvalidRequest("format must be 'csv' or 'ndjson'") from None


def moment(value: str | None, name: str) -> datetime | None:
    """A filter's date-time (ISO 8601; UTC without an offset); InvalidRequest names it."""
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be an ISO 8601 date-time") from None


def source(value: str | None) -> Source | None:
    if value is None:
        return None
    try:
        return Source(value)
    except ValueError:
        known = ", ".join(f"'{s.value}'" for s in Source)
        raise InvalidRequest(f"source must be one of {known}") from None
