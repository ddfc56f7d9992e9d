"""`subgroups demo` prints where the dashboard is and a sign-in that works, new at each run."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.dashboard.conftest import free_port

pytestmark = pytest.mark.e2e


@contextmanager
def demo(database: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """Runs `subgroups demo` until the block ends; yields its base URL and banner fields."""
    port = free_port()
    command = [sys.executable, "-m", "subgroups", "demo", "--port", str(port)]
    command += ["--database-url", f"sqlite:///{database}"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        reader = threading.Thread(target=process.stdout.read, daemon=True)
        try:
            fields: dict[str, str] = {}
            for line in process.stdout:
                found = re.match(r"\s+(open|email|password):\s+(\S+)", line)
                if found:
                    fields[found.group(1)] = found.group(2)
                if "password" in fields:
                    break
            # Keep reading what the server prints, so that it never blocks on a full pipe.
            reader.start()
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield base, fields
        finally:
            process.terminate()
            process.wait(timeout=10)
            if reader.is_alive():
                reader.join(timeout=10)  # until the end of the output, before the pipe closes


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
    with demo(database) as (base, first):
        assert first["open"] == f"{base}/dashboard/"
        assert first["email"] == "demo@example.com"
        assert sign_in(base, first["email"], first["password"]) == 303

    with demo(database) as (base, second):
        assert second["password"] != first["password"]
        assert sign_in(base, second["email"], first["password"]) == 401
        assert sign_in(base, second["email"], second["password"]) == 303
