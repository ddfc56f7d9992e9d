"""What the commands print without --json: tables with a header line, for people to read."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from subgroups.cli import main
from tests.cli.conftest import Cli


def table(text: str) -> list[list[str]]:
    """The cells of a printed table, read by the columns its header line sets.

    Header cells are separated by two spaces or more; every row must start each cell exactly
    under its header (a cell that spills into the next column breaks the expected cells)."""
    header, *rows = text.rstrip("\n").split("\n")
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", header)]
    for row in rows:
        assert all(row[start - 1 : start] in (" ", "") for start in starts[1:]), row
    ends = [*starts[1:], None]
    return [
        [line[a:b].strip() for a, b in zip(starts, ends, strict=True)] for line in [header, *rows]
    ]


def day(iso: str) -> str:
    return f"{datetime.fromisoformat(iso).astimezone(UTC):%Y-%m-%d}"


def moment(iso: str) -> str:
    return f"{datetime.fromisoformat(iso).astimezone(UTC):%Y-%m-%d %H:%M:%S}"


def test_workspace_list(cli: Cli) -> None:
    cli.ok("workspace", "create", "Acme")
    cli.ok("workspace", "create", "Globex Corporation")
    acme, globex = cli.ok("workspace", "list")["workspaces"]

    printed = cli("workspace", "list", as_json=False).stdout

    assert table(printed) == [
        ["ID", "NAME", "CREATED (UTC)"],
        ["1", "Acme", day(acme["created_at"])],
        ["2", "Globex Corporation", day(globex["created_at"])],
    ]


def test_group_list(cli: Cli) -> None:
    cli.ok("workspace", "create", "Acme")
    for group_id, name, channel in (("news", "Weekly news", "email"), ("alerts", "Alerts", "sms")):
        cli.ok("group", "create", "--workspace", "1", "--name", name, "--channel", channel,
               "--id", group_id)  # fmt: skip
    archived = cli.ok("group", "archive", "alerts", "--workspace", "1")

    printed = cli("group", "list", "--workspace", "1", as_json=False).stdout

    assert table(printed) == [
        ["ID", "CHANNEL", "NAME", "ARCHIVED (UTC)"],
        ["news", "email", "Weekly news", ""],
        ["alerts", "sms", "Alerts", day(archived["archived_at"])],
    ]


def test_key_list(cli: Cli) -> None:
    cli.ok("workspace", "create", "Acme")
    named = cli.ok("key", "create", "--workspace", "1", "--name", "backend")
    unnamed = cli.ok("key", "create", "--workspace", "1")
    cli.ok("key", "revoke", str(unnamed["id"]))
    first, second = cli.ok("key", "list")["keys"]

    printed = cli("key", "list", as_json=False).stdout

    assert table(printed) == [
        ["ID", "WORKSPACE", "PREFIX", "NAME", "STATUS"],
        [str(named["id"]), "1", f"{first['prefix']}…", "backend", "active"],
        [str(unnamed["id"]), "1", f"{second['prefix']}…", "", "revoked"],
    ]


def test_admin_list(cli: Cli) -> None:
    CliRunner().invoke(
        main,
        ["admin", "create", "ops@example.com", "--password-stdin", "--database-url",
         cli.database_url],
        input="a long password\n",
    )  # fmt: skip
    [ops] = cli.ok("admin", "list")["admins"]

    printed = cli("admin", "list", as_json=False).stdout

    assert table(printed) == [
        ["ID", "EMAIL", "CREATED (UTC)"],
        ["1", "ops@example.com", day(ops["created_at"])],
    ]


def test_changes_list(cli: Cli) -> None:
    cli.ok("workspace", "create", "Acme")
    cli.ok("group", "create", "--workspace", "1", "--name", "News", "--channel", "email",
           "--id", "news")  # fmt: skip
    cli.set_state(1, "news", "subscribed", external_id="u1")
    cli.set_state(1, "news", "unsubscribed", email="b@example.com")
    first, second = cli.ok("changes", "list", "--workspace", "1")["changes"]

    printed = cli("changes", "list", "--workspace", "1", as_json=False).stdout

    assert table(printed) == [
        ["ID", "TIME (UTC)", "GROUP", "CHANGE", "PERSON", "SOURCE"],
        [str(first["id"]), moment(first["occurred_at"]), "news", "unknown -> subscribed", "u1",
         "REST API"],
        [str(second["id"]), moment(second["occurred_at"]), "news", "unknown -> unsubscribed",
         "b@example.com", "REST API"],
    ]  # fmt: skip


def test_profile_show_names_the_groups_and_leaves_out_what_is_missing(cli: Cli) -> None:
    cli.ok("workspace", "create", "Acme")
    news = cli.ok("group", "create", "--workspace", "1", "--name", "Weekly news",
                  "--channel", "email")["id"]  # fmt: skip
    alerts = cli.ok("group", "create", "--workspace", "1", "--name", "Alerts",
                    "--channel", "sms")["id"]  # fmt: skip
    cli.set_state(1, news, "subscribed", external_id="u1", email="a@example.com")
    cli.set_state(1, news, "unsubscribed", external_id="u2", email="a@example.com")
    cli.set_state(1, alerts, "unsubscribed", phone="+12223334444")
    u1, u2 = cli.ok("profile", "show", "--workspace", "1", "--email", "a@example.com")["profiles"]
    [phone] = cli.ok("profile", "show", "--workspace", "1", "--phone", "+12223334444")["profiles"]

    by_email = cli("profile", "show", "--workspace", "1", "--email", "a@example.com", as_json=False)
    by_phone = cli("profile", "show", "--workspace", "1", "--phone", "+12223334444", as_json=False)

    first, second = by_email.stdout.rstrip("\n").split("\n\n")
    assert first.split("\n")[0] == "profile external_id=u1 email=a@example.com"
    assert table(first.split("\n", 1)[1]) == [
        ["GROUP", "CHANNEL", "STATE", "SINCE (UTC)", "GROUP ID"],
        ["Weekly news", "email", "subscribed", moment(u1["subscriptions"][0]["updated_at"]), news],
    ]
    assert second.split("\n")[0] == "profile external_id=u2 email=a@example.com"
    assert table(second.split("\n", 1)[1])[1][:3] == ["Weekly news", "email", "unsubscribed"]
    identity, states = by_phone.stdout.split("\n", 1)
    assert identity == "profile phone=+12223334444"
    assert table(states) == [
        ["GROUP", "CHANNEL", "STATE", "SINCE (UTC)", "GROUP ID"],
        ["Alerts", "sms", "unsubscribed", moment(phone["subscriptions"][0]["updated_at"]), alerts],
    ]
    assert u2["external_id"] == "u2"
    assert "None" not in by_email.stdout + by_phone.stdout


def test_profile_show_of_nobody(cli: Cli) -> None:
    cli.ok("workspace", "create", "Acme")

    shown = cli("profile", "show", "--workspace", "1", "--external-id", "ghost", as_json=False)

    assert (shown.exit_code, shown.stdout) == (0, "no profile\n")


@pytest.mark.parametrize(
    ("command", "nothing"),
    [
        (["workspace", "list"], "no workspaces"),
        (["key", "list"], "no keys"),
        (["admin", "list"], "no dashboard users"),
    ],
)
def test_an_empty_list_says_so_without_a_header(cli: Cli, command: list[str], nothing: str) -> None:
    assert cli(*command, as_json=False).stdout == f"{nothing}\n"
