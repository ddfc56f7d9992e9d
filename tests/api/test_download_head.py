"""HEAD on the downloads (GET /exports/states, /exports/changes, /imports/{id}/errors), through
the real app on both backends: the headers a GET would get, after the same checks, and not one
line read. The store's reads are watched through a reader that passes them on and notes each one
that is actually read from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

import httpx
import pytest

from subgroups.config import Settings
from subgroups.container import Services
from subgroups.domain.exports import StateCells
from subgroups.domain.models import Source, StateChange
from subgroups.services.exports import ExportService
from subgroups.services.ports import ExportReader
from subgroups.web.app import create_app
from tests.api.helpers import set_state
from tests.factories import Tenant

T = TypeVar("T")


class WatchedReader:
    """The real reader, noting each read from which a line was taken."""

    def __init__(self, reader: ExportReader) -> None:
        self._reader = reader
        self.read: list[str] = []

    def states(self, workspace_id: int, group_id: str | None) -> AsyncIterator[list[StateCells]]:
        return self._watch("states", self._reader.states(workspace_id, group_id))

    def states_as_of(
        self, workspace_id: int, group_id: str | None, at: datetime
    ) -> AsyncIterator[list[StateCells]]:
        return self._watch("states", self._reader.states_as_of(workspace_id, group_id, at))

    def changes(
        self,
        workspace_id: int,
        *,
        group_id: str | None,
        since: datetime | None,
        until: datetime | None,
        source: Source | None,
    ) -> AsyncIterator[StateChange]:
        lines = self._reader.changes(
            workspace_id, group_id=group_id, since=since, until=until, source=source
        )
        return self._watch("changes", lines)

    async def _watch(self, name: str, lines: AsyncIterator[T]) -> AsyncIterator[T]:
        self.read.append(name)
        async for line in lines:
            yield line


@pytest.fixture
async def watched(
    settings: Settings, services: Services
) -> AsyncIterator[tuple[httpx.AsyncClient, WatchedReader]]:
    reader = WatchedReader(services.exports._reader)
    exports = ExportService(
        reader=reader, groups=services.exports._groups, workspaces=services.exports._workspaces
    )
    app = create_app(settings, replace(services, exports=exports))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http, reader


@pytest.mark.parametrize(
    ("path", "params", "content_type", "filename"),
    [
        ("/exports/states", {}, "text/csv; charset=utf-8", "states.csv"),
        ("/exports/states", {"format": "ndjson"}, "application/x-ndjson", "states.ndjson"),
        (
            "/exports/states",
            {"as_of": "2030-01-01T00:00:00Z"},
            "text/csv; charset=utf-8",
            "states.csv",
        ),
        ("/exports/changes", {"source": "REST API"}, "text/csv; charset=utf-8", "changes.csv"),
    ],
)
async def test_head_answers_the_headers_of_the_download_without_reading_it(
    watched: tuple[httpx.AsyncClient, WatchedReader],
    tenant: Tenant,
    path: str,
    params: dict[str, str],
    content_type: str,
    filename: str,
) -> None:
    client, reader = watched
    await set_state(client, tenant, tenant.email_group, "subscribed", external_id="u1")

    head = await client.head(path, params=params, headers=tenant.auth)

    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == content_type
    assert head.headers["content-disposition"] == f'attachment; filename="{filename}"'
    assert head.headers["x-ratelimit-limit"] == "250000"
    assert reader.read == []

    get = await client.get(path, params=params, headers=tenant.auth)

    assert get.status_code == 200
    assert get.content != b""
    assert reader.read == [path.rsplit("/", 1)[1]]
    same = ("content-type", "content-disposition", "x-ratelimit-limit")
    assert {h: head.headers[h] for h in same} == {h: get.headers[h] for h in same}
    assert (
        int(get.headers["x-ratelimit-remaining"]) == int(head.headers["x-ratelimit-remaining"]) - 1
    )


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"format": "xml"}, 400),
        ({"group": "no-such-group"}, 400),
        ({"as_of": "yesterday"}, 400),
    ],
)
async def test_head_is_checked_as_a_get_is(
    watched: tuple[httpx.AsyncClient, WatchedReader],
    tenant: Tenant,
    params: dict[str, str],
    status: int,
) -> None:
    client, reader = watched

    head = await client.head("/exports/states", params=params, headers=tenant.auth)
    get = await client.get("/exports/states", params=params, headers=tenant.auth)
    anonymous = await client.head("/exports/states", params=params)

    assert (head.status_code, head.content) == (status, b"")
    assert head.headers["content-type"] == get.headers["content-type"] == "application/json"
    assert head.headers["content-length"] == get.headers["content-length"]
    assert anonymous.status_code == 401
    assert reader.read == []


async def test_head_on_an_import_error_report_sends_no_rows(
    client: httpx.AsyncClient, services: Services, tenant: Tenant
) -> None:
    g = tenant.email_group.id
    content = f"external_id,subscription_group_id,subscription_state\nu1,{g},maybe\n".encode()
    sent = await client.post(
        "/imports", content=content, headers={**tenant.auth, "Content-Type": "text/csv"}
    )
    import_id = sent.json()["import_id"]
    loop = services.import_loop()
    assert await loop.run_one() is True

    head = await client.head(f"/imports/{import_id}/errors", headers=tenant.auth)
    get = await client.get(f"/imports/{import_id}/errors", headers=tenant.auth)

    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"] == get.headers["content-type"] == "text/csv; charset=utf-8"
    assert get.text.startswith("line,column,value,message\r\n2,")
