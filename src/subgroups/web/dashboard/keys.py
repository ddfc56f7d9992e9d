"""The API keys page: list, create, revoke.

A new key's secret is shown once. The form's POST redirects to the list (so that reloading the
page cannot create a second key), and the secret travels to that one GET in a short-lived cookie
that only this browser's session can use: it is tagged with the session's token, and deleted by
the page that shows it. It is never in a URL.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Final

import orjson
from starlette.responses import Response

from subgroups.domain.models import ApiKey, NewApiKey, Permission
from subgroups.errors import InvalidRequest, SubgroupsError
from subgroups.web.dashboard.web import (
    SESSION_COOKIE,
    Context,
    redirect,
    set_cookie,
    signed_in,
    url,
    with_notice,
)
from subgroups.web.errors import status_of

NEW_KEY_COOKIE: Final = "subgroups_new_key"
# Long enough for the redirect that follows the form; the page that shows it deletes it at once.
NEW_KEY_SECONDS: Final = 120


def key_label(key: ApiKey) -> str:
    """How a page names a key: its name, if any, and its prefix, which tells apart keys that
    share a name."""
    return f"“{key.name}” ({key.prefix}…)" if key.name else f"{key.prefix}…"


def _tag(ctx: Context, key_id: int, secret: str) -> str:
    token = ctx.request.cookies.get(SESSION_COOKIE, "")
    message = f"{key_id}:{secret}".encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()


def _keep_secret(response: Response, ctx: Context, created: NewApiKey, page: str) -> None:
    value = {
        "key": created.key.id,
        "secret": created.secret,
        "tag": _tag(ctx, created.key.id, created.secret),
    }
    encoded = base64.urlsafe_b64encode(orjson.dumps(value)).decode()
    set_cookie(
        response,
        ctx.request,
        NEW_KEY_COOKIE,
        encoded,
        max_age=NEW_KEY_SECONDS,
        path=page,
        samesite="strict",
    )


def _kept_secret(ctx: Context, keys: list[ApiKey]) -> NewApiKey | None:
    """The secret kept for this page, if this session kept it, of a key still listed and live."""
    raw = ctx.request.cookies.get(NEW_KEY_COOKIE)
    if not raw:
        return None
    try:
        kept = orjson.loads(base64.urlsafe_b64decode(raw.encode()))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(kept, dict):
        return None
    key_id, secret, tag = kept.get("key"), kept.get("secret"), kept.get("tag")
    if not isinstance(key_id, int) or not isinstance(secret, str) or not isinstance(tag, str):
        return None
    if not hmac.compare_digest(tag, _tag(ctx, key_id, secret)):
        return None
    live = {k.id: k for k in keys if k.revoked_at is None}
    return NewApiKey(live[key_id], secret) if key_id in live else None


async def _page(ctx: Context, *, error: SubgroupsError | None = None) -> Response:
    workspace, workspaces = await ctx.workspace()
    keys = await ctx.services.keys.list(workspace_id=workspace.id)
    created = _kept_secret(ctx, keys) if error is None else None
    response = ctx.page(
        "keys.html",
        status=status_of(error) if error else 200,
        workspace=workspace,
        workspaces=workspaces,
        keys=sorted(keys, key=lambda k: (k.revoked_at is not None, -k.id)),
        permissions=[p.value for p in Permission],
        created=created,
        key_label=key_label,
        error=error.message if error else None,
        form=ctx.form,
        section="keys",
    )
    if NEW_KEY_COOKIE in ctx.request.cookies:
        # Shown (or not this session's): either way, never again.
        page = url(ctx.request, "keys", workspace_id=workspace.id)
        response.delete_cookie(NEW_KEY_COOKIE, path=page)
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
    _keep_secret(back, ctx, created, page)
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
