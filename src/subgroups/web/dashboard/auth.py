"""Signing in and out.

The sign-in form has no session yet, so its CSRF token is a random value kept in a short-lived
cookie and echoed in the form (double submit); SameSite=Strict keeps other sites from sending it.
"""

from __future__ import annotations

import secrets
from typing import Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from subgroups.errors import SignInRefused
from subgroups.web.client import client_ip
from subgroups.web.dashboard.render import render
from subgroups.web.dashboard.web import (
    SESSION_COOKIE,
    Context,
    read_form,
    redirect,
    same_token,
    set_cookie,
    signed_in,
    url,
)
from subgroups.web.errors import problem_of
from subgroups.web.state import services_of

SIGN_IN_COOKIE: Final = "subgroups_sign_in"


def _safe_next(request: Request, target: str | None) -> str:
    """Where to go after signing in: only a path inside the dashboard, never another site."""
    home = url(request, "home")
    if not target or not target.startswith(home) or target.startswith("//") or "\\" in target:
        return home
    return target


def _form(
    request: Request,
    status: int = 200,
    *,
    email: str = "",
    error: str | None = None,
    next: str | None = None,
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "sign_in.html",
        status,
        session=None,
        notice={"text": error, "error": True} if error else None,
        notice_in_page=True,
        csrf=token,
        email=email,
        next=_safe_next(request, next or request.query_params.get("next")),
    )
    set_cookie(
        response,
        request,
        SIGN_IN_COOKIE,
        token,
        max_age=3600,
        path=url(request, "sign_in"),
        samesite="strict",
    )
    return response


async def sign_in_page(request: Request) -> Response:
    return _form(request)


async def sign_in(request: Request) -> Response:
    form = await read_form(request)
    target = form.get("next")
    if not same_token(form.get("csrf"), request.cookies.get(SIGN_IN_COOKIE, "")):
        return _form(request, 403, error="The sign-in form expired. Please try again.", next=target)
    email = form.get("email", "").strip()
    try:
        new = await services_of(request).operators.sign_in(
            email=email, password=form.get("password", ""), client_ip=client_ip(request) or "-"
        )
    except SignInRefused as refused:
        return _refused(request, refused, email=email, next=target)
    response = redirect(_safe_next(request, target))
    # The cookie lives as long as the session; the server ends the session either way.
    lifetime = services_of(request).settings.dashboard_session_hours * 3600
    set_cookie(response, request, SESSION_COOKIE, new.token, max_age=int(lifetime))
    response.delete_cookie(SIGN_IN_COOKIE, path=url(request, "sign_in"))
    return response


def _refused(request: Request, refused: SignInRefused, *, email: str, next: str | None) -> Response:
    problem = problem_of(refused)
    response = _form(request, problem.status, email=email, error=problem.message, next=next)
    response.headers.update(problem.headers or {})
    return response


@signed_in
async def sign_out(ctx: Context) -> Response:
    await ctx.services.operators.sign_out(ctx.request.cookies.get(SESSION_COOKIE, ""))
    response = redirect(url(ctx.request, "sign_in"))
    response.delete_cookie(SESSION_COOKIE, path="/dashboard")
    return response


@signed_in
async def home(ctx: Context) -> Response:
    """The first workspace's groups, or how to make a workspace when there is none."""
    workspaces = await ctx.services.workspaces.list()
    if not workspaces:
        return ctx.page("no_workspace.html", workspaces=[], workspace=None)
    return redirect(url(ctx.request, "groups", workspace_id=workspaces[0].id))


SECTIONS = ("groups", "profiles", "imports", "keys", "webhooks", "person_pages")


@signed_in
async def switch(ctx: Context) -> Response:
    """The workspace switcher's target: the same section in the chosen workspace."""
    chosen = ctx.request.query_params.get("workspace", "")
    section = ctx.request.query_params.get("section", "groups")
    if not chosen.isdigit() or section not in SECTIONS:
        return redirect(url(ctx.request, "home"))
    return redirect(url(ctx.request, section, workspace_id=int(chosen)))
