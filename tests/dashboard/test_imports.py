"""The Imports pages through the ASGI app: an upload queued and run, its live progress, the dry
run, the error report, and the refusals (a bad file, no CSRF token, not signed in, too large,
another workspace) that create nothing."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from subgroups.container import Services
from subgroups.domain.imports import ImportJob
from subgroups.domain.subscriptions import INVALID_GROUP
from subgroups.services.imports import MAX_ATTEMPTS, ImportGivenUp, given_up_reason
from tests.dashboard.helpers import client_for, csrf_of
from tests.factories import Tenant, make_tenant, make_workspace
from tests.readback import row_counts, states

HEADER = "external_id,email,subscription_group_id,subscription_state,consented_at,consent_source"
WORKER = "test-import-worker"


@pytest.fixture
async def tenant(services: Services) -> Tenant:
    return await make_tenant(services)


def imports_page(tenant: Tenant) -> str:
    return f"/dashboard/w/{tenant.workspace.id}/imports"


async def upload(
    web: httpx.AsyncClient,
    tenant: Tenant,
    content: bytes,
    *,
    dry_run: bool = False,
    name: str = "people.csv",
    csrf: str | None = None,
) -> httpx.Response:
    """Posts the upload form as a browser does (multipart), with the page's CSRF token."""
    page = imports_page(tenant)
    token = csrf if csrf is not None else csrf_of((await web.get(page)).text)
    fields = {"csrf": token, **({"dry_run": "on"} if dry_run else {})}
    return await web.post(page, data=fields, files={"file": (name, content, "text/csv")})


def people_file(tenant: Tenant) -> bytes:
    """Two subscribed, one unsubscribed, one invalid email that a spreadsheet would take for a
    formula, and one row of an unknown group."""
    g = tenant.email_group.id
    return (
        f"{HEADER}\n"
        f"u1,u1@example.com,{g},subscribed,,signup form\n"
        f"u2,u2@example.com,{g},subscribed,,\n"
        f"u3,u3@example.com,{g},unsubscribed,,\n"
        f"u4,=1+2,{g},subscribed,,\n"
        f"u5,u5@example.com,no-such-group,subscribed,,\n"
    ).encode()


def queued_id(response: httpx.Response, tenant: Tenant) -> str:
    assert response.status_code == 303, response.text
    found = re.fullmatch(
        rf"/dashboard/w/{tenant.workspace.id}/imports/([0-9a-f-]{{36}})",
        response.headers["location"],
    )
    assert found is not None, response.headers["location"]
    return found.group(1)


async def run_queued(services: Services) -> ImportJob:
    job = await services.imports.run_next(owner=WORKER)
    assert job is not None
    return job


def notice_of(page: httpx.Response) -> str:
    found = re.search(r'<p class="notice[^"]*" role="(?:status|alert)"[^>]*>([^<]+)</p>', page.text)
    assert found is not None, "the page shows a notice"
    return html.unescape(found.group(1))


def field(page: httpx.Response, name: str) -> str:
    found = re.search(rf'data-field="{name}">([^<]*)<', page.text)
    assert found is not None, name
    return found.group(1)


