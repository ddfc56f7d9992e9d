"""The read rules of §6 that need no database: combining shared identifiers, choosing the kind, paging."""

from __future__ import annotations

import pytest

from subgroups.domain.models import State
from subgroups.domain.reads import (
    MAX_OFFSET,
    Identifiers,
    combined_status,
    page_bounds,
    parse_as_sent,
)
from subgroups.errors import InvalidRequest


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (set(), "Unknown"),
        ({State.UNSUBSCRIBED}, "Unsubscribed"),
        ({State.SUBSCRIBED}, "Subscribed"),
        ({State.SUBSCRIBED, State.UNSUBSCRIBED}, "Subscribed"),
    ],
)
def test_combined_status(states: set[State], expected: str) -> None:
    assert combined_status(states) == expected


@pytest.mark.parametrize(
    ("identifiers", "selected"),
    [
        (Identifiers(external_id=["u"], email=["a@x.co"], phone=["+1"]), ("external_id", ["u"])),
        (Identifiers(email=["a@x.co"]), ("email", ["a@x.co"])),
        (Identifiers(phone=["+1"]), ("phone", ["+1"])),
        (Identifiers(email=["a@x.co"], phone=["+1"]), None),
        (Identifiers(), None),
    ],
)
def test_external_ids_win_and_emails_with_phones_select_nothing(
    identifiers: Identifiers, selected: tuple[str, list[str]] | None
) -> None:
    assert identifiers.selected() == selected


@pytest.mark.parametrize(
    ("identifiers", "message"),
    [
        (
            Identifiers(email=["a@x.co"], phone=["+1"]),
            "Either an email address or a phone number should be provided, but not both.",
        ),
        (Identifiers(), "One of external_id, email or phone is required"),
    ],
)
def test_require_one_kind_explains_why_there_is_none(
    identifiers: Identifiers, message: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        identifiers.require_one_kind()
    assert raised.value.message == message


@pytest.mark.parametrize(
    ("limit", "offset", "bounds"),
    [
        (None, None, (100, 0)),
        (1, 0, (1, 0)),
        (100, 7, (100, 7)),
        (5, MAX_OFFSET, (5, MAX_OFFSET)),
        (5, MAX_OFFSET + 1, (5, MAX_OFFSET)),
        (5, 10**30, (5, MAX_OFFSET)),
    ],
)
def test_page_bounds(limit: int | None, offset: int | None, bounds: tuple[int, int]) -> None:
    assert page_bounds(limit, offset) == bounds


@pytest.mark.parametrize(
    ("limit", "offset", "message"),
    [
        (0, None, "limit must be a whole number from 1 to 100"),
        (101, None, "limit must be a whole number from 1 to 100"),
        (-1, None, "limit must be a whole number from 1 to 100"),
        (None, -1, "offset must be a whole number, 0 or more"),
    ],
)
def test_page_bounds_refuse_what_is_out_of_them(
    limit: int | None, offset: int | None, message: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        page_bounds(limit, offset)
    assert raised.value.message == message


def test_parse_as_sent_maps_each_value_as_sent_to_its_normal_form() -> None:
    sent = parse_as_sent("email", [" Ada@Example.com", "ada@example.com"], "email")

    assert sent == {" Ada@Example.com": "ada@example.com", "ada@example.com": "ada@example.com"}


def test_parse_as_sent_counts_distinct_values_against_the_cap() -> None:
    assert parse_as_sent("phone", ["+14155552671"] * 60, "phone") == {
        "+14155552671": "+14155552671"
    }
    with pytest.raises(InvalidRequest) as raised:
        parse_as_sent("external_id", [str(n) for n in range(51)], "external_id")
    assert raised.value.message == (
        "The max number of external_ids and aliases per request was exceeded"
    )
