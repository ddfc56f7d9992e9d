"""Nothing secret leaks: a real server's log of a run full of secrets, read line by line."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from subgroups.config import Settings
from subgroups.container import build_services
from subgroups.web.server.logs import JsonFormatter, logging_config, scrub
from tests.factories import Tenant, make_tenant
from tests.security.servers import running_server

SECRETS_IN_BODIES = (
    "jane.doe@example.com",
    "carol.smith@example.net",
    "mary.major@example.org",
    "+12223334444",
    "+14155552671",
)
# In an imported file, and so in its error report and in the exports.
SECRETS_IN_FILES = ("olga.imported@example.com", "peter.refused@@example.com")


async def _seed(url: str) -> Tenant:
    services = build_services(Settings(database_url=url))
    try:
        return await make_tenant(services)
    finally:
        await services.aclose()


def _set(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    return {
        "subscription_group_id": tenant.email_group.id,
        "subscription_state": "subscribed",
        **fields,
    }


@pytest.mark.e2e
def test_the_log_of_a_run_holds_no_key_email_or_phone(
    sqlite_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "subgroups.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    tenant = asyncio.run(_seed(url))
    log = tmp_path / "server.log"
    unknown_key = "sgk_" + "Z" * 43
    set_path = "/subscription/status/set"

    with (
        running_server(url, log, {"SUBGROUPS_LOG_LEVEL": "INFO"}) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        ok = http.post(
            set_path,
            json=_set(tenant, external_id="u1", email="jane.doe@example.com"),
            headers=tenant.auth,
        )
        by_query = http.post(
            set_path,
            params={"api_key": tenant.key},
            json={
                "subscription_group_id": tenant.sms_group.id,
                "subscription_state": "subscribed",
                "phone": ["+12223334444", "+14155552671"],
            },
        )
        by_body = http.post(
            set_path, json=_set(tenant, api_key=tenant.key, email="carol.smith@example.net")
        )
        refused = http.post(
            set_path,
            json=_set(tenant, external_id="u2"),
            headers={"Authorization": f"Bearer {unknown_key}"},
        )
        probe = http.get("/users/alice.cooper@example.com", params={"api_key": tenant.key})
        by_key = {"api_key": tenant.key}
        imported = http.post(
            "/imports",
            params={**by_key, "file_name": "olga.imported@example.com.csv"},
            content=(
                "external_id,email,subscription_group_id,subscription_state\n"
                f"i1,{SECRETS_IN_FILES[0]},{tenant.email_group.id},subscribed\n"
                f"i2,{SECRETS_IN_FILES[1]},{tenant.email_group.id},subscribed\n"
            ).encode(),
            headers={"Content-Type": "text/csv"},
        )
        import_path = f"/imports/{imported.json()['import_id']}"
        report = _until_over(http, import_path, by_key)
        downloads = [
            http.get(f"{import_path}/errors", params=by_key),
            http.get("/exports/states", params=by_key),
            http.get("/exports/changes", params={**by_key, "format": "ndjson"}),
            http.head("/exports/states", params=by_key),
        ]
        assert [d.status_code for d in downloads] == [200, 200, 200, 200]
        assert report["status"] == "finished"
        assert SECRETS_IN_FILES[1] in downloads[0].text
        assert SECRETS_IN_FILES[0] in downloads[1].text
        with sqlite3.connect(path) as db:
            db.execute(
                "CREATE TRIGGER refuse_changes BEFORE INSERT ON state_changes"
                " BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"
            )
        failed = http.post(
            set_path,
            json=_set(tenant, external_id="u3", email="mary.major@example.org"),
            headers=tenant.auth,
        )

    assert [r.status_code for r in (ok, by_query, by_body, refused, probe, failed)] == [
        201,
        201,
        201,
        401,
        404,
        500,
    ]
    assert failed.json() == {"message": "Internal Server Error"}
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    secrets = (tenant.key, unknown_key, *SECRETS_IN_BODIES, *SECRETS_IN_FILES)
    for secret in (*secrets, "alice.cooper@example.com"):
        assert secret not in text
    for local_part in ("jane.doe", "carol.smith", "mary.major", "alice.cooper", "olga", "peter"):
        assert local_part not in text

    requests = [line for line in lines if line["logger"] == "subgroups.access"]
    assert len(requests) >= 6
    first = next(line for line in requests if line["request_id"] == ok.headers["x-request-id"])
    assert first["route"] == set_path
    assert (first["status"], first["workspace_id"], first["method"]) == (
        201,
        tenant.workspace.id,
        "POST",
    )
    assert isinstance(first["key_id"], int)
    assert isinstance(first["duration_ms"], float)
    rid = failed.headers["x-request-id"]
    [error] = [
        line
        for line in lines
        if line["logger"] == "subgroups.api" and line.get("request_id") == rid
    ]
    assert (error["workspace_id"], error["level"]) == (tenant.workspace.id, "ERROR")
    assert "refused by a test trigger" in error["exception"]
    # The write path's driver error carries no parameters; any address that does appear is masked.
    assert "mary.major@" not in error["exception"]
    assert "a***@example.com" in text  # the probed path, masked
    assert any(line["logger"].startswith("uvicorn") for line in lines)


def _until_over(http: httpx.Client, path: str, params: dict[str, str]) -> dict[str, Any]:
    """The import's report once the server's loop has run it."""
    for _ in range(600):
        report: dict[str, Any] = http.get(path, params=params).json()
        if report["status"] in ("finished", "failed"):
            return report
        time.sleep(0.05)
    raise AssertionError(f"{path} did not end")


def test_scrub_masks_keys_emails_and_phones() -> None:
    text = (
        "key=sgk_6rx9cC_J86OSJeesWWM7VixNQkBRbQ86IOJ0iDH72A4 email 'jane.doe+tag@example.com',"
        " phone +12223334444 and (+447911123456) at 2026-11-22T16:07:30+00:00 id 1234567890"
    )

    assert scrub(text) == (
        "key=sgk_[redacted] email 'j***@example.com',"
        " phone +1******4444 and (+4*******3456) at 2026-11-22T16:07:30+00:00 id 1234567890"
    )


def test_the_formatter_writes_one_json_object_with_the_request_fields() -> None:
    record = logging.LogRecord("subgroups.access", logging.INFO, __file__, 1, "request", (), None)
    record.__dict__.update(
        {"request_id": "abc", "status": 201, "path": "/x/bob@example.com", "ignored": "sgk_x"}
    )

    line = JsonFormatter().format(record)

    assert "\n" not in line
    doc = json.loads(line)
    assert {k: doc[k] for k in ("level", "logger", "message", "request_id", "status", "path")} == {
        "level": "INFO",
        "logger": "subgroups.access",
        "message": "request",
        "request_id": "abc",
        "status": 201,
        "path": "/x/b***@example.com",
    }
    assert "ignored" not in doc


def test_the_logging_config_covers_the_app_and_uvicorn() -> None:
    config = logging_config("WARNING")

    assert set(config["loggers"]) >= {"subgroups", "uvicorn"}
    assert all(logger["level"] == "WARNING" for logger in config["loggers"].values())
