"""The verdicts on the targets for reads, tail latency and the cost of metrics (R1-R4, M).

Each is a ratio or a latency from rows of the same run, so a slower or busier machine moves the
figure and its baseline together.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.results import Row

BACKENDS = ("SQLite", "PostgreSQL")
GET50 = "status/get, 50 external ids"
USER1 = "user/status, 1 external id"
EMAIL = "set, 1 email"
EXT50 = "set, 50 external ids"
TAIL_ROWS = (EMAIL, EXT50, GET50, USER1)
P99_LIMIT_MS = 25.0
METRICS_COST = 0.05

Find = Callable[[str, str, int], Row | None]


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def lines(rows: list[Row]) -> list[str]:
    """Table rows (| target | figure | baseline | ratio | verdict |) for what the run measured."""

    def find(scenario: str, backend: str, connections: int) -> Row | None:
        for row in rows:
            if (row.scenario, row.backend, row.connections, row.workers) == (
                scenario,
                backend,
                connections,
                1,
            ):
                return row
        return None

    return [*_throughput(find), *_tail(find), *_metrics_cost(rows)]


def _throughput(find: Find) -> list[str]:
    out: list[str] = []
    for backend in BACKENDS:
        get50, set50 = find(GET50, backend, 16), find(EXT50, backend, 16)
        if get50 is not None and get50.ratio is not None:
            out.append(_share("R1. status/get, 50 external ids", backend, get50, 0.15))
        if get50 is not None and set50 is not None and set50.rps:
            twice = get50.rps / set50.rps
            out.append(
                f"| R1. status/get, 50 external ids, {backend}, 16 connections >= 2x set, 50"
                f" external ids | {get50.rps:,.0f} req/s | {set50.rps:,.0f} req/s | {twice:.1f}x"
                f" | {verdict(twice >= 2)} |"
            )
    for backend in BACKENDS:
        user1 = find(USER1, backend, 16)
        if user1 is not None and user1.ratio is not None:
            out.append(_share("R2. user/status, 1 external id", backend, user1, 0.20))
    email = find(EMAIL, "SQLite", 16)
    if email is not None and email.ratio is not None:
        out.append(_share("R3. set, 1 email", "SQLite", email, 0.20))
    return out


def _share(target: str, backend: str, row: Row, least: float) -> str:
    ratio, baseline = row.ratio or 0.0, row.baseline_rps or 0.0  # both set: see the callers
    return (
        f"| {target}, {backend}, 16 connections >= {least:.0%} of bare Starlette"
        f" | {row.rps:,.0f} req/s | {baseline:,.0f} req/s | {ratio:.1%}"
        f" | {verdict(ratio >= least)} |"
    )


def _tail(find: Find) -> list[str]:
    out: list[str] = []
    for scenario in TAIL_ROWS:
        for backend in BACKENDS:
            row = find(scenario, backend, 16)
            if row is None:
                continue
            others = [find(scenario, backend, c) for c in (4, 64)]
            spread = ", ".join(
                f"{r.connections}: p50 {r.p50_ms:.1f} / p99 {r.p99_ms:.1f} ms"
                for r in (others[0], row, others[1])
                if r is not None
            )
            out.append(
                f"| R4. p99 of {scenario}, {backend}, 16 connections <= {P99_LIMIT_MS:.0f} ms"
                f" | {row.p99_ms:.1f} ms ({spread}) | - | - | {verdict(row.p99_ms <= P99_LIMIT_MS)} |"
            )
    return out


def _metrics_cost(rows: list[Row]) -> list[str]:
    out: list[str] = []
    for backend in BACKENDS:
        on = [r.rps for r in rows if r.backend == f"{backend}, metrics on"]
        off = [r.rps for r in rows if r.backend == f"{backend}, metrics off"]
        if not on or not off:
            continue
        mean_on, mean_off = sum(on) / len(on), sum(off) / len(off)
        ratio = mean_on / mean_off
        out.append(
            f"| M. set, 1 email, {backend}, 16 connections, metrics on within"
            f" {METRICS_COST:.0%} of off (mean of {len(on)} runs each, in turns)"
            f" | {mean_on:,.0f} req/s | {mean_off:,.0f} req/s | {ratio:.1%}"
            f" | {verdict(ratio >= 1 - METRICS_COST)} |"
        )
    return out
