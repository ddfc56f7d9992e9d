"""The person's pages as the workspace presents them: its display name and accent colour (§11)."""

from __future__ import annotations

from starlette.responses import Response

from subgroups.domain.person import DEFAULT_ACCENT, REASONS
from subgroups.errors import InvalidRequest
from subgroups.web.dashboard.web import Context, redirect, signed_in, url, with_notice
from subgroups.web.errors import status_of


async def _page(ctx: Context, *, error: InvalidRequest | None = None) -> Response:
    workspace, workspaces = await ctx.workspace()
    branding = await ctx.services.person.branding(workspace_id=workspace.id)
    return ctx.page(
        "person_pages.html",
        status=status_of(error) if error else 200,
        workspace=workspace,
        workspaces=workspaces,
        branding=branding,
        default_accent=DEFAULT_ACCENT,
        reasons=REASONS,
        error=error.message if error else None,
        form=ctx.form,
        section="person_pages",
    )


@signed_in
async def show(ctx: Context) -> Response:
    return await _page(ctx)


@signed_in
async def save(ctx: Context) -> Response:
    workspace, _ = await ctx.workspace()
    try:
        await ctx.services.person.set_branding(
            workspace_id=workspace.id,
            display_name=ctx.field("display_name"),
            accent_color=ctx.field("accent_color"),
        )
    except InvalidRequest as error:
        return await _page(ctx, error=error)
    back = redirect(url(ctx.request, "person_pages", workspace_id=workspace.id))
    return with_notice(back, ctx.request, "Saved: the person's pages show it from now on.")
