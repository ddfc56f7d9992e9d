"""POST /subscription/status/set (contract §3, §4), through the real app, on both backends.

Rejections: every rule's message, the order in which the rules are applied, and that a rejected
request writes nothing. Then whom an accepted request changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from subgroups.container import Services
from subgroups.domain.models import Group
from tests.api.helpers import body, post
from tests.factories import Tenant, make_group
from tests.readback import all_profiles, row_counts, states

SUCCESS = {"message": "success"}
EMAIL_AND_PHONE = "Either an email address or a phone number should be provided, but not both."
SMS_EMAIL = (
    "Email addresses cannot be used with an SMS subscription group; use external_id or phone"
)
EMAIL_PHONE = (
    "Phone numbers cannot be used with an email subscription group; use external_id or email"
)
TOO_MANY_EXTERNAL_IDS = "The max number of external_ids and aliases per request was exceeded"
TOO_MANY_IDS = "The max number of ids per request was exceeded"
NO_GROUP = "subscription_group_id is required"
BAD_STATE = "subscription_state must be 'subscribed' or 'unsubscribed'"
UNKNOWN_GROUP = "Invalid subscription group ID"


def archived(group_id: str) -> str:
    return f"Subscription group '{group_id}' is archived and cannot be changed"


def invalid_phone(value: str) -> str:
    return f"Invalid phone number: '{value}' (use E.164, for example +14155552671)"


@dataclass(frozen=True)
class Groups:
    email: Group
    sms: Group
    archived_email: Group
    archived_sms: Group


@pytest.fixture
async def groups(services: Services, tenant: Tenant) -> Groups:
    archived_groups = []
    for channel in ("email", "sms"):
        group = await make_group(services, tenant.workspace.id, channel=channel)
        archived_groups.append(
            await services.groups.archive(workspace_id=tenant.workspace.id, group_id=group.id)
        )
    return Groups(tenant.email_group, tenant.sms_group, *archived_groups)


# A request as a function of the groups, so that parametrised cases can name them before they exist.
Payload = Callable[[Groups], dict[str, Any]]


def email(state: str = "subscribed", **identifiers: Any) -> Payload:
    return lambda g: body(g.email.id, state, **identifiers)


def sms(state: str = "subscribed", **identifiers: Any) -> Payload:
    return lambda g: body(g.sms.id, state, **identifiers)


def raw(**fields: Any) -> Payload:
    return lambda g: fields


async def test_subscribes_a_new_external_id_and_records_the_change(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    response = await post(client, tenant, body(tenant.email_group.id, external_id="user-1"))

    assert response.status_code == 201
    assert response.json() == SUCCESS
    [change] = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert (change.external_id, change.old_state, change.new_state.value) == (
        "user-1",
        None,
        "subscribed",
    )


async def test_setting_the_same_state_again_records_nothing(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    for _ in range(2):
        response = await post(client, tenant, body(tenant.email_group.id, external_id="user-1"))
        assert response.status_code == 201

    changes = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert len(changes) == 1


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("subscribed", "subscribed"),
        ("unsubscribed", "unsubscribed"),
        ("SUBSCRIBED", "subscribed"),
        ("Unsubscribed", "unsubscribed"),
        ("sUbScRiBeD", "subscribed"),
    ],
)
async def test_the_state_is_case_insensitive(
    client: httpx.AsyncClient, tenant: Tenant, services: Services, sent: str, stored: str
) -> None:
    response = await post(client, tenant, body(tenant.email_group.id, sent, external_id="u"))

    assert response.status_code == 201
    assert list((await states(services, tenant.workspace.id)).values()) == [stored]


REJECTIONS: list[tuple[str, Payload, str]] = [
    # step 2
    ("no group id", raw(subscription_state="subscribed", external_id="u"), NO_GROUP),
    ("null group id", raw(subscription_group_id=None, external_id="u"), NO_GROUP),
    ("numeric group id", raw(subscription_group_id=12, subscription_state="subscribed"), NO_GROUP),
    ("list group id", raw(subscription_group_id=["g"], subscription_state="subscribed"), NO_GROUP),
    # step 3
    ("no state", lambda g: {"subscription_group_id": g.email.id, "external_id": "u"}, BAD_STATE),
    ("unknown state", email("maybe", external_id="u"), BAD_STATE),
    ("empty state", email("", external_id="u"), BAD_STATE),
    ("null state", lambda g: {**email(external_id="u")(g), "subscription_state": None}, BAD_STATE),
    (
        "boolean state",
        lambda g: {**email(external_id="u")(g), "subscription_state": True},
        BAD_STATE,
    ),
    ("numeric state", lambda g: {**email(external_id="u")(g), "subscription_state": 1}, BAD_STATE),
    # step 4
    ("unknown group", lambda g: body("no-such-group", external_id="u"), UNKNOWN_GROUP),
    ("empty group id", lambda g: body("", external_id="u"), UNKNOWN_GROUP),
    # step 6
    ("email and phone", email(email="a@example.com", phone="+12223334444"), EMAIL_AND_PHONE),
    (
        "email and phone with an external id",
        sms(external_id="u", email="a@example.com", phone="+12223334444"),
        EMAIL_AND_PHONE,
    ),
    # step 7
    ("email for an SMS group", sms(email="a@example.com"), SMS_EMAIL),
    ("email list for an SMS group", sms(external_id="u", email=["a@example.com"]), SMS_EMAIL),
    ("phone for an email group", email(phone="+12223334444"), EMAIL_PHONE),
    ("phone list for an email group", email(external_id="u", phone=["+12223334444"]), EMAIL_PHONE),
    # step 8
    ("no identifier, email group", email(), "One of external_id or email is required"),
    ("no identifier, SMS group", sms(), "One of external_id or phone is required"),
    (
        "null identifiers",
        email(external_id=None, email=None),
        "One of external_id or email is required",
    ),
    # step 9
    ("invalid email", email(email="not-an-email"), "Invalid email address: 'not-an-email'"),
    (
        "one invalid email among good ones",
        email(email=["good@example.com", "bad@", "fine@example.com"]),
        "Invalid email address: 'bad@'",
    ),
    (
        "email as sent, untrimmed",
        email(external_id="u", email=" no at sign "),
        "Invalid email address: ' no at sign '",
    ),
    ("phone without +", sms(phone="12223334444"), invalid_phone("12223334444")),
    ("formatted phone without +", sms(phone="(222) 333-4444"), invalid_phone("(222) 333-4444")),
    ("too short a phone", sms(phone="+1 222"), invalid_phone("+1 222")),
    ("letters in a phone", sms(phone="+1222333444x"), invalid_phone("+1222333444x")),
    (
        "one invalid phone among good ones",
        sms(phone=["+12223334444", "+0"]),
        invalid_phone("+0"),
    ),
]


async def test_each_rule_answers_with_its_message_and_writes_nothing(
    client: httpx.AsyncClient,
    tenant: Tenant,
    services: Services,
    groups: Groups,
    subtests: pytest.Subtests,
) -> None:
    before = await row_counts(services)
    for name, payload, message in REJECTIONS:
        with subtests.test(msg=name):
            response = await post(client, tenant, payload(groups))

            assert (response.status_code, response.json()) == (400, {"message": message})
            assert await row_counts(services) == before


@pytest.mark.parametrize("channel", ["email", "sms"])
async def test_an_archived_group_cannot_be_changed(
    client: httpx.AsyncClient, tenant: Tenant, services: Services, groups: Groups, channel: str
) -> None:
    group = groups.archived_email if channel == "email" else groups.archived_sms
    before = await row_counts(services)

    response = await post(client, tenant, body(group.id, external_id="u"))

    assert (response.status_code, response.json()) == (400, {"message": archived(group.id)})
    assert await row_counts(services) == before


IDENTIFIER_SHAPES: list[tuple[str, object]] = [
    ("external_id", ""),
    ("external_id", []),
    ("external_id", 42),
    ("external_id", ["u", 42]),
    ("external_id", ["u", ""]),
    ("external_id", ["u", None]),
    ("external_id", {"id": "u"}),
    ("email", ""),
    ("email", []),
    ("email", False),
    ("email", ["a@example.com", ["b@example.com"]]),
]


async def test_an_empty_or_non_string_identifier_is_refused_naming_its_field(
    client: httpx.AsyncClient, tenant: Tenant, services: Services, subtests: pytest.Subtests
) -> None:
    before = await row_counts(services)
    for field, value in IDENTIFIER_SHAPES:
        with subtests.test(msg=f"{field}={value!r}"):
            response = await post(client, tenant, body(tenant.email_group.id, **{field: value}))

            assert response.status_code == 400
            assert response.json()["message"].startswith(f"{field} ")
            assert await row_counts(services) == before


async def test_an_empty_phone_list_is_refused_naming_its_field(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await post(client, tenant, body(tenant.sms_group.id, external_id="u", phone=[]))

    assert response.status_code == 400
    assert response.json()["message"].startswith("phone ")


async def test_an_external_id_over_512_characters_is_refused_and_named(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    too_long = "x" * 513
    before = await row_counts(services)

    response = await post(client, tenant, body(tenant.email_group.id, external_id=["u", too_long]))

    assert response.status_code == 400
    assert response.json()["message"].startswith("Invalid external_id: 'xxxx")
    assert await row_counts(services) == before


async def test_an_external_id_of_512_characters_is_taken_as_given(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    longest = "Ab " * 170 + "Zé"
    assert len(longest) == 512

    response = await post(client, tenant, body(tenant.email_group.id, external_id=longest))

    assert response.status_code == 201
    [profile] = await all_profiles(services, tenant.workspace.id)
    assert profile["external_id"] == longest


# Each case breaks two rules; the earlier rule's message is the answer (§4's order).
ORDER: list[tuple[str, Payload, str]] = [
    ("2 before 3", raw(subscription_state="maybe", external_id="u"), NO_GROUP),
    ("2 before 9", raw(subscription_state="subscribed", email="bad"), NO_GROUP),
    ("3 before 4", lambda g: body("no-such-group", "maybe", external_id="u"), BAD_STATE),
    ("3 before 5", lambda g: body(g.archived_email.id, "maybe", external_id="u"), BAD_STATE),
    ("3 before 8", email("maybe"), BAD_STATE),
    (
        "4 before 6",
        lambda g: body("no-such-group", email="a@example.com", phone="+12223334444"),
        UNKNOWN_GROUP,
    ),
    ("4 before 8", lambda g: body("no-such-group"), UNKNOWN_GROUP),
    ("4 before 9", lambda g: body("no-such-group", external_id=""), UNKNOWN_GROUP),
    (
        "5 before 6",
        lambda g: body(g.archived_sms.id, email="a@example.com", phone="+12223334444"),
        "ARCHIVED_SMS",
    ),
    ("5 before 7", lambda g: body(g.archived_sms.id, email="a@example.com"), "ARCHIVED_SMS"),
    ("5 before 8", lambda g: body(g.archived_email.id), "ARCHIVED_EMAIL"),
    ("5 before 9", lambda g: body(g.archived_email.id, email="bad"), "ARCHIVED_EMAIL"),
    ("6 before 7", sms(email="a@example.com", phone="+12223334444"), EMAIL_AND_PHONE),
    ("6 before 9", email(email="bad", phone="bad"), EMAIL_AND_PHONE),
    ("7 before 9, SMS", sms(email="bad"), SMS_EMAIL),
    ("7 before 9, email", email(phone="12"), EMAIL_PHONE),
    ("7 before 9, external id", email(external_id="", phone="+12223334444"), EMAIL_PHONE),
]


async def test_the_first_broken_rule_in_the_contracts_order_is_the_answer(
    client: httpx.AsyncClient,
    tenant: Tenant,
    services: Services,
    groups: Groups,
    subtests: pytest.Subtests,
) -> None:
    archived_messages = {
        "ARCHIVED_SMS": archived(groups.archived_sms.id),
        "ARCHIVED_EMAIL": archived(groups.archived_email.id),
    }
    before = await row_counts(services)
    for name, payload, message in ORDER:
        with subtests.test(msg=name):
            expected = archived_messages.get(message, message)

            response = await post(client, tenant, payload(groups))

            assert (response.status_code, response.json()) == (400, {"message": expected})
            assert await row_counts(services) == before


async def test_authentication_comes_before_every_field_rule(
    client: httpx.AsyncClient, groups: Groups
) -> None:
    response = await client.post("/subscription/status/set", json=body(groups.archived_email.id))

    assert (response.status_code, response.json()) == (401, {"message": "Invalid API key"})


# --- whom it changes -------------------------------------------------------------------------


async def test_external_ids_select_profiles_and_create_the_missing_ones(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    ws, group = tenant.workspace.id, tenant.email_group.id
    await post(client, tenant, body(group, external_id="u1"))

    response = await post(
        client, tenant, body(group, "unsubscribed", external_id=["u1", "U1", "u2"])
    )

    assert (response.status_code, response.json()) == (201, SUCCESS)
    profiles = await all_profiles(services, ws)
    assert [(p["external_id"], p["email"], p["phone"]) for p in profiles] == [
        ("u1", None, None),
        ("U1", None, None),
        ("u2", None, None),
    ]
    assert await states(services, ws) == {(p["id"], group): "unsubscribed" for p in profiles}


async def test_one_external_id_and_one_email_create_a_profile_holding_both(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    response = await post(
        client, tenant, body(tenant.email_group.id, external_id="u1", email=" Person@Example.COM ")
    )

    assert (response.status_code, response.json()) == (201, SUCCESS)
    [profile] = await all_profiles(services, tenant.workspace.id)
    assert (profile["external_id"], profile["email"]) == ("u1", "person@example.com")


async def test_one_external_id_and_one_email_record_the_email_when_the_profile_has_none(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    group = tenant.email_group.id
    await post(client, tenant, body(group, external_id="u1"))

    response = await post(
        client, tenant, body(group, "unsubscribed", external_id=["u1"], email=["a@example.com"])
    )

    assert (response.status_code, response.json()) == (201, SUCCESS)
    [profile] = await all_profiles(services, tenant.workspace.id)
    assert (profile["external_id"], profile["email"]) == ("u1", "a@example.com")
    changes = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert [(c.email, c.new_state.value) for c in changes] == [
        (None, "subscribed"),
        ("a@example.com", "unsubscribed"),
    ]


async def test_a_different_existing_email_is_kept_and_the_reply_says_so(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    group = tenant.email_group.id
    await post(client, tenant, body(group, external_id="u1", email="first@example.com"))

    response = await post(
        client, tenant, body(group, "unsubscribed", external_id="u1", email="second@example.com")
    )

    assert response.status_code == 201
    document = response.json()
    assert document["message"] == "success"
    [note] = document["errors"]
    assert "u1" in note
    assert "second@example.com" in note
    [profile] = await all_profiles(services, tenant.workspace.id)
    assert profile["email"] == "first@example.com"
    assert await states(services, tenant.workspace.id) == {(profile["id"], group): "unsubscribed"}


async def test_the_same_email_in_another_spelling_is_no_conflict(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    group = tenant.email_group.id
    await post(client, tenant, body(group, external_id="u1", email="same@example.com"))

    response = await post(client, tenant, body(group, external_id="u1", email=" SAME@example.com"))

    assert (response.status_code, response.json()) == (201, SUCCESS)
    [profile] = await all_profiles(services, tenant.workspace.id)
    assert profile["email"] == "same@example.com"


async def test_one_external_id_and_one_phone_record_the_phone_in_e164(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    group = tenant.sms_group.id
    await post(client, tenant, body(group, external_id="u1"))

    first = await post(client, tenant, body(group, external_id="u1", phone="+1 (222) 333-4444"))
    second = await post(client, tenant, body(group, external_id="u1", phone="+14155552671"))

    assert (first.status_code, first.json()) == (201, SUCCESS)
    assert second.status_code == 201
    [note] = second.json()["errors"]
    assert "+14155552671" in note
    [profile] = await all_profiles(services, tenant.workspace.id)
    assert (profile["external_id"], profile["phone"]) == ("u1", "+12223334444")


@pytest.mark.parametrize(
    ("channel", "contacts"),
    [
        ("email", {"email": "shared@example.com"}),
        ("email", {"email": ["shared@example.com"]}),
        ("sms", {"phone": "+12223334444"}),
    ],
)
async def test_with_several_external_ids_the_email_or_phone_is_ignored(
    client: httpx.AsyncClient,
    tenant: Tenant,
    services: Services,
    channel: str,
    contacts: dict[str, Any],
) -> None:
    group = tenant.email_group.id if channel == "email" else tenant.sms_group.id
    # A profile that the ignored contact would select, if it selected anyone.
    await post(client, tenant, body(group, "unsubscribed", **contacts))

    response = await post(client, tenant, body(group, external_id=["u1", "u2"], **contacts))

    assert response.status_code == 201
    [note] = response.json()["errors"]
    assert "ignored" in note
    profiles = await all_profiles(services, tenant.workspace.id)
    contact = next(iter(contacts))
    assert [(p["external_id"], p[contact]) for p in profiles] == [
        (None, "shared@example.com" if channel == "email" else "+12223334444"),
        ("u1", None),
        ("u2", None),
    ]
    assert sorted((await states(services, tenant.workspace.id)).values()) == [
        "subscribed",
        "subscribed",
        "unsubscribed",
    ]


async def test_with_one_external_id_and_several_emails_the_emails_are_ignored(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    response = await post(
        client,
        tenant,
        body(tenant.email_group.id, external_id="u1", email=["a@example.com", "b@example.com"]),
    )

    assert response.status_code == 201
    [note] = response.json()["errors"]
    assert "ignored" in note
    [profile] = await all_profiles(services, tenant.workspace.id)
    assert (profile["external_id"], profile["email"]) == ("u1", None)


async def test_an_invalid_email_beside_several_external_ids_still_rejects_the_request(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    response = await post(
        client, tenant, body(tenant.email_group.id, external_id=["u1", "u2"], email="bad")
    )

    assert (response.status_code, response.json()) == (
        400,
        {"message": "Invalid email address: 'bad'"},
    )
    assert await all_profiles(services, tenant.workspace.id) == []


async def test_an_email_alone_changes_every_profile_that_shares_it(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    ws, group = tenant.workspace.id, tenant.email_group.id
    for external_id, address in (("u1", "shared@example.com"), ("u2", "shared@example.com")):
        await post(client, tenant, body(group, external_id=external_id, email=address))
    await post(client, tenant, body(group, external_id="u3", email="other@example.com"))

    response = await post(client, tenant, body(group, "unsubscribed", email="Shared@Example.com"))

    assert (response.status_code, response.json()) == (201, SUCCESS)
    profiles = await all_profiles(services, ws)
    assert len(profiles) == 3
    assert {p["external_id"]: (await states(services, ws))[(p["id"], group)] for p in profiles} == {
        "u1": "unsubscribed",
        "u2": "unsubscribed",
        "u3": "subscribed",
    }


async def test_an_email_that_matches_no_profile_creates_exactly_one(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    ws, group = tenant.workspace.id, tenant.email_group.id

    first = await post(client, tenant, body(group, email="new@example.com"))
    again = await post(client, tenant, body(group, "unsubscribed", email=" NEW@example.com"))

    assert [r.status_code for r in (first, again)] == [201, 201]
    [profile] = await all_profiles(services, ws)
    assert (profile["external_id"], profile["email"], profile["phone"]) == (
        None,
        "new@example.com",
        None,
    )
    assert await states(services, ws) == {(profile["id"], group): "unsubscribed"}


async def test_an_email_list_changes_known_profiles_and_creates_the_rest(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    group = tenant.email_group.id
    await post(client, tenant, body(group, external_id="u1", email="known@example.com"))

    response = await post(
        client, tenant, body(group, "unsubscribed", email=["known@example.com", "new@example.com"])
    )

    assert response.status_code == 201
    profiles = await all_profiles(services, tenant.workspace.id)
    assert [(p["external_id"], p["email"]) for p in profiles] == [
        ("u1", "known@example.com"),
        (None, "new@example.com"),
    ]
    assert set((await states(services, tenant.workspace.id)).values()) == {"unsubscribed"}


@pytest.mark.parametrize(
    "sent",
    [
        "+12223334444",
        "+1 222 333 4444",
        "+1-222-333-4444",
        "+1.222.333.4444",
        "+1 (222) 333-4444",
        "+(1) 222.333-4444",
    ],
)
async def test_phones_are_stored_in_e164_whatever_their_formatting(
    client: httpx.AsyncClient, tenant: Tenant, services: Services, sent: str
) -> None:
    group = tenant.sms_group.id

    response = await post(client, tenant, body(group, phone=sent))
    again = await post(client, tenant, body(group, "unsubscribed", phone="+12223334444"))

    assert (response.status_code, response.json()) == (201, SUCCESS)
    assert again.status_code == 201
    [profile] = await all_profiles(services, tenant.workspace.id)
    assert profile["phone"] == "+12223334444"
    changes = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert [(c.phone, c.new_state.value) for c in changes] == [
        ("+12223334444", "subscribed"),
        ("+12223334444", "unsubscribed"),
    ]


@pytest.mark.parametrize(
    ("group_kind", "identifiers"),
    [
        ("email", {"external_id": ["u1", "u1", "u1"]}),
        ("email", {"email": [" A@Example.com", "a@example.com", "a@EXAMPLE.COM "]}),
        ("sms", {"phone": ["+12223334444", "+1 222 333 4444", "+1 (222) 333-4444"]}),
    ],
)
async def test_duplicates_after_normalisation_count_once(
    client: httpx.AsyncClient,
    tenant: Tenant,
    services: Services,
    group_kind: str,
    identifiers: dict[str, Any],
) -> None:
    group = tenant.email_group.id if group_kind == "email" else tenant.sms_group.id

    response = await post(client, tenant, body(group, **identifiers))

    assert (response.status_code, response.json()) == (201, SUCCESS)
    assert len(await all_profiles(services, tenant.workspace.id)) == 1
    assert len(await services.subscriptions.changes(workspace_id=tenant.workspace.id)) == 1


def phones(count: int) -> list[str]:
    return [f"+1415555{n:04d}" for n in range(count)]


def emails(count: int) -> list[str]:
    return [f"person{n}@example.com" for n in range(count)]


def external_ids(count: int) -> list[str]:
    return [f"user-{n}" for n in range(count)]


LIMITS = [
    ("external_id", "email", external_ids, TOO_MANY_EXTERNAL_IDS),
    ("email", "email", emails, TOO_MANY_IDS),
    ("phone", "sms", phones, TOO_MANY_IDS),
]


@pytest.mark.parametrize(
    ("field", "group_kind", "values", "message"),
    [pytest.param(*case, id=case[0]) for case in LIMITS],
)
async def test_fifty_one_distinct_values_are_too_many(
    client: httpx.AsyncClient,
    tenant: Tenant,
    services: Services,
    field: str,
    group_kind: str,
    values: Callable[[int], list[str]],
    message: str,
) -> None:
    group = tenant.email_group.id if group_kind == "email" else tenant.sms_group.id
    before = await row_counts(services)

    response = await post(client, tenant, body(group, **{field: values(51)}))

    assert (response.status_code, response.json()) == (400, {"message": message})
    assert await row_counts(services) == before


def respelled(field: str, value: str) -> str:
    """The same identifier spelled differently: equal after normalisation."""
    if field == "email":
        return f"  {value.upper()} "
    if field == "phone":
        return f"{value[:2]} ({value[2:5]}) {value[5:8]}-{value[8:]}"
    return value


@pytest.mark.parametrize(
    ("field", "group_kind", "values"),
    [pytest.param(*case[:3], id=case[0]) for case in LIMITS],
)
async def test_sixty_entries_with_fifty_distinct_values_are_accepted(
    client: httpx.AsyncClient,
    tenant: Tenant,
    services: Services,
    field: str,
    group_kind: str,
    values: Callable[[int], list[str]],
) -> None:
    group = tenant.email_group.id if group_kind == "email" else tenant.sms_group.id
    distinct = values(50)
    sent = distinct + [respelled(field, v) for v in distinct[:10]]
    assert len(sent) == 60

    response = await post(client, tenant, body(group, **{field: sent}))

    assert (response.status_code, response.json()) == (201, SUCCESS)
    profiles = await all_profiles(services, tenant.workspace.id)
    assert sorted(p[field] for p in profiles) == sorted(distinct)


async def test_use_double_opt_in_logic_is_accepted_and_ignored(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    responses = [
        await post(client, tenant, body(tenant.sms_group.id, phone="+12223334444", **flag))
        for flag in ({"use_double_opt_in_logic": True}, {"use_double_opt_in_logic": False})
    ] + [
        await post(
            client,
            tenant,
            body(tenant.email_group.id, external_id="u1", use_double_opt_in_logic=True),
        )
    ]

    assert [(r.status_code, r.json()) for r in responses] == [(201, SUCCESS)] * 3
    assert sorted((await states(services, tenant.workspace.id)).values()) == [
        "subscribed",
        "subscribed",
    ]


async def test_the_limit_counts_phones_after_normalisation(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    # 51 spellings, 50 numbers: a UK number is sent with and without its trunk prefix "(0)".
    sent = [*phones(49), "+442079460958", "+44 (0)20 7946 0958"]

    response = await post(client, tenant, body(tenant.sms_group.id, phone=sent))

    assert (response.status_code, response.json()) == (201, SUCCESS)
    profiles = await all_profiles(services, tenant.workspace.id)
    assert sorted(p["phone"] for p in profiles) == sorted([*phones(49), "+442079460958"])
