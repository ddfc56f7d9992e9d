"""`subgroups db` and `subgroups serve`'s refusal to run on an old schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from subgroups.cli import main
from subgroups.storage.migrate import head_revision
from tests.cli.conftest import Cli
from tests.conftest import POSTGRES_ADMIN_URL

NOT_MIGRATED = "The database schema is not current: run `subgroups db upgrade` first"


def test_db_upgrade_creates_the_schema_and_db_current_reports_it(bare_cli: Cli) -> None:
    head = head_revision()

    assert bare_cli.ok("db", "current") == {"revision": None, "head": head, "current": False}
    assert bare_cli.ok("db", "upgrade") == {"revision": head}
    assert bare_cli.ok("db", "current") == {"revision": head, "head": head, "current": True}


def test_db_upgrade_is_idempotent(cli: Cli) -> None:
    cli.ok("workspace", "create", "Acme")

    assert cli.ok("db", "upgrade") == {"revision": head_revision()}
    assert [w["name"] for w in cli.ok("workspace", "list")["workspaces"]] == ["Acme"]


def test_db_commands_speak_plain_text_without_json(bare_cli: Cli) -> None:
    head = head_revision()

    before = bare_cli("db", "current", as_json=False)
    upgraded = bare_cli("db", "upgrade", as_json=False)
    after = bare_cli("db", "current", as_json=False)

    assert before.stdout == f"revision (none): behind (newest is {head})\n"
    assert upgraded.stdout == f"database is at revision {head}\n"
    assert after.stdout == f"revision {head}: current\n"
    assert [r.exit_code for r in (before, upgraded, after)] == [0, 0, 0]


REFUSING = (
    ["workspace", "list"],
    ["workspace", "create", "Acme"],
    ["key", "list"],
    ["group", "list", "--workspace", "1"],
    ["changes", "list", "--workspace", "1"],
    ["profile", "show", "--workspace", "1", "--email", "a@example.com"],
)


def test_every_command_refuses_an_unmigrated_database(bare_cli: Cli, backend: str) -> None:
    if backend == "sqlite":
        # A file with no tables: the bare SQLite database is a file not yet created.
        sqlite3.connect(bare_cli.database_url.removeprefix("sqlite:///")).close()
    for command in REFUSING:
        assert bare_cli.fails(*command) == NOT_MIGRATED
    assert bare_cli.ok("db", "current")["current"] is False


@pytest.mark.parametrize("command", [*REFUSING, ["admin", "list"], ["key", "revoke", "1"]])
def test_a_command_refuses_a_missing_sqlite_file_and_creates_nothing(
    command: list[str], tmp_path: Path
) -> None:
    missing = tmp_path / "subgroups.db"

    message = Cli(f"sqlite:///{missing}").fails(*command)

    assert message == f"There is no database at {missing}: run `subgroups db upgrade` to create it"
    assert list(tmp_path.iterdir()) == []


def test_a_missing_sqlite_file_is_found_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    message = Cli("sqlite:///subgroups.db").fails("workspace", "list")

    assert message == (
        f"There is no database at {tmp_path / 'subgroups.db'}: "
        "run `subgroups db upgrade` to create it"
    )
    assert list(tmp_path.iterdir()) == []


def test_db_current_on_a_missing_sqlite_file_reports_no_revision_and_creates_nothing(
    tmp_path: Path,
) -> None:
    current = Cli(f"sqlite:///{tmp_path / 'subgroups.db'}").ok("db", "current")

    assert current == {"revision": None, "head": head_revision(), "current": False}
    assert list(tmp_path.iterdir()) == []


def test_serve_refuses_a_missing_sqlite_file_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "subgroups.db"

    result = CliRunner().invoke(
        main, ["serve", "--port", "1", "--database-url", f"sqlite:///{missing}"]
    )

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: There is no database at {missing}: run `subgroups db upgrade` to create it\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_serve_refuses_an_unmigrated_database(empty_database_url: str, backend: str) -> None:
    if backend == "sqlite":
        sqlite3.connect(empty_database_url.removeprefix("sqlite:///")).close()
    result = CliRunner().invoke(
        main, ["serve", "--port", "1", "--database-url", empty_database_url]
    )

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"error: {NOT_MIGRATED}\n"
    assert "subgroups db upgrade" in result.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize(
    "command", [["db", "upgrade"], ["db", "current"], ["workspace", "list"], ["key", "list"]]
)
def test_an_unreachable_database_is_an_error_message(
    backend: str, command: list[str], tmp_path: Path
) -> None:
    if backend == "sqlite":
        not_a_database = tmp_path / "notes.txt"
        not_a_database.write_text("these are not the tables you are looking for\n" * 100)
        url = f"sqlite:///{not_a_database}"
    else:
        url = POSTGRES_ADMIN_URL.rpartition("/")[0] + "/subgroups_no_such_database"

    message = Cli(url).fails(*command)

    assert message.startswith("cannot reach the database: ")
