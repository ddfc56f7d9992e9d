"""What a browser and an API client each get at the addresses outside the dashboard and the API:
`/`, `/dashboard` without its slash, and an API address opened in a browser.

A browser (one that prefers `text/html`) gets a page a person can read and act on; every other
client (a JSON `Accept`, `*/*` as curl and the Braze libraries send, no `Accept`, any POST)
keeps the contract's JSON answers, byte for byte the same as before.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from subgroups.container import Services
from subgroups.web.dashboard.app import CSP
from tests.dashboard.helpers import client_for

# What Chromium and Firefox send when a person opens an address.
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
API_CLIENTS = [
    {},
    {"Accept": "*/*"},
    {"Accept": "application/json"},
    {"Accept": "application/json, text/html;q=0.5"},
    {"Accept": "text/html, application/json"},  # a tie keeps the API's answer
    {"Accept": "text/html;q=0"},
]
NOT_FOUND = {"message": "Not Found"}
SET = "/subscription/status/set"


@pytest.fixture
async def visitor(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A client that has not signed in: a browser arriving, or an API client."""
    async with client_for(services) as http:
        yield http


def links_of(html: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', html))


async def test_a_browser_at_the_root_is_led_to_the_dashboard_and_the_api_reference(
    visitor: httpx.AsyncClient,
) -> None:
    response = await visitor.get("/", headers=BROWSER)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert {"/dashboard/", "/docs"} <= links_of(response.text)
    # The page's stylesheet and script are the dashboard's own, under the dashboard's policy.
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("headers", API_CLIENTS)
async def test_the_root_is_still_an_unknown_path_to_an_api_client(
    visitor: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await visitor.get("/", headers=headers)

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_other_methods_at_the_root_are_unknown_paths_even_from_a_browser(
    visitor: httpx.AsyncClient, method: str
) -> None:
    response = await visitor.request(method, "/", headers=BROWSER)

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize("headers", [BROWSER, *API_CLIENTS])
async def test_the_dashboard_without_its_slash_redirects_to_it(
    visitor: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for method in ("GET", "HEAD"):
        response = await visitor.request(method, "/dashboard?x=1", headers=headers)

        assert response.status_code == 307
        assert response.headers["location"] == "/dashboard/?x=1"


async def test_a_post_to_the_dashboard_without_its_slash_is_still_an_unknown_path(
    visitor: httpx.AsyncClient,
) -> None:
    response = await visitor.post("/dashboard", headers=BROWSER)

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize("path", [SET, "/v2" + SET])
async def test_a_browser_opening_a_post_only_endpoint_gets_a_page_pointing_to_the_docs(
    visitor: httpx.AsyncClient, path: str
) -> None:
    response = await visitor.get(path, headers=BROWSER)

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"].startswith("text/html")
    assert "/docs" in links_of(response.text)
    assert "POST" in response.text
    assert response.headers["content-security-policy"] == CSP


@pytest.mark.parametrize("headers", API_CLIENTS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_an_api_client_keeps_the_json_405(
    visitor: httpx.AsyncClient, headers: dict[str, str], method: str
) -> None:
    response = await visitor.request(method, SET, headers=headers)

    assert (response.status_code, response.json()) == (405, {"message": "Method Not Allowed"})
    assert response.headers["content-type"] == "application/json"
    assert response.headers["allow"] == "POST"


async def test_a_browser_at_an_unknown_address_gets_a_page_with_the_way_back(
    visitor: httpx.AsyncClient,
) -> None:
    response = await visitor.get("/no/such/page", headers=BROWSER)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert {"/", "/dashboard/", "/docs"} <= links_of(response.text)


@pytest.mark.parametrize("headers", API_CLIENTS)
async def test_an_api_client_at_an_unknown_address_keeps_the_json_404(
    visitor: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for path in ("/no/such/page", SET + "/"):
        response = await visitor.get(path, headers=headers)

        assert (response.status_code, response.json()) == (404, NOT_FOUND)


async def test_the_api_answers_a_browser_with_json_past_routing(visitor: httpx.AsyncClient) -> None:
    """Only "no such address" and "wrong method" become pages: an API endpoint's own answers,
    such as a missing key, stay the contract's JSON whoever asks."""
    response = await visitor.get(
        "/subscription/status/get", params={"subscription_group_id": "x"}, headers=BROWSER
    )

    assert (response.status_code, response.json()) == (401, {"message": "Invalid API key"})
