"""A secret shown once, on the page a form redirects to (a new API key, a webhook signing secret).

The form's POST redirects (so that reloading the page cannot make a second secret), and the secret
travels to that one GET in a short-lived cookie of that page alone that only this browser's session
can use: it is tagged with the session's token, and deleted by the page that shows it. It is never
in a URL.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Final

import orjson
from starlette.responses import Response

from subgroups.web.dashboard.web import (
    SESSION_COOKIE,
    Context,
    json_cookie,
    json_cookie_value,
    set_cookie,
)

# Long enough for the redirect that follows the form; the page that shows it deletes it at once.
KEEP_SECONDS: Final = 120


@dataclass(frozen=True, slots=True)
class Kept:
    """A secret kept for a page: `owner` names what it belongs to (a key's id, an endpoint's)."""

    owner: str
    secret: str


def _tag(ctx: Context, cookie: str, owner: str, secret: str) -> str:
    token = ctx.request.cookies.get(SESSION_COOKIE, "")
    # The cookie's name too: a secret kept for one kind of page is never shown by another.
    message = orjson.dumps([cookie, owner, secret])
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()


def keep(response: Response, ctx: Context, *, cookie: str, page: str, kept: Kept) -> None:
    value = {
        "owner": kept.owner,
        "secret": kept.secret,
        "tag": _tag(ctx, cookie, kept.owner, kept.secret),
    }
    set_cookie(
        response,
        ctx.request,
        cookie,
        json_cookie_value(value),
        max_age=KEEP_SECONDS,
        path=page,
        samesite="strict",
    )


def kept(ctx: Context, *, cookie: str) -> Kept | None:
    """The secret kept in `cookie`, if this session kept it (the caller checks its owner)."""
    found = json_cookie(ctx.request, cookie)
    if found is None:
        return None
    owner, secret, tag = found.get("owner"), found.get("secret"), found.get("tag")
    if not isinstance(owner, str) or not isinstance(secret, str) or not isinstance(tag, str):
        return None
    if not hmac.compare_digest(tag, _tag(ctx, cookie, owner, secret)):
        return None
    return Kept(owner, secret)


def forget(response: Response, ctx: Context, *, cookie: str, page: str) -> None:
    """Shown (or not this session's): either way, never again."""
    if cookie in ctx.request.cookies:
        response.delete_cookie(cookie, path=page)
