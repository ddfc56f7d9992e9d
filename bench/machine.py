"""What the numbers were measured on."""

from __future__ import annotations

import asyncio
import os
import platform
import sqlite3
import subprocess
from importlib.metadata import version
from pathlib import Path

import asyncpg


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def _settings(url: str, *names: str) -> list[str]:
    async def go() -> list[str]:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            return [str(await conn.fetchval(f"SHOW {name}")) for name in names]
        finally:
            await conn.close()

    return asyncio.run(go())


def postgres_version(url: str) -> str:
    """The server's version and the setting that most changes its figures on a large database."""
    try:
        version, buffers = _settings(url, "server_version", "shared_buffers")
    except (OSError, asyncpg.PostgresError) as error:
        return f"unavailable ({error})"
    return f"{version}, shared_buffers {buffers}"


def shared_buffers(url: str) -> str:
    return _settings(url, "shared_buffers")[0]


def wrk_version() -> str:
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).split("Copyright")[0].strip()


def describe(postgres_url: str) -> list[tuple[str, str]]:
    return [
        ("CPU", f"{cpu_model()}, {os.cpu_count()} cores"),
        ("Memory", f"{memory_gib():.1f} GiB"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("PostgreSQL", postgres_version(postgres_url)),
        (
            "Server",
            f"uvicorn {version('uvicorn')} with uvloop {version('uvloop')} and httptools"
            f" {version('httptools')} (h11 {version('h11')} for comparison),"
            f" starlette {version('starlette')}",
        ),
        ("Load generator", wrk_version()),
        ("Load average at start", " ".join(f"{x:.2f}" for x in os.getloadavg())),
    ]
