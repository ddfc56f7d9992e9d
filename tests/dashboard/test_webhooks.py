"""The Webhooks pages through the ASGI app: endpoints, the signing secret shown once after create
and after rotation, disable and enable, deliveries with their status code and latency, replay, and
the refusals (bad input, CSRF, another workspace) that change nothing."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from subgroups.config import Settings
from subgroups.container import Services, build_services
from subgroups.domain.models import Workspace
from subgroups.domain.webhooks import (
    Delivery,
    DeliveryStatus,
    Endpoint,
)
from subgroups.web.dashboard.webhooks import NEW_SECRET_COOKIE
from tests.dashboard.helpers import (
    OWNER,
    client_for,
    post_form,
    record_deliveries,
    sign_in,
)
from tests.factories import Tenant, make_tenant, make_workspace

# On PostgreSQL the key that seals signing secrets must be given; on SQLite a key file beside the
# database is made on first use, which these tests exercise too.
SECRET_KEY = bytes(range(32))
SECRET = re.compile(r'<code id="new-secret" class="secret-value">([^<]+)</code>')
RECEIVER = "http://127.0.0.1:9/hooks"


@pytest.fixture
def settings(database_url: str, backend: str) -> Settings:
    return Settings(
        database_url=database_url,
        key_cache_seconds=0.0,
        db_pool_size=5,
        secret_key=SECRET_KEY if backend == "postgresql" else None,
        webhook_allow_private=True,
    )


def shown_secret(page: httpx.Response) -> str | None:
    found = SECRET.search(page.text)
    return found.group(1) if found else None


def notice_of(page: httpx.Response) -> str:
    found = re.search(r'<p class="notice[^"]*" role="(?:status|alert)"[^>]*>([^<]+)</p>', page.text)
    assert found is not None, "the page shows a notice"
    return found.group(1)


async def deliveries_to(services: Services, endpoint: Endpoint) -> list[Delivery]:
    return await services.webhooks.deliveries(endpoint.id, workspace_id=endpoint.workspace_id)


async def create_endpoint(
    web: httpx.AsyncClient, workspace_id: int, url: str = RECEIVER
) -> httpx.Response:
    hooks = f"/dashboard/w/{workspace_id}/webhooks"
    return await post_form(
        web, hooks, hooks, {"url": url, "event:subscription.state_changed": "on"}
    )


async def signing_secrets(services: Services, endpoint_id: str) -> tuple[str, ...]:
    """The secrets that sign for the endpoint now, as a dispatcher opens them."""
    now = datetime.now(UTC)
    held = await services.webhook_queue.claim(
        owner=OWNER, now=now, until=now + timedelta(minutes=5), limit=100
    )
    await services.webhook_queue.release(owner=OWNER)
    [endpoint] = [e for e in held if e.id == endpoint_id]
    return endpoint.secrets


async def test_a_new_endpoint_is_listed_and_its_secret_shown_once(
    web: httpx.AsyncClient, services: Services, workspace: Workspace
) -> None:
    hooks = f"/dashboard/w/{workspace.id}/webhooks"

    created = await create_endpoint(web, workspace.id)

    assert created.status_code == 303
    [endpoint] = await services.webhooks.list(workspace_id=workspace.id)
    page = f"{hooks}/{endpoint.id}"
    assert created.headers["location"] == page
    [kept] = [
        h for h in created.headers.get_list("set-cookie") if h.startswith(f"{NEW_SECRET_COOKIE}=")
    ]
    flags = {part.strip().lower() for part in kept.split(";")[1:]}
    assert {"httponly", "samesite=strict", f"path={page}", "max-age=120"} <= flags
    first = await web.get(page)
    assert first.status_code == 200
    secret = shown_secret(first)
    assert secret is not None
    assert secret not in created.headers["location"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:])) == 32
    assert await signing_secrets(services, endpoint.id) == (secret,)
    assert f"Created the endpoint {RECEIVER}" in notice_of(first)
    # Reloaded: the secret is gone for good, and there is still one endpoint.
    again = await web.get(page)
    assert again.status_code == 200
    assert shown_secret(again) is None
    listed = await web.get(hooks)
    assert shown_secret(listed) is None
    assert RECEIVER in listed.text
    assert f'href="{page}"' in listed.text
    assert "<code>subscription.state_changed</code>" in listed.text
    assert "Enabled" in listed.text
    assert [e.url for e in await services.webhooks.list(workspace_id=workspace.id)] == [RECEIVER]


async def test_a_kept_secret_is_shown_to_its_session_on_its_endpoint_alone(
    web: httpx.AsyncClient, services: Services, workspace: Workspace
) -> None:
    created = await create_endpoint(web, workspace.id)
    kept = created.cookies[NEW_SECRET_COOKIE]
    other = await services.webhooks.create(workspace_id=workspace.id, url=RECEIVER)
    other_page = f"/dashboard/w/{workspace.id}/webhooks/{other.endpoint.id}"

    web.cookies.set(NEW_SECRET_COOKIE, kept, path=other_page)
    elsewhere = await web.get(other_page)
    async with client_for(services) as stranger:
        assert (await sign_in(stranger)).status_code == 303
        stranger.cookies.set(NEW_SECRET_COOKIE, kept, path=created.headers["location"])
        stolen = await stranger.get(created.headers["location"])

    assert elsewhere.status_code == 200
    assert shown_secret(elsewhere) is None
    assert stolen.status_code == 200
    assert shown_secret(stolen) is None


async def test_an_endpoint_is_disabled_and_enabled_again(
    web: httpx.AsyncClient, services: Services, workspace: Workspace
) -> None:
    made = await services.webhooks.create(workspace_id=workspace.id, url=RECEIVER)
    hooks = f"/dashboard/w/{workspace.id}/webhooks"
    page = f"{hooks}/{made.endpoint.id}"

    disabled = await post_form(web, hooks, f"{page}/disable", {"back": "list"})

    assert disabled.status_code == 303
    assert disabled.headers["location"] == hooks
    endpoint = await services.webhooks.get(made.endpoint.id, workspace_id=workspace.id)
    assert not endpoint.enabled
    listed = await web.get(hooks)
    assert "Disabled" in listed.text
    assert "disabled by an operator" in listed.text
    assert f"Disabled {RECEIVER}" in notice_of(listed)

    enabled = await post_form(web, page, f"{page}/enable", {"back": "endpoint"})

    assert enabled.status_code == 303
    assert enabled.headers["location"] == page
    endpoint = await services.webhooks.get(made.endpoint.id, workspace_id=workspace.id)
    assert endpoint.enabled
    assert endpoint.disabled_reason is None
    shown = await web.get(page)
    assert f"Enabled {RECEIVER}" in notice_of(shown)


async def test_enabled_endpoints_are_listed_first_newest_first(
    web: httpx.AsyncClient, services: Services, workspace: Workspace
) -> None:
    urls = [f"https://hooks.example.com/{n}" for n in range(3)]
    made = [await services.webhooks.create(workspace_id=workspace.id, url=u) for u in urls]
    await services.webhooks.disable(made[2].endpoint.id, workspace_id=workspace.id)

    listed = await web.get(f"/dashboard/w/{workspace.id}/webhooks")

    rows = re.findall(r'<tr data-endpoint-id="([^"]+)"', listed.text)
    assert rows == [made[1].endpoint.id, made[0].endpoint.id, made[2].endpoint.id]


async def test_rotating_shows_the_new_secret_once_and_both_sign_during_the_grace(
    web: httpx.AsyncClient, services: Services, workspace: Workspace
) -> None:
    made = await services.webhooks.create(workspace_id=workspace.id, url=RECEIVER)
    page = f"/dashboard/w/{workspace.id}/webhooks/{made.endpoint.id}"

    rotated = await post_form(web, page, f"{page}/rotate-secret", {"grace_seconds": "3600"})

    assert rotated.status_code == 303
    assert rotated.headers["location"] == page
    shown = await web.get(page)
    secret = shown_secret(shown)
    assert secret is not None
    assert secret != made.secret
    assert await signing_secrets(services, made.endpoint.id) == (secret, made.secret)
    assert "the previous one also signs until" in notice_of(shown)
    assert "Two secrets sign each delivery" in shown.text
    assert shown_secret(await web.get(page)) is None

    at_once = await post_form(web, page, f"{page}/rotate-secret", {"grace_seconds": "0"})

    assert at_once.status_code == 303
    newest = shown_secret(await web.get(page))
    assert newest is not None
    assert newest not in (secret, made.secret)
    assert await signing_secrets(services, made.endpoint.id) == (newest,)


@pytest.mark.parametrize(
    ("grace", "message"),
    [
        ("", "grace must be a whole number of seconds, from 0 to 2592000"),
        ("-5", "grace must be a whole number of seconds, from 0 to 2592000"),
        ("a day", "grace must be a whole number of seconds, from 0 to 2592000"),
        ("2592001", "grace must be from 0 to 2592000 seconds"),
        ("²", "grace must be a whole number of seconds, from 0 to 2592000"),
        ("9" * 5000, "grace must be a whole number of seconds, from 0 to 2592000"),
    ],
)
async def test_a_bad_grace_is_refused_on_the_page_and_the_secret_stays(
    web: httpx.AsyncClient, services: Services, workspace: Workspace, grace: str, message: str
) -> None:
    made = await services.webhooks.create(workspace_id=workspace.id, url=RECEIVER)
    page = f"/dashboard/w/{workspace.id}/webhooks/{made.endpoint.id}"

    refused = await post_form(web, page, f"{page}/rotate-secret", {"grace_seconds": grace})

    assert refused.status_code == 400
    assert f'id="rotate-error">{message}</p>' in refused.text
    assert f'value="{grace}"' in refused.text  # what was typed comes back
    assert shown_secret(refused) is None
    assert await signing_secrets(services, made.endpoint.id) == (made.secret,)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "url must start with https://"),
        ("ftp://example.com/hooks", "url must start with https://"),
        ("https://user:pass@example.com/hooks", "url must not hold a user name or password"),
        ("https://", "url &#39;https://&#39; has no host"),
    ],
)
async def test_a_bad_url_is_refused_with_the_form_kept_and_nothing_created(
    web: httpx.AsyncClient, services: Services, workspace: Workspace, url: str, message: str
) -> None:
    refused = await create_endpoint(web, workspace.id, url)

    assert refused.status_code == 400
    assert f'id="endpoint-error">{message}' in refused.text
    assert '<details class="create" open>' in refused.text
    assert NEW_SECRET_COOKIE not in refused.cookies
    assert await services.webhooks.list(workspace_id=workspace.id) == []


async def test_an_endpoint_needs_an_event_type(
    web: httpx.AsyncClient, services: Services, workspace: Workspace
) -> None:
    hooks = f"/dashboard/w/{workspace.id}/webhooks"

    refused = await post_form(web, hooks, hooks, {"url": RECEIVER})

    assert refused.status_code == 400
    assert "Choose at least one event type." in refused.text
    assert f'value="{RECEIVER}"' in refused.text
    assert await services.webhooks.list(workspace_id=workspace.id) == []


@pytest.fixture
async def strict_web(
    settings: Settings, web: httpx.AsyncClient
) -> AsyncIterator[httpx.AsyncClient]:
    """Signed in to a server with the default settings: private addresses and http:// refused."""
    strict = build_services(replace(settings, webhook_allow_private=False))
    try:
        async with client_for(strict) as http:
            assert (await sign_in(http)).status_code == 303
            yield http
    finally:
        await strict.aclose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "https://10.1.2.3/hooks",
            "url host 10.1.2.3 is at 10.1.2.3, a loopback, private or link-local address"
            " (allowed only with SUBGROUPS_WEBHOOK_ALLOW_PRIVATE=true)",
        ),
        (
            "https://[::1]:8443/hooks",
            "url host ::1 is at ::1, a loopback, private or link-local address",
        ),
        (
            RECEIVER,
            "url must start with https:// (http:// needs SUBGROUPS_WEBHOOK_ALLOW_PRIVATE=true)",
        ),
    ],
)
async def test_by_default_a_private_address_is_refused_with_the_reason(
    strict_web: httpx.AsyncClient,
    services: Services,
    workspace: Workspace,
    url: str,
    message: str,
) -> None:
    refused = await create_endpoint(strict_web, workspace.id, url)

    assert refused.status_code == 400
    assert message in refused.text
    assert await services.webhooks.list(workspace_id=workspace.id) == []


