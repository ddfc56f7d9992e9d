"""The person's pages in a real Chromium (§11): the preference page's toggles, reason and save, by
mouse and by keyboard alone, and both pages at a phone's width (390 px), without JavaScript."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from subgroups.container import Services
from subgroups.domain.models import Group, StateChange
from tests.dashboard.browsing import Setup, api_set, make_group, make_setup
from tests.dashboard.conftest import LiveServer, screenshot
from tests.dashboard.test_browser_narrow import PHONE, problems_at_phone_width

pytestmark = pytest.mark.e2e


def person(live_server: LiveServer, name: str) -> tuple[Setup, Group, Group, dict[str, Any]]:
    """A workspace with two email groups; `name`@example.com subscribed to the first; their links."""
    setup = make_setup(live_server, workspace="Person")
    news = make_group(live_server, setup, f"News {name}", "email")
    digest = make_group(live_server, setup, f"Digest {name}", "email")
    email = f"{name}@example.com"
    assert api_set(live_server, setup.key, news.id, "subscribed", email=email).status_code == 201
    links = httpx.get(
        f"{live_server.base_url}/links/unsubscribe",
        params={"subscription_group_id": news.id, "email": email},
        headers={"Authorization": f"Bearer {setup.key}"},
        timeout=10,
    )
    assert links.status_code == 200, links.text
    return setup, news, digest, links.json()


def history(live_server: LiveServer, setup: Setup, email: str) -> list[StateChange]:
    async def action(services: Services) -> list[StateChange]:
        [found] = await services.subscriptions.profiles(
            workspace_id=setup.workspace_id, kind="email", value=email
        )
        changes = await services.reports.profile_changes(
            workspace_id=setup.workspace_id, profile_ids=[found.id]
        )
        return sorted(changes, key=lambda c: c.id)

    return live_server.call(action)


def test_the_preference_page_toggles_and_saves_with_a_reason(
    live_server: LiveServer, page: Page
) -> None:
    setup, news, digest, links = person(live_server, "mouse")

    page.goto(links["preferences_url"])
    expect(page).to_have_title("Your subscriptions · " + setup.workspace_name)
    expect(page.get_by_label("News mouse (email)")).to_be_checked()
    expect(page.get_by_label("Digest mouse (email)")).not_to_be_checked()
    page.get_by_label("News mouse (email)").uncheck()
    page.get_by_label("Digest mouse (email)").check()
    page.get_by_label("If you are leaving, why?").select_option("I never signed up")
    page.get_by_label("Anything else?").fill("Please stop")
    page.get_by_role("button", name="Save my choices").click()

    expect(page.get_by_role("status")).to_have_text("Saved. Your choices are below.")
    expect(page.get_by_label("News mouse (email)")).not_to_be_checked()
    expect(page.get_by_label("Digest mouse (email)")).to_be_checked()
    screenshot(page, live_server, "preferences-saved")
    changes = history(live_server, setup, "mouse@example.com")[1:]
    by_group = {c.subscription_group_id: c for c in changes}
    assert len(changes) == 2
    assert by_group[news.id].source.value == "Preference Page"
    assert (by_group[news.id].reason, by_group[news.id].reason_detail) == (
        "I never signed up",
        "Please stop",
    )
    assert by_group[digest.id].reason is None
    assert "Chrome" in (by_group[news.id].user_agent or "")


def test_the_preference_page_works_by_keyboard_alone(live_server: LiveServer, page: Page) -> None:
    setup, news, digest, links = person(live_server, "keys")
    page.goto(links["preferences_url"])

    page.keyboard.press("Tab")
    expect(page.get_by_label("News keys (email)")).to_be_focused()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Digest keys (email)")).to_be_focused()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(page.get_by_label("If you are leaving, why?")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Anything else?")).to_be_focused()
    page.keyboard.type("By keyboard")
    page.keyboard.press("Tab")
    save = page.get_by_role("button", name="Save my choices")
    expect(save).to_be_focused()
    # The focused control is drawn with a visible outline.
    outline = save.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_be_visible()
    changes = history(live_server, setup, "keys@example.com")[1:]
    left = next(c for c in changes if c.subscription_group_id == news.id)
    joined = next(c for c in changes if c.subscription_group_id == digest.id)
    assert (left.new_state.value, left.reason, left.reason_detail) == (
        "unsubscribed",
        "Too many messages",
        "By keyboard",
    )
    assert joined.new_state.value == "subscribed"


def test_the_unsubscribe_page_leaves_with_its_button_and_no_script(
    live_server: LiveServer, browser: Browser
) -> None:
    setup, news, _, links = person(live_server, "button")
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(links["url"])
        expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe from News button?")
        assert problems_at_phone_width(page) == []
        page.get_by_role("button", name="Unsubscribe").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
        assert page.locator("main a, main form").count() == 0
    finally:
        context.close()

    [_, left] = history(live_server, setup, "button@example.com")
    assert (left.subscription_group_id, left.source.value) == (news.id, "One-Click Unsubscribe")


def test_both_pages_fit_a_phone(live_server: LiveServer, browser: Browser) -> None:
    _, _, _, links = person(live_server, "phone")
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        for url, name in ((links["preferences_url"], "preferences"), (links["url"], "unsubscribe")):
            page.goto(url)
            assert problems_at_phone_width(page) == [], name
            screenshot(page, live_server, f"person-{name}-390")
    finally:
        context.close()
