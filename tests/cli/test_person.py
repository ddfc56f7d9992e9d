"""`subgroups workspace rotate-link-secret|branding` and `subgroups profile export|erase` (§11)."""

from __future__ import annotations

import asyncio
import os
import pty
import subprocess
import sys

from subgroups.config import Settings
from subgroups.container import build_services
from subgroups.domain.links import LinkKind
from subgroups.errors import NotFound
from tests.cli.conftest import Cli, one_document


def workspace_with_person(cli: Cli) -> tuple[str, str]:
    workspace = str(cli.ok("workspace", "create", "Acme")["id"])
    group: str = cli.ok(
        "group", "create", "--workspace", workspace, "--name", "News", "--channel", "email"
    )["id"]
    cli.set_state(int(workspace), group, "subscribed", external_id="u1", email="a@example.com")
    cli.set_state(int(workspace), group, "unsubscribed", external_id="u1")
    return workspace, group


def test_rotating_the_link_secret_retires_the_old_links_after_the_grace(cli: Cli) -> None:
    workspace, group = workspace_with_person(cli)

    async def mint() -> str:
        services = build_services(Settings(database_url=cli.database_url))
        try:
            links = await services.links.unsubscribe_links(
                workspace_id=int(workspace), group_id=group, identifiers={"external_id": "u1"}
            )
        finally:
            await services.aclose()
        assert links.unsubscribe is not None
        return links.unsubscribe

    async def works(token: str) -> bool:
        services = build_services(Settings(database_url=cli.database_url))
        try:
            await services.links.verify(token, LinkKind.UNSUBSCRIBE)
        except NotFound:
            return False
        finally:
            await services.aclose()
        return True

    token = asyncio.run(mint())
    rotated = cli.ok("workspace", "rotate-link-secret", workspace, "--grace-seconds", "600")
    in_grace = asyncio.run(works(token))
    cli.ok("workspace", "rotate-link-secret", workspace)

    assert rotated["secret_id"] == 2
    assert in_grace
    assert not asyncio.run(works(token))
    assert asyncio.run(works(asyncio.run(mint())))
    assert "90 days" in cli.fails(
        "workspace", "rotate-link-secret", workspace, "--grace-seconds", "99999999"
    )
    assert cli.fails("workspace", "rotate-link-secret", "999") == "No workspace 999"


def test_branding_is_shown_set_and_checked(cli: Cli) -> None:
    workspace = str(cli.ok("workspace", "create", "Acme")["id"])

    shown = cli.ok("workspace", "branding", workspace)
    saved = cli.ok(
        "workspace",
        "branding",
        workspace,
        "--display-name",
        "Acme News",
        "--accent-color",
        "#1A4D8F",
    )
    name_only = cli.ok("workspace", "branding", workspace, "--display-name", "Acme")

    assert shown == {"workspace_id": 1, "display_name": None, "accent_color": None}
    assert saved == {"workspace_id": 1, "display_name": "Acme News", "accent_color": "#1a4d8f"}
    assert name_only["accent_color"] == "#1a4d8f"
    assert "too light" in cli.fails("workspace", "branding", workspace, "--accent-color", "#ffff00")


def test_export_prints_everything_as_one_document(cli: Cli) -> None:
    workspace, _ = workspace_with_person(cli)

    document = cli.ok("profile", "export", "--workspace", workspace, "--email", "A@example.com")
    text = cli("profile", "export", "--workspace", workspace, "--external-id", "u1", as_json=False)

    [person] = document["profiles"]
    assert person["profile"]["external_id"] == "u1"
    assert person["profile"]["subscriptions"][0]["state"] == "unsubscribed"
    assert [(c["old_state"], c["new_state"]) for c in person["changes"]] == [
        (None, "subscribed"),
        ("subscribed", "unsubscribed"),
    ]
    assert person["earlier_opt_outs"] == []
    assert text.exit_code == 0
    assert '"external_id": "u1"' in text.stdout
    assert cli.fails("profile", "export", "--workspace", workspace) == (
        "give exactly one of --external-id, --email, --phone"
    )


def test_erase_asks_on_a_terminal_and_needs_yes_in_a_script(cli: Cli) -> None:
    workspace, group = workspace_with_person(cli)
    args = ["profile", "erase", "--workspace", workspace, "--email", "a@example.com"]

    refused = cli.fails(*args)
    declined = on_a_terminal([*args, "--database-url", cli.database_url], answer="n")
    erased = cli.ok(*args, "--yes")
    again = cli.fails(*args, "--yes")
    after = cli.ok("profile", "export", "--workspace", workspace, "--external-id", "u1")

    assert refused == "erasing cannot be undone: confirm with --yes"
    assert declined[0] == 1
    assert "This cannot be undone [y/N]" in declined[1]
    assert "Aborted" in declined[1]
    assert erased == {"erased": [{"profile_id": 1, "suppression_entries": 1}]}
    assert again == "No profile matches email 'a@example.com'"
    assert after == {"profiles": []}
    cli.set_state(int(workspace), group, "subscribed", email="a@example.com")
    [back] = cli.ok("profile", "export", "--workspace", workspace, "--email", "a@example.com")[
        "profiles"
    ]
    [earlier] = back["earlier_opt_outs"]
    assert (earlier["subscription_group_id"], earlier["state"]) == (group, "unsubscribed")


def test_erase_goes_ahead_when_the_terminal_says_yes(cli: Cli) -> None:
    workspace, _ = workspace_with_person(cli)
    args = ["profile", "erase", "--workspace", workspace, "--external-id", "u1"]

    code, output = on_a_terminal([*args, "--database-url", cli.database_url], answer="y")

    assert code == 0, output
    assert "erased profile 1" in output


def on_a_terminal(args: list[str], *, answer: str) -> tuple[int, str]:
    """Runs the real CLI with a pseudo-terminal as its input, answering its question."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "subgroups", *args],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        os.write(controller, f"{answer}\n".encode())
        output, _ = process.communicate(timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)
    return process.returncode, output.decode()


def test_erase_prints_one_line_per_profile(cli: Cli) -> None:
    workspace, _ = workspace_with_person(cli)

    result = cli(
        "profile", "erase", "--workspace", workspace, "--external-id", "u1", "--yes", as_json=False
    )

    assert result.exit_code == 0
    assert result.stdout == "erased profile 1 (1 suppression entry kept)\n"
    assert one_document(
        cli("profile", "export", "--workspace", workspace, "--external-id", "u1").stdout
    ) == {"profiles": []}
