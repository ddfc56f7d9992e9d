"""Hostile uploads, import ids and export parameters: each is a 4xx in the one JSON error shape,
makes no import, changes nothing and logs nothing at ERROR (the sender's mistake is not the
service's)."""

from __future__ import annotations

import httpx
import pytest

from subgroups.container import Services
from tests.factories import Tenant
from tests.security.endpoints import import_file, import_id_of
from tests.security.support import fingerprint, imports_made, no_errors_logged

CSV_TYPE = {"Content-Type": "text/csv"}
HEADER = b"external_id,subscription_group_id,subscription_state\n"


def assert_refused(response: httpx.Response, *statuses: int) -> None:
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"message"}
    assert isinstance(body["message"], str)


@pytest.mark.parametrize(
    ("content", "headers", "query"),
    [
        (b"", CSV_TYPE, ""),
        (HEADER, CSV_TYPE, ""),
        (b"\x00" * 1000, CSV_TYPE, ""),
        (HEADER + b"u1,\x00,subscribed\n", CSV_TYPE, ""),
        (HEADER + b"u1,g,\xff\xfe\n", CSV_TYPE, ""),
        (HEADER + b"u1,g," + b"x" * 70_000 + b"\n", CSV_TYPE, ""),
        (HEADER + b'u1,"' + b"x" * 70_000, CSV_TYPE, ""),
        (b",".join([b"external_id"] * 5000) + b"\n1\n", CSV_TYPE, ""),
        (b"a,b,c\n1,2,3\n", CSV_TYPE, ""),
        (b"\xef\xbb\xbf\xef\xbb\xbf" + HEADER + b"u1,g,subscribed\n", CSV_TYPE, ""),
        (b'{"subscription_group_id": "g"}', {"Content-Type": "application/json"}, ""),
        (b"<csv/>", {"Content-Type": "text/csv\x00"}, ""),
        (b"x", {"Content-Type": "multipart/form-data; boundary=x"}, ""),
        (HEADER + b"u1,g,subscribed\n", CSV_TYPE, "?dry_run=%00"),
        (HEADER + b"u1,g,subscribed\n", CSV_TYPE, "?dry_run=yes"),
        (HEADER + b"u1,g,subscribed\n", CSV_TYPE, "?dry_run=true&dry_run=false"),
        (HEADER + b"u1,g,subscribed\n", CSV_TYPE, "?file_name=%00"),
        (HEADER + b"u1,g,subscribed\n", CSV_TYPE, "?file_name=a%0Ab"),
        (HEADER + b"u1,g,subscribed\n", CSV_TYPE, "?file_name=" + "x" * 300),
        (HEADER + b"u1,g,subscribed\n", CSV_TYPE, "?file_name="),
        (HEADER + b"u1,g,subscribed\n", CSV_TYPE, "?file_name=%FF"),
    ],
    ids=lambda value: None,
)
async def test_a_hostile_upload_is_refused_and_makes_nothing(
    client: httpx.AsyncClient,
    services: Services,
    tenant: Tenant,
    caplog: pytest.LogCaptureFixture,
    content: bytes,
    headers: dict[str, str],
    query: str,
) -> None:
    before = await fingerprint(services)
    made = await imports_made(services)

    response = await client.post(
        f"/imports{query}", content=content, headers={**tenant.auth, **headers}
    )

    assert_refused(response, 400, 415)
    assert await imports_made(services) == made
    assert await fingerprint(services) == before
    assert no_errors_logged(caplog)


@pytest.mark.parametrize("length", ["104857601", "99999999999999999999", "-1", "1e3", "\u00b2"])
async def test_a_declared_upload_length_over_the_cap_or_malformed_is_refused(
    client: httpx.AsyncClient,
    services: Services,
    tenant: Tenant,
    caplog: pytest.LogCaptureFixture,
    length: str,
) -> None:
    made = await imports_made(services)

    response = await client.post(
        "/imports",
        content=import_file(tenant.email_group.id, "u1"),
        headers=[
            (b"authorization", f"Bearer {tenant.key}".encode()),
            (b"content-type", b"text/csv"),
            (b"content-length", length.encode("latin-1")),
        ],
    )

    assert_refused(response, 400, 413)
    assert await imports_made(services) == made
    assert no_errors_logged(caplog)


BAD_IDS = [
    "%00",
    "x" * 10_000,
    "not-an-id",
    "00000000-0000-0000-0000-00000000000G",
    "..%2F..%2Fexports%2Fstates",
    "%E2%80%AE",
    "%FF%FE",
    "' OR 1=1 --",
]


@pytest.mark.parametrize("suffix", ["", "/errors"], ids=["import", "errors"])
@pytest.mark.parametrize("import_id", BAD_IDS)
async def test_a_hostile_import_id_is_an_unknown_import(
    client: httpx.AsyncClient,
    tenant: Tenant,
    caplog: pytest.LogCaptureFixture,
    import_id: str,
    suffix: str,
) -> None:
    response = await client.get(f"/imports/{import_id}{suffix}", headers=tenant.auth)

    assert_refused(response, 404)
    assert no_errors_logged(caplog)


@pytest.mark.parametrize("suffix", ["", "/errors"], ids=["import", "errors"])
async def test_an_import_id_in_capitals_is_not_another_name_for_the_import(
    client: httpx.AsyncClient, tenant: Tenant, suffix: str
) -> None:
    import_id = import_id_of(tenant.email_group.id)

    found = await client.get(f"/imports/{import_id}{suffix}", headers=tenant.auth)
    capitals = await client.get(f"/imports/{import_id.upper()}{suffix}", headers=tenant.auth)

    assert found.status_code == 200
    assert_refused(capitals, 404)


@pytest.mark.parametrize("export", ["states", "changes"])
@pytest.mark.parametrize(
    "query",
    [
        "format=%00",
        "format=CSV%00",
        "format=xml",
        "format=csv&format=ndjson",
        "group=%00",
        "group=" + "x" * 50_000,
        "group=not-a-uuid",
        "group=00000000-0000-0000-0000-000000000000",
        "as_of=%00&since=%00",
        "as_of=" + "9" * 5_000 + "&since=" + "9" * 5_000,
        "as_of=-999999999-01-01&since=-999999999-01-01",
        "as_of=2026-13-45T99:99:99Z&since=2026-13-45T99:99:99Z",
        "as_of=%FF&since=%FF",
        "until=10000-01-01T00:00:00Z&as_of=10000-01-01T00:00:00Z",
        "source=%00&as_of=x",
        "source=REST%20API%00&as_of=x",
        "group=a&group=b",
    ],
)
async def test_hostile_export_parameters_are_refused_before_the_first_byte(
    client: httpx.AsyncClient,
    tenant: Tenant,
    caplog: pytest.LogCaptureFixture,
    export: str,
    query: str,
) -> None:
    response = await client.get(f"/exports/{export}?{query}", headers=tenant.auth)

    assert_refused(response, 400)
    assert no_errors_logged(caplog)
