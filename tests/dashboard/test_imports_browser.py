"""The Imports page in Chromium against a real server: a file uploaded, its progress followed
without a reload until it finishes, its error report downloaded; and, without JavaScript, the
page that reloads itself until the import is over.

The test runs the queued import itself (`ImportService.run_next`), as the server's background
loop does; whichever of them claims it first runs it, and the page shows the same either way.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.dashboard.browsing import make_group, make_setup, run_imports, sign_in
from tests.dashboard.conftest import LiveServer, screenshot


def people_csv(folder: Path, group_id: str) -> Path:
    path = folder / "people.csv"
    path.write_text(
        "external_id,email,subscription_group_id,subscription_state\n"
        f"b1,b1@example.com,{group_id},subscribed\n"
        f"b2,b2@example.com,{group_id},unsubscribed\n"
        f"b3,not-an-address,{group_id},subscribed\n"
    )
    return path


def test_an_upload_is_followed_live_to_its_end_and_its_error_report_downloaded(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    setup = make_setup(live_server)
    group = make_group(live_server, setup, "Newsletter", "email")
    sign_in(page, setup, go_to=f"/dashboard/w/{setup.workspace_id}/groups")
    page.get_by_role("link", name="Imports").click()
    expect(page.get_by_role("heading", name="Imports", exact=True)).to_be_visible()
    expect(page.get_by_text("No imports yet.")).to_be_visible()

    # A file that cannot be imported comes back with the reason; nothing is queued.
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    page.get_by_label("CSV file", exact=True).set_input_files(empty)
    page.get_by_role("button", name="Upload and import").click()
    expect(page.get_by_role("alert")).to_have_text(
        "The file is empty: it needs a header row naming its columns"
    )
    expect(page.get_by_text("No imports yet.")).to_be_visible()

    page.get_by_label("CSV file", exact=True).set_input_files(people_csv(tmp_path, group.id))
    page.get_by_role("button", name="Upload and import").click()
    expect(page.get_by_role("status")).to_have_text("The import of people.csv (3 rows) is queued.")
    progress = page.locator("progress#import-progress")
    expect(progress).to_have_attribute("max", "3")
    expect(page.locator("[data-status-badge]")).to_have_text(re.compile("Queued|Running|Finished"))
    download_link = page.get_by_role("link", name="Download the error report (CSV)")
    # The page is the same document from here to the end: the progress comes without a reload.
    page.evaluate("window.stillTheSamePage = true")

    run_imports(live_server, setup)

    expect(page.locator("[data-status-badge]")).to_have_text("Finished")
    expect(progress).to_have_js_property("value", 3)
    expect(page.locator("[data-field='rows']")).to_have_text("3")
    expect(page.locator("[data-field='applied']")).to_have_text("2")
    expect(page.locator("[data-field='invalid']")).to_have_text("1")
    expect(page.locator("[data-field='profiles_created']")).to_have_text("2")
    expect(page.get_by_role("link", name="Reload")).to_be_hidden()
    expect(download_link).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True
    screenshot(page, live_server, "import")

    with page.expect_download() as downloading:
        download_link.click()
    download = downloading.value
    assert re.fullmatch(r"import-[0-9a-f-]{36}-errors\.csv", download.suggested_filename)
    assert Path(download.path()).read_bytes().decode() == (
        "line,column,value,message\r\n"
        "4,email,not-an-address,Invalid email address: 'not-an-address'\r\n"
    )

    page.get_by_role("link", name="Imports", exact=True).first.click()
    row = page.locator("tr", has=page.get_by_role("rowheader", name="people.csv"))
    expect(row.locator(".import-status")).to_have_text("Finished")
    expect(row.locator(".applied")).to_have_text("2")
    screenshot(page, live_server, "imports")


def test_without_javascript_the_page_reloads_itself_until_the_import_is_over(
    browser: Browser, live_server: LiveServer, tmp_path: Path
) -> None:
    setup = make_setup(live_server)
    group = make_group(live_server, setup, "Newsletter", "email")
    context = browser.new_context(base_url=live_server.base_url, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, setup, go_to=f"/dashboard/w/{setup.workspace_id}/imports")
        page.get_by_label("CSV file", exact=True).set_input_files(people_csv(tmp_path, group.id))
        page.get_by_label("Dry run").check()
        page.get_by_role("button", name="Upload and import").click()
        expect(page.get_by_role("status")).to_contain_text("A dry run of people.csv")
        expect(page.get_by_role("link", name="Reload")).to_be_visible()

        run_imports(live_server, setup)

        expect(page.locator("[data-status-badge]")).to_have_text("Finished", timeout=10_000)
        expect(page.locator("progress#import-progress")).to_have_attribute("value", "3")
        expect(page.get_by_text("Dry run: nothing is changed")).to_be_visible()
        expect(page.get_by_role("link", name="Download the error report (CSV)")).to_be_visible()
    finally:
        context.close()
