"""The change record's columns come from `tables.state_changes`, and both write paths fill each."""

from __future__ import annotations

import re
from dataclasses import replace
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


def test_the_request_fills_every_shared_column_in_order() -> None:
    a = assignment(GROUPS["email-g"], State.SUBSCRIBED, external_ids=["u1"])
    actor = Actor(Source.REST_API, 3, "rid", "203.0.113.7")
    at = datetime(2026, 1, 1, tzinfo=UTC)

    values = dict(zip(PER_REQUEST, request_values(1, a, actor, at), strict=True))

    assert values == {
        "workspace_id": 1,
        "subscription_group_id": "email-g",
        "channel": "email",
        "new_state": "subscribed",
        "occurred_at": at,
        "source": "REST API",
        "api_key_id": 3,
        "request_id": "rid",
        "client_ip": "203.0.113.7",
        "operator": None,
        "user_agent": None,
        "reason": None,
        "reason_detail": None,
        "import_id": None,
        "consented_at": None,
        "consent_source": None,
    }


def test_a_reason_is_recorded_on_the_groups_a_person_leaves_only() -> None:
    actor = Actor(Source.PREFERENCE_PAGE, user_agent="UA", reason="Other", reason_detail="words")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    group = GROUPS["email-g"]

    left = dict(
        zip(
            PER_REQUEST,
            request_values(1, assignment(group, State.UNSUBSCRIBED, profile_ids=[1]), actor, at),
            strict=True,
        )
    )
    joined = dict(
        zip(
            PER_REQUEST,
            request_values(1, assignment(group, State.SUBSCRIBED, profile_ids=[1]), actor, at),
            strict=True,
        )
    )

    assert (left["user_agent"], left["reason"], left["reason_detail"]) == ("UA", "Other", "words")
    assert (joined["user_agent"], joined["reason"], joined["reason_detail"]) == ("UA", None, None)


def test_an_imported_row_records_its_import_and_its_consent() -> None:
    consented = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)
    a = replace(
        assignment(GROUPS["email-g"], State.SUBSCRIBED, external_ids=["u1"]),
        consented_at=consented,
        consent_source="signup form",
    )
    actor = Actor(Source.CSV_IMPORT, import_id="imp-1")
    at = datetime(2026, 1, 1, tzinfo=UTC)

    values = dict(zip(PER_REQUEST, request_values(1, a, actor, at), strict=True))

    assert (values["source"], values["import_id"]) == ("CSV Import", "imp-1")
    assert (values["consented_at"], values["consent_source"]) == (consented, "signup form")


def named_columns(sql: str) -> list[str]:
    listed = re.search(r"INSERT INTO state_changes \(([^)]*)\)", " ".join(sql.split()))
    assert listed is not None
    return [c.strip() for c in listed.group(1).split(",")]


def test_both_write_paths_insert_every_column_once() -> None:
    assert sorted(named_columns(sqlite_subscriptions.INSERT_CHANGE)) == sorted(COLUMNS)
    for selector in ("external_id", "contact", "profile_id"):
        for column in ("email", "phone"):
            assert named_columns(statement(selector, column)) == list(COLUMNS)