async def tenant_with_deliveries(
    services: Services, client: httpx.AsyncClient
) -> tuple[Tenant, Endpoint, list[int]]:
    """A tenant with an endpoint and three changes queued for it (see record_deliveries)."""
    tenant = await make_tenant(services)
    made = await services.webhooks.create(workspace_id=tenant.workspace.id, url=RECEIVER)
    for n in range(3):
        sent = await client.post(
            "/subscription/status/set",
            json={
                "subscription_group_id": tenant.email_group.id,
                "subscription_state": "subscribed",
                "external_id": f"person-{n}",
                "email": f"person-{n}@example.com",
            },
            headers=tenant.auth,
        )
        assert sent.status_code == 201, sent.text
    # From the group's history rather than the change feed, which on PostgreSQL waits for every
    # transaction of the server to end (other databases' included).
    report = await services.reports.group_report(
        workspace_id=tenant.workspace.id, group_id=tenant.email_group.id, days=30
    )
    ids = sorted(c.id for c in report.recent)
    assert len(ids) == 3
    await record_deliveries(services, made.endpoint, ids)
    return tenant, made.endpoint, ids


def delivery_row(page: httpx.Response, change_id: int) -> str:
    found = re.search(rf'<tr data-change-id="{change_id}">(.*?)</tr>', page.text, re.S)
    assert found is not None, f"change {change_id} is listed"
    return found.group(1)


