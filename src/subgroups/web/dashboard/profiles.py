"""Profile lookup: a person's state in every group, their history, and changing a state by hand."""

from __future__ import annotations

from typing import Final, get_args
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.responses import Response

from subgroups.domain.models import Actor, ProfileView, Source, State, StateChange
from subgroups.domain.person import SuppressionEntry
from subgroups.domain.reads import IdentifierKind
from subgroups.domain.subscriptions import can_select
from subgroups.errors import InvalidRequest
from subgroups.web.client import client_ip, request_id
from subgroups.web.dashboard.groups import key_labels
from subgroups.web.dashboard.web import Context, redirect, signed_in, url, with_notice
from subgroups.web.errors import status_of

KINDS: Final[tuple[IdentifierKind, ...]] = get_args(IdentifierKind)
KIND_LABELS: Final = {"external_id": "External id", "email": "Email", "phone": "Phone"}


def _kind(value: str) -> IdentifierKind:
    for kind in KINDS:
        if kind == value:
            return kind
    raise HTTPException(400, "Look profiles up by external_id, email or phone.")


@signed_in
async def look_up(ctx: Context) -> Response:
    workspace, workspaces = await ctx.workspace()
    params = ctx.request.query_params
    kind = _kind(params.get("by", "external_id"))
    query = params.get("q", "").strip()
    found: list[ProfileView] = []
    history: dict[int, list[StateChange]] = {}
    earlier: dict[int, list[SuppressionEntry]] = {}
    error: InvalidRequest | None = None
    if query:
        try:
            found = await ctx.services.subscriptions.profiles(
                workspace_id=workspace.id, kind=kind, value=query
            )
        except InvalidRequest as invalid:
            error = invalid
        changes = await ctx.services.reports.profile_changes(
            workspace_id=workspace.id, profile_ids=[p.id for p in found]
        )
        for change in changes:
            history.setdefault(change.profile_id, []).append(change)
        for p in found:
            earlier[p.id] = await ctx.services.person.earlier_opt_outs(
                workspace_id=workspace.id, profile=p
            )
    groups = await ctx.services.groups.list(workspace_id=workspace.id)
    keys = await ctx.services.keys.list(workspace_id=workspace.id) if history else []
    return ctx.page(
        "profiles.html",
        status=status_of(error) if error else 200,
        workspace=workspace,
        workspaces=workspaces,
        kinds=KIND_LABELS,
        kind=kind,
        query=query,
        error=error.message if error else None,
        profiles=found,
        history=history,
        earlier=earlier,
        groups=groups,
        group_names={g.id: g.name for g in groups},
        key_labels=key_labels(keys),
        can_select=can_select,
        section="profiles",
    )


@signed_in
async def change_state(ctx: Context) -> Response:
    workspace, _ = await ctx.workspace()
    kind, query = _kind(ctx.field("by")), ctx.field("q")
    back = redirect(
        url(ctx.request, "profiles", workspace_id=workspace.id)
        + "?"
        + urlencode({"by": kind, "q": query})
    )
    state = {s.value: s for s in State}.get(ctx.field("state"))
    if state is None:
        raise HTTPException(400, "The state is subscribed or unsubscribed.")
    actor = Actor(
        source=Source.DASHBOARD,
        request_id=request_id(ctx.request),
        client_ip=client_ip(ctx.request),
        operator=ctx.session.operator.email,
    )
    group_id = ctx.field("group_id")
    try:
        await ctx.services.subscriptions.set_profile_state(
            workspace_id=workspace.id,
            profile_id=ctx.request.path_params["profile_id"],
            group_id=group_id,
            state=state,
            actor=actor,
        )
    except InvalidRequest as error:
        return with_notice(back, ctx.request, error.message, error=True)
    return with_notice(
        back, ctx.request, f"Saved: {state.label}. The change is in the history below."
    )


@signed_in
async def erase(ctx: Context) -> Response:
    """Erases one profile (the person's data, §11): an admin act, confirmed in the page."""
    workspace, _ = await ctx.workspace()
    profile_id = ctx.request.path_params["profile_id"]
    kept = await ctx.services.person.erase(
        workspace_id=workspace.id, profile_id=profile_id, by=ctx.session.operator.email
    )
    back = redirect(url(ctx.request, "profiles", workspace_id=workspace.id))
    return with_notice(
        back,
        ctx.request,
        f"Erased profile {profile_id}: its identifiers are gone from it and from its history;"
        f" {kept} suppression entr{'y' if kept == 1 else 'ies'} kept.",
    )
