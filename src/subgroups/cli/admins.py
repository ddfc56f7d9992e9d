"""`subgroups admin`: the people who sign in to the dashboard."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from subgroups.cli.render import table, utc_day
from subgroups.cli.runner import common, emit, fail, run

if TYPE_CHECKING:
    from subgroups.container import Services
    from subgroups.domain.operators import Operator


@click.group()
def admin() -> None:
    """Dashboard users. Each may work in every workspace."""


def _password(password_stdin: bool, as_json: bool) -> str:
    if password_stdin:
        # One line: the password, without its line ending.
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("no password on standard input", as_json=as_json)
        return password
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return value


@admin.command("create")
@click.argument("email")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@common
def admin_create(email: str, password_stdin: bool, database_url: str | None, as_json: bool) -> None:
    """Create a dashboard user; asks for the password (twice) unless --password-stdin."""
    password = _password(password_stdin, as_json)

    async def action(services: Services) -> Operator:
        return await services.operators.create(email=email, password=password)

    created = run(database_url, as_json, action)
    emit(
        {"id": created.id, "email": created.email},
        f"created dashboard user {created.id} ({created.email})",
        as_json=as_json,
    )


@admin.command("set-password")
@click.argument("email")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@common
def admin_set_password(
    email: str, password_stdin: bool, database_url: str | None, as_json: bool
) -> None:
    """Replace a dashboard user's password and sign them out everywhere."""
    password = _password(password_stdin, as_json)

    async def action(services: Services) -> Operator:
        return await services.operators.set_password(email=email, password=password)

    changed = run(database_url, as_json, action)
    emit(
        {"id": changed.id, "email": changed.email},
        f"new password set for {changed.email}; their sessions have ended",
        as_json=as_json,
    )


@admin.command("list")
@common
def admin_list(database_url: str | None, as_json: bool) -> None:
    """List dashboard users."""

    async def action(services: Services) -> list[Operator]:
        return await services.operators.list()

    found = run(database_url, as_json, action)
    text = table(
        ["ID", "EMAIL", "CREATED (UTC)"], [(o.id, o.email, utc_day(o.created_at)) for o in found]
    )
    emit(
        {"admins": [{"id": o.id, "email": o.email, "created_at": o.created_at} for o in found]},
        text or "no dashboard users",
        as_json=as_json,
    )
