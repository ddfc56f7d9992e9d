"""Helpers for the security tests: apps with particular settings, and what the database holds."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from subgroups.config import Settings
from subgroups.container import Services, build_services
from subgroups.domain.imports import ImportStatus
from subgroups.domain.models import Actor, Source
from subgroups.domain.subscriptions import GroupRequest
from subgroups.services.imports import new_owner
from subgroups.storage.tables import imports, profiles, state_changes, subscription_states
from subgroups.web.app import create_app

CLIENT = ("203.0.113.7", 50000)


@asynccontextmanager
async def app_client(
    settings: Settings, *, client: tuple[str, int] = CLIENT, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    """A client of a fresh app (and services) built from `settings` with `overrides`."""
    configured = replace(settings, **overrides)
    services = build_services(configured)
    try:
        app = create_app(configured, services)
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http, services
    finally:
        await services.aclose()


async def fingerprint(services: Services, workspace_id: int | None = None) -> tuple[Any, ...]:
    """Everything a request could change: the profiles, the states and the audit trail."""
    states = select(
        subscription_states.c.profile_id,
        subscription_states.c.group_pk,
        subscription_states.c.subscribed,
    ).order_by(subscription_states.c.profile_id, subscription_states.c.group_pk)
    people = select(
        profiles.c.id, profiles.c.workspace_id, profiles.c.external_id, profiles.c.email
    ).order_by(profiles.c.id)
    changes = select(func.count()).select_from(state_changes)
    if workspace_id is not None:
        people = people.where(profiles.c.workspace_id == workspace_id)
        changes = changes.where(state_changes.c.workspace_id == workspace_id)
        states = states.where(
            subscription_states.c.profile_id.in_(
                select(profiles.c.id).where(profiles.c.workspace_id == workspace_id)
            )
        )
    async with services.db.snapshot() as conn:
        return (
            [tuple(r) for r in await conn.execute(people)],
            [tuple(r) for r in await conn.execute(states)],
            (await conn.execute(changes)).scalar_one(),
        )


async def subscribe(
    services: Services, workspace_id: int, group_id: str, **identifiers: Any
) -> None:
    """Seeds a state through the service, as the admin CLI would."""
    await services.subscriptions.set_state(
        workspace_id=workspace_id,
        request=GroupRequest(group_id, "subscribed", **identifiers),
        actor=Actor(Source.CLI),
    )


async def imports_made(services: Services, workspace_id: int | None = None) -> int:
    """The import jobs there are (of one workspace): a refused upload makes none."""
    query = select(func.count()).select_from(imports)
    if workspace_id is not None:
        query = query.where(imports.c.workspace_id == workspace_id)
    async with services.db.snapshot() as conn:
        made: int = (await conn.execute(query)).scalar_one()
    return made


async def finished_import(services: Services, workspace_id: int, import_id: str) -> None:
    """An import of the workspace, over, with the given id (the matrix names it by its group)."""
    store = services.imports._store
    owner = new_owner()
    at = services.clock.now()
    await store.create(
        workspace_id=workspace_id,
        import_id=import_id,
        file_name="people.csv",
        sha256="0" * 64,
        size=0,
        total_rows=1,
        dry_run=False,
        ignored_columns=(),
        owner=owner,
        content=None,
        at=at,
    )
    await store.finish(
        workspace_id, import_id, owner=owner, status=ImportStatus.FINISHED, failure=None, at=at
    )


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> bool:
    """True when nothing was logged at ERROR or above: a bad request is the client's doing."""
    return not [r for r in caplog.records if r.levelno >= logging.ERROR]
