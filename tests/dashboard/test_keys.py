"""Creating a key from the dashboard, through the ASGI app: the form redirects, and the new
secret is shown on the page it redirects to, once, to the session that created it alone."""

from __future__ import annotations

import re

import httpx
import pytest

from subgroups.container import Services
from subgroups.domain.models import Workspace
from subgroups.web.dashboard.keys import NEW_KEY_COOKIE
from tests.dashboard.helpers import client_for, csrf_of, sign_in

SECRET = re.compile(r'<code id="new-secret" class="secret-value">([^<]+)</code>')


async def create_key(web: httpx.AsyncClient, keys: str, name: str) -> httpx.Response:
    token = csrf_of((await web.get(keys)).text)
    return await web.post(
        keys, data={"csrf": token, "name": name, "permission:subscription.status.set": "on"}
    )


def shown_secret(page: httpx.Response) -> str | None:
    found = SECRET.search(page.text)
    return found.group(1) if found else None


async def test_a_new_key_redirects_and_its_secret_is_shown_once(
    web: httpx.AsyncClient, services: Services, workspace: Workspace
) -> None:
    keys = f"/dashboard/w/{workspace.id}/keys"

    created = await create_key(web, keys, "Checkout")

    assert created.status_code == 303
    assert created.headers["location"] == keys
    first = await web.get(keys)
    secret = shown_secret(first)
    assert secret is not None
    assert secret not in created.headers["location"]
    authenticated = await services.keys.authenticate(secret)
    assert authenticated is not None
    assert authenticated.name == "Checkout"
    # Reloaded: no second key, and the secret is gone for good.
    again = await web.get(keys)
    assert again.status_code == 200
    assert shown_secret(again) is None
    assert [k.name for k in await services.keys.list(workspace_id=workspace.id)] == ["Checkout"]
    await services.keys.flush()


async def test_the_kept_secret_is_an_http_only_strict_cookie_of_the_keys_page_alone(
    web: httpx.AsyncClient, workspace: Workspace
) -> None:
    keys = f"/dashboard/w/{workspace.id}/keys"

    created = await create_key(web, keys, "Checkout")

    [header] = [
        h for h in created.headers.get_list("set-cookie") if h.startswith(f"{NEW_KEY_COOKIE}=")
    ]
    flags = {part.strip().lower() for part in header.split(";")[1:]}
    assert {"httponly", "samesite=strict", f"path={keys}", "max-age=120"} <= flags
    shown = await web.get(keys)
    assert shown_secret(shown) is not None
    # The page that shows it deletes it.
    [deleted] = [
        h for h in shown.headers.get_list("set-cookie") if h.startswith(f"{NEW_KEY_COOKIE}=")
    ]
    assert "max-age=0" in deleted.lower()


async def test_another_session_cannot_be_shown_a_kept_secret(
    web: httpx.AsyncClient, services: Services, workspace: Workspace
) -> None:
    keys = f"/dashboard/w/{workspace.id}/keys"
    created = await create_key(web, keys, "Checkout")
    kept = created.cookies[NEW_KEY_COOKIE]

    async with client_for(services) as other:
        assert (await sign_in(other)).status_code == 303
        other.cookies.set(NEW_KEY_COOKIE, kept, path=keys)
        page = await other.get(keys)

    assert page.status_code == 200
    assert shown_secret(page) is None


@pytest.mark.parametrize("value", ["", "bm90IGpzb24=", "W10=", "e30=", "%%%"])
async def test_a_kept_secret_that_is_not_one_shows_nothing(
    web: httpx.AsyncClient, workspace: Workspace, value: str
) -> None:
    keys = f"/dashboard/w/{workspace.id}/keys"
    web.cookies.set(NEW_KEY_COOKIE, value, path=keys)

    page = await web.get(keys)

    assert page.status_code == 200
    assert shown_secret(page) is None


async def test_a_key_revoked_before_its_page_is_shown_shows_no_secret(
    web: httpx.AsyncClient, services: Services, workspace: Workspace
) -> None:
    keys = f"/dashboard/w/{workspace.id}/keys"
    created = await create_key(web, keys, "Checkout")
    assert created.status_code == 303
    [key] = await services.keys.list(workspace_id=workspace.id)
    await services.keys.revoke(key_id=key.id, workspace_id=workspace.id)

    page = await web.get(keys)

    assert shown_secret(page) is None
