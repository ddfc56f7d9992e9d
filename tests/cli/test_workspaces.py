"""`subgroups workspace`."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.cli.conftest import Cli


def test_create_prints_the_new_workspace(cli: Cli) -> None:
    assert cli.ok("workspace", "create", "Acme") == {"id": 1, "name": "Acme"}
    assert cli.ok("workspace", "create", "  Globex  ") == {"id": 2, "name": "Globex"}


def test_list_shows_every_workspace_in_creation_order(cli: Cli) -> None:
    assert cli.ok("workspace", "list") == {"workspaces": []}
    for name in ("Zeta", "Alpha"):
        cli.ok("workspace", "create", name)

    listed = cli.ok("workspace", "list")["workspaces"]

    assert [(w["id"], w["name"]) for w in listed] == [(1, "Zeta"), (2, "Alpha")]
    assert all(set(w) == {"id", "name", "created_at"} for w in listed)
    assert all(datetime.fromisoformat(w["created_at"]).utcoffset() is not None for w in listed)


def test_a_duplicate_or_empty_name_is_an_error(cli: Cli) -> None:
    cli.ok("workspace", "create", "Acme")

    assert cli.fails("workspace", "create", "Acme") == "A workspace named 'Acme' already exists"
    assert cli.fails("workspace", "create", "   ") == "A workspace name is 1-200 characters"
    assert len(cli.ok("workspace", "list")["workspaces"]) == 1


def test_text_output(cli: Cli) -> None:
    created = cli("workspace", "create", "Acme", as_json=False)
    listed = cli("workspace", "list", as_json=False)

    [acme] = cli.ok("workspace", "list")["workspaces"]
    day = f"{datetime.fromisoformat(acme['created_at']).astimezone(UTC):%Y-%m-%d}"
    assert created.stdout == "created workspace 1 (Acme)\n"
    assert listed.stdout == f"ID  NAME  CREATED (UTC)\n1   Acme  {day}\n"
