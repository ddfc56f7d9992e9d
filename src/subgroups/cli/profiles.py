"""`subgroups profile`: look a person up."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TypeVar

import click
import orjson

from subgroups.cli.render import profile_doc, suppression_doc, table, utc_time
from subgroups.cli.runner import common, emit, fail, json_default, run
from subgroups.domain.feed import record_document

if TYPE_CHECKING:
    from collections.abc import Callable

    from subgroups.container import Services
    from subgroups.domain.models import Group, ProfileView
    from subgroups.domain.reads import IdentifierKind, UserPage
    from subgroups.services.person import PersonExport

F = TypeVar("F", bound="Callable[..., Any]")


@click.group()
def profile() -> None:
    """Profiles and their subscription states."""


def _one_identifier(
    external_id: str | None, email: str | None, phone: str | None, *, as_json: bool
) -> tuple[IdentifierKind, str]:
    options: tuple[tuple[IdentifierKind, str | None], ...] = (
        ("external_id", external_id),
        ("email", email),
        ("phone", phone),
    )
    given = [(kind, value) for kind, value in options if value is not None]
    if len(given) != 1:
        fail("give exactly one of --external-id, --email, --phone", as_json=as_json)
    return given[0]


def _identifier_options(command: F) -> F:
    for option in (
        click.option("--phone", default=None),
        click.option("--email", default=None),
        click.option("--external-id", default=None),
        click.option("--workspace", "workspace_id", type=int, required=True, help="Workspace id."),
    ):
        command = option(command)
    return command


@profile.command("show")
@_identifier_options
@click.option(
    "--as-of", default=None, metavar="TIME", help="The states as they stood then (ISO 8601)."
)
@common
def profile_show(
    workspace_id: int,
    external_id: str | None,
    email: str | None,
    phone: str | None,
    as_of: str | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Show the profiles with this external id, email or phone (as they stood at --as-of)."""
    kind, value = _one_identifier(external_id, email, phone, as_json=as_json)
    if as_of is not None:
        _show_as_of(workspace_id, kind, value, as_of, database_url, as_json)
        return

    async def action(services: Services) -> tuple[list[ProfileView], dict[str, Group]]:
        found = await services.subscriptions.profiles(
            workspace_id=workspace_id, kind=kind, value=value
        )
        # Names for people to read; only a profile that exists proves the workspace does.
        groups = await services.groups.list(workspace_id=workspace_id) if found else []
        return found, {g.id: g for g in groups}

    found, groups = run(database_url, as_json, action)
    emit(
        {"profiles": [profile_doc(p) for p in found]},
        "\n\n".join(_profile_text(p, groups) for p in found) or "no profile",
        as_json=as_json,
    )


