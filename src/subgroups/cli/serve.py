"""`subgroups serve` and `subgroups demo`."""

from __future__ import annotations

import asyncio
import errno
import os
import secrets
import shlex
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from subgroups.cli.runner import NOT_MIGRATED, fail, refuse_a_missing_file, run, settings_for

# The server's stack is imported when a command runs (see runner.py).
if TYPE_CHECKING:
    from subgroups.config import Settings
    from subgroups.container import Services
    from subgroups.domain.models import Group, NewApiKey

DEMO_WORKSPACE = "Demo"
DEMO_KEY_NAME = "demo"
DEMO_GROUPS = (("Weekly newsletter", "email"), ("SMS alerts", "sms"))
DEMO_ADMIN = "demo@example.com"


F = TypeVar("F", bound=Callable[..., Any])
HTTP_PROTOCOL = "subgroups.web.server.http_protocol:BoundedHttpToolsProtocol"
# prometheus_client's multiprocess mode reads its directory from this variable (see _serve).
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def _options(command: F) -> F:
    for option in reversed(
        [
            click.option("--host", default="127.0.0.1", show_default=True),
            click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535)),
            click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1)),
            click.option("--database-url", default=None, metavar="URL"),
        ]
    ):
        command = option(command)
    return command


@click.command()
@_options
def serve(host: str, port: int, workers: int, database_url: str | None) -> None:
    """Serve the HTTP API."""
    from subgroups.container import build_services

    settings = settings_for(database_url, as_json=False)
    refuse_a_missing_file(settings, as_json=False)

    async def current() -> bool:
        services = build_services(settings)
        try:
            return await services.schema_is_current()
        finally:
            await services.aclose()

    try:
        migrated = asyncio.run(current())
    except Exception as error:
        fail(f"cannot check the database schema: {error}", as_json=False)
    if not migrated:
        fail(NOT_MIGRATED, as_json=False)
    refuse_a_busy_port(host, port, advice=lambda free: f"choose another with --port {free}")
    _serve(settings, host, port, workers)


def refuse_a_busy_port(host: str, port: int, *, advice: Callable[[int], str]) -> None:
    """Stops unless the server can listen on host:port now; `advice` says what to do instead,
    given a port that is free.

    A port taken by another server would otherwise be found only by the server, after the demo
    has printed a key and an address that lead to that other server."""
    error = _listen_error(host, port)
    if error is None:
        return
    if error.errno != errno.EADDRINUSE:
        fail(f"cannot listen on {host}:{port}: {error.strerror or error}", as_json=False)
    nearby = range(port + 10, min(port + 60, 65536))
    free = next((p for p in nearby if _listen_error(host, p) is None), 8010)
    fail(f"{host}:{port} is already in use, by another server: {advice(free)}", as_json=False)


def _listen_error(host: str, port: int) -> OSError | None:
    """Why a server could not listen on host:port now, or None; binds and lets go at once."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, protocol, _, address in addresses:
            with socket.socket(family, kind, protocol) as probe:
                # As the server does: a port an earlier run left in TIME_WAIT is free, and an
                # IPv6 address does not also claim the IPv4 one.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                probe.bind(address)
    except OSError as error:  # socket.gaierror included: a host that is not this machine's
        return error
    return None


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How the HTTP server runs; benchmarks run their baseline app with exactly these."""
    from subgroups.web.server.logs import logging_config

    return {
        "server_header": False,
        # The client address is the socket's unless the operator trusts a proxy (SUBGROUPS_TRUSTED_PROXIES).
        "proxy_headers": False,
        # httptools, with a bound on the request head that httptools alone does not have.
        "http": HTTP_PROTOCOL,
        # One JSON line per request comes from the app itself (web/middleware.py), with its context.
        "access_log": False,
        "log_config": logging_config(settings.log_level),
        "log_level": settings.log_level.lower(),
    }


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    # Worker processes build their own settings from the environment; hand them the database.
    os.environ["SUBGROUPS_DATABASE_URL"] = settings.database_url
    with _metrics_directory(workers):
        uvicorn.run(
            "subgroups.web.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            **uvicorn_options(settings),
        )


@contextmanager
def _metrics_directory(workers: int) -> Iterator[None]:
    """Several workers record their metrics in files of one directory, which any of them reads
    to answer a scrape (`services/metrics.py`): a new one for each run, removed after it, unless
    the operator chose one (PROMETHEUS_MULTIPROC_DIR, which they must then empty before a start).
    One worker keeps them in memory."""
    if workers < 2 or os.environ.get(MULTIPROCESS_DIR):
        yield
        return
    directory = tempfile.mkdtemp(prefix="subgroups-metrics-")
    os.environ[MULTIPROCESS_DIR] = directory
    try:
        yield
    finally:
        del os.environ[MULTIPROCESS_DIR]
        shutil.rmtree(directory, ignore_errors=True)


