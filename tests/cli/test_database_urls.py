"""A malformed database URL is one `error: …` line naming the accepted forms, for every command."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from subgroups.cli import main
from subgroups.config import Settings, SettingsError
from tests.cli.conftest import Cli, one_document

FORMS = "sqlite:///relative.db, sqlite:////absolute.db or postgresql://user:pass@host:5432/db"
MALFORMED = [
    "foo",
    "sqlite://relative.db",  # two slashes: relative.db is read as a host name
    "sqlite://",  # an in-memory database would vanish with the command that made it
    "sqlite:///:memory:",
    "sqlite://user@host/x.db",
    "mysql://host/db",
    "postgresql://host:port/db",
    "http://example.com/",
]


@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_url_given_to_a_command_is_one_error_line(url: str) -> None:
    for command in (["workspace", "list"], ["db", "upgrade"], ["db", "current"]):
        assert Cli(url).fails(*command) == f"database URL {url!r} is not valid: use {FORMS}"


@pytest.mark.parametrize("command", [["serve"], ["demo"], ["workspace", "list"]])
def test_a_malformed_url_in_the_environment_is_one_error_line(command: list[str]) -> None:
    result = CliRunner().invoke(main, command, env={"SUBGROUPS_DATABASE_URL": "foo"})

    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr == f"error: SUBGROUPS_DATABASE_URL 'foo' is not valid: use {FORMS}\n"


def test_with_json_a_malformed_url_in_the_environment_is_one_document() -> None:
    result = CliRunner().invoke(
        main, ["key", "list", "--json"], env={"SUBGROUPS_DATABASE_URL": "sqlite://x.db"}
    )

    assert result.exit_code == 1
    assert one_document(result.stdout) == {
        "message": f"SUBGROUPS_DATABASE_URL 'sqlite://x.db' is not valid: use {FORMS}"
    }
    assert result.stderr == ""


def test_the_message_hides_a_password() -> None:
    message = Cli("postgresq://app:hunter2@db:5432/subgroups").fails("workspace", "list")

    assert "hunter2" not in message
    assert message.startswith("database URL 'postgresq://app:***@db:5432/subgroups' is not valid")


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///relative.db",
        "sqlite:////absolute/path.db",
        "postgresql://user:pass@host:5432/db",
        "postgresql://user@host/db",
        "postgres://user:pass@host/db",
        "postgresql+asyncpg://user:pass@host/db",
    ],
)
def test_the_accepted_forms(url: str) -> None:
    assert Settings.from_env({"SUBGROUPS_DATABASE_URL": url}).database_url == url
    assert Settings().with_database(url).database_url == url


@pytest.mark.parametrize("url", MALFORMED)
def test_settings_refuse_a_malformed_url(url: str) -> None:
    with pytest.raises(SettingsError, match=r"^SUBGROUPS_DATABASE_URL .* is not valid: use sqlite"):
        Settings.from_env({"SUBGROUPS_DATABASE_URL": url})
    with pytest.raises(SettingsError, match=r"^database URL .* is not valid: use sqlite"):
        Settings().with_database(url)
