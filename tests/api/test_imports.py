"""POST /imports, GET /imports/{id} and GET /imports/{id}/errors (contract §10), through the real
app, on both backends. The import loop is run as `subgroups serve` runs it: by the app's lifespan,
or one job at a time (`run_one`) where a test wants to look between the steps."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import func, select

from subgroups.config import Settings
from subgroups.container import Services, build_services
from subgroups.storage.import_jobs import FILE_PART
from subgroups.storage.tables import import_files, imports
from subgroups.web.app import create_app
from tests.factories import Tenant, make_key, make_tenant
from tests.security.support import fingerprint

CSV_TYPE = {"Content-Type": "text/csv"}


def csv_file(group_id: str, *rows: str, header: str = "external_id,email") -> bytes:
    lines = [f"{header},subscription_group_id,subscription_state"]
    lines += [row.replace("{g}", group_id) for row in rows]
    return ("\n".join(lines) + "\n").encode()


async def send(
    client: httpx.AsyncClient, tenant: Tenant, content: bytes, query: str = ""
) -> httpx.Response:
    return await client.post(
        f"/imports{query}", content=content, headers={**tenant.auth, **CSV_TYPE}
    )


async def run_queued(services: Services) -> None:
    """Runs every queued import, as the background loop does."""
    loop = services.import_loop()
    while await loop.run_one():
        pass


async def jobs(services: Services) -> tuple[int, int]:
    async with services.db.snapshot() as conn:
        made = (await conn.execute(select(func.count()).select_from(imports))).scalar_one()
        kept = (await conn.execute(select(func.count()).select_from(import_files))).scalar_one()
    return made, kept


async def test_an_import_is_queued_then_run_and_reported(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    g = tenant.email_group.id
    content = csv_file(
        g,
        "u1,u1@example.com,{g},subscribed",
        "u2,,{g},unsubscribed",
        "u3,not-an-email,{g},subscribed",
        "u4,,no-such-group,subscribed",
    )

    sent = await send(client, tenant, content, "?file_name=people.csv")

    assert sent.status_code == 202, sent.text
    import_id = sent.json()["import_id"]
    assert sent.json() == {"import_id": import_id, "message": "success"}
    queued = (await client.get(f"/imports/{import_id}", headers=tenant.auth)).json()
    assert (queued["status"], queued["rows"], queued["file_name"]) == ("queued", 0, "people.csv")

    await run_queued(services)

    response = await client.get(f"/imports/{import_id}", headers=tenant.auth)
    assert response.status_code == 200
    assert response.json() == {
        "import_id": import_id,
        "status": "finished",
        "dry_run": False,
        "file_name": "people.csv",
        "total_rows": 4,
        "rows": 4,
        "applied": 2,
        "unchanged": 0,
        "refused": 0,
        "invalid": 2,
        "profiles_created": 2,
        "subscribed": 1,
        "unsubscribed": 1,
        "ignored_columns": [],
        "failure": None,
        "message": "success",
    }
    status = await client.get(
        "/subscription/status/get",
        params={"subscription_group_id": g, "external_id": ["u1", "u2", "u3"]},
        headers=tenant.auth,
    )
    assert status.json()["status"] == {"u1": "Subscribed", "u2": "Unsubscribed", "u3": "Unknown"}
    assert await jobs(services) == (1, 0)  # the kept file is gone with the finished job


async def test_the_error_report_is_csv_with_formula_cells_neutralised(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    g = tenant.email_group.id
    content = csv_file(
        g,
        "u1,u1@example.com,{g},subscribed",
        'u2,"=HYPERLINK(""http://x"")",{g},subscribed',
        "u3,,@SUM(A1),subscribed",
        header="external_id,email",
    )
    import_id = (await send(client, tenant, content)).json()["import_id"]
    await run_queued(services)

    response = await client.get(f"/imports/{import_id}/errors", headers=tenant.auth)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="import-{import_id}-errors.csv"'
    )
    assert list(csv.reader(io.StringIO(response.text))) == [
        ["line", "column", "value", "message"],
        [
            "3",
            "email",
            '\'=HYPERLINK("http://x")',
            "Invalid email address: '=HYPERLINK(\"http://x\")'",
        ],
        ["4", "subscription_group_id", "'@SUM(A1)", "Invalid subscription group ID"],
    ]


async def test_a_dry_run_reports_and_writes_nothing(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    g = tenant.email_group.id
    before = await fingerprint(services)
    content = csv_file(g, "u1,,{g},subscribed", "u2,,{g},unsubscribed", "u3,bad,{g},subscribed")

    import_id = (await send(client, tenant, content, "?dry_run=true")).json()["import_id"]
    await run_queued(services)

    report = (await client.get(f"/imports/{import_id}", headers=tenant.auth)).json()
    assert (report["status"], report["dry_run"]) == ("finished", True)
    assert (report["subscribed"], report["unsubscribed"], report["invalid"]) == (1, 1, 1)
    assert report["profiles_created"] == 2
    assert await fingerprint(services) == before


async def test_dry_run_false_is_a_real_import(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    content = csv_file(tenant.email_group.id, "u1,,{g},subscribed")
    import_id = (await send(client, tenant, content, "?dry_run=false")).json()["import_id"]
    await run_queued(services)

    report = (await client.get(f"/imports/{import_id}", headers=tenant.auth)).json()
    assert (report["dry_run"], report["applied"]) == (False, 1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty: it needs a header row naming its columns"),
        (
            b"external_id,subscription_group_id,subscription_state\n",
            "The file has a header row but no rows to import",
        ),
        (
            b"name,state\nu1,subscribed\n",
            "The header row must name subscription_group_id, subscription_state and at least"
            " one of external_id, email, phone",
        ),
        (
            b"external_id,external_id,subscription_group_id,subscription_state\n",
            "The header names the column 'external_id' more than once",
        ),
        (
            b"external_id,subscription_group_id,subscription_state\nu1,g,subscribed\nu\xff,g,x\n",
            "The file is not UTF-8 text: line 3 has bytes that are not UTF-8",
        ),
        (
            b"external_id,subscription_group_id,subscription_state\nu1\x00,g,subscribed\n",
            "Line 2 contains a NUL byte: the file is not a CSV text file",
        ),
        (
            b"external_id,subscription_group_id,subscription_state\n" + b"x" * 70_000 + b",g,s\n",
            "Line 2 cannot be read as CSV: field larger than field limit (65536)",
        ),
    ],
    ids=[
        "empty",
        "header-only",
        "no-required-columns",
        "duplicate-column",
        "not-utf8",
        "nul",
        "field",
    ],
)
async def test_a_file_that_cannot_be_read_is_refused_and_nothing_is_made(
    client: httpx.AsyncClient, services: Services, tenant: Tenant, content: bytes, message: str
) -> None:
    before = await fingerprint(services)

    response = await send(client, tenant, content)

    assert response.status_code == 400
    assert response.json() == {"message": message}
    assert await jobs(services) == (0, 0)
    assert await fingerprint(services) == before


async def test_unknown_columns_are_reported_and_ignored(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    content = csv_file(tenant.email_group.id, "u1,x,{g},subscribed", header="external_id,nickname")
    import_id = (await send(client, tenant, content)).json()["import_id"]
    await run_queued(services)

    report = (await client.get(f"/imports/{import_id}", headers=tenant.auth)).json()
    assert (report["ignored_columns"], report["applied"]) == (["nickname"], 1)


@pytest.fixture
async def small_limit(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    limited = replace(settings, import_max_bytes=1024)
    services = build_services(limited)
    transport = httpx.ASGITransport(app=create_app(limited, services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http, services
    finally:
        await services.aclose()


async def test_a_body_over_the_limit_is_refused_with_413_and_nothing_is_made(
    small_limit: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = small_limit
    tenant = await make_tenant(services)
    rows = [f"person-{i},,{{g}},subscribed" for i in range(100)]
    content = csv_file(tenant.email_group.id, *rows)
    assert len(content) > 1024

    declared = await send(client, tenant, content)

    async def unannounced() -> AsyncIterator[bytes]:  # chunked: no Content-Length to go by
        for start in range(0, len(content), 100):
            yield content[start : start + 100]

    streamed = await client.post(
        "/imports", content=unannounced(), headers={**tenant.auth, **CSV_TYPE}
    )

    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json() == {"message": "Request body too large"}
    assert await jobs(services) == (0, 0)
    fitting = await send(client, tenant, csv_file(tenant.email_group.id, *rows[:5]))
    assert fitting.status_code == 202


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?dry_run=yes", "dry_run must be 'true' or 'false'"),
        ("?dry_run=true&dry_run=false", "dry_run must be given once"),
        ("?file_name=", "file_name must be 1 to 255 characters, with no control characters"),
        (
            f"?file_name={'a' * 256}",
            "file_name must be 1 to 255 characters, with no control characters",
        ),
        (
            "?file_name=a%00b.csv",
            "file_name must be 1 to 255 characters, with no control characters",
        ),
    ],
)
async def test_bad_parameters_are_refused_naming_them(
    client: httpx.AsyncClient, services: Services, tenant: Tenant, query: str, message: str
) -> None:
    response = await send(
        client, tenant, csv_file(tenant.email_group.id, "u1,,{g},subscribed"), query
    )

    assert response.status_code == 400
    assert response.json() == {"message": message}
    assert await jobs(services) == (0, 0)


async def test_a_body_that_is_not_csv_is_refused_with_415(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    content = csv_file(tenant.email_group.id, "u1,,{g},subscribed")
    for media_type in ("application/json", "multipart/form-data; boundary=x", "text/plain"):
        response = await client.post(
            "/imports", content=content, headers={**tenant.auth, "Content-Type": media_type}
        )
        assert response.status_code == 415
        assert response.json() == {"message": "Unsupported Media Type"}
    with_charset = await client.post(
        "/imports",
        content=content,
        headers={**tenant.auth, "Content-Type": "text/csv; charset=utf-8"},
    )
    assert with_charset.status_code == 202
    assert await jobs(services) == (1, 1)


async def test_keys_need_the_imports_write_permission(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    content = csv_file(tenant.email_group.id, "u1,,{g},subscribed")
    import_id = (await send(client, tenant, content)).json()["import_id"]
    others = await make_key(
        services, tenant.workspace.id, permissions=["exports.get", "subscription.status.set"]
    )
    writer = await make_key(services, tenant.workspace.id, permissions=["imports.write"])
    denied = {"message": "Access Denied: this API key lacks the 'imports.write' permission"}

    calls = [
        ("POST", "/imports"),
        ("GET", f"/imports/{import_id}"),
        ("GET", f"/imports/{import_id}/errors"),
    ]
    for method, path in calls:
        nobody = await client.request(method, path, content=content, headers=CSV_TYPE)
        assert (nobody.status_code, nobody.json()) == (401, {"message": "Invalid API key"})
        refused = await client.request(
            method, path, content=content, headers={"Authorization": f"Bearer {others}", **CSV_TYPE}
        )
        assert (refused.status_code, refused.json()) == (403, denied)
        allowed = await client.request(
            method, path, content=content, headers={"Authorization": f"Bearer {writer}", **CSV_TYPE}
        )
        assert allowed.status_code in (200, 202), allowed.text
    assert await jobs(services) == (2, 2)


async def test_another_workspaces_import_is_answered_as_an_unknown_one(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    content = csv_file(tenant.email_group.id, "u1,,{g},subscribed")
    import_id = (await send(client, tenant, content)).json()["import_id"]
    unknown = "00000000-0000-4000-8000-000000000000"

    for path in (f"/imports/{import_id}", f"/imports/{import_id}/errors"):
        theirs = await client.get(path, headers=other_tenant.auth)
        unknown_to_them = await client.get(
            path.replace(import_id, unknown), headers=other_tenant.auth
        )
        assert theirs.status_code == unknown_to_them.status_code == 404
        assert theirs.json() == {"message": f"There is no import {import_id} in this workspace"}
        assert unknown_to_them.json() == {
            "message": f"There is no import {unknown} in this workspace"
        }
    for malformed in ("not-an-id", "%00", "x" * 300, import_id.upper()):
        response = await client.get(f"/imports/{malformed}", headers=tenant.auth)
        assert response.status_code == 404


async def test_posts_count_against_the_set_limit_and_reads_against_the_get_limit(
    settings: Settings,
) -> None:
    limited = replace(settings, rate_limit_set="2/minute", rate_limit_get="3/minute")
    services = build_services(limited)
    transport = httpx.ASGITransport(app=create_app(limited, services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            tenant = await make_tenant(services)
            content = csv_file(tenant.email_group.id, "u1,,{g},subscribed")
            first = await send(client, tenant, content)
            assert first.headers["x-ratelimit-limit"] == "2"
            assert (await send(client, tenant, content)).status_code == 202
            over = await send(client, tenant, content)
            assert (over.status_code, over.json()) == (429, {"message": "Rate limit exceeded"})
            path = f"/imports/{first.json()['import_id']}"
            reads = [await client.get(path, headers=tenant.auth) for _ in range(4)]
            assert [r.status_code for r in reads] == [200, 200, 200, 429]
            assert reads[0].headers["x-ratelimit-limit"] == "3"
            assert await jobs(services) == (2, 2)
    finally:
        await services.aclose()


async def test_the_apps_own_loop_runs_an_import_sent_to_it(settings: Settings) -> None:
    quick = replace(settings, import_poll_seconds=0.05)
    services = build_services(quick)
    app = create_app(quick, services, run_imports=True)
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        ):
            tenant = await make_tenant(services)
            content = csv_file(tenant.email_group.id, "u1,,{g},subscribed", "u2,,{g},subscribed")
            import_id = (await send(client, tenant, content)).json()["import_id"]
            report = await finished(client, tenant, import_id)
        assert (report["status"], report["subscribed"]) == ("finished", 2)
    finally:
        await services.aclose()


async def finished(
    client: httpx.AsyncClient, tenant: Tenant, import_id: str, seconds: float = 30.0
) -> dict[str, object]:
    """The import's report once it is over, polled as a client would."""
    for _ in range(int(seconds / 0.05)):
        report: dict[str, object] = (
            await client.get(f"/imports/{import_id}", headers=tenant.auth)
        ).json()
        if report["status"] in ("finished", "failed"):
            return report
        await asyncio.sleep(0.05)
    raise AssertionError(f"import {import_id} did not end within {seconds} s")