@click.command()
@_options
def demo(host: str, port: int, workers: int, database_url: str | None) -> None:
    """Set up a demo workspace (once), print a fresh key and curl examples, and serve."""
    from subgroups.storage.migrate import upgrade

    settings = settings_for(database_url, as_json=False)
    # Before the database changes: a second demo must not revoke the key of one still serving.
    refuse_a_busy_port(
        host,
        port,
        advice=lambda free: (
            f"choose another port: make run PORT={free} (or subgroups demo --port {free})"
        ),
    )
    upgrade(settings.database_url)

    async def action(services: Services) -> tuple[NewApiKey, list[Group]]:
        workspaces = {w.name: w for w in await services.workspaces.list()}
        workspace = workspaces.get(DEMO_WORKSPACE) or await services.workspaces.create(
            name=DEMO_WORKSPACE
        )
        groups = {g.name: g for g in await services.groups.list(workspace_id=workspace.id)}
        for name, channel in DEMO_GROUPS:
            if name not in groups:
                groups[name] = await services.groups.create(
                    workspace_id=workspace.id, name=name, channel=channel
                )
        # A secret is shown only when created, so each run issues a new demo key and retires the old.
        for old in await services.keys.list(workspace_id=workspace.id):
            if old.name == DEMO_KEY_NAME and old.revoked_at is None:
                await services.keys.revoke(key_id=old.id, workspace_id=workspace.id)
        new = await services.keys.create(workspace_id=workspace.id, name=DEMO_KEY_NAME)
        await _reset_demo_admin(services, admin_password)
        return new, [groups[name] for name, _ in DEMO_GROUPS]

    # Like the key, the demo sign-in gets a fresh password at each run, shown in the banner.
    admin_password = secrets.token_urlsafe(12)
    new, (email_group, sms_group) = run(settings.database_url, False, action)
    base = f"http://{host}:{port}"
    click.echo(_banner(base, new, email_group, sms_group, settings.redacted_database_url()))
    click.echo(_dashboard_banner(base, admin_password))
    click.echo(_cli_banner())
    _serve(settings, host, port, workers)


async def _reset_demo_admin(services: Services, password: str) -> None:
    if any(o.email == DEMO_ADMIN for o in await services.operators.list()):
        await services.operators.set_password(email=DEMO_ADMIN, password=password)
    else:
        await services.operators.create(email=DEMO_ADMIN, password=password)


def _dashboard_banner(base: str, password: str) -> str:
    return "\n".join(
        [
            "The dashboard:",
            f"  open:             {base}/dashboard/",
            f"  email:            {DEMO_ADMIN}",
            f"  password:         {password}  (new at each run of subgroups demo)",
            "",
        ]
    )


def _cli_banner() -> str:
    """How to reach `subgroups` from another shell, where this environment is not on the PATH."""
    activate = Path(sys.prefix) / "bin" / "activate"
    if sys.prefix == sys.base_prefix or not activate.exists():
        return "\n".join(["The admin CLI, from another shell:", "  subgroups --help", ""])
    where = "from another shell"
    if activate.is_relative_to(Path.cwd()):
        activate, where = activate.relative_to(Path.cwd()), "from another shell in this directory"
    return "\n".join(
        [
            f"The admin CLI, {where}:",
            f"  source {shlex.quote(str(activate))}   # puts subgroups on that shell's PATH",
            "  subgroups workspace list",
            "",
        ]
    )


def _curl(base: str, path: str, body: str, key: str | None) -> str:
    auth = f"  -H {shlex.quote('Authorization: Bearer ' + key)} \\\n" if key else ""
    return (
        f"curl -X POST {base}{path} \\\n"
        f"  -H 'Content-Type: application/json' \\\n{auth}"
        f"  -d {shlex.quote(body)}"
    )


def _banner(base: str, new: NewApiKey, email_group: Group, sms_group: Group, db: str) -> str:
    email_body = (
        f'{{"subscription_group_id": "{email_group.id}", "subscription_state": "unsubscribed",'
        f' "external_id": "user-1", "email": "person@example.com"}}'
    )
    sms_body = (
        f'{{"subscription_group_id": "{sms_group.id}", "subscription_state": "subscribed",'
        f' "phone": ["+12223334444", "+14155552671"]}}'
    )
    legacy_body = (
        f'{{"api_key": "{new.secret}", "subscription_group_id": "{email_group.id}",'
        f' "subscription_state": "subscribed", "email": "person@example.com"}}'
    )
    return "\n".join(
        [
            "subgroups demo",
            f"  database:         {db}",
            f"  workspace:        {new.key.workspace_id} ({DEMO_WORKSPACE})",
            f"  API key:          {new.secret}",
            f"  email group id:   {email_group.id} ({email_group.name})",
            f"  SMS group id:     {sms_group.id} ({sms_group.name})",
            f"  serving on:       {base}",
            "",
            "Unsubscribe a user from the email group:",
            _curl(base, "/subscription/status/set", email_body, new.secret),
            "",
            "Subscribe two phone numbers to the SMS group:",
            _curl(base, "/subscription/status/set", sms_body, new.secret),
            "",
            "The legacy form, with the key in the body:",
            _curl(base, "/subscription/status/set", legacy_body, None),
            "",
        ]
    )
