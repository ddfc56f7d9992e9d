"""Driving a server with wrk, and reading wrk's numbers back."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("set_status.lua")
PATH = "/subscription/status/set"


@dataclass(frozen=True)
class Mix:
    """What the requests of a run look like (see set_status.lua)."""

    mode: str  # "email", "ext50" or "overlap"
    pool: int
    prefix: str
    stride: int = 1
    modulus: int = 0  # 0: entry n of the pool is profile n

    def value(self, n: int) -> str:
        """The n-th identifier of the pool, as set_status.lua names it."""
        return f"{self.prefix}{(n * self.stride) % self.modulus if self.modulus else n}"

    @property
    def ids_per_request(self) -> int:
        return 1 if self.mode == "email" else 50


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors and timeouts
    bad_status: int  # responses that are not 2xx/3xx

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def ensure_wrk() -> str:
    """wrk's path, installing it from the distribution's packages when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: installing it with apt-get", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        check=True,
        env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk could not be installed")
    return found


def wrk_command(
    url: str, *, key: str, group_id: str, mix: Mix, connections: int, duration: str
) -> list[str]:
    return [
        ensure_wrk(),
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        duration,
        "--timeout",
        "10s",
        "--latency",
        "--script",
        str(SCRIPT),
        url + PATH,
        "--",
        key,
        group_id,
        mix.mode,
        str(mix.pool),
        mix.prefix,
        str(mix.stride),
        str(mix.modulus),
    ]


def run_wrk(
    url: str, *, key: str, group_id: str, mix: Mix, connections: int, duration: str
) -> LoadResult:
    command = wrk_command(
        url, key=key, group_id=group_id, mix=mix, connections=connections, duration=duration
    )
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse(done.stdout)


def parse(output: str) -> LoadResult:
    for line in output.splitlines():
        if line.startswith("BENCH-RESULT "):
            raw = json.loads(line.removeprefix("BENCH-RESULT "))
            return LoadResult(
                requests=raw["requests"],
                seconds=raw["duration_us"] / 1e6,
                p50_ms=raw["p50_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                max_ms=raw["max_us"] / 1000,
                errors=raw["connect_errors"]
                + raw["read_errors"]
                + raw["write_errors"]
                + raw["timeouts"],
                bad_status=raw["bad_status"],
            )
    raise RuntimeError(f"wrk printed no result:\n{output}")
