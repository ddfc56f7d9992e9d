"""`subgroups demo` prints where the dashboard is and a sign-in that works, new at each run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.servers import ServerProcess, running, subgroups

pytestmark = pytest.mark.e2e


@contextmanager
def demo(database: Path, log: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """Runs `subgroups demo` until the block ends; yields its base URL and banner fields."""
    server = ServerProcess(
        subgroups("demo", f"sqlite:///{database}"), log=log, inherit_settings=True
    )
    with running(server):
        # The banner is printed before the server starts, so it is whole once the server answers.
        banner = re.findall(r"^ +(open|email|password): +(\S+)", server.log_text(), re.M)
        yield server.url, dict(banner)


def sign_in(base: str, email: str, password: str) -> int:
    with httpx.Client(base_url=base) as client:
        form = client.get("/dashboard/sign-in").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token is not None
        response = client.post(
            "/dashboard/sign-in",
            data={"csrf": token.group(1), "email": email, "password": password},
        )
        return response.status_code


def test_demo_prints_a_dashboard_sign_in_that_is_renewed_at_each_run(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    with demo(database, tmp_path / "first.log") as (base, first):
        assert first["open"] == f"{base}/dashboard/"
        assert first["email"] == "demo@example.com"
        assert sign_in(base, first["email"], first["password"]) == 303

    with demo(database, tmp_path / "second.log") as (base, second):
        assert second["password"] != first["password"]
        assert sign_in(base, second["email"], first["password"]) == 401
        assert sign_in(base, second["email"], second["password"]) == 303
