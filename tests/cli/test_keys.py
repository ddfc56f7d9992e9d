"""`subgroups key`."""

from __future__ import annotations

import asyncio

import pytest

from subgroups.config import Settings
from subgroups.container import build_services
from subgroups.errors import AuthenticationFailed
from tests.cli.conftest import Cli, one_document

ALL = [
    "changes.get",
    "exports.get",
    "imports.write",
    "links.create",
    "subscription.groups.get",
    "subscription.status.get",
    "subscription.status.set",
]


def authenticates(database_url: str, secret: str) -> bool:
    async def go() -> bool:
        services = build_services(Settings(database_url=database_url))
        try:
            await services.keys.authenticate(secret)
            return True
        except AuthenticationFailed:
            return False
        finally:
            await services.aclose()

    return asyncio.run(go())


@pytest.fixture
def workspace(cli: Cli) -> int:
    workspace_id: int = cli.ok("workspace", "create", "Acme")["id"]
    return workspace_id


def test_create_prints_the_secret_once_with_every_permission_by_default(
    cli: Cli, workspace: int
) -> None:
    created = cli.ok("key", "create", "--workspace", str(workspace), "--name", "backend")

    assert set(created) == {"id", "key", "workspace_id", "permissions"}
    assert (created["workspace_id"], created["permissions"]) == (workspace, ALL)
    assert created["key"].startswith("sgk_")
    assert authenticates(cli.database_url, created["key"])


def test_create_with_permissions_and_allowed_addresses(cli: Cli, workspace: int) -> None:
    created = cli.ok(
        "key", "create", "--workspace", str(workspace),
        "--permission", "subscription.status.get",
        "--permission", "subscription.groups.get",
        "--allow-ip", "10.0.0.0/8",
        "--allow-ip", "192.0.2.7",
        "--allow-ip", "2001:db8::/32",
    )  # fmt: skip

    assert created["permissions"] == ["subscription.groups.get", "subscription.status.get"]
    [listed] = cli.ok("key", "list")["keys"]
    assert listed["id"] == created["id"]
    assert listed["permissions"] == created["permissions"]
    assert listed["allowed_ips"] == ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]


def test_list_never_shows_a_secret(cli: Cli, workspace: int) -> None:
    other = cli.ok("workspace", "create", "Globex")["id"]
    secrets = [
        cli.ok("key", "create", "--workspace", str(ws), "--name", f"k{ws}")["key"]
        for ws in (workspace, other)
    ]

    everything = cli("key", "list")
    mine = cli.ok("key", "list", "--workspace", str(workspace))["keys"]

    for secret in secrets:
        assert secret not in everything.stdout
        assert secret[:12] in everything.stdout  # the shown prefix tells keys apart
    keys = cli.ok("key", "list")["keys"]
    assert [k["workspace_id"] for k in keys] == [workspace, other]
    assert set(keys[0]) == {
        "id", "workspace_id", "name", "prefix", "permissions", "allowed_ips",
        "created_at", "last_used_at", "revoked_at",
    }  # fmt: skip
    assert [k["name"] for k in mine] == [f"k{workspace}"]
    assert keys[0]["revoked_at"] is None


def test_revoke_stops_the_key_at_once(cli: Cli, workspace: int) -> None:
    created = cli.ok("key", "create", "--workspace", str(workspace))

    revoked = cli.ok("key", "revoke", str(created["id"]))

    assert revoked["id"] == created["id"]
    assert revoked["revoked_at"] is not None
    assert not authenticates(cli.database_url, created["key"])
    again = cli.ok("key", "revoke", str(created["id"]))
    assert again["revoked_at"] == revoked["revoked_at"]
    [listed] = cli.ok("key", "list")["keys"]
    assert listed["revoked_at"] == revoked["revoked_at"]


def test_errors(cli: Cli, workspace: int) -> None:
    assert cli.fails("key", "create", "--workspace", "99") == "No workspace 99"
    assert (
        cli.fails("key", "create", "--workspace", str(workspace), "--allow-ip", "nope")
        == "Invalid IP address or CIDR range: 'nope'"
    )
    assert cli.fails("key", "revoke", "99") == "No API key 99"
    assert cli.ok("key", "list") == {"keys": []}


def test_an_unknown_permission_is_a_usage_error(cli: Cli, workspace: int) -> None:
    command = ["key", "create", "--workspace", str(workspace), "--permission", "users.track"]
    result = cli(*command)
    as_text = cli(*command, as_json=False)

    assert result.exit_code == 2
    assert "users.track" in one_document(result.stdout)["message"]
    assert result.stderr == ""
    assert as_text.exit_code == 2
    assert "users.track" in as_text.stderr
    assert as_text.stdout == ""
    assert cli.ok("key", "list") == {"keys": []}
