"""The person's rules (contract §11): reasons, branding, whom a change reaches, suppression."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from subgroups.domain.models import (
    Channel,
    Group,
    ProfileView,
    Source,
    State,
    StateChange,
    Subscription,
)
from subgroups.domain.person import (
    REASONS,
    branding,
    contact_hash,
    contrast_with_white,
    person_assignment,
    person_groups,
    reason_of,
    refusing_entry,
    suppression_entries,
)
from subgroups.errors import InvalidRequest

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEY = b"k" * 32


def group(pk: int, channel: Channel = "email", archived: bool = False) -> Group:
    return Group(
        pk,
        1,
        f"g{pk}",
        f"Group {pk}",
        channel,
        None,
        T0,
        T0 if archived else None,
    )


def profile(
    external_id: str | None = "u1",
    email: str | None = "a@example.com",
    phone: str | None = None,
    states: dict[str, State] | None = None,
) -> ProfileView:
    subscriptions = tuple(Subscription(g, s, T0) for g, s in (states or {}).items())
    return ProfileView(7, external_id, email, phone, T0, subscriptions)


def change(group_id: str, new: State, at: datetime, channel: Channel = "email") -> StateChange:
    return StateChange(
        1,
        1,
        7,
        "u1",
        "a@example.com",
        None,
        group_id,
        channel,
        None,
        new,
        at,
        Source.REST_API,
        None,
        None,
        None,
    )


def test_a_reason_is_one_of_the_list_and_words_alone_are_other() -> None:
    assert reason_of("Too many messages", "") == ("Too many messages", None)
    assert reason_of("", "  just   because ") == ("Other", "just because")
    assert reason_of("", "") == (None, None)
    assert reason_of("Other", "x" * 600) == ("Other", "x" * 500)
    with pytest.raises(InvalidRequest):
        reason_of("Because I said so", "")
    assert len(set(REASONS)) == len(REASONS)


def test_branding_refuses_a_colour_white_text_cannot_be_read_on() -> None:
    assert branding(" Acme  News ", "#1A4D8F").display_name == "Acme News"
    assert branding(None, "#1A4D8F").accent_color == "#1a4d8f"
    assert branding("", "").display_name is None
    assert contrast_with_white("#000000") == pytest.approx(21.0)
    assert contrast_with_white("#ffffff") == pytest.approx(1.0)
    for bad in ("#eeeeee", "blue", "#12345", "#12345g"):
        with pytest.raises(InvalidRequest):
            branding(None, bad)
    with pytest.raises(InvalidRequest):
        branding("x" * 101, None)


def test_the_page_offers_active_groups_the_person_can_be_reached_in() -> None:
    email, sms, archived, sms_with_state = (
        group(1),
        group(2, "sms"),
        group(3, archived=True),
        group(4, "sms"),
    )
    person = profile(states={"g4": State.SUBSCRIBED})

    assert person_groups([email, sms, archived, sms_with_state], person) == [email, sms_with_state]


def test_leaving_reaches_everyone_at_the_address_and_joining_only_the_profile() -> None:
    person = profile()
    leave = person_assignment(group(1), State.UNSUBSCRIBED, person)
    join = person_assignment(group(1), State.SUBSCRIBED, person)
    no_address = person_assignment(group(1), State.UNSUBSCRIBED, profile(email=None))

    assert (leave.selector, leave.contacts) == ("contact", ("a@example.com",))
    assert (join.selector, join.profile_ids) == ("profile_id", (7,))
    assert (no_address.selector, no_address.profile_ids) == ("profile_id", (7,))


def test_an_erasure_keeps_each_address_and_group_it_ever_left() -> None:
    person = profile(
        phone="+14155552671", states={"g1": State.SUBSCRIBED, "g2": State.UNSUBSCRIBED}
    )
    history = [
        change("g1", State.SUBSCRIBED, T0),
        change("g1", State.UNSUBSCRIBED, T0 + timedelta(days=1)),
        change("g1", State.SUBSCRIBED, T0 + timedelta(days=2)),
        change("g2", State.UNSUBSCRIBED, T0 + timedelta(days=3)),
        change("g3", State.SUBSCRIBED, T0),
        change("s1", State.UNSUBSCRIBED, T0 + timedelta(days=4), channel="sms"),
    ]
    erased = T0 + timedelta(days=10)

    entries = suppression_entries(KEY, person, history, erased_at=erased)

    email, phone = (
        contact_hash(KEY, "email", "a@example.com"),
        contact_hash(KEY, "phone", "+14155552671"),
    )
    assert [
        (e.contact_hash, e.subscription_group_id, e.state, e.opted_out_at) for e in entries
    ] == [
        (email, "g1", State.SUBSCRIBED, T0 + timedelta(days=1)),
        (email, "g2", State.UNSUBSCRIBED, T0 + timedelta(days=3)),
        (phone, "s1", State.UNSUBSCRIBED, T0 + timedelta(days=4)),
    ]
    assert all(e.erased_at == erased for e in entries)
    assert "a@example.com" not in repr(entries)


def test_an_entry_refuses_resubscription_until_consent_after_the_erasure() -> None:
    erased = T0 + timedelta(days=10)
    entries = suppression_entries(
        KEY,
        profile(states={"g2": State.UNSUBSCRIBED}),
        [change("g2", State.UNSUBSCRIBED, T0)],
        erased_at=erased,
    )

    assert refusing_entry(entries, "g2", None) == entries[0]
    assert refusing_entry(entries, "g2", erased) == entries[0]
    assert refusing_entry(entries, "g2", erased + timedelta(seconds=1)) is None
    assert refusing_entry(entries, "g1", None) is None


def test_an_address_hashes_differently_per_workspace_key_and_kind() -> None:
    assert contact_hash(KEY, "email", "a@x.com") != contact_hash(b"j" * 32, "email", "a@x.com")
    assert contact_hash(KEY, "email", "+1") != contact_hash(KEY, "phone", "+1")
