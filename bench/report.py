"""Writing the figures of a run into BENCHMARKS.md, between markers that keep the prose around them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import read_targets
from bench.results import Row

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


@dataclass(frozen=True)
class MemorySample:
    backend: str
    requests: int  # served by the worker so far
    rss_kib: int


@dataclass(frozen=True)
class Consistency:
    backend: str
    connections: int
    changes: int
    inconsistent: int


@dataclass
class Report:
    region: str
    command: str
    duration: str
    machine: list[tuple[str, str]]
    rows: list[Row]
    memory: list[MemorySample] = field(default_factory=list)
    consistency: list[Consistency] = field(default_factory=list)
    log_findings: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def find(
    rows: list[Row], scenario: str, backend: str, connections: int, workers: int = 1
) -> Row | None:
    for row in rows:
        if (row.scenario, row.backend, row.connections, row.workers) == (
            scenario,
            backend,
            connections,
            workers,
        ):
            return row
    return None


def results_table(rows: list[Row]) -> list[str]:
    lines = [
        "| scenario | backend | workers | connections | req/s | state changes/s | p50 ms | p99 ms"
        " | failures | vs baseline |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        changes = f"{r.changes_per_s:,.0f}" if r.changes_per_s is not None else "-"
        ratio = f"{r.ratio:.0%}" if r.ratio is not None else "-"
        lines.append(
            f"| {r.scenario} | {r.backend} | {r.workers} | {r.connections} | {r.rps:,.0f}"
            f" | {changes} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.failures} | {ratio} |"
        )
    return lines


def memory_table(samples: list[MemorySample]) -> list[str]:
    lines: list[str] = []
    for backend in dict.fromkeys(s.backend for s in samples):
        mine = [s for s in samples if s.backend == backend]
        first, last = mine[0], mine[-1]
        growth = (last.rss_kib - first.rss_kib) / first.rss_kib if first.rss_kib else 0.0
        peak = max(s.rss_kib for s in mine)
        lines.append(
            f"- {backend}, one worker: RSS {first.rss_kib / 1024:.1f} MiB after warm-up,"
            f" {last.rss_kib / 1024:.1f} MiB after {last.requests:,} more requests"
            f" ({growth:+.1%}); peak {peak / 1024:.1f} MiB."
        )
    return lines


PGBENCH = "pgbench, same SQL as 50 ids"


def targets(report: Report) -> list[str]:
    """Each target of the performance issue that this run measured, with its verdict."""
    rows, lines = report.rows, []

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    for connections in (4, 16, 64):
        email = find(rows, "set, 1 email", "SQLite", connections)
        if email is not None and email.ratio is not None and email.baseline_rps:
            lines.append(
                f"| 1. v1 set, 1 email, SQLite, {connections} connections >= 40% of bare"
                f" Starlette | {email.rps:,.0f} req/s | {email.baseline_rps:,.0f} req/s"
                f" | {email.ratio:.0%} | {verdict(email.ratio >= 0.40)} |"
            )
    for connections in (4, 16, 64):
        ours = find(rows, "set, 50 external ids", "PostgreSQL", connections)
        ceiling = find(rows, PGBENCH, "PostgreSQL", connections, workers=0)
        if ours is not None and ceiling is not None and ceiling.rps:
            ratio = ours.rps / ceiling.rps
            lines.append(
                f"| 2. v1 set, 50 external ids, PostgreSQL, {connections} connections >= 60% of"
                f" pgbench | {ours.rps:,.0f} req/s | {ceiling.rps:,.0f} tx/s | {ratio:.1%}"
                f" | {verdict(ratio >= 0.60)} |"
            )
    for backend in ("SQLite", "PostgreSQL"):
        low = find(rows, "overlapping", backend, 4)
        high = find(rows, "overlapping", backend, 64)
        checks = [c for c in report.consistency if c.backend.lower() == backend.lower()]
        if low is None or high is None or not low.rps:
            continue
        ratio = high.rps / low.rps
        failures = low.failures + high.failures
        broken = sum(c.inconsistent for c in checks)
        deadlocks = sum(
            found.get("deadlocks", 0)
            for who, found in report.log_findings
            if who.lower() == f"{backend.lower()}, 1 worker"
        )
        ok = ratio >= 0.80 and failures == 0 and broken == 0 and deadlocks == 0
        lines.append(
            f"| 3. overlapping 50-id batches, {backend}: 64 connections >= 80% of 4, no errors,"
            f" deadlocks or lost updates | {high.rps:,.0f} req/s, {failures} errors,"
            f" {deadlocks} deadlocks, {broken} inconsistent changes | {low.rps:,.0f} req/s"
            f" | {ratio:.0%} | {verdict(ok)} |"
        )
    for backend in dict.fromkeys(m.backend for m in report.memory):
        mine = [m for m in report.memory if m.backend == backend]
        first, last = mine[0], mine[-1]
        growth = (last.rss_kib - first.rss_kib) / first.rss_kib if first.rss_kib else 0.0
        peak = max(m.rss_kib for m in mine) / 1024
        ok = abs(growth) <= 0.10 and peak < 150
        lines.append(
            f"| 5. RSS of one worker flat (within 10%) and under 150 MB, {backend} |"
            f" {last.rss_kib / 1024:.0f} MiB after {last.requests:,} requests, peak {peak:.0f} MiB"
            f" | {first.rss_kib / 1024:.0f} MiB after warm-up | {growth:+.1%} | {verdict(ok)} |"
        )
    lines += read_targets.lines(rows)
    if not lines:
        return []
    return [
        "| target | figure | baseline | ratio | verdict |",
        "| --- | --- | --- | ---: | --- |",
        *lines,
    ]


def render(report: Report) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {now} with `{report.command}`: each run lasts {report.duration}, after a"
        " warm-up, with wrk on the same machine.",
        "",
        "| machine | |",
        "| --- | --- |",
        *(f"| {name} | {value} |" for name, value in report.machine),
        "",
        *(results_table(report.rows) if report.rows else []),
        "",
        *targets(report),
        "",
        *report.extra,
    ]
    if report.consistency:
        lines += ["", "Overlapping batches, history check (lost updates):", ""]
        lines += [
            f"- {c.backend}, {c.connections} connections: {c.changes:,} state changes checked,"
            f" {c.inconsistent} inconsistent."
            for c in report.consistency
        ]
    if report.memory:
        lines += ["", "Memory:", "", *memory_table(report.memory)]
    if report.log_findings:
        lines += ["", "Server logs (tracebacks, deadlocks, lock time-outs):", ""]
        lines += [
            f"- {who}: " + ", ".join(f"{word} {n}" for word, n in found.items())
            for who, found in report.log_findings
        ]
    return "\n".join(lines).rstrip() + "\n"


def write(report: Report, path: Path = BENCHMARKS) -> None:
    write_block(report.region, render(report), path)


def write_block(region: str, rendered: str, path: Path = BENCHMARKS) -> None:
    """Puts `rendered` between the region's markers, wherever they are in the file (at its end,
    under a heading of their own, the first time)."""
    start, end = f"<!-- bench:{region}:start -->", f"<!-- bench:{region}:end -->"
    block = f"{start}\n{rendered}{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    else:
        text = text.rstrip() + f"\n\n## Latest `{region}` run\n\n{block}\n"
    path.write_text(text)
    print(f"\nwrote {path.name} (section '{region}')")
