"""`assignment()`: what a set request decides before anything is read, for both storage backends."""

from __future__ import annotations

import pytest

from subgroups.domain.models import State
from subgroups.domain.subscriptions import (
    GroupRequest,
    assignment,
    check_active,
    contact_conflict_note,
    plan,
)
from subgroups.errors import GroupArchived
from tests.unit.domain.test_subscriptions import GROUPS

EMAIL, SMS = GROUPS["email-g"], GROUPS["sms-g"]
IGNORED_EMAIL = (
    "email was ignored: it is recorded only when exactly one external_id and one email are sent"
)


def test_external_ids_select_and_one_contact_with_one_external_id_is_recorded() -> None:
    a = assignment(EMAIL, State.SUBSCRIBED, external_ids=["u1"], contacts=["a@example.com"])

    assert a.selector == "external_id"
    assert a.selected_by == ("u1",)
    assert a.contact_to_record == "a@example.com"
    assert a.notes == ()
    assert a.creates_by_contact


@pytest.mark.parametrize(
    ("external_ids", "contacts"),
    [(["u1", "u2"], ["a@example.com"]), (["u1"], ["a@example.com", "b@example.com"])],
)
def test_contacts_beside_several_external_ids_or_contacts_are_ignored_with_a_note(
    external_ids: list[str], contacts: list[str]
) -> None:
    a = assignment(EMAIL, State.SUBSCRIBED, external_ids=external_ids, contacts=contacts)

    assert a.selector == "external_id"
    assert a.contact_to_record is None
    assert a.notes == (IGNORED_EMAIL,)


def test_the_note_names_the_channels_contact() -> None:
    a = assignment(SMS, State.SUBSCRIBED, external_ids=["u1", "u2"], contacts=["+14155552671"])

    assert a.contact_column == "phone"
    assert a.notes == (
        "phone was ignored: it is recorded only when exactly one external_id and one phone"
        " are sent",
    )


def test_contacts_alone_select_and_nothing_is_recorded_or_noted() -> None:
    a = assignment(EMAIL, State.UNSUBSCRIBED, contacts=["a@example.com", "b@example.com"])

    assert a.selector == "contact"
    assert a.selected_by == ("a@example.com", "b@example.com")
    assert (a.contact_to_record, a.notes, a.subscribed) == (None, (), False)
    assert a.creates_by_contact


def test_profile_ids_select_exactly_those_profiles_and_create_none() -> None:
    a = assignment(EMAIL, State.SUBSCRIBED, profile_ids=[7])

    assert a.selector == "profile_id"
    assert a.selected_by == (7,)
    assert not a.creates_by_contact


def test_plan_returns_the_assignment_the_request_decides() -> None:
    request = GroupRequest("email-g", "Subscribed", external_id="u1", email="A@Example.com")

    assert plan(request, GROUPS) == assignment(
        EMAIL, State.SUBSCRIBED, external_ids=["u1"], contacts=["a@example.com"]
    )


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (None, []),  # nothing stored: the contact is recorded, silently
        ("a@example.com", []),  # the same contact: nothing to say
        (
            "b@example.com",
            ["external_id 'u1' already has a different email; 'a@example.com' was not recorded"],
        ),
    ],
)
def test_a_stored_contact_is_never_overwritten_and_a_different_one_is_noted(
    stored: str | None, expected: list[str]
) -> None:
    a = assignment(EMAIL, State.SUBSCRIBED, external_ids=["u1"], contacts=["a@example.com"])

    assert contact_conflict_note(a, stored) == expected


def test_without_a_contact_to_record_there_is_no_conflict() -> None:
    a = assignment(EMAIL, State.SUBSCRIBED, external_ids=["u1", "u2"], contacts=["a@example.com"])

    assert contact_conflict_note(a, "b@example.com") == []


def test_an_archived_group_is_refused_with_the_one_message() -> None:
    archived = GROUPS["archived-email"]

    with pytest.raises(GroupArchived) as refused:
        check_active(archived)

    assert refused.value.message == (
        "Subscription group 'archived-email' is archived and cannot be changed"
    )
    check_active(EMAIL)  # an active group passes