async def test_deliveries_are_listed_with_status_code_latency_and_detail(
    web: httpx.AsyncClient, services: Services, client: httpx.AsyncClient
) -> None:
    tenant, endpoint, ids = await tenant_with_deliveries(services, client)
    page = f"/dashboard/w/{tenant.workspace.id}/webhooks/{endpoint.id}"

    shown = await web.get(page)

    assert shown.status_code == 200
    rows = re.findall(r'<tr data-change-id="(\d+)">', shown.text)
    assert rows == [str(i) for i in reversed(ids)]  # newest change first
    delivered = delivery_row(shown, ids[0])
    assert "Delivered" in delivered
    assert '<td class="num response-status">200</td>' in delivered
    assert '<td class="num latency">42 ms</td>' in delivered
    assert "Replay" not in delivered
    failed = delivery_row(shown, ids[1])
    assert "Failed" in failed
    assert '<td class="num response-status">500</td>' in failed
    assert '<td class="num latency">1,234 ms</td>' in failed
    # The detail is cut short on the page.
    detail = re.search(r'<td class="detail"><code>([^<]*)</code>', failed)
    assert detail is not None
    assert detail.group(1).startswith("upstream exploded: xxx")
    assert detail.group(1).endswith("…")
    assert len(detail.group(1)) == 120
    assert f"Replay change {ids[1]}" in failed
    pending = delivery_row(shown, ids[2])
    assert "Pending" in pending
    assert "Not yet" in pending
    assert '<td class="num response-status">—</td>' in pending

    only_failed = await web.get(f"{page}?failed=1")

    assert only_failed.status_code == 200
    assert re.findall(r'<tr data-change-id="(\d+)">', only_failed.text) == [str(ids[1])]


