"""An import batch decides its rows together, in memory, from one read of their profiles and
states: the outcome is the one the rows give applied one at a time, in file order. A file is
imported twice, in batches of one row and in one batch, into two workspaces: the counts, the
error rows, the states and the records must be the same. And the batch read ahead while another
is written is never applied once the job is no longer this process's."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import select

from subgroups.config import Settings
from subgroups.container import Services, open_backend
from subgroups.domain.imports import ImportCounts, RowError
from subgroups.domain.models import Actor, Source
from subgroups.domain.subscriptions import GroupRequest
from subgroups.errors import LeaseLost
from subgroups.services.imports import ImportService, new_owner
from subgroups.services.ports import ImportStore, SystemClock
from subgroups.storage.groups import SqlGroupStore
from subgroups.storage.tables import profiles
from subgroups.storage.workspaces import SqlWorkspaceStore
from tests.factories import Tenant, make_tenant
from tests.readback import states

HEADER = "external_id,email,phone,subscription_group_id,subscription_state,consented_at"
# A time in an error message: when the person unsubscribed, a batch's time or the other's.
_TIME = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z")

# Rows that meet each other within a batch: a profile created by one row and found by the next
# (by external id and by contact), a contact recorded by a later row and then selecting, two
# profiles one contact selects, an unsubscribe then a resubscription without consent, and the
# same pair set twice.
ROWS = """\
x1,,,{g},subscribed,
x1,a@example.com,,{g},unsubscribed,
,a@example.com,,{g},subscribed,
,A@Example.com,,{g},subscribed,2000-01-01T00:00:00Z
,b@example.com,,{g},subscribed,
,b@example.com,,{g},unsubscribed,
x2,b@example.com,,{g},subscribed,
,b@example.com,,{g},subscribed,
,b@example.com,,{g},unsubscribed,
x3,c@example.com,,{g},subscribed,
x3,d@example.com,,{g},unsubscribed,
,c@example.com,,{g},subscribed,
,,+14155552671,{s},subscribed,
x4,,+1 415 555 2671,{s},unsubscribed,
,,+14155552671,{s},subscribed,
x5,,,{s},subscribed,
x5,,+14155550000,{s},subscribed,
,,+14155550000,{s},unsubscribed,
known,,,{g},subscribed,
known,,,{g},subscribed,
known,e@example.com,,{g},unsubscribed,
,e@example.com,,{g},subscribed,2999-01-01T00:00:00Z
,not an email,,{g},subscribed,
"""


@pytest.fixture
async def tenants(services: Services) -> tuple[Tenant, Tenant]:
    return await make_tenant(services), await make_tenant(services)


@pytest.fixture
async def one_row_batches(settings: Settings) -> AsyncIterator[ImportService]:
    """An import service over the same database that applies one row per batch."""
    backend = open_backend(settings)
    try:
        yield ImportService(
            store=backend.imports,
            groups=SqlGroupStore(backend.db),
            workspaces=SqlWorkspaceStore(backend.db),
            clock=SystemClock(),
            lease_seconds=30.0,
            batch_rows=1,
        )
    finally:
        await backend.db.dispose()


async def run(
    imports: ImportService, tenant: Tenant, text: str
) -> tuple[ImportCounts, list[RowError]]:
    stream = io.BytesIO(text.encode())
    owner = new_owner()
    job = await imports.open(
        workspace_id=tenant.workspace.id,
        file_name="people.csv",
        stream=stream,
        dry_run=False,
        owner=owner,
    )
    done = await imports.run(job, owner=owner, stream=stream)
    errors = [e async for e in imports.errors(workspace_id=job.workspace_id, import_id=job.id)]
    return done.counts, errors


def file_for(tenant: Tenant) -> str:
    return f"{HEADER}\n" + ROWS.format(g=tenant.email_group.id, s=tenant.sms_group.id)


async def outcome(
    services: Services, tenant: Tenant, counts: ImportCounts, errors: list[RowError]
) -> object:
    """What the import did, without what differs between two workspaces (ids, times)."""
    groups = {tenant.email_group.id: "email group", tenant.sms_group.id: "sms group"}
    changes = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    query = select(profiles.c.id, profiles.c.external_id, profiles.c.email, profiles.c.phone)
    async with services.db.snapshot() as conn:
        people = {
            pid: (x, e, ph)
            for pid, x, e, ph in await conn.execute(
                query.where(profiles.c.workspace_id == tenant.workspace.id)
            )
        }
    # Each profile's records in each group, in order: PostgreSQL writes a batch's records in
    # waves, so those of different profiles may interleave differently.
    records: dict[str, list[object]] = {}
    for c in changes:
        pair = repr((people[c.profile_id], groups[c.subscription_group_id]))
        records.setdefault(pair, []).append(
            (c.external_id, c.email, c.phone, c.old_state, c.new_state, c.source, c.consented_at)
        )
    return (
        counts,
        [(e.line, e.column, e.value, _TIME.sub("T", e.message), e.refused) for e in errors],
        sorted(people.values(), key=repr),
        sorted(
            repr((people[pid], groups[group], state))
            for (pid, group), state in (await states(services, tenant.workspace.id)).items()
        ),
        records,
    )


async def test_a_batch_gives_the_outcome_of_its_rows_one_at_a_time(
    services: Services, tenants: tuple[Tenant, Tenant], one_row_batches: ImportService
) -> None:
    by_rows, by_batch = tenants
    for tenant in tenants:  # a profile that exists before the import, subscribed
        await services.subscriptions.set_state(
            workspace_id=tenant.workspace.id,
            request=GroupRequest(tenant.email_group.id, "subscribed", external_id="known"),
            actor=Actor(Source.REST_API, None, "req", "192.0.2.1"),
        )

    one_at_a_time = await run(one_row_batches, by_rows, file_for(by_rows))
    together = await run(services.imports, by_batch, file_for(by_batch))

    assert one_at_a_time[0].rows == 23
    assert one_at_a_time[0].refused > 0
    assert await outcome(services, by_batch, *together) == await outcome(
        services, by_rows, *one_at_a_time
    )


class TakenOverAtSecondBatch:
    """The store, but another process takes the job over just before its second batch."""

    def __init__(self, inner: ImportStore) -> None:
        self._inner = inner
        self.batches = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def apply(self, **batch: Any) -> ImportCounts:
        self.batches += 1
        if self.batches == 2:
            now = datetime.now(UTC)
            taken = await self._inner.claim(
                batch["workspace_id"],
                batch["import_id"],
                owner="another process",
                at=now,
                stale_before=now + timedelta(days=1),
            )
            assert taken
        return await self._inner.apply(**batch)


async def test_a_job_taken_over_stops_after_its_last_batch_and_applies_nothing_read_ahead(
    services: Services, settings: Settings, tenants: tuple[Tenant, Tenant]
) -> None:
    tenant = tenants[0]
    backend = open_backend(settings)
    store = TakenOverAtSecondBatch(backend.imports)
    imports = ImportService(
        store=cast(ImportStore, store),
        groups=SqlGroupStore(backend.db),
        workspaces=SqlWorkspaceStore(backend.db),
        clock=SystemClock(),
        lease_seconds=30.0,
        batch_rows=2,
    )
    g = tenant.email_group.id
    text = "external_id,subscription_group_id,subscription_state\n" + "".join(
        f"p{i},{g},subscribed\n" for i in range(6)
    )
    stream = io.BytesIO(text.encode())
    owner = new_owner()
    try:
        job = await imports.open(
            workspace_id=tenant.workspace.id,
            file_name="people.csv",
            stream=stream,
            dry_run=False,
            owner=owner,
        )
        with pytest.raises(LeaseLost):
            await imports.run(job, owner=owner, stream=stream)
    finally:
        await backend.db.dispose()

    kept = await services.imports.get(workspace_id=tenant.workspace.id, import_id=job.id)
    assert (kept.counts.rows, kept.counts.subscribed) == (2, 2)
    assert store.batches == 2
    changes = await services.subscriptions.changes(workspace_id=tenant.workspace.id)
    assert sorted(c.external_id or "" for c in changes) == ["p0", "p1"]
