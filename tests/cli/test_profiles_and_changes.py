"""`subgroups profile show` and `subgroups changes list`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from tests.cli.conftest import Cli


@dataclass(frozen=True)
class Setup:
    workspace: str
    email_group: str
    sms_group: str


@pytest.fixture
def setup(cli: Cli) -> Setup:
    workspace = str(cli.ok("workspace", "create", "Acme")["id"])

    def group(name: str, channel: str) -> str:
        made = cli.ok(
            "group", "create", "--workspace", workspace, "--name", name, "--channel", channel
        )
        group_id: str = made["id"]
        return group_id

    return Setup(workspace, group("News", "email"), group("Alerts", "sms"))


def test_profile_show_by_each_identifier(cli: Cli, setup: Setup) -> None:
    ws = int(setup.workspace)
    cli.set_state(ws, setup.email_group, "subscribed", external_id="u1", email="a@example.com")
    cli.set_state(ws, setup.sms_group, "unsubscribed", external_id="u1", phone="+12223334444")

    by_id = cli.ok("profile", "show", "--workspace", setup.workspace, "--external-id", "u1")
    by_email = cli.ok(
        "profile", "show", "--workspace", setup.workspace, "--email", "  A@Example.com"
    )
    by_phone = cli.ok(
        "profile", "show", "--workspace", setup.workspace, "--phone", "+1 (222) 333-4444"
    )

    assert by_id == by_email == by_phone
    [profile] = by_id["profiles"]
    assert set(profile) == {"external_id", "email", "phone", "subscriptions"}
    assert (profile["external_id"], profile["email"], profile["phone"]) == (
        "u1",
        "a@example.com",
        "+12223334444",
    )
    assert [(s["group_id"], s["state"]) for s in profile["subscriptions"]] == [
        (setup.email_group, "subscribed"),
        (setup.sms_group, "unsubscribed"),
    ]
    assert all(set(s) == {"group_id", "state", "updated_at"} for s in profile["subscriptions"])


def test_profile_show_lists_every_profile_sharing_an_email(cli: Cli, setup: Setup) -> None:
    ws = int(setup.workspace)
    for external_id in ("u1", "u2"):
        cli.set_state(ws, setup.email_group, "subscribed", external_id=external_id,
                      email="shared@example.com")  # fmt: skip

    shown = cli.ok(
        "profile", "show", "--workspace", setup.workspace, "--email", "shared@example.com"
    )

    assert [p["external_id"] for p in shown["profiles"]] == ["u1", "u2"]


def test_profile_show_of_nobody_is_an_empty_list(cli: Cli, setup: Setup) -> None:
    shown = cli.ok("profile", "show", "--workspace", setup.workspace, "--external-id", "ghost")

    assert shown == {"profiles": []}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ([], "give exactly one of --external-id, --email, --phone"),
        (["--external-id", "u1", "--email", "a@example.com"],
         "give exactly one of --external-id, --email, --phone"),
        (["--email", "not-an-email"], "Invalid email address: 'not-an-email'"),
        (["--phone", "2223334444"],
         "Invalid phone number: '2223334444' (use E.164, for example +14155552671)"),
    ],
)  # fmt: skip
def test_profile_show_errors(cli: Cli, setup: Setup, options: list[str], message: str) -> None:
    assert cli.fails("profile", "show", "--workspace", setup.workspace, *options) == message


CHANGE_FIELDS = {
    "id", "workspace_id", "profile_id", "external_id", "email", "phone",
    "subscription_group_id", "channel", "old_state", "new_state", "occurred_at", "source",
    "api_key_id", "request_id", "client_ip",
}  # fmt: skip


def test_changes_list_is_the_whole_trail_oldest_first(cli: Cli, setup: Setup) -> None:
    ws = int(setup.workspace)
    assert cli.ok("changes", "list", "--workspace", setup.workspace) == {"changes": []}
    for state in ("subscribed", "unsubscribed", "unsubscribed", "subscribed"):
        cli.set_state(ws, setup.email_group, state, external_id="u1")
    cli.set_state(ws, setup.sms_group, "subscribed", phone="+1 222 333 4444")

    changes = cli.ok("changes", "list", "--workspace", setup.workspace)["changes"]

    assert all(set(c) == CHANGE_FIELDS for c in changes)
    assert [(c["subscription_group_id"], c["old_state"], c["new_state"]) for c in changes] == [
        (setup.email_group, None, "subscribed"),
        (setup.email_group, "subscribed", "unsubscribed"),
        (setup.email_group, "unsubscribed", "subscribed"),
        (setup.sms_group, None, "subscribed"),
    ]
    ids = [c["id"] for c in changes]
    assert ids == sorted(ids)
    last = changes[-1]
    assert (last["channel"], last["phone"], last["external_id"], last["workspace_id"]) == (
        "sms",
        "+12223334444",
        None,
        ws,
    )
    assert (last["source"], last["request_id"], last["client_ip"]) == (
        "REST API",
        "req-1",
        "192.0.2.1",
    )
    assert datetime.fromisoformat(last["occurred_at"]).utcoffset() is not None


def test_changes_list_pages_with_after_and_limit(cli: Cli, setup: Setup) -> None:
    ws = int(setup.workspace)
    for n in range(5):
        cli.set_state(ws, setup.email_group, "subscribed", external_id=f"u{n}")
    ids = [c["id"] for c in cli.ok("changes", "list", "--workspace", setup.workspace)["changes"]]
    assert len(ids) == 5

    def listed(*options: str) -> list[int]:
        found = cli.ok("changes", "list", "--workspace", setup.workspace, *options)["changes"]
        return [c["id"] for c in found]

    assert listed("--after", str(ids[1])) == ids[2:]
    assert listed("--limit", "2") == ids[:2]
    assert listed("--after", str(ids[1]), "--limit", "2") == ids[2:4]
    assert listed("--after", str(ids[-1])) == []
    assert listed("--after", "0") == ids


def test_changes_list_keeps_to_its_workspace(cli: Cli, setup: Setup) -> None:
    other = cli.ok("workspace", "create", "Globex")["id"]
    cli.set_state(int(setup.workspace), setup.email_group, "subscribed", external_id="u1")

    assert cli.ok("changes", "list", "--workspace", str(other)) == {"changes": []}
    assert cli.fails("changes", "list", "--workspace", "99") == "No workspace 99"


def test_changes_list_refuses_a_limit_below_one(cli: Cli, setup: Setup) -> None:
    result = cli("changes", "list", "--workspace", setup.workspace, "--limit", "0")

    assert result.exit_code == 2


def test_profile_show_as_of_gives_the_states_as_they_stood_then(cli: Cli, setup: Setup) -> None:
    ws = int(setup.workspace)
    cli.set_state(ws, setup.email_group, "subscribed", external_id="u1", email="a@example.com")
    between = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    cli.set_state(ws, setup.email_group, "unsubscribed", external_id="u1")
    show = ("profile", "show", "--workspace", setup.workspace, "--external-id", "u1")

    then = cli.ok(*show, "--as-of", between)
    now = cli.ok(*show, "--as-of", datetime.now(UTC).isoformat())
    before = cli.ok(*show, "--as-of", "2000-01-01T00:00:00Z")

    [profile] = then["profiles"]
    assert profile["external_id"] == "u1"
    assert profile["subscriptions"] == [{"group_id": setup.email_group, "state": "subscribed"}]
    assert now["profiles"][0]["subscriptions"][0]["state"] == "unsubscribed"
    assert before["profiles"] == []  # the profile did not exist yet
    assert cli.fails(*show, "--as-of", "yesterday") == "as_of must be an ISO 8601 date-time"