async def test_the_replay_button_queues_a_failed_delivery_again(
    web: httpx.AsyncClient, services: Services, client: httpx.AsyncClient
) -> None:
    tenant, endpoint, ids = await tenant_with_deliveries(services, client)
    page = f"/dashboard/w/{tenant.workspace.id}/webhooks/{endpoint.id}"

    replayed = await post_form(
        web, f"{page}?failed=1", f"{page}/deliveries/{ids[1]}/replay", {"back": "failed"}
    )

    assert replayed.status_code == 303
    assert replayed.headers["location"] == f"{page}?failed=1"
    deliveries = await deliveries_to(services, endpoint)
    status = {d.change_id: (d.status, d.attempts) for d in deliveries}
    assert status == {
        ids[2]: (DeliveryStatus.PENDING, 0),
        ids[1]: (DeliveryStatus.PENDING, 0),
        ids[0]: (DeliveryStatus.DELIVERED, 1),
    }
    shown = await web.get(replayed.headers["location"])
    assert f"Queued change {ids[1]} again" in notice_of(shown)
    assert "No failed deliveries" in shown.text


async def test_replay_after_a_change_id_queues_every_later_change_again(
    web: httpx.AsyncClient, services: Services, client: httpx.AsyncClient
) -> None:
    tenant, endpoint, ids = await tenant_with_deliveries(services, client)
    page = f"/dashboard/w/{tenant.workspace.id}/webhooks/{endpoint.id}"

    replayed = await post_form(web, page, f"{page}/replay", {"after": str(ids[0] - 1)})

    assert replayed.status_code == 303
    assert replayed.headers["location"] == page
    deliveries = await deliveries_to(services, endpoint)
    assert {d.status for d in deliveries} == {DeliveryStatus.PENDING}
    assert {d.attempts for d in deliveries} == {0}
    assert "3 deliveries queued again" in notice_of(await web.get(page))


