"""/readyz on a database that cannot be reached: 503, and one warning with the driver's reason."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.api.helpers import unreachable_client


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_an_unreachable_database_is_not_ready_with_its_reason_and_no_traceback(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with unreachable_client(backend, tmp_path) as http:
        with caplog.at_level(logging.WARNING, logger="subgroups"):
            response = await http.get("/readyz")

    assert (response.status_code, response.json()) == (503, {"message": "database unreachable"})
    [record] = [r for r in caplog.records if r.name == "subgroups.api"]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("readiness check could not reach the database: ")
    assert record.getMessage() != "readiness check could not reach the database: "
    assert record.exc_info is None