@profile.command("set")
@click.option("--workspace", "workspace_id", type=int, required=True, help="Workspace id.")
@click.option("--group", "group_id", required=True, help="Subscription group id.")
@click.option(
    "--state", required=True, type=click.Choice(["subscribed", "unsubscribed"]), help="New state."
)
@click.option("--external-id", default=None)
@click.option("--email", default=None)
@click.option("--phone", default=None, help="E.164, for an SMS group.")
@common
def profile_set(
    workspace_id: int,
    group_id: str,
    state: str,
    external_id: str | None,
    email: str | None,
    phone: str | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Subscribe or unsubscribe a person, by the API's rules (recorded with source CLI).

    As with the API, an external id selects its profile (created if new), and an email or phone
    alone selects every profile with that contact."""
    from subgroups.domain.models import Actor, Source
    from subgroups.domain.subscriptions import GroupRequest

    request = GroupRequest(
        group_id=group_id, state=state, external_id=external_id, email=email, phone=phone
    )

    async def action(services: Services) -> list[str]:
        return await services.subscriptions.set_state(
            workspace_id=workspace_id, request=request, actor=Actor(Source.CLI)
        )

    notes = run(database_url, as_json, action)
    text = "\n".join([f"{state} in group {group_id}", *(f"note: {n}" for n in notes)])
    emit({"message": "success", "errors": notes}, text, as_json=as_json)


def _show_as_of(
    workspace_id: int,
    kind: IdentifierKind,
    value: str,
    as_of: str,
    database_url: str | None,
    as_json: bool,
) -> None:
    """The profiles' states at `as_of`, from the records (as user/status answers with as_of)."""
    from subgroups.domain.exports import moment
    from subgroups.domain.reads import Identifiers

    async def action(services: Services) -> UserPage:
        at = moment(as_of, "as_of")
        assert at is not None
        return await services.history.user_statuses(
            workspace_id=workspace_id, identifiers=Identifiers(**{kind: [value]}), at=at
        )

    page = run(database_url, as_json, action)
    docs = [
        {
            "external_id": u.external_id,
            "email": u.email,
            "phone": u.phone,
            "subscriptions": [{"group_id": g.group_id, "state": g.state.value} for g in u.groups],
        }
        for u in page.users
    ]
    texts = [
        "\n".join(
            [
                "profile "
                + " ".join(f"{k}={v}" for k, v in doc.items() if k != "subscriptions" and v),
                table(
                    ["GROUP", "CHANNEL", "STATE", "GROUP ID"],
                    [(g.name, g.channel, g.state.value, g.group_id) for g in u.groups],
                )
                or "in no group",
            ]
        )
        for doc, u in zip(docs, page.users, strict=True)
    ]
    emit({"as_of": as_of, "profiles": docs}, "\n\n".join(texts) or "no profile", as_json=as_json)


def _profile_text(p: ProfileView, groups: dict[str, Group]) -> str:
    known = [("external_id", p.external_id), ("email", p.email), ("phone", p.phone)]
    identity = " ".join(f"{name}={value}" for name, value in known if value is not None)
    states = table(
        ["GROUP", "CHANNEL", "STATE", "SINCE (UTC)", "GROUP ID"],
        [
            (
                groups[s.group_id].name if s.group_id in groups else None,
                groups[s.group_id].channel if s.group_id in groups else None,
                s.state.value,
                utc_time(s.updated_at),
                s.group_id,
            )
            for s in p.subscriptions
        ],
    )
    return f"profile {identity}\n{states or 'in no group'}"


@profile.command("export")
@_identifier_options
@common
def profile_export(
    workspace_id: int,
    external_id: str | None,
    email: str | None,
    phone: str | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Print everything held about the person (profile, states, every record, earlier opt-outs
    of erased profiles with their addresses) as one JSON document."""
    kind, value = _one_identifier(external_id, email, phone, as_json=as_json)

    async def action(services: Services) -> list[PersonExport]:
        return await services.person.export(workspace_id=workspace_id, kind=kind, value=value)

    found = run(database_url, as_json, action)
    document = {"profiles": [_export_doc(e) for e in found]}
    # The export is a JSON document either way; for a person reading it, indented.
    text = orjson.dumps(document, default=json_default, option=orjson.OPT_INDENT_2).decode()
    emit(document, text, as_json=as_json)


def _export_doc(e: PersonExport) -> dict[str, Any]:
    return {
        "profile": {
            "id": e.profile.id,
            "created_at": e.profile.created_at,
            **profile_doc(e.profile),
        },
        "changes": [record_document(c) for c in e.changes],
        "earlier_opt_outs": [suppression_doc(s) for s in e.earlier_opt_outs],
    }


@profile.command("erase")
@_identifier_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
@common
def profile_erase(
    workspace_id: int,
    external_id: str | None,
    email: str | None,
    phone: str | None,
    yes: bool,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Erase the person: remove their identifiers from every matching profile and its records,
    keeping only suppression entries (hashed addresses and their opt-outs). Cannot be undone."""
    kind, value = _one_identifier(external_id, email, phone, as_json=as_json)
    if not yes:
        if as_json or not sys.stdin.isatty():
            fail("erasing cannot be undone: confirm with --yes", as_json=as_json)
        click.confirm(
            f"Erase every profile with {kind} {value!r} in workspace {workspace_id}?"
            " This cannot be undone",
            abort=True,
        )

    async def action(services: Services) -> list[tuple[int, int]]:
        return await services.person.erase_matching(
            workspace_id=workspace_id, kind=kind, value=value, by="CLI"
        )

    erased = run(database_url, as_json, action)
    emit(
        {"erased": [{"profile_id": pid, "suppression_entries": n} for pid, n in erased]},
        "\n".join(
            f"erased profile {pid} ({n} suppression entr{'y' if n == 1 else 'ies'} kept)"
            for pid, n in erased
        ),
        as_json=as_json,
    )
