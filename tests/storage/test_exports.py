"""Exports (§10) on each backend: states now and as of any moment (from the records), records with
their filters, CSV made safe for spreadsheets, NDJSON verbatim."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from subgroups.config import Settings
from subgroups.container import Services
from subgroups.domain.exports import STATE_COLUMNS, ExportFormat
from subgroups.domain.models import Actor, Source
from subgroups.domain.subscriptions import GroupRequest
from subgroups.errors import InvalidRequest
from tests.clock import SettableClock, services_at
from tests.factories import Tenant, make_tenant
from tests.storage.test_imports import run_import

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def text_of(lines_coming: object) -> str:
    lines = await lines_coming  # type: ignore[misc]
    return "".join([line async for line in lines])


async def states_csv(
    services: Services, tenant: Tenant, *, as_of: datetime | None = None, group: str | None = None
) -> str:
    return await text_of(
        services.exports.states(
            workspace_id=tenant.workspace.id, group_id=group, as_of=as_of, fmt=ExportFormat.CSV
        )
    )


async def set_state(services: Services, tenant: Tenant, state: str, **who: str) -> None:
    group = tenant.sms_group if "phone" in who else tenant.email_group
    await services.subscriptions.set_state(
        workspace_id=tenant.workspace.id,
        request=GroupRequest(group.id, state, **who),
        actor=Actor(Source.REST_API, None, "req", "192.0.2.1"),
    )


async def test_the_state_as_of_each_moment_is_the_live_state_then(settings: Settings) -> None:
    clock = SettableClock(START)
    async with services_at(settings, clock) as services:
        tenant = await make_tenant(services)
        script = [
            ("subscribed", {"external_id": "u1", "email": "u1@example.com"}),
            ("subscribed", {"email": "shared@example.com"}),
            ("unsubscribed", {"external_id": "u1"}),
            ("subscribed", {"phone": "+12223334444"}),
            ("subscribed", {"external_id": "u2"}),
            ("subscribed", {"external_id": "u1"}),
            ("unsubscribed", {"phone": "+12223334444"}),
        ]
        live: list[tuple[datetime, str]] = [(clock.now(), await states_csv(services, tenant))]
        for state, who in script:
            clock.advance(timedelta(minutes=5))
            await set_state(services, tenant, state, **who)
            clock.advance(timedelta(minutes=5))
            live.append((clock.now(), await states_csv(services, tenant)))

        for moment, then in live:
            assert await states_csv(services, tenant, as_of=moment) == then
        only_email = await states_csv(
            services, tenant, as_of=live[3][0], group=tenant.email_group.id
        )
        assert only_email == live[3][1]  # the SMS group had no state yet then
        assert len(live[-1][1].splitlines()) == 5  # header, u1, shared, the phone, u2


async def test_a_state_export_reads_back_as_an_import(services: Services) -> None:
    tenant = await make_tenant(services)
    await set_state(services, tenant, "subscribed", external_id="u1", email="u1@example.com")
    await set_state(services, tenant, "unsubscribed", email="solo@example.com")
    exported = await states_csv(services, tenant)
    other = await make_tenant(services)
    # The same group ids in the other workspace are what an import there would name.
    content = exported.replace(tenant.email_group.id, other.email_group.id)
    job = await run_import(services, other, content)

    assert (job.counts.applied, job.counts.invalid) == (2, 0)
    again = await states_csv(services, other)
    strip = [line.rsplit(",", 1)[0] for line in again.splitlines()]
    assert strip == [
        line.rsplit(",", 1)[0]
        for line in exported.replace(tenant.email_group.id, other.email_group.id).splitlines()
    ]


async def test_csv_cells_that_look_like_formulas_are_neutralised_but_phones_are_not(
    services: Services,
) -> None:
    tenant = await make_tenant(services)
    for x in ('=HYPERLINK("http://x")', "+cmd", "-2+3", "@SUM(A1)", "\tx", "plain"):
        await set_state(services, tenant, "subscribed", external_id=x)
    await set_state(services, tenant, "subscribed", phone="+14155552671")

    rows = list(csv.reader(io.StringIO(await states_csv(services, tenant))))

    assert [r[0] for r in rows[1:]] == [
        '\'=HYPERLINK("http://x")',
        "'+cmd",
        "'-2+3",
        "'@SUM(A1)",
        "'\tx",
        "plain",
        "",
    ]
    assert rows[-1][2] == "+14155552671"


async def test_ndjson_is_verbatim(services: Services) -> None:
    tenant = await make_tenant(services)
    await set_state(services, tenant, "subscribed", external_id="=1+1")

    text = await text_of(
        services.exports.states(
            workspace_id=tenant.workspace.id, group_id=None, as_of=None, fmt=ExportFormat.NDJSON
        )
    )

    [line] = [orjson.loads(x) for x in text.splitlines()]
    assert (line["external_id"], line["subscription_state"]) == ("=1+1", "subscribed")
    assert tuple(line) == STATE_COLUMNS


async def test_records_export_with_filters(settings: Settings) -> None:
    clock = SettableClock(START)
    async with services_at(settings, clock) as services:
        tenant = await make_tenant(services)
        for i in range(4):
            clock.advance(timedelta(hours=1))
            await set_state(services, tenant, "subscribed", external_id=f"u{i}")
        await set_state(services, tenant, "subscribed", phone="+12223334444")

        async def export(**filters: object) -> list[dict[str, object]]:
            text = await text_of(
                services.exports.changes(
                    workspace_id=tenant.workspace.id,
                    group_id=filters.get("group"),  # type: ignore[arg-type]
                    since=filters.get("since"),  # type: ignore[arg-type]
                    until=filters.get("until"),  # type: ignore[arg-type]
                    source=filters.get("source"),  # type: ignore[arg-type]
                    fmt=ExportFormat.NDJSON,
                )
            )
            return [orjson.loads(line) for line in text.splitlines()]

        everything = await export()
        assert [r["id"] for r in everything] == [1, 2, 3, 4, 5]
        window = await export(since=START + timedelta(hours=2), until=START + timedelta(hours=4))
        assert [r["external_id"] for r in window] == ["u1", "u2"]
        assert [r["phone"] for r in await export(group=tenant.sms_group.id)] == ["+12223334444"]
        assert await export(source=Source.CSV_IMPORT) == []
        header = (
            await text_of(
                services.exports.changes(
                    workspace_id=tenant.workspace.id,
                    group_id=None,
                    since=None,
                    until=None,
                    source=None,
                    fmt=ExportFormat.CSV,
                )
            )
        ).splitlines()[0]
        assert header.split(",") == list(everything[0])


async def test_an_unknown_group_is_refused_before_the_first_line(services: Services) -> None:
    tenant = await make_tenant(services)

    with pytest.raises(InvalidRequest) as refused:
        await services.exports.states(
            workspace_id=tenant.workspace.id, group_id="nope", as_of=None, fmt=ExportFormat.CSV
        )

    assert refused.value.message == "Invalid subscription group ID"
