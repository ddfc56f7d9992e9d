"""`subgroups demo` prints where the dashboard is and a sign-in that works, new at each run."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.servers import ServerProcess, running, subgroups

pytestmark = pytest.mark.e2e


@contextmanager
def demo(database: Path, log: Path) -> Iterator[tuple[str, dict[str, str], str]]:
    """Runs `subgroups demo` until the block ends; yields its base URL, banner fields and output."""
    server = ServerProcess(
        subgroups("demo", f"sqlite:///{database}"), log=log, inherit_settings=True
    )
    with running(server):
        # The banner is printed before the server starts, so it is whole once the server answers.
        banner = re.findall(r"^ +(open|email|password): +(\S+)", server.log_text(), re.M)
        yield server.url, dict(banner), server.log_text()


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
    with demo(database, tmp_path / "first.log") as (base, first, _):
        assert first["open"] == f"{base}/dashboard/"
        assert first["email"] == "demo@example.com"
        assert sign_in(base, first["email"], first["password"]) == 303

    with demo(database, tmp_path / "second.log") as (base, second, _):
        assert second["password"] != first["password"]
        assert sign_in(base, second["email"], first["password"]) == 401
        assert sign_in(base, second["email"], second["password"]) == 303


def test_demo_says_how_to_reach_the_admin_cli_from_another_shell(tmp_path: Path) -> None:
    with demo(tmp_path / "demo.db", tmp_path / "demo.log") as (_, _, output):
        shown = re.search(
            r"^The admin CLI, (.*):\n  source (\S+) .*\n  subgroups (.*)$", output, re.M
        )

    # The server runs in this directory, on this interpreter: its activate script is this one's.
    assert shown is not None, output
    assert shown.group(1) == "from another shell in this directory"
    assert Path(shown.group(2)).resolve() == (Path(sys.prefix) / "bin" / "activate").resolve()
    assert shown.group(3) == "workspace list"
