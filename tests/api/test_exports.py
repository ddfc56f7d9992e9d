"""GET /exports/states and GET /exports/changes (contract §10), through the real app, on both
backends: both formats, the filters, spreadsheet-safe CSV, and the refusals."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from subgroups.container import Services
from subgroups.services.exports import CHANGE_COLUMNS
from tests.api.helpers import set_state
from tests.factories import Tenant, make_key

STATE_HEADER = [
    "external_id",
    "email",
    "phone",
    "subscription_group_id",
    "subscription_state",
    "updated_at",
]


def rows(response: httpx.Response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.text)))


def documents(response: httpx.Response) -> list[dict[str, object]]:
    assert response.text.endswith("\n")
    return [orjson.loads(line) for line in response.text.splitlines()]


async def export(
    client: httpx.AsyncClient, tenant: Tenant, what: str, **params: str
) -> httpx.Response:
    return await client.get(f"/exports/{what}", params=params, headers=tenant.auth)


@pytest.fixture
async def people(client: httpx.AsyncClient, tenant: Tenant) -> Tenant:
    """u1 subscribed to email with an address; u2 unsubscribed from SMS by phone."""
    await set_state(
        client, tenant, tenant.email_group, "subscribed", external_id="u1", email="a@example.com"
    )
    await set_state(
        client, tenant, tenant.sms_group, "unsubscribed", external_id="u2", phone="+14155552671"
    )
    return tenant


async def test_states_as_csv(client: httpx.AsyncClient, people: Tenant) -> None:
    response = await export(client, people, "states")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="states.csv"'
    assert response.headers["x-ratelimit-limit"] == "250000"
    header, *lines = rows(response)
    assert header == STATE_HEADER
    assert [line[:5] for line in lines] == [
        ["u1", "a@example.com", "", people.email_group.id, "subscribed"],
        ["u2", "", "+14155552671", people.sms_group.id, "unsubscribed"],
    ]
    assert all(datetime.fromisoformat(line[5]).tzinfo is not None for line in lines)


async def test_states_as_ndjson_for_one_group(client: httpx.AsyncClient, people: Tenant) -> None:
    response = await export(client, people, "states", format="ndjson", group=people.sms_group.id)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["content-disposition"] == 'attachment; filename="states.ndjson"'
    [line] = documents(response)
    assert list(line) == STATE_HEADER
    assert (line["external_id"], line["email"], line["phone"]) == ("u2", None, "+14155552671")
    assert (line["subscription_group_id"], line["subscription_state"]) == (
        people.sms_group.id,
        "unsubscribed",
    )


async def test_states_as_of_a_moment_before_a_change(
    client: httpx.AsyncClient, people: Tenant
) -> None:
    between = datetime.now(UTC).isoformat()
    await set_state(client, people, people.email_group, "unsubscribed", external_id="u1")

    then = await export(client, people, "states", as_of=between, group=people.email_group.id)
    now = await export(client, people, "states", group=people.email_group.id)
    long_ago = await export(client, people, "states", as_of="2000-01-01")

    assert [line[4] for line in rows(then)[1:]] == ["subscribed"]
    assert [line[4] for line in rows(now)[1:]] == ["unsubscribed"]
    assert rows(long_ago) == [STATE_HEADER]


async def test_changes_with_their_filters(client: httpx.AsyncClient, people: Tenant) -> None:
    between = datetime.now(UTC).isoformat()
    await set_state(client, people, people.email_group, "unsubscribed", external_id="u1")

    everything = await export(client, people, "changes")
    email_since = await export(
        client, people, "changes", group=people.email_group.id, since=between, format="ndjson"
    )
    until = await export(client, people, "changes", until=between, format="ndjson")
    from_cli = await export(client, people, "changes", source="CLI")

    assert everything.headers["content-disposition"] == 'attachment; filename="changes.csv"'
    header, *lines = rows(everything)
    assert header == list(CHANGE_COLUMNS)
    assert [(line[3], line[9]) for line in lines] == [
        ("u1", "subscribed"),
        ("u2", "unsubscribed"),
        ("u1", "unsubscribed"),
    ]
    [record] = documents(email_since)
    assert (record["external_id"], record["old_state"], record["new_state"]) == (
        "u1",
        "subscribed",
        "unsubscribed",
    )
    assert record["source"] == "REST API"
    assert [r["external_id"] for r in documents(until)] == ["u1", "u2"]
    assert rows(from_cli) == [list(CHANGE_COLUMNS)]


async def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    formula = '=HYPERLINK("http://evil.example","click")'
    await set_state(client, tenant, tenant.email_group, "subscribed", external_id=formula)
    await set_state(client, tenant, tenant.sms_group, "subscribed", external_id="+1 is fine?")
    await set_state(client, tenant, tenant.sms_group, "subscribed", phone="+14155552671")

    states = rows(await export(client, tenant, "states"))
    changes = rows(await export(client, tenant, "changes"))
    verbatim = documents(await export(client, tenant, "states", format="ndjson"))

    assert [line[:3] for line in states[1:]] == [
        ["'" + formula, "", ""],
        ["'+1 is fine?", "", ""],
        ["", "", "+14155552671"],  # a phone number is E.164 digits, left as it is
    ]
    assert [line[3] for line in changes[1:]] == ["'" + formula, "'+1 is fine?", ""]
    assert [d["external_id"] for d in verbatim] == [formula, "+1 is fine?", None]


async def test_another_workspaces_states_and_groups_are_not_exported(
    client: httpx.AsyncClient, people: Tenant, other_tenant: Tenant
) -> None:
    theirs = await export(client, other_tenant, "states")
    their_changes = await export(client, other_tenant, "changes", format="ndjson")
    our_group = await export(client, other_tenant, "states", group=people.email_group.id)

    assert rows(theirs) == [STATE_HEADER]
    assert their_changes.text == ""
    assert (our_group.status_code, our_group.json()) == (
        400,
        {"message": "Invalid subscription group ID"},
    )


@pytest.mark.parametrize(
    ("what", "query", "message"),
    [
        ("states", "format=xml", "format must be 'csv' or 'ndjson'"),
        ("states", "format=", "format must be 'csv' or 'ndjson'"),
        ("states", "as_of=yesterday", "as_of must be an ISO 8601 date-time"),
        ("states", "group=nope", "Invalid subscription group ID"),
        ("states", "group=%00", "Invalid subscription group ID"),
        ("states", "format=csv&format=ndjson", "format must be given once"),
        ("states", "group=%FF", "Query string must be valid UTF-8"),
        ("changes", "since=2026-13-01", "since must be an ISO 8601 date-time"),
        ("changes", "until=soon", "until must be an ISO 8601 date-time"),
        (
            "changes",
            "source=Email",
            "source must be one of 'REST API', 'Dashboard', 'CSV Import', 'CLI',"
            " 'One-Click Unsubscribe', 'Preference Page'",
        ),
        ("changes", "group=nope&format=ndjson", "Invalid subscription group ID"),
    ],
)
async def test_a_bad_parameter_is_refused_naming_it(
    client: httpx.AsyncClient, tenant: Tenant, what: str, query: str, message: str
) -> None:
    response = await client.get(f"/exports/{what}?{query}", headers=tenant.auth)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"message": message}


async def test_keys_need_the_exports_get_permission(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    others = await make_key(
        services, tenant.workspace.id, permissions=["changes.get", "imports.write"]
    )
    exporter = await make_key(services, tenant.workspace.id, permissions=["exports.get"])
    denied = {"message": "Access Denied: this API key lacks the 'exports.get' permission"}

    for what in ("states", "changes"):
        nobody = await client.get(f"/exports/{what}")
        assert (nobody.status_code, nobody.json()) == (401, {"message": "Invalid API key"})
        refused = await client.get(
            f"/exports/{what}", headers={"Authorization": f"Bearer {others}"}
        )
        assert (refused.status_code, refused.json()) == (403, denied)
        legacy = await client.get(f"/exports/{what}", params={"api_key": exporter})
        assert legacy.status_code == 200


async def test_a_key_used_from_outside_its_allowlist_is_refused(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    elsewhere = await make_key(services, tenant.workspace.id, allowed_ips=["198.51.100.0/24"])
    headers = {"Authorization": f"Bearer {elsewhere}", "Content-Type": "text/csv"}
    not_allowed = {"message": "Access Denied: this IP address is not allowed for this API key"}

    for method, path in (
        ("GET", "/exports/states"),
        ("GET", "/exports/changes"),
        ("POST", "/imports"),
        ("GET", "/imports/00000000-0000-4000-8000-000000000000"),
    ):
        response = await client.request(method, path, content=b"x", headers=headers)
        assert (response.status_code, response.json()) == (403, not_allowed)


async def test_a_key_made_before_the_new_permissions_does_not_gain_them(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    # Every permission there was before imports and exports: what such a key holds.
    earlier = [
        "changes.get",
        "links.create",
        "subscription.groups.get",
        "subscription.status.get",
        "subscription.status.set",
    ]
    old = {
        "Authorization": f"Bearer {await make_key(services, tenant.workspace.id, permissions=earlier)}"
    }
    new = await services.keys.create(workspace_id=tenant.workspace.id)

    assert (await client.get("/exports/states", headers=old)).status_code == 403
    assert (await client.post("/imports", content=b"", headers=old)).status_code == 403
    assert {p.value for p in new.key.permissions} >= {"exports.get", "imports.write"}
