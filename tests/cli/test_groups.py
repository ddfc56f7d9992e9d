"""`subgroups group`."""

from __future__ import annotations

import uuid

import pytest

from tests.cli.conftest import Cli

BAD_ID = "A group id is 1-64 of letters, digits, '-' and '_'"


@pytest.fixture
def workspace(cli: Cli) -> str:
    return str(cli.ok("workspace", "create", "Acme")["id"])


def test_create_gives_a_uuid_unless_an_id_is_kept(cli: Cli, workspace: str) -> None:
    made = cli.ok(
        "group", "create", "--workspace", workspace, "--name", "News", "--channel", "email"
    )
    kept = cli.ok(
        "group", "create", "--workspace", workspace, "--name", "Alerts", "--channel", "sms",
        "--id", "braze_Alerts-2",
    )  # fmt: skip

    assert set(made) == {"id", "name", "channel"}
    assert str(uuid.UUID(made["id"])) == made["id"]
    assert (made["name"], made["channel"]) == ("News", "email")
    assert kept == {"id": "braze_Alerts-2", "name": "Alerts", "channel": "sms"}


@pytest.mark.parametrize("group_id", ["a", "x" * 64, "0123-ABC_xyz"])
def test_ids_of_1_to_64_letters_digits_dashes_and_underscores_are_kept(
    cli: Cli, workspace: str, group_id: str
) -> None:
    made = cli.ok(
        "group", "create", "--workspace", workspace, "--name", "G", "--channel", "email",
        "--id", group_id,
    )  # fmt: skip

    assert made["id"] == group_id


@pytest.mark.parametrize("group_id", ["", "x" * 65, "a b", "a/b", "é", "a.b", "id\n"])
def test_other_ids_are_refused(cli: Cli, workspace: str, group_id: str) -> None:
    message = cli.fails(
        "group", "create", "--workspace", workspace, "--name", "G", "--channel", "email",
        "--id", group_id,
    )  # fmt: skip

    assert message == BAD_ID
    assert cli.ok("group", "list", "--workspace", workspace) == {"groups": []}


def test_list_and_archive(cli: Cli, workspace: str) -> None:
    for name, channel in (("News", "email"), ("Alerts", "sms")):
        cli.ok("group", "create", "--workspace", workspace, "--name", name, "--channel", channel,
               "--description", f"{name} group")  # fmt: skip
    news, alerts = cli.ok("group", "list", "--workspace", workspace)["groups"]

    archived = cli.ok("group", "archive", news["id"], "--workspace", workspace)
    listed = cli.ok("group", "list", "--workspace", workspace)["groups"]

    assert set(news) == {
        "id", "workspace_id", "name", "channel", "description", "created_at", "archived_at",
    }  # fmt: skip
    assert (news["name"], news["channel"], news["description"]) == ("News", "email", "News group")
    assert (alerts["name"], alerts["channel"]) == ("Alerts", "sms")
    assert news["archived_at"] is None
    assert archived["id"] == news["id"]
    assert archived["archived_at"] is not None
    assert [g["archived_at"] for g in listed] == [archived["archived_at"], None]
    again = cli.ok("group", "archive", news["id"], "--workspace", workspace)
    assert again["archived_at"] == archived["archived_at"]


def test_groups_belong_to_their_workspace(cli: Cli, workspace: str) -> None:
    other = str(cli.ok("workspace", "create", "Globex")["id"])
    made = cli.ok(
        "group", "create", "--workspace", workspace, "--name", "News", "--channel", "email"
    )

    assert cli.ok("group", "list", "--workspace", other) == {"groups": []}
    assert (
        cli.fails("group", "archive", made["id"], "--workspace", other)
        == f"No subscription group '{made['id']}' in workspace {other}"
    )


def test_errors(cli: Cli, workspace: str) -> None:
    cli.ok("group", "create", "--workspace", workspace, "--name", "News", "--channel", "email",
           "--id", "news")  # fmt: skip

    assert (
        cli.fails("group", "create", "--workspace", workspace, "--name", "News", "--channel", "sms")
        == "A subscription group with name 'News' already exists in this workspace"
    )
    assert cli.fails(
        "group", "create", "--workspace", workspace, "--name", "Other", "--channel", "sms",
        "--id", "news",
    ) == "A subscription group with id 'news' already exists in this workspace"  # fmt: skip
    assert (
        cli.fails("group", "create", "--workspace", "99", "--name", "X", "--channel", "sms")
        == "No workspace 99"
    )
    assert cli.fails("group", "list", "--workspace", "99") == "No workspace 99"
    assert cli.fails("group", "archive", "nope", "--workspace", workspace) == (
        f"No subscription group 'nope' in workspace {workspace}"
    )


def test_an_unknown_channel_is_a_usage_error(cli: Cli, workspace: str) -> None:
    result = cli("group", "create", "--workspace", workspace, "--name", "P", "--channel", "push")

    assert result.exit_code == 2
    assert cli.ok("group", "list", "--workspace", workspace) == {"groups": []}
