"""`subgroups webhook`: where a workspace's events are pushed (contract §9)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from subgroups.cli.render import delivery_doc, endpoint_doc, table, utc_time
from subgroups.cli.runner import common, emit, run

if TYPE_CHECKING:
    from subgroups.container import Services
    from subgroups.domain.webhooks import Delivery, Endpoint, NewEndpoint

# The one event type there is so far; the service checks the names (others may come).
EVENT_HELP = "An event type to send (repeatable). Default: all (subscription.state_changed)."


@click.group()
def webhook() -> None:
    """Webhook endpoints: signed pushes of every state change."""


@webhook.command("create")
@click.option("--workspace", "workspace_id", type=int, required=True, help="Workspace id.")
@click.option("--url", required=True, help="Where to POST events (https://…).")
@click.option("--event", "events", multiple=True, metavar="TYPE", help=EVENT_HELP)
@common
def webhook_create(
    workspace_id: int, url: str, events: tuple[str, ...], database_url: str | None, as_json: bool
) -> None:
    """Create an endpoint. Its signing secret is printed now and never again.

    It receives the workspace's changes from now on (`webhook replay` sends earlier ones)."""

    async def action(services: Services) -> NewEndpoint:
        return await services.webhooks.create(workspace_id=workspace_id, url=url, events=events)

    new = run(database_url, as_json, action)
    doc = {
        "id": new.endpoint.id,
        "url": new.endpoint.url,
        "events": list(new.endpoint.events),
        "secret": new.secret,
    }
    text = f"created webhook endpoint {new.endpoint.id}; its secret (shown only now):\n{new.secret}"
    emit(doc, text, as_json=as_json)


@webhook.command("list")
@click.option("--workspace", "workspace_id", type=int, required=True, help="Workspace id.")
@common
def webhook_list(workspace_id: int, database_url: str | None, as_json: bool) -> None:
    """List a workspace's endpoints (never their secrets)."""

    async def action(services: Services) -> list[Endpoint]:
        return await services.webhooks.list(workspace_id=workspace_id)

    found = run(database_url, as_json, action)
    text = table(
        ["ID", "URL", "EVENTS", "STATUS"],
        [(e.id, e.url, " ".join(e.events), _status(e)) for e in found],
    )
    emit({"endpoints": [endpoint_doc(e) for e in found]}, text or "no endpoints", as_json=as_json)


@webhook.command("disable")
@click.argument("endpoint_id")
@common
def webhook_disable(endpoint_id: str, database_url: str | None, as_json: bool) -> None:
    """Stop sending to an endpoint. Its events keep being queued and go out once it is enabled."""

    async def action(services: Services) -> Endpoint:
        return await services.webhooks.disable(endpoint_id, workspace_id=None)

    done = run(database_url, as_json, action)
    emit(endpoint_doc(done), f"disabled webhook endpoint {done.id}", as_json=as_json)


@webhook.command("enable")
@click.argument("endpoint_id")
@common
def webhook_enable(endpoint_id: str, database_url: str | None, as_json: bool) -> None:
    """Send to an endpoint again (also one the receiver disabled with 410), from where it stopped."""

    async def action(services: Services) -> Endpoint:
        return await services.webhooks.enable(endpoint_id, workspace_id=None)

    done = run(database_url, as_json, action)
    emit(endpoint_doc(done), f"enabled webhook endpoint {done.id}", as_json=as_json)


@webhook.command("rotate-secret")
@click.argument("endpoint_id")
@click.option(
    "--grace-seconds",
    type=click.IntRange(0, 30 * 86400),
    default=86400,
    show_default=True,
    help="How long the old secret keeps signing too, so the receiver can switch. 0: it stops now.",
)
@common
def webhook_rotate_secret(
    endpoint_id: str, grace_seconds: int, database_url: str | None, as_json: bool
) -> None:
    """Give an endpoint a new signing secret, printed now and never again.

    During the grace, deliveries carry a signature by each secret (space-separated)."""

    async def action(services: Services) -> NewEndpoint:
        return await services.webhooks.rotate_secret(
            endpoint_id, workspace_id=None, grace_seconds=grace_seconds
        )

    new = run(database_url, as_json, action)
    doc = {**endpoint_doc(new.endpoint), "secret": new.secret}
    until = new.endpoint.previous_secret_expires_at
    old = (
        f"the old one signs too until {utc_time(until)}" if until else "the old one no longer signs"
    )
    text = (
        f"new secret for webhook endpoint {new.endpoint.id} ({old}); shown only now:\n{new.secret}"
    )
    emit(doc, text, as_json=as_json)


@webhook.command("deliveries")
@click.argument("endpoint_id")
@click.option("--failed", "failed_only", is_flag=True, help="Only deliveries that failed for good.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@common
def webhook_deliveries(
    endpoint_id: str, failed_only: bool, limit: int, database_url: str | None, as_json: bool
) -> None:
    """An endpoint's deliveries, newest change first: attempts, status code, latency."""

    async def action(services: Services) -> list[Delivery]:
        return await services.webhooks.deliveries(
            endpoint_id, workspace_id=None, failed_only=failed_only, limit=limit
        )

    found = run(database_url, as_json, action)
    text = table(
        ["CHANGE", "STATUS", "ATTEMPTS", "CODE", "MS", "LAST ATTEMPT", "DETAIL"],
        [
            (
                d.change_id,
                d.status.value,
                d.attempts,
                d.response_status or "-",
                d.latency_ms if d.latency_ms is not None else "-",
                utc_time(d.last_attempt_at) if d.last_attempt_at else "-",
                (d.detail or "")[:60].replace("\n", " "),
            )
            for d in found
        ],
    )
    emit({"deliveries": [delivery_doc(d) for d in found]}, text or "no deliveries", as_json=as_json)


@webhook.command("replay")
@click.argument("endpoint_id")
@click.option(
    "--after", type=click.IntRange(min=0), required=True, metavar="CHANGE_ID",
    help="Send again every change with a larger id.",
)  # fmt: skip
@click.option("--failed", "failed_only", is_flag=True, help="Only those whose delivery failed.")
@common
def webhook_replay(
    endpoint_id: str, after: int, failed_only: bool, database_url: str | None, as_json: bool
) -> None:
    """Send an endpoint's events again, from a change on, with the webhook-id each had."""

    async def action(services: Services) -> int:
        return await services.webhooks.replay(
            endpoint_id, workspace_id=None, after=after, failed_only=failed_only
        )

    count = run(database_url, as_json, action)
    which = "failed deliveries" if failed_only else "changes"
    text = f"queued again the {which} after change {after} for webhook endpoint {endpoint_id}"
    emit({"id": endpoint_id, "after": after, "requeued": count}, text, as_json=as_json)


def _status(e: Endpoint) -> str:
    return "enabled" if e.enabled else f"disabled ({e.disabled_reason})"
