"""The Subscription Groups page and a group's own page.

A form refused for what was typed in it (a taken name, an empty one) comes back with the typed
values, the reason, and the status of the error; it is not redirected, so nothing typed is lost.
"""

from __future__ import annotations

import orjson
from starlette.exceptions import HTTPException
from starlette.responses import Response

from subgroups.domain.models import ApiKey
from subgroups.errors import Conflict, InvalidRequest, NotFound, SubgroupsError
from subgroups.services.reports import SERIES_DAYS
from subgroups.web.dashboard.web import Context, redirect, signed_in, url, with_notice


def key_labels(keys: list[ApiKey]) -> dict[int, str]:
    """How a change names the key that made it: its name and prefix."""
    return {k.id: f"{k.name or 'key'} ({k.prefix}…)" for k in keys}


async def _groups_page(ctx: Context, *, error: SubgroupsError | None = None) -> Response:
    workspace, workspaces = await ctx.workspace()
    summaries = await ctx.services.reports.summaries(workspace_id=workspace.id)
    return ctx.form_page(
        "groups.html",
        error=error,
        workspace=workspace,
        workspaces=workspaces,
        summaries=summaries,
        section="groups",
    )


@signed_in
async def list_groups(ctx: Context) -> Response:
    return await _groups_page(ctx)


@signed_in
async def create_group(ctx: Context) -> Response:
    workspace, _ = await ctx.workspace()
    try:
        group = await ctx.services.groups.create(
            workspace_id=workspace.id,
            name=ctx.field("name"),
            channel=ctx.field("channel"),
            description=ctx.field("description") or None,
        )
    except (InvalidRequest, Conflict) as error:
        return await _groups_page(ctx, error=error)
    back = redirect(url(ctx.request, "groups", workspace_id=workspace.id))
    return with_notice(back, ctx.request, f"Created the {group.channel} group “{group.name}”.")


async def _group_page(
    ctx: Context, *, days: int = SERIES_DAYS[0], error: SubgroupsError | None = None
) -> Response:
    workspace, workspaces = await ctx.workspace()
    try:
        report = await ctx.services.reports.group_report(
            workspace_id=workspace.id, group_id=ctx.request.path_params["group_id"], days=days
        )
    except NotFound:
        raise HTTPException(404, "There is no such subscription group in this workspace.") from None
    keys = await ctx.services.keys.list(workspace_id=workspace.id) if report.recent else []
    chart = {
        "labels": [f"{point.day:%Y-%m-%d}" for point in report.series],
        "subscribed": [point.sizes.subscribed for point in report.series],
        "unsubscribed": [point.sizes.unsubscribed for point in report.series],
    }
    return ctx.form_page(
        "group.html",
        error=error,
        workspace=workspace,
        workspaces=workspaces,
        report=report,
        key_labels=key_labels(keys),
        days=days,
        day_choices=SERIES_DAYS,
        # JSON inside <script type="application/json">: escape "<" so no "</script>" can close it.
        chart_json=orjson.dumps(chart).decode().replace("<", "\\u003c"),
        section="groups",
    )


@signed_in
async def show_group(ctx: Context) -> Response:
    raw_days = ctx.request.query_params.get("days", str(SERIES_DAYS[0]))
    # ASCII only: str.isdigit() also accepts digits that int() refuses, such as "²".
    days = int(raw_days) if raw_days.isascii() and raw_days.isdigit() and len(raw_days) < 4 else 0
    if days not in SERIES_DAYS:
        raise HTTPException(400, f"days is one of {', '.join(map(str, SERIES_DAYS))}")
    return await _group_page(ctx, days=days)


@signed_in
async def edit_group(ctx: Context) -> Response:
    workspace, _ = await ctx.workspace()
    group_id = ctx.request.path_params["group_id"]
    try:
        group = await ctx.services.groups.update(
            workspace_id=workspace.id,
            group_id=group_id,
            name=ctx.field("name"),
            description=ctx.field("description"),
        )
    except (InvalidRequest, Conflict) as error:
        return await _group_page(ctx, error=error)
    back = redirect(url(ctx.request, "group", workspace_id=workspace.id, group_id=group_id))
    return with_notice(back, ctx.request, f"Saved “{group.name}”.")


@signed_in
async def archive_group(ctx: Context) -> Response:
    workspace, _ = await ctx.workspace()
    group = await ctx.services.groups.archive(
        workspace_id=workspace.id, group_id=ctx.request.path_params["group_id"]
    )
    back = redirect(url(ctx.request, "groups", workspace_id=workspace.id))
    return with_notice(
        back, ctx.request, f"Archived “{group.name}”: its states are kept and can no longer change."
    )
