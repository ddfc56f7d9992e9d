"""`plan()`: one group object checked against its group, rule by rule, in the contract's order (§4)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from subgroups.domain.models import Channel, Group, State
from subgroups.domain.subscriptions import EMAIL_AND_PHONE, GroupRequest, plan, requested_group_id
from subgroups.errors import InvalidRequest

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def group(group_id: str, channel: Channel, *, archived: bool = False) -> Group:
    return Group(
        pk=len(group_id),
        workspace_id=1,
        id=group_id,
        name=group_id,
        channel=channel,
        description=None,
        created_at=CREATED,
        archived_at=CREATED if archived else None,
    )


GROUPS = {
    g.id: g
    for g in (
        group("email-g", "email"),
        group("sms-g", "sms"),
        group("archived-email", "email", archived=True),
    )
}


def request(**fields: Any) -> GroupRequest:
    base: dict[str, Any] = {"group_id": "email-g", "state": "subscribed", "external_id": "u"}
    return GroupRequest(**{**base, **fields})


def rejection(req: GroupRequest, groups: dict[str, Group] = GROUPS) -> str:
    with pytest.raises(InvalidRequest) as caught:
        plan(req, groups)
    return caught.value.message


def test_an_email_group_request_becomes_normalised_external_ids_and_emails() -> None:
    assignment = plan(
        request(state="UNSUBSCRIBED", external_id=["u1", "u1", "u2"], email=" A@Example.com"),
        GROUPS,
    )

    assert assignment.group is GROUPS["email-g"]
    assert assignment.state is State.UNSUBSCRIBED
    assert assignment.external_ids == ("u1", "u2")
    assert assignment.contacts == ("a@example.com",)


def test_an_sms_group_request_takes_phones_as_its_contacts() -> None:
    assignment = plan(
        request(group_id="sms-g", external_id=None, phone=["+1 222 333 4444", "+12223334444"]),
        GROUPS,
    )

    assert assignment.state is State.SUBSCRIBED
    assert assignment.external_ids == ()
    assert assignment.contacts == ("+12223334444",)


def test_requested_group_id_is_only_ever_a_string() -> None:
    assert requested_group_id(request(group_id="g")) == "g"
    assert requested_group_id(request(group_id=7)) is None
    assert requested_group_id(request(group_id=None)) is None


# Each breaker breaks exactly one step of §4 for an otherwise valid email-group request.
BREAKERS: dict[int, dict[str, Any]] = {
    2: {"group_id": None},
    3: {"state": "maybe"},
    4: {"group_id": "no-such-group"},
    5: {"group_id": "archived-email"},
    6: {"email": "a@example.com", "phone": "+12223334444"},
    7: {"phone": "+12223334444"},
    8: {"external_id": None},
    9: {"external_id": ""},
}
MESSAGES = {
    2: "subscription_group_id is required",
    3: "subscription_state must be 'subscribed' or 'unsubscribed'",
    4: "Invalid subscription group ID",
    5: "Subscription group 'archived-email' is archived and cannot be changed",
    6: EMAIL_AND_PHONE,
    7: "Phone numbers cannot be used with an email subscription group; use external_id or email",
    8: "One of external_id or email is required",
    9: "external_id must be a non-empty string or a list of non-empty strings",
}


@pytest.mark.parametrize("step", sorted(BREAKERS))
def test_each_breaker_breaks_its_own_step(step: int) -> None:
    assert rejection(request(**BREAKERS[step])) == MESSAGES[step]


def _compatible(steps: frozenset[int]) -> bool:
    """Breakers that set different fields can be applied together."""
    fields = [f for s in steps for f in BREAKERS[s]]
    return len(fields) == len(set(fields))


COMBINATIONS = [
    frozenset(steps)
    for size in range(2, len(BREAKERS) + 1)
    for steps in itertools.combinations(sorted(BREAKERS), size)
    if _compatible(frozenset(steps))
]


def test_the_earliest_broken_step_is_the_one_reported() -> None:
    """Every combination of breakers that can be applied together."""
    assert len(COMBINATIONS) > 50
    for steps in COMBINATIONS:
        fields = {f: v for step in steps for f, v in BREAKERS[step].items()}
        assert rejection(request(**fields)) == MESSAGES[min(steps)], sorted(steps)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"group_id": "sms-g", "email": "a@example.com"},
            "Email addresses cannot be used with an SMS subscription group; use external_id or phone",
        ),
        ({"group_id": "sms-g", "external_id": None}, "One of external_id or phone is required"),
        (
            {"group_id": "sms-g", "phone": "2223334444"},
            "Invalid phone number: '2223334444' (use E.164, for example +14155552671)",
        ),
        ({"email": "nope"}, "Invalid email address: 'nope'"),
        ({"external_id": [], "email": "a@example.com"}, MESSAGES[9]),
        ({"state": None}, MESSAGES[3]),
        ({"state": ["subscribed"]}, MESSAGES[3]),
    ],
)
def test_channel_specific_and_value_rules(fields: dict[str, Any], message: str) -> None:
    assert rejection(request(**fields)) == message


@pytest.mark.parametrize(
    "state", ["subscribed", "Subscribed", "SUBSCRIBED", "unsubscribed", "UnSubscribed"]
)
def test_the_state_is_read_case_insensitively(state: str) -> None:
    assert plan(request(state=state), GROUPS).state is State(state.lower())


def test_only_the_groups_handed_in_are_known() -> None:
    # The service hands plan() the caller's workspace's groups only; any other id is unknown.
    others = {gid: g for gid, g in GROUPS.items() if gid != "sms-g"}

    assert plan(request(group_id="sms-g"), GROUPS).group is GROUPS["sms-g"]
    assert rejection(request(group_id="sms-g"), others) == MESSAGES[4]
