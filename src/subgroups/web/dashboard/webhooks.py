"""The Webhooks page and an endpoint's own page (contract §9).

An endpoint's signing secret is shown once, on the endpoint's page, after it is created and after
each rotation (see `one_time`). A form refused for what was typed in it comes back with the typed
values, the reason and the status of the error; nothing is changed. An endpoint of another
workspace is not found, like one that does not exist.
"""

from __future__ import annotations

from typing import Final

from starlette.exceptions import HTTPException
from starlette.responses import Response

from subgroups.domain.webhooks import DEFAULT_GRACE_SECONDS, EVENT_TYPES, NewEndpoint
from subgroups.errors import InvalidRequest, SubgroupsError
from subgroups.services.webhooks import MAX_GRACE_SECONDS
from subgroups.web.dashboard import one_time
from subgroups.web.dashboard.web import Context, redirect, signed_in, url, with_notice

NEW_SECRET_COOKIE: Final = "subgroups_new_webhook_secret"  # noqa: S105 (a cookie's name)
# Recent deliveries shown on an endpoint's page (the CLI lists up to 1000).
DELIVERIES_SHOWN: Final = 50
# Characters of a receiver's answer (or of an error) shown in the table; the CLI shows all of it.
DETAIL_SHOWN: Final = 120
MAX_ID: Final = 2**63 - 1


def _deliveries(count: int) -> str:
    return f"{count} {'delivery' if count == 1 else 'deliveries'}"


def _whole_number(value: str, message: str) -> int:
    """`value` as a whole number that the database can hold (a change id is a 64-bit integer)."""
    # ASCII only: str.isdigit() also accepts digits that int() refuses, such as "²".
    digits = value.lstrip("0") or "0"
    if not (value.isascii() and value.isdigit()) or len(digits) > 19 or int(digits) > MAX_ID:
        raise InvalidRequest(message)
    return int(digits)


def _failed_only(ctx: Context) -> bool:
    value = ctx.request.query_params.get("failed", "")
    if value not in ("", "1"):
        raise HTTPException(400, "failed is 1 (only failed deliveries) or absent (all of them)")
    return value == "1"


async def _list_page(ctx: Context, *, error: SubgroupsError | None = None) -> Response:
    workspace, workspaces = await ctx.workspace()
    endpoints = await ctx.services.webhooks.list(workspace_id=workspace.id)
    return ctx.form_page(
        "webhooks.html",
        error=error,
        workspace=workspace,
        workspaces=workspaces,
        # Enabled ones first, newest first.
        endpoints=sorted(endpoints, key=lambda e: (e.enabled, e.created_at), reverse=True),
        event_types=EVENT_TYPES,
        section="webhooks",
    )


async def _endpoint_page(
    ctx: Context, *, error: SubgroupsError | None = None, failing: str = ""
) -> Response:
    """`failing` names the form that `error` belongs to (rotate, replay): it opens with it."""
    workspace, workspaces = await ctx.workspace()
    endpoint_id = ctx.request.path_params["endpoint_id"]
    endpoint = await ctx.services.webhooks.get(endpoint_id, workspace_id=workspace.id)
    failed_only = _failed_only(ctx) if ctx.request.method == "GET" else False
    deliveries = await ctx.services.webhooks.deliveries(
        endpoint_id, workspace_id=workspace.id, failed_only=failed_only, limit=DELIVERIES_SHOWN
    )
    kept = one_time.kept(ctx, cookie=NEW_SECRET_COOKIE) if error is None else None
    page = url(ctx.request, "webhook", workspace_id=workspace.id, endpoint_id=endpoint.id)
    response = ctx.form_page(
        "webhook.html",
        error=error,
        workspace=workspace,
        workspaces=workspaces,
        endpoint=endpoint,
        deliveries=deliveries,
        failed_only=failed_only,
        secret=kept.secret if kept and kept.owner == endpoint.id else None,
        default_grace=DEFAULT_GRACE_SECONDS,
        max_grace=MAX_GRACE_SECONDS,
        detail_shown=DETAIL_SHOWN,
        failing=failing,
        section="webhooks",
    )
    one_time.forget(response, ctx, cookie=NEW_SECRET_COOKIE, page=page)
    return response


def _show_secret(ctx: Context, made: NewEndpoint, notice: str) -> Response:
    """To the endpoint's page, which shows the new secret once."""
    endpoint = made.endpoint
    page = url(ctx.request, "webhook", workspace_id=endpoint.workspace_id, endpoint_id=endpoint.id)
    back = redirect(page)
    kept = one_time.Kept(endpoint.id, made.secret)
    one_time.keep(back, ctx, cookie=NEW_SECRET_COOKIE, page=page, kept=kept)
    return with_notice(back, ctx.request, notice)


