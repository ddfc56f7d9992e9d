"""A state export streams in chunks, reading the next while the last is written out: one stopped
after its first chunk leaves the database as it was for the next export, which reads every line."""

from __future__ import annotations

from subgroups.container import Services
from subgroups.domain.exports import ExportFormat
from subgroups.storage.exports import CHUNK
from tests.factories import make_tenant
from tests.storage.test_imports import run_import


async def test_an_export_stopped_early_leaves_the_next_one_whole(services: Services) -> None:
    tenant = await make_tenant(services)
    people = 2 * CHUNK + 10
    g = tenant.email_group.id
    text = "external_id,subscription_group_id,subscription_state\n" + "".join(
        f"p{i},{g},subscribed\n" for i in range(people)
    )
    await run_import(services, tenant, text)

    for fmt in (ExportFormat.CSV, ExportFormat.NDJSON):
        lines = await services.exports.states(
            workspace_id=tenant.workspace.id, group_id=None, as_of=None, fmt=fmt
        )
        async for _ in lines:
            break
        await lines.aclose()  # type: ignore[attr-defined]

    whole = await services.exports.states(
        workspace_id=tenant.workspace.id, group_id=None, as_of=None, fmt=ExportFormat.NDJSON
    )
    assert "".join([chunk async for chunk in whole]).count("\n") == people