async def test_an_upload_that_trickles_is_refused_with_408_and_nothing_is_made(
    settings: Settings,
) -> None:
    impatient = replace(settings, body_timeout_seconds=0.2)
    services = build_services(impatient)
    transport = httpx.ASGITransport(app=create_app(impatient, services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            tenant = await make_tenant(services)
            content = csv_file(tenant.email_group.id, "u1,,{g},subscribed")

            async def trickle() -> AsyncIterator[bytes]:
                for byte in content:
                    yield bytes([byte])
                    await asyncio.sleep(0.05)

            response = await client.post(
                "/imports", content=trickle(), headers={**tenant.auth, **CSV_TYPE}
            )

            assert (response.status_code, response.json()) == (
                408,
                {"message": "Request Timeout"},
            )
            assert await jobs(services) == (0, 0)
    finally:
        await services.aclose()


async def test_a_file_larger_than_a_part_is_kept_in_parts_and_run_whole(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    rows = [f"person-{i:07d},person{i}@example.com,{{g}},subscribed" for i in range(40_000)]
    content = csv_file(tenant.email_group.id, *rows)
    assert len(content) > 3 * FILE_PART  # the parts' ends fall in the middle of lines

    sent = await send(client, tenant, content)

    assert sent.status_code == 202, sent.text
    assert await jobs(services) == (1, -(-len(content) // FILE_PART))
    kept = await services.imports._store.content(tenant.workspace.id, sent.json()["import_id"])
    assert kept is not None
    assert bytes(kept) == content
    await run_queued(services)
    report = (await client.get(f"/imports/{sent.json()['import_id']}", headers=tenant.auth)).json()
    assert (report["status"], report["rows"], report["subscribed"]) == ("finished", 40_000, 40_000)
    assert await jobs(services) == (1, 0)


async def test_metrics_show_the_imports_waiting_and_the_running_ones_progress(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    g = tenant.email_group.id

    def gauges(text: str) -> dict[str, float]:
        names = (
            "subgroups_imports_queued",
            "subgroups_imports_running",
            "subgroups_import_rows_done",
            "subgroups_import_rows_total",
        )
        found = {}
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name in names:
                found[name] = float(value)
        return found

    # /metrics answers loopback only.
    local = httpx.ASGITransport(
        app=create_app(services.settings, services), client=("127.0.0.1", 1)
    )
    scraper = httpx.AsyncClient(transport=local, base_url="http://testserver")

    async def scraped() -> dict[str, float]:
        answer = await scraper.get("/metrics")
        assert answer.status_code == 200
        return gauges(answer.text)

    assert await scraped() == {
        "subgroups_imports_queued": 0,
        "subgroups_imports_running": 0,
        "subgroups_import_rows_done": 0,
        "subgroups_import_rows_total": 0,
    }
    for n in (3, 5):
        rows = [f"m{n}-{i},m{n}-{i}@example.com,{{g}},subscribed" for i in range(n)]
        assert (await send(client, tenant, csv_file(g, *rows))).status_code == 202
    assert (await scraped())["subgroups_imports_queued"] == 2

    # A runner takes the older one up (and holds it: nothing of it is applied yet).
    now = services.clock.now()
    taken = await services.imports._store.claim_next(owner="elsewhere", at=now, stale_before=now)
    assert taken is not None
    assert taken.counts.rows == 0
    assert await scraped() == {
        "subgroups_imports_queued": 1,
        "subgroups_imports_running": 1,
        "subgroups_import_rows_done": 0,
        "subgroups_import_rows_total": 3,
    }
    await scraper.aclose()
