"""`subgroups key rotate`, through the real command line."""

from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner

from subgroups.cli import main
from subgroups.config import Settings
from subgroups.container import build_services
from tests.factories import make_workspace


def _workspace(database_url: str) -> int:
    async def go() -> int:
        services = build_services(Settings(database_url=database_url))
        try:
            return (await make_workspace(services)).id
        finally:
            await services.aclose()

    return asyncio.run(go())


def _cli(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    document: dict[str, object] = json.loads(result.output)
    assert result.exit_code == 0, result.output
    return document


def test_rotate_prints_the_new_secret_once_and_retires_the_old_key(database_url: str) -> None:
    db = ["--database-url", database_url, "--json"]
    workspace_id = _workspace(database_url)
    created = _cli("key", "create", "--workspace", str(workspace_id), "--name", "crm", *db)

    rotated = _cli("key", "rotate", str(created["id"]), *db)
    listed = _cli("key", "list", *db)

    assert set(rotated) == {"id", "key", "workspace_id", "permissions", "replaces"}
    assert rotated["replaces"] == created["id"]
    assert rotated["workspace_id"] == workspace_id
    assert rotated["permissions"] == created["permissions"]
    assert str(rotated["key"]).startswith("sgk_")
    assert rotated["key"] != created["key"]
    keys = {k["id"]: k for k in listed["keys"]}  # type: ignore[attr-defined]
    assert keys[created["id"]]["revoked_at"] is not None
    assert keys[rotated["id"]]["revoked_at"] is None
    assert keys[rotated["id"]]["name"] == "crm"
    assert str(rotated["key"]) not in json.dumps(listed)


def test_rotate_with_a_grace_period_and_refusals(database_url: str) -> None:
    db = ["--database-url", database_url, "--json"]
    created = _cli("key", "create", "--workspace", str(_workspace(database_url)), *db)

    rotated = _cli("key", "rotate", str(created["id"]), "--grace-seconds", "600", *db)
    again = CliRunner().invoke(main, ["key", "rotate", "999", *db])
    negative = CliRunner().invoke(
        main, ["key", "rotate", str(rotated["id"]), "--grace-seconds", "-1"]
    )
    endless = CliRunner().invoke(
        main, ["key", "rotate", str(rotated["id"]), "--grace-seconds", str(10**12)]
    )

    assert rotated["replaces"] == created["id"]
    assert again.exit_code == 1
    assert json.loads(again.output) == {"message": "No API key 999"}
    assert negative.exit_code == 2
    assert endless.exit_code == 2