@signed_in
async def list_webhooks(ctx: Context) -> Response:
    return await _list_page(ctx)


@signed_in
async def create_webhook(ctx: Context) -> Response:
    workspace, _ = await ctx.workspace()
    events = [e for e in EVENT_TYPES if ctx.form.get(f"event:{e}") == "on"]
    if not events:
        return await _list_page(ctx, error=InvalidRequest("Choose at least one event type."))
    try:
        made = await ctx.services.webhooks.create(
            workspace_id=workspace.id, url=ctx.field("url"), events=events
        )
    except InvalidRequest as error:
        return await _list_page(ctx, error=error)
    return _show_secret(
        ctx, made, f"Created the endpoint {made.endpoint.url}: it receives changes from now on."
    )


@signed_in
async def show_webhook(ctx: Context) -> Response:
    return await _endpoint_page(ctx)


def _back(ctx: Context, workspace_id: int, endpoint_id: str) -> Response:
    """Where an action's form came from: the list, or the endpoint's page (the default)."""
    if ctx.field("back") == "list":
        return redirect(url(ctx.request, "webhooks", workspace_id=workspace_id))
    page = url(ctx.request, "webhook", workspace_id=workspace_id, endpoint_id=endpoint_id)
    return redirect(page + ("?failed=1" if ctx.field("back") == "failed" else ""))


async def _switch(ctx: Context, *, enabled: bool) -> Response:
    workspace, _ = await ctx.workspace()
    endpoint_id = ctx.request.path_params["endpoint_id"]
    if enabled:
        endpoint = await ctx.services.webhooks.enable(endpoint_id, workspace_id=workspace.id)
        text = f"Enabled {endpoint.url}: delivery resumes where it stopped."
    else:
        endpoint = await ctx.services.webhooks.disable(endpoint_id, workspace_id=workspace.id)
        text = (
            f"Disabled {endpoint.url}: changes wait for it, and are sent once it is enabled again."
        )
    return with_notice(_back(ctx, workspace.id, endpoint.id), ctx.request, text)


@signed_in
async def disable_webhook(ctx: Context) -> Response:
    return await _switch(ctx, enabled=False)


@signed_in
async def enable_webhook(ctx: Context) -> Response:
    return await _switch(ctx, enabled=True)


@signed_in
async def rotate_webhook_secret(ctx: Context) -> Response:
    workspace, _ = await ctx.workspace()
    endpoint_id = ctx.request.path_params["endpoint_id"]
    try:
        grace = _whole_number(
            ctx.field("grace_seconds"),
            f"grace must be a whole number of seconds, from 0 to {MAX_GRACE_SECONDS}",
        )
        made = await ctx.services.webhooks.rotate_secret(
            endpoint_id, workspace_id=workspace.id, grace_seconds=grace
        )
    except InvalidRequest as error:
        return await _endpoint_page(ctx, error=error, failing="rotate")
    until = made.endpoint.previous_secret_expires_at
    previous = (
        f"the previous one also signs until {until:%Y-%m-%d %H:%M} UTC"
        if until
        else "the previous one no longer signs"
    )
    return _show_secret(ctx, made, f"Rotated the signing secret: {previous}.")


@signed_in
async def replay_webhook(ctx: Context) -> Response:
    workspace, _ = await ctx.workspace()
    endpoint_id = ctx.request.path_params["endpoint_id"]
    failed_only = ctx.form.get("failed_only") == "on"
    try:
        after = _whole_number(ctx.field("after"), "after must be a change id, 0 or more")
        count = await ctx.services.webhooks.replay(
            endpoint_id, workspace_id=workspace.id, after=after, failed_only=failed_only
        )
    except InvalidRequest as error:
        return await _endpoint_page(ctx, error=error, failing="replay")
    text = (
        f"Queued again {_deliveries(count)} that had failed, of changes after {after}."
        if failed_only
        else f"Sending again every change after {after}: {_deliveries(count)} queued again, and"
        " the changes never queued for this endpoint follow."
    )
    return with_notice(_back(ctx, workspace.id, endpoint_id), ctx.request, text)


@signed_in
async def replay_delivery(ctx: Context) -> Response:
    workspace, _ = await ctx.workspace()
    endpoint_id = ctx.request.path_params["endpoint_id"]
    change_id = ctx.request.path_params["change_id"]
    if change_id > MAX_ID:  # no change has such an id, and the database cannot be asked for it
        raise HTTPException(404, f"No delivery of change {change_id} to endpoint {endpoint_id}")
    await ctx.services.webhooks.replay_delivery(
        endpoint_id, workspace_id=workspace.id, change_id=change_id
    )
    return with_notice(
        _back(ctx, workspace.id, endpoint_id),
        ctx.request,
        f"Queued change {change_id} again: it is sent with its webhook-id, from the first attempt.",
    )