async def test_an_upload_is_queued_run_and_its_page_shows_the_counts(
    services: Services, web: httpx.AsyncClient, tenant: Tenant
) -> None:
    sent = await upload(web, tenant, people_file(tenant))

    import_id = queued_id(sent, tenant)
    page = await web.get(sent.headers["location"])
    assert page.status_code == 200
    assert notice_of(page) == "The import of people.csv (5 rows) is queued."
    assert '<span class="badge badge-unknown" data-status-badge>Queued</span>' in page.text
    assert '<progress id="import-progress" max="5" value="0">' in page.text
    assert '<meta http-equiv="refresh" content="2">' in page.text
    assert await states(services, tenant.workspace.id) == {}

    job = await run_queued(services)

    assert job.id == import_id
    page = await web.get(sent.headers["location"])
    assert '<span class="badge badge-on" data-status-badge>Finished</span>' in page.text
    assert '<progress id="import-progress" max="5" value="5">' in page.text
    assert "http-equiv" not in page.text
    shown = ("rows", "applied", "subscribed", "unsubscribed", "unchanged", "refused", "invalid")
    counts = {name: field(page, name) for name in (*shown, "profiles_created")}
    assert counts == {
        "rows": "5",
        "applied": "3",
        "subscribed": "2",
        "unsubscribed": "1",
        "unchanged": "0",
        "refused": "0",
        "invalid": "2",
        "profiles_created": "3",
    }
    assert f'href="/dashboard/w/{tenant.workspace.id}/imports/{import_id}/errors.csv"' in page.text
    assert sorted((await states(services, tenant.workspace.id)).values()) == [
        "subscribed",
        "subscribed",
        "unsubscribed",
    ]

    listed = await web.get(imports_page(tenant))
    row = re.search(rf'<tr data-import-id="{import_id}">(.*?)</tr>', listed.text, re.S)
    assert row is not None
    cells = [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row.group(1), re.S)
    ]
    assert cells[:9] == ["people.csv", "Finished", "No", "5", "3", "0", "0", "2", "3"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", cells[9])


async def test_the_progress_document_follows_the_job(
    services: Services, web: httpx.AsyncClient, tenant: Tenant
) -> None:
    import_id = queued_id(await upload(web, tenant, people_file(tenant)), tenant)
    progress = f"{imports_page(tenant)}/{import_id}/progress"

    before = await web.get(progress)

    assert before.status_code == 200
    assert before.headers["content-type"] == "application/json"
    assert before.headers["cache-control"] == "no-store"
    document = before.json()
    assert {k: document[k] for k in ("import_id", "status", "dry_run", "total_rows", "rows")} == {
        "import_id": import_id,
        "status": "queued",
        "dry_run": False,
        "total_rows": 5,
        "rows": 0,
    }

    await run_queued(services)
    after = (await web.get(progress)).json()

    assert after == {
        "import_id": import_id,
        "status": "finished",
        "dry_run": False,
        "file_name": "people.csv",
        "total_rows": 5,
        "rows": 5,
        "applied": 3,
        "unchanged": 0,
        "refused": 0,
        "invalid": 2,
        "profiles_created": 3,
        "subscribed": 2,
        "unsubscribed": 1,
        "ignored_columns": [],
        "failure": None,
        "message": "success",
    }


async def test_a_dry_run_reports_what_it_would_do_and_writes_nothing(
    services: Services, web: httpx.AsyncClient, tenant: Tenant
) -> None:
    sent = await upload(web, tenant, people_file(tenant), dry_run=True)
    import_id = queued_id(sent, tenant)
    before = await row_counts(services)

    await run_queued(services)

    after = await row_counts(services)
    changed = {table for table in after if after[table] != before[table]}
    # The job's own error rows only; its kept file is gone once it ended.
    assert changed == {"import_errors", "import_files"}
    assert after["import_errors"] == 2
    assert after["import_files"] == 0
    assert await states(services, tenant.workspace.id) == {}
    page = await web.get(sent.headers["location"])
    assert "Dry run: nothing is changed" in page.text
    document = (await web.get(f"{imports_page(tenant)}/{import_id}/progress")).json()
    assert (document["dry_run"], document["subscribed"], document["profiles_created"]) == (
        True,
        2,
        3,
    )


async def test_the_error_report_is_the_clis_csv_with_cells_neutralised(
    services: Services, web: httpx.AsyncClient, tenant: Tenant
) -> None:
    import_id = queued_id(await upload(web, tenant, people_file(tenant)), tenant)
    await run_queued(services)

    report = await web.get(f"{imports_page(tenant)}/{import_id}/errors.csv")

    assert report.status_code == 200
    assert report.headers["content-type"] == "text/csv; charset=utf-8"
    assert report.headers["content-disposition"] == (
        f'attachment; filename="import-{import_id}-errors.csv"'
    )
    assert report.text == (
        "line,column,value,message\r\n"
        "5,email,'=1+2,Invalid email address: '=1+2'\r\n"
        f"6,subscription_group_id,no-such-group,{INVALID_GROUP}\r\n"
    )


async def test_an_import_with_no_problem_row_offers_no_report(
    services: Services, web: httpx.AsyncClient, tenant: Tenant
) -> None:
    g = tenant.email_group.id
    sent = await upload(web, tenant, f"{HEADER}\nu1,,{g},subscribed,,\n".encode())
    import_id = queued_id(sent, tenant)
    await run_queued(services)

    page = await web.get(sent.headers["location"])

    assert re.search(r"<p data-errors-link hidden>", page.text)
    assert "No refused or invalid rows." in page.text
    report = await web.get(f"{imports_page(tenant)}/{import_id}/errors.csv")
    assert report.text == "line,column,value,message\r\n"


BAD_FILES = [
    (b"", "The file is empty: it needs a header row naming its columns"),
    (f"{HEADER}\n".encode(), "The file has a header row but no rows to import"),
    (
        f"{HEADER}\nu1,caf\xe9@example.com,g,subscribed,,\n".encode("latin-1"),
        "The file is not UTF-8 text: line 2 has bytes that are not UTF-8",
    ),
    (
        f"{HEADER}\nu1,a\x00@example.com,g,subscribed,,\n".encode(),
        "Line 2 contains a NUL byte: the file is not a CSV text file",
    ),
    (
        b"external_id,state\nu1,subscribed\n",
        "The header row must name subscription_group_id, subscription_state and at least one"
        " of external_id, email, phone",
    ),
]


@pytest.mark.parametrize(("content", "message"), BAD_FILES)
async def test_a_file_that_cannot_be_imported_is_refused_with_the_clis_words(
    services: Services, web: httpx.AsyncClient, tenant: Tenant, content: bytes, message: str
) -> None:
    before = await row_counts(services)

    refused = await upload(web, tenant, content, dry_run=True)

    assert refused.status_code == 400
    assert notice_of(refused) == message
    assert 'aria-invalid="true"' in refused.text
    assert re.search(r'<input type="checkbox" name="dry_run" checked>', refused.text)
    assert await row_counts(services) == before
    assert await services.imports.run_next(owner=WORKER) is None


async def test_a_form_without_a_file_asks_for_one(
    services: Services, web: httpx.AsyncClient, tenant: Tenant
) -> None:
    page = imports_page(tenant)
    token = csrf_of((await web.get(page)).text)
    before = await row_counts(services)

    # A browser sends an empty file part when no file was chosen.
    refused = await web.post(page, data={"csrf": token}, files={"file": ("", b"")})

    assert refused.status_code == 400
    assert notice_of(refused) == "Choose a CSV file to import."
    assert await row_counts(services) == before


async def test_forms_that_are_not_one_file_are_refused_and_change_nothing(
    services: Services, web: httpx.AsyncClient, tenant: Tenant
) -> None:
    page = imports_page(tenant)
    token = csrf_of((await web.get(page)).text)
    before = await row_counts(services)

    urlencoded = await web.post(page, data={"csrf": token})
    two_files = await web.post(
        page,
        data={"csrf": token},
        files=[("file", ("a.csv", b"x")), ("file", ("b.csv", b"y"))],
    )
    broken = await web.post(
        page,
        content=b"--x\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--x--\r\n",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )

    assert urlencoded.status_code == 400
    assert notice_of(urlencoded) == "Choose a CSV file to import."
    assert (two_files.status_code, broken.status_code) == (400, 400)
    assert "This form could not be read." in two_files.text
    assert await row_counts(services) == before


async def test_a_file_over_the_bound_is_refused_with_the_dashboards_error_page(
    services: Services, web: httpx.AsyncClient, tenant: Tenant
) -> None:
    page = imports_page(tenant)
    token = csrf_of((await web.get(page)).text)
    before = await row_counts(services)
    max_upload_bytes = services.settings.import_max_bytes
    assert max_upload_bytes == 100 * 1024 * 1024  # the default
    boundary = "bound"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    chunk = b"u,u@example.com,g,subscribed,,\n" * 32768  # 1 MiB
    sent_chunks = 0

    async def body() -> AsyncIterator[bytes]:
        # No Content-Length: the bound is found while the body streams in.
        nonlocal sent_chunks
        yield head
        for _ in range(max_upload_bytes // len(chunk) + 2):
            sent_chunks += 1
            yield chunk

    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    streamed = await web.post(page, content=body(), headers=headers)
    declared = await web.post(
        page, content=b"x", headers={**headers, "content-length": str(max_upload_bytes * 2)}
    )

    # The streamed one was read up to the bound, and no further.
    assert max_upload_bytes // len(chunk) <= sent_chunks <= max_upload_bytes // len(chunk) + 1
    for refused in (streamed, declared):
        assert refused.status_code == 413
        assert "<h1>Too large</h1>" in refused.text
        assert "The file is larger than 100 MB" in html.unescape(refused.text)
    assert await row_counts(services) == before


async def test_an_upload_without_the_csrf_token_is_refused(
    services: Services, web: httpx.AsyncClient, tenant: Tenant
) -> None:
    before = await row_counts(services)

    for token in ("", "not-the-token"):
        refused = await upload(web, tenant, people_file(tenant), csrf=token)
        assert refused.status_code == 403
        assert "did not come from this dashboard" in refused.text

    assert await row_counts(services) == before


async def test_only_a_signed_in_operator_can_import_or_see_imports(
    services: Services, tenant: Tenant, web: httpx.AsyncClient
) -> None:
    import_id = queued_id(await upload(web, tenant, people_file(tenant)), tenant)
    before = await row_counts(services)
    base = f"{imports_page(tenant)}/{import_id}"

    async with client_for(services) as stranger:
        sent = await stranger.post(
            imports_page(tenant),
            data={"csrf": "x"},
            files={"file": ("people.csv", people_file(tenant), "text/csv")},
        )
        assert sent.status_code == 303
        assert sent.headers["location"].startswith("/dashboard/sign-in?")
        for path in (imports_page(tenant), base, f"{base}/progress", f"{base}/errors.csv"):
            looked = await stranger.get(path)
            assert looked.status_code == 303, path
            assert looked.headers["location"].startswith("/dashboard/sign-in?")

    assert await row_counts(services) == before


async def test_an_import_of_another_workspace_is_not_found(
    services: Services, web: httpx.AsyncClient, tenant: Tenant
) -> None:
    import_id = queued_id(await upload(web, tenant, people_file(tenant)), tenant)
    other = await make_workspace(services)

    for suffix in ("", "/progress", "/errors.csv"):
        elsewhere = await web.get(f"/dashboard/w/{other.id}/imports/{import_id}{suffix}")
        assert elsewhere.status_code == 404, suffix
        assert f"There is no import {import_id} in this workspace" in elsewhere.text
    for odd in ("not-an-id", "%00", import_id.upper()):
        assert (await web.get(f"{imports_page(tenant)}/{odd}")).status_code == 404
    listed = await web.get(f"/dashboard/w/{other.id}/imports")
    assert import_id not in listed.text
    assert "No imports yet." in listed.text


async def test_the_list_shows_the_workspaces_newest_imports_first(
    services: Services, web: httpx.AsyncClient, tenant: Tenant
) -> None:
    g = tenant.email_group.id
    ids = [
        queued_id(
            await upload(web, tenant, f"{HEADER}\nu{n},,{g},subscribed,,\n".encode(), name=name),
            tenant,
        )
        for n, name in enumerate(("first.csv", "second.csv", "third.csv"))
    ]

    listed = await web.get(imports_page(tenant))

    assert re.findall(r'<tr data-import-id="([^"]+)">', listed.text) == ids[::-1]
    recent = await services.imports.recent(workspace_id=tenant.workspace.id, limit=2)
    assert [job.id for job in recent] == ids[:0:-1]
    nav = re.search(r'<nav class="tabs".*?</nav>', listed.text, re.S)
    assert nav is not None
    assert re.search(r'href="[^"]+/imports" aria-current="page">Imports</a>', nav.group(0))


async def test_an_import_given_up_shows_why_on_its_page(
    services: Services, web: httpx.AsyncClient, tenant: Tenant
) -> None:
    sent = await upload(web, tenant, people_file(tenant))
    import_id = queued_id(sent, tenant)
    store = services.imports._store
    # Runners that died one after another before writing a batch: each took the job up an hour
    # ago, so each lease has lapsed.
    for attempt in range(MAX_ATTEMPTS):
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        claimed = await store.claim_next(
            owner=f"dead-{attempt}", at=an_hour_ago, stale_before=datetime.now(UTC)
        )
        assert claimed is not None
    with pytest.raises(ImportGivenUp):
        await services.imports.run_next(owner=WORKER)

    page = await web.get(sent.headers["location"])

    assert '<span class="badge badge-off" data-status-badge>Failed</span>' in page.text, page.text
    failure = re.search(r'data-field="failure">([^<]*)</p>', page.text)
    assert failure is not None
    assert html.unescape(failure.group(1)) == given_up_reason(MAX_ATTEMPTS)
    progress = (await web.get(f"{imports_page(tenant)}/{import_id}/progress")).json()
    assert (progress["status"], progress["failure"]) == ("failed", given_up_reason(MAX_ATTEMPTS))
