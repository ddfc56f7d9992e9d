"""How much memory a CSV upload costs the server that takes it (POST /imports).

Starts `subgroups serve` on a fresh database, sends it one file of about --megabytes MB, and reads
the server's peak resident memory (VmHWM) before and after. The import loop is off
(SUBGROUPS_RUN_IMPORTS=false) unless --run-import is given, so the figure is the upload's alone:
reading the body, checking the file and storing it with its job.

    uv run python scripts/measure_upload_memory.py                   # SQLite, ~50 MB
    uv run python scripts/measure_upload_memory.py --database-url postgresql://postgres@127.0.0.1/m
    uv run python scripts/measure_upload_memory.py --run-import      # and the import's run after

The PostgreSQL database must exist and be empty; it is migrated here.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

from subgroups.config import Settings
from subgroups.container import build_services
from subgroups.storage.migrate import upgrade

# Run as a file, this script has only scripts/ on its path; the repository root holds the launcher.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.servers import ServerProcess, running, subgroups

MIB = 1024 * 1024


async def tenant(database_url: str) -> tuple[str, str]:
    """A workspace's key and email group id."""
    services = build_services(Settings(database_url=database_url))
    try:
        workspace = await services.workspaces.create(name="upload memory")
        key = await services.keys.create(workspace_id=workspace.id, name="upload")
        group = await services.groups.create(
            workspace_id=workspace.id, name="Newsletter", channel="email"
        )
        return key.secret, group.id
    finally:
        await services.aclose()


def write_file(path: Path, group_id: str, megabytes: float) -> int:
    wanted = int(megabytes * 1_000_000)
    size = 0
    with path.open("w") as out:
        size += out.write("external_id,email,subscription_group_id,subscription_state\n")
        n = 0
        while size < wanted:
            size += out.write(f"person-{n},person{n}@example.com,{group_id},subscribed\n")
            n += 1
    return path.stat().st_size


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--megabytes", type=float, default=50.0)
    parser.add_argument("--run-import", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'subgroups.db'}"
        upgrade(url)
        key, group_id = asyncio.run(tenant(url))
        path = Path(folder) / "people.csv"
        size = write_file(path, group_id, args.megabytes)
        env = {
            "SUBGROUPS_RUN_IMPORTS": "true" if args.run_import else "false",
            "SUBGROUPS_IMPORT_MAX_BYTES": str(4 * size),
        }
        server = ServerProcess(subgroups("serve", url), log=Path(folder) / "server.log", env=env)
        with running(server), httpx.Client(base_url=server.url, timeout=600) as http:
            pid = server.process.pid
            http.get("/healthz")
            before = status_kib(pid, "VmHWM")
            started = time.monotonic()
            with path.open("rb") as body:
                answer = http.post(
                    "/imports",
                    content=body,
                    headers={
                        "Authorization": f"Bearer {key}",
                        "Content-Type": "text/csv",
                        "Content-Length": str(size),
                    },
                )
            took = time.monotonic() - started
            assert answer.status_code == 202, answer.text
            after_upload = status_kib(pid, "VmHWM")
            print(f"file: {size / MIB:.1f} MiB ({size:,} bytes); database: {url.split(':')[0]}")
            print(f"peak RSS before the upload: {before / 1024:.0f} MiB")
            print(
                f"peak RSS after the upload:  {after_upload / 1024:.0f} MiB"
                f" (+{(after_upload - before) / 1024:.0f} MiB, {took:.1f} s)"
            )
            if args.run_import:
                path_of = f"/imports/{answer.json()['import_id']}"
                while http.get(path_of, headers={"Authorization": f"Bearer {key}"}).json()[
                    "status"
                ] not in ("finished", "failed"):
                    time.sleep(0.5)
                ran = status_kib(pid, "VmHWM")
                print(f"peak RSS after its run:     {ran / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
