"""GET /subscription/status/get (contract §6), through the real app, on both backends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from subgroups.container import Services
from tests.api.helpers import set_state
from tests.api.test_openapi import documented_messages
from tests.factories import Tenant, make_group, make_key
from tests.profiles import insert_profile
from tests.writer import writes_held

PATH = "/subscription/status/get"
NOT_UTF8 = "Query string must be valid UTF-8"
EMAIL_AND_PHONE = "Either an email address or a phone number should be provided, but not both."


async def get(client: httpx.AsyncClient, tenant: Tenant, query: str) -> httpx.Response:
    """GET with a query string written out by hand, exactly as a client would send it."""
    return await client.get(f"{PATH}?{query}", headers=tenant.auth)


def ok(status: dict[str, str]) -> tuple[int, dict[str, Any]]:
    return 200, {"status": status, "message": "success"}


def answer(response: httpx.Response) -> tuple[int, dict[str, Any]]:
    return response.status_code, response.json()


async def test_answers_each_external_id_with_its_state(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    group = tenant.email_group
    await set_state(client, tenant, group, "subscribed", external_id="in")
    await set_state(client, tenant, group, "unsubscribed", external_id="out")
    await set_state(client, tenant, tenant.sms_group, "subscribed", external_id="elsewhere")

    response = await get(
        client,
        tenant,
        f"subscription_group_id={group.id}"
        "&external_id=in&external_id=out&external_id=elsewhere&external_id=nobody",
    )

    assert answer(response) == ok(
        {"in": "Subscribed", "out": "Unsubscribed", "elsewhere": "Unknown", "nobody": "Unknown"}
    )


QUERY_FORMS = [
    ("external_id=a", ["a"]),
    ("external_id=a&external_id=b", ["a", "b"]),
    ("external_id[]=a&external_id[]=b", ["a", "b"]),
    ("external_id%5B%5D=a", ["a"]),
    ("external_id=a&external_id[]=b", ["a", "b"]),
    ("external_id=a,b", ["a,b"]),
    ("external_id=a&external_id=a", ["a"]),
    ("external_id=John+Smith", ["John Smith"]),
]


async def test_accepts_every_query_form(
    client: httpx.AsyncClient, tenant: Tenant, subtests: pytest.Subtests
) -> None:
    for query, keys in QUERY_FORMS:
        with subtests.test(msg=query):
            for key in keys:
                await set_state(client, tenant, tenant.email_group, "subscribed", external_id=key)

            response = await get(
                client, tenant, f"subscription_group_id={tenant.email_group.id}&{query}"
            )

            assert answer(response) == ok(dict.fromkeys(keys, "Subscribed"))


async def test_emails_are_matched_in_lowercase_and_answered_as_sent(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await set_state(client, tenant, tenant.email_group, "subscribed", email="ada@example.com")

    response = await get(
        client,
        tenant,
        f"subscription_group_id={tenant.email_group.id}"
        "&email=Ada@Example.COM&email=%20ada@example.com&email=bob@example.com",
    )

    assert answer(response) == ok(
        {
            "Ada@Example.COM": "Subscribed",
            " ada@example.com": "Subscribed",
            "bob@example.com": "Unknown",
        }
    )


@pytest.mark.parametrize(
    ("sent", "key"),
    [
        ("+14155552671", "+14155552671"),  # a bare + arrives as a space and is read back
        ("%2B14155552671", "+14155552671"),
        ("%2B1%20(415)%20555-2671", "+1 (415) 555-2671"),
        ("+1%20415.555.2671", "+1 415.555.2671"),
    ],
)
async def test_phones_are_read_back_with_their_plus(
    client: httpx.AsyncClient, tenant: Tenant, sent: str, key: str
) -> None:
    await set_state(client, tenant, tenant.sms_group, "unsubscribed", phone="+14155552671")

    response = await get(
        client, tenant, f"subscription_group_id={tenant.sms_group.id}&phone={sent}"
    )

    assert answer(response) == ok({key: "Unsubscribed"})


async def test_external_ids_alone_are_looked_up_when_present(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await set_state(client, tenant, tenant.email_group, "subscribed", email="ada@example.com")

    response = await get(
        client,
        tenant,
        f"subscription_group_id={tenant.email_group.id}"
        "&external_id=nobody&email=ada@example.com&phone=not-a-phone",
    )

    assert answer(response) == ok({"nobody": "Unknown"})


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (["unsubscribed", "subscribed", None], "Subscribed"),
        (["unsubscribed", None, "unsubscribed"], "Unsubscribed"),
        ([None, None], "Unknown"),
    ],
)
async def test_a_shared_email_combines_its_profiles_states(
    client: httpx.AsyncClient,
    tenant: Tenant,
    services: Services,
    states: list[str | None],
    expected: str,
) -> None:
    """Subscribed if any profile is, else Unsubscribed if any has a state, else Unknown."""
    other_group = await make_group(services, tenant.workspace.id)
    for n, state in enumerate(states):
        identifiers = {"external_id": f"p{n}", "email": "team@example.com"}
        if state is None:  # the profile has a state in another group only
            await set_state(client, tenant, other_group, "subscribed", **identifiers)
        else:
            await set_state(client, tenant, tenant.email_group, state, **identifiers)

    response = await get(
        client, tenant, f"subscription_group_id={tenant.email_group.id}&email=team@example.com"
    )

    assert answer(response) == ok({"team@example.com": expected})


async def test_a_profile_with_no_state_at_all_is_unknown(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    await insert_profile(
        services, tenant.workspace.id, external_id="bare", email="bare@example.com"
    )

    by_id = await get(
        client, tenant, f"subscription_group_id={tenant.email_group.id}&external_id=bare"
    )
    by_email = await get(
        client, tenant, f"subscription_group_id={tenant.email_group.id}&email=bare@example.com"
    )

    assert answer(by_id) == ok({"bare": "Unknown"})
    assert answer(by_email) == ok({"bare@example.com": "Unknown"})


async def test_an_archived_group_can_be_read(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    await set_state(client, tenant, tenant.email_group, "subscribed", external_id="u1")
    await services.groups.archive(workspace_id=tenant.workspace.id, group_id=tenant.email_group.id)

    response = await get(
        client, tenant, f"subscription_group_id={tenant.email_group.id}&external_id=u1"
    )

    assert answer(response) == ok({"u1": "Subscribed"})


REFUSALS = [
    ("external_id=u", "subscription_group_id is required"),
    ("subscription_group_id=&external_id=u", "subscription_group_id is required"),
    (
        "subscription_group_id={email}&subscription_group_id={email}&external_id=u",
        "subscription_group_id must be given once",
    ),
    ("subscription_group_id=no-such-group&external_id=u", "Invalid subscription group ID"),
    (
        "subscription_group_id=no-such-group&email=a@example.com&phone=%2B14155552671",
        "Invalid subscription group ID",
    ),
    ("subscription_group_id=no-such-group&email=not-an-email", "Invalid subscription group ID"),
    ("subscription_group_id=a%00b&external_id=u", "Invalid subscription group ID"),
    ("subscription_group_id={email}&email=a@example.com&phone=%2B14155552671", EMAIL_AND_PHONE),
    ("subscription_group_id={sms}&email=a@example.com&phone=%2B14155552671", EMAIL_AND_PHONE),
    (
        "subscription_group_id={sms}&email=a@example.com",
        "Email addresses cannot be used with an SMS subscription group; use external_id or phone",
    ),
    (
        "subscription_group_id={email}&phone=%2B14155552671",
        "Phone numbers cannot be used with an email subscription group; use external_id or email",
    ),
    ("subscription_group_id={email}", "One of external_id or email is required"),
    ("subscription_group_id={sms}", "One of external_id or phone is required"),
    (
        "subscription_group_id={email}&external_id=",
        "external_id must be a non-empty string or a list of non-empty strings",
    ),
    (
        "subscription_group_id={email}&email=not-an-email",
        "Invalid email address: 'not-an-email'",
    ),
    (
        "subscription_group_id={sms}&phone=4155552671",
        "Invalid phone number: '4155552671' (use E.164, for example +14155552671)",
    ),
    (
        "subscription_group_id={email}&external_id=a%00b",
        "Invalid external_id: 'a\x00b' (at most 512 characters, no NUL characters)",
    ),
]


async def test_refusals_follow_the_contracts_order_and_text(
    client: httpx.AsyncClient, tenant: Tenant, subtests: pytest.Subtests
) -> None:
    for query, message in REFUSALS:
        with subtests.test(msg=query):
            filled = query.format(email=tenant.email_group.id, sms=tenant.sms_group.id)

            response = await get(client, tenant, filled)

            assert answer(response) == (400, {"message": message})


INVALID_UTF8 = [
    "subscription_group_id={email}&external_id=%FF%FE",
    "subscription_group_id={email}&email=a%C3@example.com",
    "subscription_group_id={email}&external_id=%ED%A0%80",  # a surrogate, not a character
    "subscription_group_id={email}&external_id=u&unread=%80",
    "subscription_group_id={email}&external_id=u&%FF=1",
    # Before every rule of the contract: a query that cannot be read has no group id to judge.
    "subscription_group_id=no-such-group&external_id=%FF",
    "subscription_group_id=%FF&external_id=u",
]


async def test_a_query_that_is_not_utf8_is_refused_like_such_a_body(
    client: httpx.AsyncClient, tenant: Tenant, subtests: pytest.Subtests
) -> None:
    for query in INVALID_UTF8:
        with subtests.test(msg=query):
            response = await get(client, tenant, query.format(email=tenant.email_group.id))

            assert answer(response) == (400, {"message": NOT_UTF8})
    assert NOT_UTF8 in documented_messages("GET", PATH, 400)


async def test_a_query_in_utf8_is_read_as_such(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await set_state(client, tenant, tenant.email_group, "subscribed", external_id="café")

    response = await get(
        client, tenant, f"subscription_group_id={tenant.email_group.id}&external_id=caf%C3%A9"
    )

    assert answer(response) == ok({"café": "Subscribed"})


async def test_a_caller_without_a_key_is_refused_before_its_query_is_read(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.get(
        f"{PATH}?subscription_group_id={tenant.email_group.id}&external_id=%FF"
    )

    assert response.status_code == 401


LIST_SIZES = [
    ("external_id", [f"u{i}" for i in range(50)], 200, None),
    (
        "external_id",
        [f"u{i}" for i in range(51)],
        400,
        "The max number of external_ids and aliases per request was exceeded",
    ),
    ("external_id", ["same"] * 60, 200, None),
    ("email", [f"u{i}@example.com" for i in range(50)], 200, None),
    (
        "email",
        [f"u{i}@example.com" for i in range(51)],
        400,
        "The max number of ids per request was exceeded",
    ),
    ("email", ["A@example.com", "a@example.com"] * 30, 200, None),
]


async def test_at_most_fifty_distinct_values(
    client: httpx.AsyncClient, tenant: Tenant, subtests: pytest.Subtests
) -> None:
    for field, values, status, message in LIST_SIZES:
        with subtests.test(msg=f"{field}: {len(values)} values"):
            params = (
                ("subscription_group_id", tenant.email_group.id),
                *((field, v) for v in values),
            )

            response = await client.get(PATH, params=params, headers=tenant.auth)

            assert response.status_code == status
            if message is None:
                assert response.json()["status"] == dict.fromkeys(values, "Unknown")
            else:
                assert response.json() == {"message": message}


async def test_the_legacy_query_key_is_accepted(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await set_state(client, tenant, tenant.email_group, "subscribed", external_id="u1")

    response = await client.get(
        PATH,
        params={
            "subscription_group_id": tenant.email_group.id,
            "external_id": "u1",
            "api_key": tenant.key,
        },
    )

    assert answer(response) == ok({"u1": "Subscribed"})


async def test_the_header_key_wins_over_the_query_key(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.get(
        PATH,
        params={
            "subscription_group_id": tenant.email_group.id,
            "external_id": "u1",
            "api_key": tenant.key,
        },
        headers={"Authorization": "Bearer sgk_not-a-real-key"},
    )

    assert answer(response) == (401, {"message": "Invalid API key"})


async def test_no_key_is_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(
        PATH, params={"subscription_group_id": tenant.email_group.id, "external_id": "u1"}
    )

    assert answer(response) == (401, {"message": "Invalid API key"})


async def test_a_key_without_the_get_permission_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, services: Services
) -> None:
    key = await make_key(
        services,
        tenant.workspace.id,
        permissions=["subscription.status.set", "subscription.groups.get"],
    )

    response = await client.get(
        PATH,
        params={"subscription_group_id": tenant.email_group.id, "external_id": "u1"},
        headers={"Authorization": f"Bearer {key}"},
    )

    assert answer(response) == (
        403,
        {"message": "Access Denied: this API key lacks the 'subscription.status.get' permission"},
    )


async def test_another_workspaces_group_is_answered_like_an_unknown_one(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    await set_state(client, other_tenant, other_tenant.email_group, "subscribed", external_id="u1")

    response = await get(
        client, tenant, f"subscription_group_id={other_tenant.email_group.id}&external_id=u1"
    )

    assert answer(response) == (400, {"message": "Invalid subscription group ID"})


async def test_profiles_of_another_workspace_are_not_seen(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    await set_state(client, other_tenant, other_tenant.email_group, "subscribed", external_id="u1")
    await set_state(
        client, other_tenant, other_tenant.email_group, "subscribed", email="a@example.com"
    )

    response = await get(
        client, tenant, f"subscription_group_id={tenant.email_group.id}&external_id=u1"
    )
    by_email = await get(
        client, tenant, f"subscription_group_id={tenant.email_group.id}&email=a@example.com"
    )

    assert answer(response) == ok({"u1": "Unknown"})
    assert answer(by_email) == ok({"a@example.com": "Unknown"})


async def test_a_read_does_not_wait_for_an_open_write(
    client: httpx.AsyncClient, tenant: Tenant, services: Services, backend: str
) -> None:
    """Reads use a read-only snapshot: a writer holding its locks does not hold them up.

    On SQLite the open transaction holds the database's write lock (BEGIN IMMEDIATE) and the only
    writer connection; on PostgreSQL it also holds the profile's row lock. A read that went through
    the write path would wait on either until its timeout and fail.
    """
    await set_state(client, tenant, tenant.email_group, "subscribed", external_id="u1")

    async with writes_held(services.db):
        response = await get(
            client, tenant, f"subscription_group_id={tenant.email_group.id}&external_id=u1"
        )

    assert answer(response) == ok({"u1": "Subscribed"})
