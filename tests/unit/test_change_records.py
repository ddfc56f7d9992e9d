"""The change record's columns come from `tables.state_changes`, and both write paths fill each."""

from __future__ import annotations

from datetime import UTC, datetime

from subgroups.domain.models import Actor, Source, State
from subgroups.domain.subscriptions import assignment
from subgroups.storage import sqlite_subscriptions
from subgroups.storage.change_records import COLUMNS, PER_PROFILE, PER_REQUEST, request_values
from subgroups.storage.postgres_subscriptions import statement
from subgroups.storage.tables import state_changes
from tests.unit.domain.test_subscriptions import GROUPS


def test_the_columns_are_the_tables_own_but_its_key() -> None:
    assert tuple(c.name for c in state_changes.columns if c.name != "id") == COLUMNS
    assert set(PER_PROFILE) | set(PER_REQUEST) == set(COLUMNS)
    assert not set(PER_PROFILE) & set(PER_REQUEST)


def test_the_request_fills_every_shared_column() -> None:
    a = assignment(GROUPS["email-g"], State.SUBSCRIBED, external_ids=["u1"])
    actor = Actor(Source.REST_API, 3, "rid", "203.0.113.7")
    at = datetime(2026, 1, 1, tzinfo=UTC)

    assert set(request_values(1, a, actor, at)) == set(PER_REQUEST)


def test_both_write_paths_insert_every_column_in_the_tables_order() -> None:
    listed = f"INSERT INTO state_changes ({', '.join(COLUMNS)})"

    assert sqlite_subscriptions.INSERT_CHANGE.startswith(listed)
    for selector in ("external_id", "contact", "profile_id"):
        for column in ("email", "phone"):
            assert listed in " ".join(statement(selector, column).split())
