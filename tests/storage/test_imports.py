"""CSV imports (§10) through the real services on each backend: the rule that never resubscribes
by accident, the dry run, the error report, malformed files, reruns and the records written."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

import pytest

from subgroups.container import Services
from subgroups.domain.imports import ImportJob, RowError
from subgroups.domain.models import Actor, Source, StateChange
from subgroups.domain.subscriptions import GroupRequest
from subgroups.errors import InvalidRequest
from subgroups.services.csv_text import error_report
from subgroups.services.imports import new_owner
from tests.factories import Tenant, make_tenant
from tests.readback import row_counts, states

HEADER = (
    "external_id,email,phone,subscription_group_id,subscription_state,consented_at,consent_source"
)


async def run_import(
    services: Services, tenant: Tenant, text: str | bytes, *, dry_run: bool = False
) -> ImportJob:
    content = text.encode() if isinstance(text, str) else text
    stream = io.BytesIO(content)
    owner = new_owner()
    job = await services.imports.open(
        workspace_id=tenant.workspace.id,
        file_name="people.csv",
        stream=stream,
        dry_run=dry_run,
        owner=owner,
    )
    return await services.imports.run(job, owner=owner, stream=stream)


async def errors_of(services: Services, job: ImportJob) -> list[RowError]:
    return [
        e async for e in services.imports.errors(workspace_id=job.workspace_id, import_id=job.id)
    ]


async def records(services: Services, tenant: Tenant) -> list[StateChange]:
    return await services.subscriptions.changes(workspace_id=tenant.workspace.id)


async def set_by_api(services: Services, tenant: Tenant, external_id: str, state: str) -> None:
    await services.subscriptions.set_state(
        workspace_id=tenant.workspace.id,
        request=GroupRequest(tenant.email_group.id, state, external_id=external_id),
        actor=Actor(Source.REST_API, None, "req", "192.0.2.1"),
    )


@pytest.fixture
async def tenant(services: Services) -> Tenant:
    return await make_tenant(services)


async def test_a_previous_esps_file_never_resubscribes_those_who_unsubscribed_since(
    services: Services, tenant: Tenant
) -> None:
    people = [f"person-{i}" for i in range(10)]
    for person in people:
        await set_by_api(services, tenant, person, "subscribed")
        await set_by_api(services, tenant, person, "unsubscribed")
    unsubscribed_at = {c.external_id: c.occurred_at for c in await records(services, tenant)}
    g = tenant.email_group.id
    stale = "\n".join(f"{p},,,{g},subscribed,2020-01-01T00:00:00Z,old ESP" for p in people)

    job = await run_import(services, tenant, f"{HEADER}\n{stale}\n")

    assert (job.counts.refused, job.counts.applied) == (10, 0)
    assert set((await states(services, tenant.workspace.id)).values()) == {"unsubscribed"}
    report = await errors_of(services, job)
    assert [e.line for e in report] == list(range(2, 12))
    for person, e in zip(people, report, strict=True):
        when = unsubscribed_at[person].isoformat().replace("+00:00", "Z")
        assert (e.column, e.value) == ("subscription_state", "subscribed")
        assert e.message == (
            f"would resubscribe a person who unsubscribed on {when};"
            " give consented_at later than that to import it"
        )

    later = (max(unsubscribed_at.values()) + timedelta(microseconds=1)).isoformat()
    fresh = "\n".join(f"{p},,,{g},subscribed,{later},double opt-in" for p in people)
    again = await run_import(services, tenant, f"{HEADER}\n{fresh}\n")

    assert (again.counts.refused, again.counts.subscribed) == (0, 10)
    assert set((await states(services, tenant.workspace.id)).values()) == {"subscribed"}
    resubscribed = [c for c in await records(services, tenant) if c.source is Source.CSV_IMPORT]
    assert len(resubscribed) == 10
    assert {(c.import_id, c.consent_source) for c in resubscribed} == {(again.id, "double opt-in")}
    assert {c.consented_at for c in resubscribed} == {datetime.fromisoformat(later)}


async def test_consent_exactly_at_the_unsubscribe_is_not_later(
    services: Services, tenant: Tenant
) -> None:
    await set_by_api(services, tenant, "u1", "unsubscribed")
    [record] = await records(services, tenant)
    at = record.occurred_at.isoformat()

    job = await run_import(
        services, tenant, f"{HEADER}\nu1,,,{tenant.email_group.id},subscribed,{at},\n"
    )

    assert job.counts.refused == 1


async def test_an_import_unsubscribes_without_consent_and_counts_every_kind_of_row(
    services: Services, tenant: Tenant
) -> None:
    await set_by_api(services, tenant, "known", "subscribed")
    g, s = tenant.email_group.id, tenant.sms_group.id
    text = "\n".join(
        [
            HEADER,
            f"known,,,{g},unsubscribed,,",  # unsubscribes: no consent needed
            f"new-1,new1@example.com,,{g},subscribed,,",  # a new profile
            f",Mail@Example.com,,{g},Subscribed,,",  # by email, state case-insensitive
            f",,+1 222 333 4444,{s},subscribed,,",  # by phone, formatted
            f"new-1,,,{g},subscribed,,",  # already so: unchanged
            f"x,,,{g},maybe,,",  # invalid state
        ]
    )

    job = await run_import(services, tenant, text + "\n")

    c = job.counts
    assert (c.rows, c.unsubscribed, c.subscribed, c.unchanged, c.invalid) == (6, 1, 3, 1, 1)
    assert (c.applied, c.profiles_created) == (4, 3)
    profiles = await services.subscriptions.profiles(
        workspace_id=tenant.workspace.id, kind="email", value="mail@example.com"
    )
    assert [p.subscriptions[0].state.value for p in profiles] == ["subscribed"]
    [bad] = await errors_of(services, job)
    assert (bad.line, bad.column, bad.value) == (7, "subscription_state", "maybe")
    assert bad.message == "subscription_state must be 'subscribed' or 'unsubscribed'"


async def test_invalid_rows_get_the_apis_message_and_the_cell_they_are_about(
    services: Services, tenant: Tenant
) -> None:
    g, s = tenant.email_group.id, tenant.sms_group.id
    text = "\n".join(
        [
            HEADER,
            f"u1,not-an-email,,{g},subscribed,,",
            f"u2,,+1222,{s},subscribed,,",
            f"u3,a@example.com,+12223334444,{g},subscribed,,",
            f",,+12223334444,{g},subscribed,,",
            "u5,,,no-such-group,subscribed,,",
            f",,,{g},subscribed,,",
            f"u7,,,{g},subscribed,yesterday,",
            f"u8,,,{g},subscribed,,{'x' * 201}",
            f"u9,,,{g},subscribed,2999-01-01,",
        ]
    )

    job = await run_import(services, tenant, text + "\n")

    assert (job.counts.invalid, job.counts.applied) == (9, 0)
    assert [(e.line, e.column, e.value, e.message) for e in await errors_of(services, job)] == [
        (2, "email", "not-an-email", "Invalid email address: 'not-an-email'"),
        (
            3,
            "phone",
            "+1222",
            "Invalid phone number: '+1222' (use E.164, for example +14155552671)",
        ),
        (
            4,
            "phone",
            "+12223334444",
            "Either an email address or a phone number should be provided, but not both.",
        ),
        (
            5,
            "phone",
            "+12223334444",
            "Phone numbers cannot be used with an email subscription group;"
            " use external_id or email",
        ),
        (6, "subscription_group_id", "no-such-group", "Invalid subscription group ID"),
        (7, "external_id", "", "One of external_id or email is required"),
        (8, "consented_at", "yesterday", "consented_at must be an ISO 8601 date-time"),
        (9, "consent_source", "x" * 201, "consent_source must be at most 200 characters"),
        (
            10,
            "consented_at",
            "2999-01-01",
            "consented_at is later than now: consent cannot come from the future",
        ),
    ]
    assert await records(services, tenant) == []


async def test_bom_crlf_quotes_and_unknown_columns(services: Services, tenant: Tenant) -> None:
    g = tenant.email_group.id
    text = (
        "\ufeffExternal_ID ,Email,subscription_group_id,subscription_state,favourite colour\r\n"
        f'"doe, jane",jane@example.com,{g},subscribed,"red,\r\nand blue"\r\n'
        f'"multi\nline",,{g},unsubscribed,green\r\n'
        "\r\n"
        f"plain,,{g},subscribed,\r\n"
    )

    job = await run_import(services, tenant, text)

    assert job.ignored_columns == ("favourite colour",)
    assert (job.counts.rows, job.counts.applied, job.counts.invalid) == (3, 3, 0)
    people = {c.external_id: c for c in await records(services, tenant)}
    assert set(people) == {"doe, jane", "multi\nline", "plain"}
    assert people["doe, jane"].email == "jane@example.com"


async def test_the_error_report_names_the_line_each_row_starts_on_and_defuses_formulas(
    services: Services, tenant: Tenant
) -> None:
    g = tenant.email_group.id
    text = f'{HEADER}\n"two\nlines",,,{g},subscribed,,\nu2,"=HYPERLINK(""http://x"")",,{g},subscribed,,\n'

    job = await run_import(services, tenant, text)

    report = "".join(
        [
            line
            async for line in error_report(
                services.imports.errors(workspace_id=job.workspace_id, import_id=job.id)
            )
        ]
    )
    assert report == (
        "line,column,value,message\r\n"
        '4,email,"\'=HYPERLINK(""http://x"")",'
        '"Invalid email address: \'=HYPERLINK(""http://x"")\'"\r\n'
    )


async def test_a_dry_run_writes_nothing_and_reports_what_the_import_would_do(
    services: Services, tenant: Tenant
) -> None:
    await set_by_api(services, tenant, "gone", "unsubscribed")
    g, s = tenant.email_group.id, tenant.sms_group.id
    # Each person in both groups, the groups' rows far apart: several batches of the dry run
    # meet the same new person, who is still created once.
    rows = [f"p{i},,,{g},subscribed,," for i in range(2500)]
    rows += [f"p{i},,,{s},unsubscribed,," for i in range(2500)]
    rows += [f"gone,,,{g},subscribed,,", f"bad,,,{g},nope,,"]
    text = HEADER + "\n" + "\n".join(rows) + "\n"
    before = await row_counts(services)
    before_records = await records(services, tenant)

    dry = await run_import(services, tenant, text, dry_run=True)

    after = await row_counts(services)
    changed = {t for t in after if after[t] != before[t]}
    assert changed <= {"imports", "import_errors"}
    assert await records(services, tenant) == before_records
    assert dry.dry_run
    real = await run_import(services, tenant, text)
    assert dry.counts == real.counts
    assert (real.counts.profiles_created, real.counts.applied, real.counts.refused) == (
        2500,
        5000,
        1,
    )
    assert [(e.line, e.column) for e in await errors_of(services, dry)] == [
        (5002, "subscription_state"),
        (5003, "subscription_state"),
    ]


async def test_a_rerun_of_the_same_file_changes_nothing_and_records_nothing_twice(
    services: Services, tenant: Tenant
) -> None:
    g = tenant.email_group.id
    text = HEADER + "\n" + "\n".join(f"p{i},p{i}@example.com,,{g},subscribed,," for i in range(300))

    first = await run_import(services, tenant, text + "\n")
    before = await row_counts(services)
    again = await run_import(services, tenant, text + "\n")
    after = await row_counts(services)

    assert first.counts.applied == 300
    assert (again.counts.applied, again.counts.unchanged, again.counts.profiles_created) == (
        0,
        300,
        0,
    )
    assert after["state_changes"] == before["state_changes"] == 300
    assert after["profiles"] == before["profiles"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty: it needs a header row naming its columns"),
        (b"\n\n", "The file is empty: it needs a header row naming its columns"),
        (
            b"external_id,subscription_group_id,subscription_state\n",
            "The file has a header row but no rows to import",
        ),
        (
            b"external_id,subscription_state\nu1,subscribed\n",
            "The header row must name subscription_group_id, subscription_state and at least"
            " one of external_id, email, phone",
        ),
        (
            b"external_id,external_id,subscription_group_id,subscription_state\n",
            "The header names the column 'external_id' more than once",
        ),
        (
            b"external_id,subscription_group_id,subscription_state\nu1,g,subscribed\n"
            b"caf\xe9,g,subscribed\n",
            "The file is not UTF-8 text: line 3 has bytes that are not UTF-8",
        ),
        (
            b"external_id,subscription_group_id,subscription_state\nu1,g,subscribed\n"
            b"u\x002,g,subscribed\n",
            "Line 3 contains a NUL byte: the file is not a CSV text file",
        ),
        (
            b"external_id,subscription_group_id,subscription_state\nu1,g,subscribed\n"
            + b"x" * 10_000_000,
            "Line 3 cannot be read as CSV: field larger than field limit (65536)",
        ),
    ],
    ids=[
        "empty",
        "blank-lines",
        "header-only",
        "no-group-column",
        "twice",
        "not-utf8",
        "nul",
        "10MB-line",
    ],
)
async def test_a_malformed_file_is_refused_whole_before_anything_is_written(
    services: Services, tenant: Tenant, content: bytes, message: str
) -> None:
    before = await row_counts(services)

    with pytest.raises(InvalidRequest) as refused:
        await run_import(services, tenant, content)

    assert refused.value.message == message
    assert await row_counts(services) == before


async def test_an_unknown_group_is_a_row_error_not_a_failure(
    services: Services, tenant: Tenant
) -> None:
    g = tenant.email_group.id
    job = await run_import(
        services, tenant, f"{HEADER}\nu1,,,nope,subscribed,,\nu2,,,{g},subscribed,,\n"
    )

    assert (job.status.value, job.counts.invalid, job.counts.applied) == ("finished", 1, 1)


async def test_a_group_archived_before_the_import_makes_its_rows_invalid(
    services: Services, tenant: Tenant
) -> None:
    g = tenant.email_group.id
    await services.groups.archive(workspace_id=tenant.workspace.id, group_id=g)

    job = await run_import(services, tenant, f"{HEADER}\nu1,,,{g},subscribed,,\n")

    [e] = await errors_of(services, job)
    assert e.message == f"Subscription group '{g}' is archived and cannot be changed"
    assert job.counts.invalid == 1


async def test_the_job_is_kept_with_its_counts(services: Services, tenant: Tenant) -> None:
    g = tenant.email_group.id
    job = await run_import(services, tenant, f"{HEADER}\nu1,,,{g},subscribed,,\n")

    kept = await services.imports.get(workspace_id=tenant.workspace.id, import_id=job.id)

    assert kept == job
    assert (kept.status.value, kept.total_rows, kept.finished_at is not None) == (
        "finished",
        1,
        True,
    )
    assert kept.created_at <= datetime.now(UTC)


async def test_an_erased_persons_address_is_not_resubscribed_without_consent_after_the_erasure(
    services: Services, tenant: Tenant
) -> None:
    """Erasure keeps a suppression entry (§11): importing the address again, even for a new
    person, is refused unless consented_at is after the erasure."""
    g = tenant.email_group.id
    await services.subscriptions.set_state(
        workspace_id=tenant.workspace.id,
        request=GroupRequest(g, "unsubscribed", external_id="gone", email="gone@example.com"),
        actor=Actor(Source.REST_API),
    )
    [profile] = await services.subscriptions.profiles(
        workspace_id=tenant.workspace.id, kind="email", value="gone@example.com"
    )
    await services.person.erase(workspace_id=tenant.workspace.id, profile_id=profile.id, by="CLI")
    before = len(await records(services, tenant))

    stale = f"{HEADER}\nnew-id,gone@example.com,,{g},subscribed,2020-01-01T00:00:00Z,old ESP\n"
    refused = await run_import(services, tenant, stale)
    [error] = await errors_of(services, refused)
    assert (refused.counts.refused, refused.counts.subscribed) == (1, 0)
    assert error.line == 2
    assert error.message.startswith("would resubscribe a person who unsubscribed on ")
    assert len(await records(services, tenant)) == before

    later = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    consented = f"{HEADER}\nnew-id,gone@example.com,,{g},subscribed,{later},signup form\n"
    await asyncio.sleep(1.1)  # consented_at may not be in the future
    applied = await run_import(services, tenant, consented)
    assert (applied.counts.refused, applied.counts.subscribed) == (0, 1)
