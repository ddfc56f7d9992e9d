"""`subgroups demo` and `serve` on a port another server holds: one line saying what to do instead,
before anything is printed or changed."""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from subgroups.cli import main
from subgroups.storage.migrate import upgrade

ROOT = Path(__file__).parents[2]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port of 127.0.0.1 that another server listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_demo_on_a_taken_port_says_how_to_choose_another_and_changes_nothing(
    taken_port: int, tmp_path: Path
) -> None:
    database = tmp_path / "demo.db"

    result = CliRunner().invoke(
        main, ["demo", "--port", str(taken_port), "--database-url", f"sqlite:///{database}"]
    )

    assert result.exit_code == 1
    assert result.stdout == ""  # no key, no password, no address of someone else's server
    advice = re.fullmatch(
        rf"error: 127\.0\.0\.1:{taken_port} is already in use, by another server: choose another"
        r" port: make run PORT=(\d+) \(or subgroups demo --port \1\)\n",
        result.stderr,
    )
    assert advice is not None, result.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", int(advice.group(1))))  # the port it suggests is free
    assert not database.exists()


def test_serve_on_a_taken_port_says_how_to_choose_another(taken_port: int, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'subgroups.db'}"
    upgrade(url)

    result = CliRunner().invoke(main, ["serve", "--port", str(taken_port), "--database-url", url])

    assert result.exit_code == 1
    assert re.fullmatch(
        rf"error: 127\.0\.0\.1:{taken_port} is already in use, by another server: choose another"
        r" with --port \d+\n",
        result.stderr,
    ), result.stderr


def test_a_host_that_is_not_this_machines_is_one_error_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["demo", "--host", "192.0.2.1", "--database-url", f"sqlite:///{tmp_path / 'demo.db'}"],
    )

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: cannot listen on 192.0.2.1:8000: ")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(("arguments", "port"), [([], "8000"), (["PORT=8010"], "8010")])
def test_make_run_passes_its_port_to_the_demo(arguments: list[str], port: str) -> None:
    dry_run = subprocess.run(
        ["make", "--dry-run", "run", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )

    assert re.search(rf" run subgroups demo --port {port}$", dry_run.stdout, re.M), dry_run.stdout
