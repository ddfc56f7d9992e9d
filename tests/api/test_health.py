"""/readyz on a database that cannot be reached: 503, and one warning with the driver's reason."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from subgroups.config import Settings
from subgroups.container import build_services
from subgroups.web.app import create_app
from tests.api.test_request_body import unreachable_database


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_an_unreachable_database_is_not_ready_with_its_reason_and_no_traceback(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(database_url=unreachable_database(backend, tmp_path))
    services = build_services(settings)
    transport = httpx.ASGITransport(app=create_app(settings, services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            with caplog.at_level(logging.WARNING, logger="subgroups"):
                response = await http.get("/readyz")
    finally:
        await services.aclose()

    assert (response.status_code, response.json()) == (503, {"message": "database unreachable"})
    [record] = [r for r in caplog.records if r.name == "subgroups.api"]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("readiness check could not reach the database: ")
    assert record.getMessage() != "readiness check could not reach the database: "
    assert record.exc_info is None