async def test_replay_of_failed_ones_after_a_change_id_leaves_the_delivered_alone(
    web: httpx.AsyncClient, services: Services, client: httpx.AsyncClient
) -> None:
    tenant, endpoint, ids = await tenant_with_deliveries(services, client)
    page = f"/dashboard/w/{tenant.workspace.id}/webhooks/{endpoint.id}"

    replayed = await post_form(web, page, f"{page}/replay", {"after": "0", "failed_only": "on"})

    assert replayed.status_code == 303
    deliveries = await deliveries_to(services, endpoint)
    assert {d.change_id: d.status for d in deliveries} == {
        ids[2]: DeliveryStatus.PENDING,
        ids[1]: DeliveryStatus.PENDING,
        ids[0]: DeliveryStatus.DELIVERED,
    }
    assert "Queued again 1 delivery that had failed" in notice_of(await web.get(page))


@pytest.mark.parametrize(
    "after", ["", "-1", "ten", "1.5", "²", str(2**63), "0" * 30 + "9" * 20, "9" * 5000]
)
async def test_a_bad_replay_after_is_refused_on_the_page_and_nothing_is_queued(
    web: httpx.AsyncClient, services: Services, client: httpx.AsyncClient, after: str
) -> None:
    tenant, endpoint, _ = await tenant_with_deliveries(services, client)
    page = f"/dashboard/w/{tenant.workspace.id}/webhooks/{endpoint.id}"
    before = await deliveries_to(services, endpoint)

    refused = await post_form(web, page, f"{page}/replay", {"after": after})

    assert refused.status_code == 400
    assert 'id="replay-error">after must be a change id, 0 or more</p>' in refused.text
    after_refusal = await deliveries_to(services, endpoint)
    assert after_refusal == before


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    web: httpx.AsyncClient, services: Services, client: httpx.AsyncClient
) -> None:
    tenant, endpoint, ids = await tenant_with_deliveries(services, client)
    hooks = f"/dashboard/w/{tenant.workspace.id}/webhooks"
    page = f"{hooks}/{endpoint.id}"
    before = await deliveries_to(services, endpoint)
    secrets_before = await signing_secrets(services, endpoint.id)

    for action, data in (
        (hooks, {"url": "https://example.com/other", "event:subscription.state_changed": "on"}),
        (f"{page}/disable", {}),
        (f"{page}/rotate-secret", {"grace_seconds": "0"}),
        (f"{page}/replay", {"after": "0"}),
        (f"{page}/deliveries/{ids[1]}/replay", {}),
    ):
        for token in ({}, {"csrf": "not-the-token"}):
            refused = await web.post(action, data={**data, **token})
            assert refused.status_code == 403, action
            assert "This form has expired or did not come from this dashboard." in refused.text

    [kept] = await services.webhooks.list(workspace_id=tenant.workspace.id)
    assert kept.enabled
    assert await signing_secrets(services, endpoint.id) == secrets_before
    after = await deliveries_to(services, endpoint)
    assert after == before


