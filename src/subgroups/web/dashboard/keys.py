"""The API keys page: list, create, revoke.

A new key's secret is shown once, on the list the form redirects to (see `one_time`).
"""

from __future__ import annotations

from typing import Final

from starlette.responses import Response

from subgroups.domain.models import ApiKey, NewApiKey, Permission
from subgroups.errors import InvalidRequest, SubgroupsError
from subgroups.web.dashboard import one_time
from subgroups.web.dashboard.web import (
    Context,
    redirect,
    signed_in,
    url,
    with_notice,
)

NEW_KEY_COOKIE: Final = "subgroups_new_key"


def key_label(key: ApiKey) -> str:
    """How a page names a key: its name, if any, and its prefix, which tells apart keys that
    share a name."""
    return f"“{key.name}” ({key.prefix}…)" if key.name else f"{key.prefix}…"


def _kept_secret(ctx: Context, keys: list[ApiKey]) -> NewApiKey | None:
    """The secret kept for this page, if this session kept it, of a key still listed and live."""
    kept = one_time.kept(ctx, cookie=NEW_KEY_COOKIE)
    live = {str(k.id): k for k in keys if k.revoked_at is None}
    return NewApiKey(live[kept.owner], kept.secret) if kept and kept.owner in live else None


async def _page(ctx: Context, *, error: SubgroupsError | None = None) -> Response:
    workspace, workspaces = await ctx.workspace()
    keys = await ctx.services.keys.list(workspace_id=workspace.id)
    created = _kept_secret(ctx, keys) if error is None else None
    response = ctx.form_page(
        "keys.html",
        error=error,
        workspace=workspace,
        workspaces=workspaces,
        keys=sorted(keys, key=lambda k: (k.revoked_at is not None, -k.id)),
        permissions=[p.value for p in Permission],
        created=created,
        key_label=key_label,
        section="keys",
    )
    page = url(ctx.request, "keys", workspace_id=workspace.id)
    one_time.forget(response, ctx, cookie=NEW_KEY_COOKIE, page=page)
    return response


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
    page = url(ctx.request, "keys", workspace_id=workspace.id)
    back = redirect(page)
    kept = one_time.Kept(str(created.key.id), created.secret)
    one_time.keep(back, ctx, cookie=NEW_KEY_COOKIE, page=page, kept=kept)
    return back


@signed_in
async def revoke_key(ctx: Context) -> Response:
    workspace, _ = await ctx.workspace()
    revoked = await ctx.services.keys.revoke(
        key_id=ctx.request.path_params["key_id"], workspace_id=workspace.id
    )
    back = redirect(url(ctx.request, "keys", workspace_id=workspace.id))
    return with_notice(
        back, ctx.request, f"Revoked the key {key_label(revoked)}: it is refused from now on."
    )
