"""The dashboard in a real Chromium against a real server process, used as an operator would."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from subgroups.container import Services
from subgroups.domain.models import Group, Source
from tests.dashboard.conftest import LiveServer, screenshot

pytestmark = pytest.mark.e2e

PASSWORD = "a long enough password"
_serial = itertools.count(1)


@dataclass(frozen=True)
class Setup:
    workspace_id: int
    workspace_name: str
    email: str
    key: str


def make_setup(live_server: LiveServer) -> Setup:
    """A workspace with a full-permission key, and an operator who can sign in."""
    n = next(_serial)

    async def action(services: Services) -> Setup:
        workspace = await services.workspaces.create(name=f"Browser {live_server.backend} {n}")
        operator = await services.operators.create(
            email=f"operator{n}@example.com", password=PASSWORD
        )
        new = await services.keys.create(workspace_id=workspace.id, name="website")
        return Setup(workspace.id, workspace.name, operator.email, new.secret)

    return live_server.call(action)


def sign_in(page: Page, setup: Setup, *, go_to: str = "/dashboard/") -> None:
    page.goto(go_to)
    expect(page).to_have_title(re.compile("^Sign in"))
    page.get_by_label("Email").fill(setup.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def api_set(
    live_server: LiveServer, key: str, group_id: str, state: str, **ids: Any
) -> httpx.Response:
    return httpx.post(
        f"{live_server.base_url}/subscription/status/set",
        json={"subscription_group_id": group_id, "subscription_state": state, **ids},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def wait_for_chart(page: Page) -> None:
    """The chart is drawn once the deferred scripts have run, after the page itself is there."""
    # A function, not an expression: Playwright polls an expression with eval(), which the
    # dashboard's Content-Security-Policy (no 'unsafe-eval') rightly refuses.
    page.wait_for_function(
        "() => window.Chart !== undefined && Chart.getChart('sizes-chart') !== undefined"
    )


def chart_last_points(page: Page) -> list[int]:
    wait_for_chart(page)
    points: list[int] = page.evaluate(
        "Chart.getChart('sizes-chart').data.datasets.map(d => d.data.at(-1))"
    )
    return points


def chart_length(page: Page) -> int:
    wait_for_chart(page)
    length: int = page.evaluate("Chart.getChart('sizes-chart').data.labels.length")
    return length


def test_signing_in_is_required_and_a_wrong_password_is_refused(
    page: Page, live_server: LiveServer
) -> None:
    setup = make_setup(live_server)
    keys_page = f"/dashboard/w/{setup.workspace_id}/keys"

    page.goto(keys_page)
    expect(page).to_have_title(re.compile("^Sign in"))
    page.get_by_label("Email").fill(setup.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password")
    screenshot(page, live_server, "sign-in")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(f"{keys_page}$"))
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_title(re.compile("^Sign in"))
    page.goto(keys_page)
    expect(page).to_have_title(re.compile("^Sign in"))


def test_a_new_group_is_copied_used_through_the_api_counted_charted_and_archived(
    page: Page, live_server: LiveServer
) -> None:
    setup = make_setup(live_server)
    sign_in(page, setup)
    page.get_by_label("Workspace").select_option(label=setup.workspace_name)
    page.get_by_role("button", name="Switch").click()
    expect(page).to_have_url(re.compile(f"/dashboard/w/{setup.workspace_id}/groups$"))
    expect(page.get_by_role("heading", name="Subscription Groups")).to_be_visible()

    page.locator("summary", has_text="New group").click()
    page.get_by_label("Name").fill("Product news")
    page.get_by_label("SMS").check()
    page.get_by_label("Email", exact=True).check()
    page.get_by_label("Description (optional)").fill("Monthly product updates")
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_role("status")).to_contain_text("Created the email group “Product news”")

    row = page.locator("tr", has=page.get_by_role("link", name="Product news"))
    shown_id = row.locator("code.group-id").inner_text()
    row.get_by_role("button", name="Copy the id of Product news").click()
    expect(row.get_by_role("button", name="Copy the id of Product news")).to_have_text("Copied")
    copied: str = page.evaluate("navigator.clipboard.readText()")
    assert copied == shown_id

    page.get_by_role("link", name="Product news").click()
    expect(page.locator("#subscribed-now")).to_have_text("0")
    assert chart_last_points(page) == [0, 0]

    for external_id, state in (
        ("ann", "subscribed"),
        ("bob", "subscribed"),
        ("cy", "unsubscribed"),
    ):
        assert (
            api_set(live_server, setup.key, copied, state, external_id=external_id).status_code
            == 201
        )

    page.reload()
    expect(page.locator("#subscribed-now")).to_have_text("2")
    expect(page.locator("#unsubscribed-now")).to_have_text("1")
    assert chart_last_points(page) == [2, 1]
    assert chart_length(page) == 30
    recent = page.get_by_role("region", name="Recent changes")
    expect(recent.get_by_role("row")).to_have_count(4)  # a header and three changes
    expect(recent.get_by_role("cell", name="REST API").first).to_be_visible()
    page.get_by_role("link", name="Last 90 days").click()
    expect(page.get_by_role("link", name="Last 90 days")).to_have_attribute("aria-current", "true")
    assert chart_length(page) == 90
    screenshot(page, live_server, "group")

    page.locator("summary", has_text="Rename or describe").click()
    page.get_by_label("Name").fill("Product newsletter")
    page.get_by_label("Description").fill("Product updates, once a month")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Product newsletter")
    expect(page.locator(".description-text")).to_have_text("Product updates, once a month")

    page.get_by_role("link", name="Subscription Groups").first.click()
    row = page.locator("tr", has=page.get_by_role("link", name="Product newsletter"))
    expect(row.locator(".subscribed-count")).to_have_text("2")
    expect(row.locator(".unsubscribed-count")).to_have_text("1")
    screenshot(page, live_server, "groups")

    row.get_by_role("button", name="Archive Product newsletter").click()
    dialog = page.get_by_role("dialog", name="Archive this group?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(row.get_by_text("Active")).to_be_visible()
    row.get_by_role("button", name="Archive Product newsletter").click()
    dialog.get_by_role("button", name="Archive group").click()
    expect(page.get_by_role("status")).to_contain_text("Archived “Product newsletter”")
    expect(row.get_by_text("Archived")).to_be_visible()

    refused = api_set(live_server, setup.key, copied, "subscribed", external_id="dan")
    assert refused.status_code == 400
    assert refused.json() == {
        "message": f"Subscription group '{copied}' is archived and cannot be changed"
    }


def test_a_profile_is_found_by_its_email_and_a_dashboard_change_is_recorded(
    page: Page, live_server: LiveServer
) -> None:
    setup = make_setup(live_server)

    async def make_group(services: Services) -> Group:
        return await services.groups.create(
            workspace_id=setup.workspace_id, name="Weekly digest", channel="email"
        )

    group = live_server.call(make_group)
    groups_page = f"/dashboard/w/{setup.workspace_id}/groups"
    sent = api_set(
        live_server,
        setup.key,
        group.id,
        "subscribed",
        external_id="user-42",
        email="ann@example.com",
    )
    assert sent.status_code == 201
    sign_in(page, setup, go_to=groups_page)

    page.get_by_role("link", name="Profiles").click()
    page.get_by_label("Look up by").select_option("email")
    page.get_by_label("Value").fill("  Ann@Example.COM ")
    page.get_by_role("button", name="Look up").click()

    profile = page.get_by_role("region", name="Profile 1")
    expect(profile.get_by_text("user-42")).to_be_visible()
    state_row = profile.locator("table.states tr", has_text="Weekly digest")
    expect(state_row.locator(".state")).to_have_text("Subscribed")
    history = profile.locator("table.history tbody tr")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("REST API")
    expect(history.first).to_contain_text("website (sgk_")
    expect(history.first).to_contain_text("127.0.0.1")

    state_row.get_by_role("button", name="Unsubscribe from Weekly digest").click()

    expect(page.get_by_role("status")).to_contain_text("Saved: Unsubscribed")
    expect(state_row.locator(".state")).to_have_text("Unsubscribed")
    expect(history).to_have_count(2)
    expect(history.first.locator(".source")).to_have_text("Dashboard")
    expect(history.first.locator(".who")).to_have_text(setup.email)
    screenshot(page, live_server, "profile")

    async def latest(services: Services) -> Any:
        return (await services.subscriptions.changes(workspace_id=setup.workspace_id))[-1]

    change = live_server.call(latest)
    assert (change.source, change.operator, change.external_id, change.new_state.value) == (
        Source.DASHBOARD,
        setup.email,
        "user-42",
        "unsubscribed",
    )

    page.get_by_label("Look up by").select_option("phone")
    page.get_by_label("Value").fill("12345")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("alert")).to_contain_text("Invalid phone number: '12345'")


def test_a_key_is_shown_once_copied_used_and_revoked(page: Page, live_server: LiveServer) -> None:
    setup = make_setup(live_server)

    async def make_group(services: Services) -> Group:
        return await services.groups.create(
            workspace_id=setup.workspace_id, name="Alerts", channel="sms"
        )

    group = live_server.call(make_group)
    sign_in(page, setup, go_to=f"/dashboard/w/{setup.workspace_id}/keys")

    page.locator("summary", has_text="New key").click()
    page.get_by_label("Name").fill("Checkout")
    page.get_by_label("subscription.groups.get").uncheck()
    page.get_by_label("Allowed IP addresses (optional)").fill("127.0.0.1, 10.0.0.0/8")
    page.get_by_role("button", name="Create key").click()

    secret_box = page.get_by_role("region", name="Key “Checkout” created")
    shown = secret_box.locator("#new-secret").inner_text()
    # With the keyboard alone: focus the copy button and press Enter.
    secret_box.get_by_role("button", name="Copy the new key's secret").focus()
    page.keyboard.press("Enter")
    expect(secret_box.get_by_role("button", name="Copy the new key's secret")).to_have_text(
        "Copied"
    )
    copied: str = page.evaluate("navigator.clipboard.readText()")
    assert copied == shown
    assert copied.startswith("sgk_")
    row = page.locator("tr", has=page.get_by_role("rowheader", name="Checkout"))
    expect(row).to_contain_text("subscription.status.set")
    expect(row).not_to_contain_text("subscription.groups.get")
    expect(row).to_contain_text("10.0.0.0/8")
    screenshot(page, live_server, "keys")

    used = api_set(live_server, copied, group.id, "subscribed", phone="+14155552671")
    assert used.status_code == 201

    page.get_by_role("link", name="API keys").click()
    expect(page.locator("#new-secret")).to_have_count(0)  # shown once only
    row.get_by_role("button", name="Revoke Checkout").click()
    page.get_by_role("dialog", name="Revoke this key?").get_by_role(
        "button", name="Revoke key"
    ).click()
    expect(page.get_by_role("status")).to_contain_text("Revoked the key “Checkout”")
    expect(row.locator(".key-status")).to_contain_text("Revoked")

    refused = api_set(live_server, copied, group.id, "unsubscribed", phone="+14155552671")
    assert refused.status_code == 401


def test_copy_falls_back_to_a_selection_without_the_clipboard_api(
    page: Page, live_server: LiveServer
) -> None:
    setup = make_setup(live_server)

    async def make_group(services: Services) -> Group:
        return await services.groups.create(
            workspace_id=setup.workspace_id, name="Fallback", channel="email"
        )

    group = live_server.call(make_group)
    sign_in(page, setup, go_to=f"/dashboard/w/{setup.workspace_id}/groups")
    # As on a page served over plain HTTP to another machine: no Clipboard API at all.
    page.evaluate("Object.defineProperty(navigator, 'clipboard', {value: undefined})")

    page.get_by_role("button", name="Copy the id of Fallback").click()

    expect(page.get_by_role("button", name="Copy the id of Fallback")).to_have_text("Copied")
    reader = page.context.new_page()
    reader.goto("/dashboard/sign-in")
    copied: str = reader.evaluate("navigator.clipboard.readText()")
    assert copied == group.id
    reader.close()