async def test_another_workspaces_endpoint_is_not_found_and_left_alone(
    web: httpx.AsyncClient, services: Services, client: httpx.AsyncClient
) -> None:
    tenant, endpoint, ids = await tenant_with_deliveries(services, client)
    secrets_before = await signing_secrets(services, endpoint.id)
    deliveries_before = await deliveries_to(services, endpoint)
    other = await make_workspace(services)
    hooks = f"/dashboard/w/{other.id}/webhooks"
    page = f"{hooks}/{endpoint.id}"

    shown = await web.get(page)
    assert shown.status_code == 404
    assert f"No webhook endpoint with id {endpoint.id}" in shown.text
    for action, data in (
        (f"{page}/disable", {}),
        (f"{page}/enable", {}),
        (f"{page}/rotate-secret", {"grace_seconds": "0"}),
        (f"{page}/replay", {"after": "0"}),
        (f"{page}/deliveries/{ids[1]}/replay", {}),
    ):
        refused = await post_form(web, hooks, action, data)
        assert refused.status_code == 404, action
        assert f"No webhook endpoint with id {endpoint.id}" in refused.text

    assert (await services.webhooks.get(endpoint.id, workspace_id=tenant.workspace.id)).enabled
    assert await signing_secrets(services, endpoint.id) == secrets_before
    deliveries_after = await deliveries_to(services, endpoint)
    assert deliveries_after == deliveries_before
    assert await services.webhooks.list(workspace_id=other.id) == []


async def test_unknown_endpoints_and_deliveries_are_not_found(
    web: httpx.AsyncClient, services: Services, client: httpx.AsyncClient
) -> None:
    tenant, endpoint, ids = await tenant_with_deliveries(services, client)
    hooks = f"/dashboard/w/{tenant.workspace.id}/webhooks"
    page = f"{hooks}/{endpoint.id}"

    missing = await web.get(f"{hooks}/no-such-endpoint")
    no_delivery = await post_form(web, page, f"{page}/deliveries/{ids[-1] + 100}/replay", {})

    assert missing.status_code == 404
    assert "No webhook endpoint with id no-such-endpoint" in missing.text
    assert no_delivery.status_code == 404
    assert f"No delivery of change {ids[-1] + 100} to endpoint {endpoint.id}" in no_delivery.text
    # Beyond what the database can hold: not found either, rather than an error of the database.
    huge = 10**30
    beyond = await post_form(web, page, f"{page}/deliveries/{huge}/replay", {})
    assert beyond.status_code == 404
    assert f"No delivery of change {huge} to endpoint {endpoint.id}" in beyond.text


async def test_a_bad_filter_is_refused(
    web: httpx.AsyncClient, services: Services, workspace: Workspace
) -> None:
    made = await services.webhooks.create(workspace_id=workspace.id, url=RECEIVER)

    refused = await web.get(f"/dashboard/w/{workspace.id}/webhooks/{made.endpoint.id}?failed=yes")

    assert refused.status_code == 400
    assert "failed is 1 (only failed deliveries) or absent (all of them)" in refused.text


async def test_the_switcher_keeps_the_webhooks_section(
    web: httpx.AsyncClient, workspace: Workspace
) -> None:
    moved = await web.get(f"/dashboard/switch?workspace={workspace.id}&section=webhooks")

    assert moved.status_code == 303
    assert moved.headers["location"] == f"/dashboard/w/{workspace.id}/webhooks"
    page = await web.get(moved.headers["location"])
    here = f'<a href="/dashboard/w/{workspace.id}/webhooks" aria-current="page">Webhooks</a>'
    assert here in page.text
