"""Hostile request bodies and parameters: every one gets a clean 4xx, never a 5xx, and changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subgroups.container import Services
from tests.factories import Tenant
from tests.security.endpoints import ENDPOINT_IDS, ENDPOINTS, Endpoint, assert_answer
from tests.security.support import fingerprint, no_errors_logged

PATH = "/subscription/status/set"
NOT_AN_OBJECT = {"message": "Request body must be a JSON object"}
MIB = 1024 * 1024


def body(tenant: Tenant, **overrides: Any) -> dict[str, Any]:
    return {
        "subscription_group_id": tenant.email_group.id,
        "subscription_state": "subscribed",
        "external_id": "user-1",
        **overrides,
    }


async def test_a_chunked_body_over_the_cap_is_refused_without_reading_it_all(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(64):
            sent += 1
            yield b" " * (64 * 1024)

    before = await fingerprint(services)
    response = await client.post(
        PATH, content=chunks(), headers={**tenant.auth, "Content-Type": "application/json"}
    )

    assert (response.status_code, response.json()) == (413, {"message": "Request body too large"})
    assert sent < 64
    assert await fingerprint(services) == before


@pytest.mark.parametrize("length", ["1048577", "99999999999999999999", "-1", "1e3", "\u00b2"])
async def test_a_declared_length_over_the_cap_or_malformed_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, length: str
) -> None:
    response = await client.post(
        PATH,
        content=b"{}",
        headers=[
            (b"authorization", f"Bearer {tenant.key}".encode()),
            (b"content-length", length.encode("latin-1")),
        ],
    )

    assert response.status_code in (400, 413)
    assert set(response.json()) == {"message"}


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 5000 + b"]" * 5000,
        b'{"a":' * 2000 + b"1" + b"}" * 2000,
        b'{"external_id": "\xff\xfe"}',
        b'{"external_id": "\\ud800"}',
        b"\xef\xbb\xbf{}",
        b'{"a": 1e999999}',
        b'{"a": 123456789012345678901234567890123456789}',
        b'{"a": NaN}',
        b"",
        b"\x00",
        b'{"a": 1} trailing',
        b"[]",
        b"null",
        b'"a string"',
    ],
)
async def test_bodies_that_are_not_a_json_object_are_refused_cleanly(
    client: httpx.AsyncClient, services: Services, tenant: Tenant, raw: bytes
) -> None:
    before = await fingerprint(services)

    response = await client.post(
        PATH, content=raw, headers={**tenant.auth, "Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert set(response.json()) == {"message"}
    assert await fingerprint(services) == before


async def test_a_deeply_nested_but_parseable_object_is_refused_by_the_rules(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    nested: Any = "x"
    for _ in range(500):
        nested = {"a": nested}
    before = await fingerprint(services)

    response = await client.post(PATH, json=body(tenant, external_id=nested), headers=tenant.auth)

    assert response.status_code == 400
    assert await fingerprint(services) == before


@pytest.mark.parametrize(
    "overrides",
    [
        {"subscription_group_id": "group\x00"},
        {"subscription_group_id": "\x00"},
        {"subscription_group_id": "x" * 100_000},
        {"subscription_state": "subscribed\x00"},
        {"external_id": "user\x00"},
        {"external_id": ["ok", "bad\x00"]},
        {"external_id": None, "email": "jane\x00@example.com"},
        {"external_id": None, "email": "jane@exam\x00ple.com"},
        {"external_id": "user-1", "email": "\x00"},
        {"api_key": "sgk_\x00"},
    ],
)
async def test_nul_characters_never_reach_the_database(
    client: httpx.AsyncClient, services: Services, tenant: Tenant, overrides: dict[str, Any]
) -> None:
    before = await fingerprint(services)
    request = {k: v for k, v in body(tenant, **overrides).items() if v is not None}
    headers = {} if "api_key" in overrides else tenant.auth

    response = await client.post(PATH, json=request, headers=headers)

    assert response.status_code in (400, 401)
    assert await fingerprint(services) == before


async def test_nul_in_an_sms_group_phone_is_refused(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    before = await fingerprint(services)
    request = {
        "subscription_group_id": tenant.sms_group.id,
        "subscription_state": "subscribed",
        "phone": "+1222333\x004444",
    }

    response = await client.post(PATH, json=request, headers=tenant.auth)

    assert response.status_code == 400
    assert await fingerprint(services) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
async def test_nul_and_huge_values_in_the_query_string_get_a_clean_answer(
    client: httpx.AsyncClient,
    services: Services,
    tenant: Tenant,
    endpoint: Endpoint,
    caplog: pytest.LogCaptureFixture,
) -> None:
    call = endpoint.build(tenant.email_group.id, "user-1")
    before = await fingerprint(services)

    for params in (
        {"api_key": "sgk_\x00"},
        {**call.params, "subscription_group_id": "g\x00", "external_id": "\x00"},
        {**call.params, "external_id": "x" * 50_000},
        {**call.params, "group": "g\x00", "format": "\x00", "file_name": "\x00"},
        {**call.params, "as_of": "x" * 50_000, "since": "2026-01-01\x00", "dry_run": "\x00"},
    ):
        response = await replace(call, params=params).send(client, tenant.auth)
        assert_answer(endpoint, response)
    if endpoint.writes:
        assert len((await fingerprint(services))[0]) <= len(before[0]) + 1
    assert no_errors_logged(caplog)


# Hypothesis: arbitrary JSON and bytes against every endpoint. Values are drawn from JSON at large
# and from near-misses of real requests (real field names, real group ids, NUL, huge strings).

TEXT = st.text(max_size=40) | st.sampled_from(["\x00", "x" * 600, "+12223334444", "a@b.co", ""])
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
FIELDS = (
    "subscription_group_id",
    "subscription_state",
    "external_id",
    "external_ids",
    "email",
    "emails",
    "phone",
    "phones",
    "use_double_opt_in_logic",
    "api_key",
    # the parameters of the imports and exports
    "dry_run",
    "file_name",
    "group",
    "format",
    "as_of",
    "since",
    "until",
    "source",
)
EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def near_misses(group_ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    values = (
        JSON_VALUES | st.sampled_from(group_ids) | st.sampled_from(["subscribed", "Unsubscribed"])
    )
    item = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6)
    return item | st.fixed_dictionaries({"subscription_groups": st.lists(item, max_size=3)})


async def _assert_clean(
    endpoint: Endpoint,
    response: httpx.Response,
    services: Services,
    before: tuple[Any, ...],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert_answer(endpoint, response)
    if response.status_code >= 400:
        assert await fingerprint(services) == before
    assert no_errors_logged(caplog)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
@EXAMPLES
@given(data=st.data())
async def test_arbitrary_json_gets_a_clean_answer(
    client: httpx.AsyncClient,
    services: Services,
    tenant: Tenant,
    endpoint: Endpoint,
    data: st.DataObject,
    caplog: pytest.LogCaptureFixture,
) -> None:
    groups = [tenant.email_group.id, tenant.sms_group.id, str(uuid.uuid4())]
    call = endpoint.build(tenant.email_group.id, "user-1")
    before = await fingerprint(services)
    if endpoint.writes:
        payload = data.draw(near_misses(groups) | JSON_VALUES)
        response = await client.post(call.path, content=orjson.dumps(payload), headers=tenant.auth)
    else:
        params = data.draw(st.dictionaries(st.sampled_from(FIELDS), TEXT | st.sampled_from(groups)))
        response = await client.get(call.path, params=params, headers=tenant.auth)
    await _assert_clean(endpoint, response, services, before, caplog)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
@EXAMPLES
@given(
    raw=st.binary(max_size=200),
    content_type=st.sampled_from(["application/json", "text/csv", None]),
)
async def test_arbitrary_bytes_get_a_clean_answer(
    client: httpx.AsyncClient,
    services: Services,
    tenant: Tenant,
    endpoint: Endpoint,
    raw: bytes,
    content_type: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    call = endpoint.build(tenant.email_group.id, "user-1")
    headers = {**tenant.auth, **({"Content-Type": content_type} if content_type else {})}
    before = await fingerprint(services)

    response = await client.request(
        call.method, call.path, params=call.params, content=raw, headers=headers
    )

    await _assert_clean(endpoint, response, services, before, caplog)
