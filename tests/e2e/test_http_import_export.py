"""Imports and exports over HTTP against a real `subgroups serve` process, on each backend: an
import sent to the server is run by its own background loop, and an export of 100,000 lines
streams in flat memory while the server goes on answering sets."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.factories import Tenant
from tests.servers import ServerProcess

pytestmark = pytest.mark.e2e

PEOPLE = 100_000
CSV_TYPE = {"Content-Type": "text/csv"}


async def until_over(
    http: httpx.AsyncClient, tenant: Tenant, import_id: str, seconds: float
) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = await http.get(f"/imports/{import_id}", headers=tenant.auth)
        assert response.status_code == 200, response.text
        report: dict[str, object] = response.json()
        if report["status"] in ("finished", "failed"):
            return report
        await asyncio.sleep(0.2)
    raise AssertionError(f"import {import_id} did not end within {seconds} s")


async def test_an_import_sent_to_the_server_is_run_by_its_loop(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    g = tenant.email_group.id
    content = (
        "external_id,email,subscription_group_id,subscription_state\n"
        f"u1,u1@example.com,{g},subscribed\n"
        f"u2,,{g},unsubscribed\n"
        f"u3,=1+2,{g},subscribed\n"
    ).encode()

    sent = await http.post("/imports", content=content, headers={**tenant.auth, **CSV_TYPE})
    assert sent.status_code == 202, sent.text
    report = await until_over(http, tenant, sent.json()["import_id"], seconds=60)

    assert (report["status"], report["rows"], report["applied"], report["invalid"]) == (
        "finished",
        3,
        2,
        1,
    )
    errors = await http.get(f"/imports/{report['import_id']}/errors", headers=tenant.auth)
    assert list(csv.reader(io.StringIO(errors.text))) == [
        ["line", "column", "value", "message"],
        ["4", "email", "'=1+2", "Invalid email address: '=1+2'"],
    ]
    status = await http.get(
        "/subscription/status/get",
        params={"subscription_group_id": g, "external_id": ["u1", "u2"]},
        headers=tenant.auth,
    )
    assert status.json()["status"] == {"u1": "Subscribed", "u2": "Unsubscribed"}


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def seed(http: httpx.AsyncClient, tenant: Tenant) -> None:
    """PEOPLE people subscribed to the email group, through the server's own import."""
    g = tenant.email_group.id
    lines = ["external_id,subscription_group_id,subscription_state"]
    lines += [f"person-{i},{g},subscribed" for i in range(PEOPLE)]
    content = ("\n".join(lines) + "\n").encode()
    started = time.monotonic()
    sent = await http.post("/imports", content=content, headers={**tenant.auth, **CSV_TYPE})
    assert sent.status_code == 202, sent.text
    report = await until_over(http, tenant, sent.json()["import_id"], seconds=600)
    assert (report["status"], report["subscribed"]) == ("finished", PEOPLE)
    print(f"import of {PEOPLE} rows over HTTP: {time.monotonic() - started:.1f} s to finished")


LINE = re.compile(r"person-(\d+),,,([0-9a-f-]{36}),(subscribed|unsubscribed),(\S+)")


async def test_an_export_of_100000_lines_streams_while_the_server_keeps_answering_sets(
    server: ServerProcess, http: httpx.AsyncClient, tenant: Tenant
) -> None:
    await seed(http, tenant)
    g = tenant.email_group.id
    exporting = asyncio.Event()
    exporting.set()
    answers: list[int] = []
    peak = baseline = rss_bytes(server.process.pid)

    async def keep_setting() -> None:
        i = 0
        while exporting.is_set():
            body = {
                "subscription_group_id": g,
                "subscription_state": "unsubscribed" if i % 2 else "subscribed",
                "external_id": f"person-{i % PEOPLE}",
            }
            response = await http.post("/subscription/status/set", json=body, headers=tenant.auth)
            answers.append(response.status_code)
            i += 1

    async def watch_memory() -> None:
        nonlocal peak
        while exporting.is_set():
            peak = max(peak, rss_bytes(server.process.pid))
            await asyncio.sleep(0.02)

    setting = asyncio.create_task(keep_setting())
    watching = asyncio.create_task(watch_memory())
    text = bytearray()
    started = time.monotonic()
    try:
        async with http.stream(
            "GET", "/exports/states", params={"group": g}, headers=tenant.auth
        ) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_bytes(64 * 1024):
                text += chunk
                await asyncio.sleep(0.005)  # a reader slower than the server: nothing piles up
    finally:
        exporting.clear()
        await asyncio.gather(setting, watching)
    seconds = time.monotonic() - started

    header, *lines = text.decode().split("\r\n")
    assert header == "external_id,email,phone,subscription_group_id,subscription_state,updated_at"
    assert lines[-1] == ""
    lines.pop()
    assert len(lines) == PEOPLE
    seen = set()
    for line in lines:
        match = LINE.fullmatch(line)
        assert match is not None, line
        assert match[2] == g
        datetime.fromisoformat(match[4])
        seen.add(int(match[1]))
    assert seen == set(range(PEOPLE))
    assert len(answers) >= 20, f"only {len(answers)} sets were answered in {seconds:.1f} s"
    assert {status // 100 for status in answers} == {2}
    grown = peak - baseline
    print(
        f"export of {PEOPLE} lines: {seconds:.1f} s, {len(answers)} sets answered meanwhile,"
        f" server RSS {baseline / 2**20:.0f} MiB -> peak {peak / 2**20:.0f} MiB"
    )
    # The export is about 9 MiB of text, and 100,000 lines held as strings take more than twice
    # that; streamed, the server grew by 3 to 4 MiB.
    assert grown < 16 * 2**20, f"the server grew by {grown / 2**20:.0f} MiB during the export"
