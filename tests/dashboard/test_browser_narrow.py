"""Every page at a phone's width (390 px) in a real Chromium: the page itself never scrolls
sideways, and every control on it can be reached: on screen, or brought on screen by scrolling
(a wide table scrolls inside its own frame)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from subgroups.container import Services
from tests.dashboard.browsing import (
    api_set,
    make_endpoint,
    make_group,
    make_setup,
    record_changes,
    run_imports,
    sign_in,
)
from tests.dashboard.conftest import LiveServer, screenshot

pytestmark = pytest.mark.e2e

PHONE: ViewportSize = {"width": 390, "height": 844}

# For each control of <main> that is rendered (not in a closed <details>, not a hidden input):
# scrolled into view the way the browser scrolls to a focused control, is it inside the viewport
# and the topmost element at its centre? Returns the ones that are not, described.
UNREACHABLE = """() => {
  const width = document.documentElement.clientWidth;
  const height = document.documentElement.clientHeight;
  const found = [];
  for (const el of document.querySelectorAll(
      "main a[href], main button, main input, main select, main textarea, main summary")) {
    if (!el.checkVisibility()) continue;
    el.scrollIntoView({block: "center", inline: "nearest"});
    const box = el.getBoundingClientRect();
    // The first line's box: a link that wraps has nothing of its own at its overall centre.
    const line = el.getClientRects()[0];
    const x = line.left + line.width / 2, y = line.top + line.height / 2;
    const top = document.elementFromPoint(Math.min(Math.max(x, 0), width - 1), y);
    const inside = box.left >= 0 && box.right <= width + 0.5 && box.top >= 0 && box.bottom <= height;
    if (!inside || !(top === el || el.contains(top) || (top && top.closest("label")?.control === el))) {
      const name = el.getAttribute("aria-label") || el.textContent.trim() || el.name || el.id;
      const where = `${Math.round(box.left)}..${Math.round(box.right)}`;
      found.push(`${el.tagName.toLowerCase()} "${name}" at ${where}`);
    }
  }
  window.scrollTo(0, 0);
  return found;
}"""


def problems_at_phone_width(page: Page) -> list[str]:
    widths: dict[str, Any] = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth,"
        " client: document.documentElement.clientWidth})"
    )
    found: list[str] = []
    if widths["scroll"] > widths["client"]:
        found.append(f"the page scrolls sideways: {widths['scroll']} > {widths['client']}")
    unreachable: list[str] = page.evaluate(UNREACHABLE)
    return found + [f"out of reach: {what}" for what in unreachable]


def test_every_page_fits_a_phone_and_its_controls_can_be_reached(
    page: Page, live_server: LiveServer
) -> None:
    # Long names, as real ones can be: the header must make room for them too.
    setup = make_setup(
        live_server,
        workspace="Northwind Traders Marketing Europe",
        operator="marketing.operations.team.lead",
    )
    group = make_group(live_server, setup, "Weekly product newsletter", "email")
    make_group(live_server, setup, "Delivery alerts", "sms")
    # A long URL, as real ones can be: it must wrap, not widen the page.
    endpoint = make_endpoint(
        live_server,
        setup,
        "https://hooks.northwind-traders-marketing.example.com/subgroups/consent-changes/v1",
    )
    for external_id, state in (
        ("user-42", "subscribed"),
        ("user-43", "unsubscribed"),
        ("user-44", "subscribed"),
    ):
        sent = api_set(
            live_server,
            setup.key,
            group.id,
            state,
            external_id=external_id,
            email=f"{external_id}@example.com",
        )
        assert sent.status_code == 201

    async def archive_one(services: Services) -> None:
        old = await services.groups.create(
            workspace_id=setup.workspace_id, name="Spring sale 2025", channel="email"
        )
        await services.groups.archive(workspace_id=setup.workspace_id, group_id=old.id)

    live_server.call(archive_one)
    record_changes(live_server, setup, group, endpoint)
    page.set_viewport_size(PHONE)
    problems: dict[str, list[str]] = {}

    def check(name: str) -> None:
        expect(page.locator("main")).to_be_visible()
        # Before the check, which leaves the tables scrolled to their last control.
        screenshot(page, live_server, f"phone-{name}")
        found = problems_at_phone_width(page)
        if found:
            problems[name] = found

    for name, path in (
        ("root", "/"),
        ("api-405", "/subscription/status/set"),
        ("not-found", "/no/such/page"),
    ):
        page.goto(path)
        check(name)

    base = f"/dashboard/w/{setup.workspace_id}"
    page.goto("/dashboard/sign-in")
    check("sign-in")
    sign_in(page, setup, go_to=f"{base}/groups")
    check("groups")
    page.locator("summary", has_text="New group").click()
    check("groups-new-group")

    page.goto(f"{base}/groups/{group.id}")
    check("group")
    page.locator("summary", has_text="Show as a table").click()
    page.locator("summary", has_text="Rename or describe").click()
    check("group-open")

    page.goto(f"{base}/profiles?by=email&q=user-42@example.com")
    check("profiles")

    page.goto(f"{base}/keys")
    page.locator("summary", has_text="New key").click()
    check("keys-new-key")
    page.get_by_label("Name").fill("Checkout page")
    page.get_by_label("Allowed IP addresses (optional)").fill("127.0.0.1, 10.0.0.0/8")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-secret")).to_be_visible()
    check("keys")

    page.goto(f"{base}/webhooks")
    page.locator("summary", has_text="New endpoint").click()
    check("webhooks-new-endpoint")
    page.goto(f"{base}/webhooks/{endpoint.id}")
    expect(page.locator("tr[data-change-id]")).to_have_count(3)
    # The last section's tab, beyond the strip's width, is brought into it.
    tabs = page.get_by_role("navigation", name="Sections")
    expect(tabs.get_by_role("link", name="Webhooks")).to_be_in_viewport(ratio=1)
    check("webhook")
    page.locator("summary", has_text="Rotate secret").click()
    page.locator("summary", has_text="Replay").click()
    check("webhook-open")
    page.get_by_role("button", name="Rotate secret").click()
    expect(page.locator("#new-secret")).to_be_visible()
    check("webhook-secret")

    # A long file name, as real ones can be: it must wrap, not widen the page.
    async def import_one(services: Services) -> str:
        job = await services.imports.submit(
            workspace_id=setup.workspace_id,
            file_name="braze-subscription-group-export-weekly-product-newsletter-2026-11-30.csv",
            content=(
                "external_id,subscription_group_id,subscription_state\n"
                f"user-42,{group.id},subscribed\nuser-45,no-such-group,subscribed\n"
            ).encode(),
            dry_run=False,
        )
        return job.id

    import_id = live_server.call(import_one)
    run_imports(live_server, setup)
    page.goto(f"{base}/imports")
    check("imports")
    page.goto(f"{base}/imports/{import_id}")
    expect(page.locator("[data-status-badge]")).to_have_text("Finished")
    check("import")

    page.goto(f"{base}/groups/no-such-group")
    check("dashboard-error")

    assert problems == {}
