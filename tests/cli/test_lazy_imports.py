"""Loading the CLI, asking for help or making a usage mistake imports none of the service's stack.

Importing that stack takes most of a second; a command imports what it runs on when it runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = {
    "sqlalchemy", "alembic", "aiosqlite", "asyncpg", "uvicorn", "starlette", "limits", "redis",
    "argon2", "jinja2", "phonenumbers", "email_validator", "subgroups.config",
    "subgroups.container", "subgroups.storage", "subgroups.services", "subgroups.web",
}  # fmt: skip

PROBE = """
import json, sys
from subgroups.cli import main
try:
    main(sys.argv[1:], prog_name="subgroups")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def imported(*arguments: str) -> set[str]:
    """The heavy packages (and subgroups' heavy packages) that running these arguments imports."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *arguments], capture_output=True, text=True, check=True
    )
    modules = json.loads(done.stderr.strip().splitlines()[-1])
    return {heavy for heavy in HEAVY for m in modules if m == heavy or m.startswith(f"{heavy}.")}


@pytest.mark.parametrize(
    "arguments",
    [
        ["--help"],
        ["--version"],
        ["workspace", "--help"],
        ["key", "rotate", "--help"],
        ["serve", "--help"],
        ["demo", "--help"],
        ["db", "upgrade", "--help"],
        ["group", "list", "--json"],  # a usage error: --workspace is missing
    ],
)
def test_nothing_heavy_is_imported(arguments: list[str]) -> None:
    assert imported(*arguments) == set()


def test_the_probe_sees_what_a_command_imports() -> None:
    # Port 1: refused at once, after the command has built its services.
    url = "postgresql://nobody@127.0.0.1:1/x"

    assert {"sqlalchemy", "subgroups.container"} <= imported("db", "current", "--database-url", url)
