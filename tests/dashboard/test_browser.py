"""The dashboard in a real Chromium against a real server process, used as an operator would."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from subgroups.container import Services
from subgroups.domain.models import Group, Source
from tests.dashboard.browsing import PASSWORD, api_set, make_group, make_setup, sign_in
from tests.dashboard.conftest import LiveServer, screenshot

pytestmark = pytest.mark.e2e


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

    # Titled by who it is, not by a number that reads like its id.
    profile = page.get_by_role("region", name="Profile user-42", exact=True)
    expect(profile.locator("dd", has_text="user-42")).to_be_visible()
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


def test_reloading_the_page_of_a_new_key_neither_makes_another_key_nor_shows_the_secret_again(
    page: Page, live_server: LiveServer
) -> None:
    setup = make_setup(live_server)
    keys_page = f"/dashboard/w/{setup.workspace_id}/keys"
    sign_in(page, setup, go_to=keys_page)

    page.locator("summary", has_text="New key").click()
    page.get_by_label("Name").fill("Reloaded")
    page.get_by_role("button", name="Create key").click()

    secret = page.get_by_role("region", name="Key “Reloaded” created").locator("#new-secret")
    expect(secret).to_have_text(re.compile("^sgk_"))
    # The secret is shown by a page of its own address, which the form redirected to: the
    # secret is not in it.
    expect(page).to_have_url(re.compile(f"{keys_page}$"))
    shown = secret.inner_text()
    assert shown not in page.url

    page.reload()

    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    expect(page.locator("#new-secret")).to_have_count(0)
    expect(page.get_by_role("rowheader", name="Reloaded")).to_have_count(1)

    async def names(services: Services) -> list[str]:
        return [k.name for k in await services.keys.list(workspace_id=setup.workspace_id)]

    assert sorted(live_server.call(names)) == ["Reloaded", "website"]
    page.go_back()
    expect(page.locator("#new-secret")).to_have_count(0)
    assert sorted(live_server.call(names)) == ["Reloaded", "website"]


def test_two_keys_of_one_name_are_told_apart_by_their_prefix_when_revoking(
    page: Page, live_server: LiveServer
) -> None:
    setup = make_setup(live_server)

    async def two_of_a_name(services: Services) -> list[str]:
        made = [
            await services.keys.create(workspace_id=setup.workspace_id, name="Twin")
            for _ in range(2)
        ]
        return [m.key.prefix for m in made]

    first, second = live_server.call(two_of_a_name)
    sign_in(page, setup, go_to=f"/dashboard/w/{setup.workspace_id}/keys")

    row = page.locator("tr", has=page.get_by_role("cell", name=f"{second}…"))
    row.get_by_role("button", name=re.compile("^Revoke Twin")).click()
    dialog = page.get_by_role("dialog", name="Revoke this key?")
    expect(dialog).to_contain_text(second)
    expect(dialog).not_to_contain_text(first)
    dialog.get_by_role("button", name="Revoke key").click()

    expect(page.get_by_role("status")).to_contain_text(f"Revoked the key “Twin” ({second}…)")
    expect(row.locator(".key-status")).to_contain_text("Revoked")
    other = page.locator("tr", has=page.get_by_role("cell", name=f"{first}…"))
    expect(other.locator(".key-status")).to_contain_text("Active")
    expect(other.get_by_role("button", name=f"Revoke Twin ({first}…)")).to_be_visible()


def test_the_dashboard_holds_a_profile_to_the_channel_rules_of_the_api(
    page: Page, live_server: LiveServer
) -> None:
    setup = make_setup(live_server)
    news = make_group(live_server, setup, "Newsletter", "email")
    alerts = make_group(live_server, setup, "Alerts", "sms")
    phone = "+14155552671"
    assert api_set(live_server, setup.key, alerts.id, "subscribed", phone=phone).status_code == 201
    refused = api_set(live_server, setup.key, news.id, "subscribed", phone=phone)
    assert refused.status_code == 400
    sign_in(
        page, setup, go_to=f"/dashboard/w/{setup.workspace_id}/profiles?by=phone&q={quote(phone)}"
    )

    profile = page.get_by_role("region", name=f"Profile {phone}", exact=True)
    email_row = profile.locator("table.states tr", has_text="Newsletter")
    sms_row = profile.locator("table.states tr", has_text="Alerts")
    # An email group offers no change for a profile the API cannot reach by email, and says why.
    expect(email_row.get_by_role("button")).to_have_count(0)
    expect(email_row).to_contain_text("Needs an email address or an external id")
    expect(sms_row.get_by_role("button", name="Unsubscribe from Alerts")).to_be_visible()
    screenshot(page, live_server, "profile-phone-only")

    # A form that names the email group anyway (a page from before, or one made by hand) is
    # refused by the server with the API's words, and nothing changes.
    sms_row.locator("input[name=group_id]").evaluate("(input, id) => input.value = id", news.id)
    sms_row.get_by_role("button", name="Unsubscribe from Alerts").click()

    expect(page.get_by_role("alert")).to_have_text(refused.json()["message"])
    expect(email_row.locator(".state")).to_have_text("Unknown")
    expect(sms_row.locator(".state")).to_have_text("Subscribed")

    async def changes(services: Services) -> int:
        return len(await services.subscriptions.changes(workspace_id=setup.workspace_id))

    assert live_server.call(changes) == 1


def test_a_profile_with_an_external_id_may_join_a_group_of_either_channel(
    page: Page, live_server: LiveServer
) -> None:
    setup = make_setup(live_server)
    news = make_group(live_server, setup, "Newsletter", "email")
    alerts = make_group(live_server, setup, "Alerts", "sms")
    sent = api_set(
        live_server, setup.key, alerts.id, "subscribed", external_id="u-7", phone="+14155552671"
    )
    assert sent.status_code == 201
    sign_in(page, setup, go_to=f"/dashboard/w/{setup.workspace_id}/profiles?by=external_id&q=u-7")

    profile = page.get_by_role("region", name="Profile u-7", exact=True)
    email_row = profile.locator("table.states tr", has_text="Newsletter")
    email_row.get_by_role("button", name="Subscribe to Newsletter").click()

    expect(page.get_by_role("status")).to_contain_text("Saved: Subscribed")
    expect(email_row.locator(".state")).to_have_text("Subscribed")
    assert (
        api_set(live_server, setup.key, news.id, "subscribed", external_id="u-7").status_code == 201
    )


def opened(page: Page, path: str) -> int:
    """Opens `path` as a person would (typing it) and gives the status of the page."""
    response = page.goto(path)
    assert response is not None
    return response.status


def test_the_root_and_the_dashboard_without_its_slash_lead_a_browser_on(
    page: Page, live_server: LiveServer
) -> None:
    assert opened(page, "/") == 200
    page.get_by_role("link", name="API reference").click()
    expect(page).to_have_url(re.compile("/docs$"))

    page.goto("/")
    page.get_by_role("link", name="Dashboard").first.click()
    expect(page).to_have_title(re.compile("^Sign in"))

    page.goto("/dashboard")
    expect(page).to_have_url(re.compile("/dashboard/sign-in"))
    expect(page).to_have_title(re.compile("^Sign in"))

    assert opened(page, "/subscription/status/set") == 405
    expect(page.get_by_role("heading", level=1)).to_contain_text("API")
    page.get_by_role("link", name="API reference").click()
    expect(page).to_have_url(re.compile("/docs$"))

    assert opened(page, "/no/such/page") == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")


def test_a_webhook_endpoint_is_created_its_secret_shown_once_and_disabled(
    page: Page, live_server: LiveServer
) -> None:
    setup = make_setup(live_server)
    sign_in(page, setup, go_to=f"/dashboard/w/{setup.workspace_id}/groups")
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()

    # A private address is refused with the reason, and what was typed stays in the form.
    page.locator("summary", has_text="New endpoint").click()
    page.get_by_label("URL").fill("https://10.0.0.8/hooks")
    page.get_by_role("button", name="Create endpoint").click()
    expect(page.get_by_role("alert")).to_contain_text("a loopback, private or link-local address")
    expect(page.get_by_label("URL")).to_have_value("https://10.0.0.8/hooks")
    expect(page.get_by_label("URL")).to_have_attribute("aria-invalid", "true")

    receiver = "https://hooks.example.com/subgroups"
    page.get_by_label("URL").fill(receiver)
    expect(page.get_by_label("subscription.state_changed")).to_be_checked()
    page.get_by_role("button", name="Create endpoint").click()

    secret_box = page.get_by_role("region", name="Signing secret")
    expect(secret_box.locator("#new-secret")).to_have_text(re.compile("^whsec_"))
    expect(page.get_by_role("status")).to_contain_text(f"Created the endpoint {receiver}")
    shown = secret_box.locator("#new-secret").inner_text()
    assert shown not in page.url
    secret_box.get_by_role("button", name="Copy the endpoint's signing secret").click()
    copied: str = page.evaluate("navigator.clipboard.readText()")
    assert copied == shown
    expect(page.get_by_text("No deliveries yet")).to_be_visible()
    screenshot(page, live_server, "webhook")

    page.reload()
    expect(page.get_by_role("heading", name=receiver)).to_be_visible()
    expect(page.locator("#new-secret")).to_have_count(0)

    page.get_by_role("link", name="Webhooks", exact=True).first.click()
    row = page.locator("tr", has=page.get_by_role("rowheader", name=receiver))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Enabled")
    row.get_by_role("button", name=f"Disable {receiver}").click()
    page.get_by_role("dialog", name="Disable this endpoint?").get_by_role(
        "button", name="Disable endpoint"
    ).click()
    expect(page.get_by_role("status")).to_contain_text(f"Disabled {receiver}")
    expect(row.locator(".endpoint-status")).to_contain_text("disabled by an operator")
    expect(page.locator("#new-secret")).to_have_count(0)
    screenshot(page, live_server, "webhooks")
