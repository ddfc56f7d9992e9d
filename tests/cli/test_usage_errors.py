"""A mistyped command exits 2 (a refused one exits 1); with --json it still prints one document."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from subgroups.cli import main
from tests.cli.conftest import one_document

MISTYPED = [
    (["workspace", "list", "--wat"], "No such option '--wat'."),
    (["workspace", "lst"], "No such command 'lst'. Did you mean 'list'?"),
    (["group", "list"], "Missing option '--workspace'."),
    (["key", "revoke", "three"], "Invalid value for 'KEY_ID': 'three' is not a valid integer."),
    (
        ["group", "create", "--workspace", "1", "--name", "N", "--channel", "push"],
        "Invalid value for '--channel': 'push' is not one of 'email', 'sms'.",
    ),
    (
        ["key", "rotate", "1", "--grace-seconds", str(10**12)],
        "Invalid value for '--grace-seconds': 1000000000000 is not in the range 0<=x<=2592000.",
    ),
]


@pytest.mark.parametrize(("command", "message"), MISTYPED)
def test_with_json_a_usage_error_is_one_document_and_exit_status_2(
    command: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, [*command, "--json"])

    assert result.exit_code == 2
    assert one_document(result.stdout) == {"message": message}
    assert result.stderr == ""


@pytest.mark.parametrize(("command", "message"), MISTYPED)
def test_without_json_a_usage_error_is_clicks_usage_text(command: list[str], message: str) -> None:
    result = CliRunner().invoke(main, command)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Usage: ")
    assert result.stderr.endswith(f"Error: {message}\n")


def test_json_given_before_the_mistake_counts_too() -> None:
    result = CliRunner().invoke(main, ["workspace", "list", "--json", "--wat"])

    assert result.exit_code == 2
    assert one_document(result.stdout) == {"message": "No such option '--wat'."}
