"""The API keys page: list, create (the secret is shown once, on the response to the form), revoke."""

from __future__ import annotations

from starlette.responses import Response

from subgroups.domain.models import NewApiKey, Permission
from subgroups.errors import InvalidRequest, SubgroupsError
from subgroups.web.dashboard.web import Context, redirect, signed_in, url, with_notice
from subgroups.web.errors import status_of


async def _page(
    ctx: Context, *, created: NewApiKey | None = None, error: SubgroupsError | None = None
) -> Response:
    workspace, workspaces = await ctx.workspace()
    keys = await ctx.services.keys.list(workspace_id=workspace.id)
    return ctx.page(
        "keys.html",
        status=status_of(error) if error else 200,
        workspace=workspace,
        workspaces=workspaces,
        keys=sorted(keys, key=lambda k: (k.revoked_at is not None, -k.id)),
        permissions=[p.value for p in Permission],
        created=created,
        error=error.message if error else None,
        form=ctx.form,
        section="keys",
    )


@signed_in
async def list_keys(ctx: Context) -> Response:
    return await _page(ctx)


@signed_in
async def create_key(ctx: Context) -> Response:
    workspace, _ = await ctx.workspace()
    chosen = [p.value for p in Permission if ctx.form.get(f"permission:{p.value}") == "on"]
    if not chosen:
        return await _page(ctx, error=InvalidRequest("Choose at least one permission."))
    allowed = [ip for ip in ctx.field("allowed_ips").replace(",", " ").split() if ip]
    try:
        created = await ctx.services.keys.create(
            workspace_id=workspace.id,
            name=ctx.field("name"),
            permissions=chosen,
            allowed_ips=allowed,
        )
    except InvalidRequest as error:
        return await _page(ctx, error=error)
    # Rendered, not redirected: the secret exists only in this response.
    return await _page(ctx, created=created)


@signed_in
async def revoke_key(ctx: Context) -> Response:
    workspace, _ = await ctx.workspace()
    revoked = await ctx.services.keys.revoke(
        key_id=ctx.request.path_params["key_id"], workspace_id=workspace.id
    )
    back = redirect(url(ctx.request, "keys", workspace_id=workspace.id))
    name = f"“{revoked.name}”" if revoked.name else f"{revoked.prefix}…"
    return with_notice(back, ctx.request, f"Revoked the key {name}: it is refused from now on.")
