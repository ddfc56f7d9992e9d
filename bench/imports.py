"""`python -m bench.imports` (also run by `make bench`): CSV import and streamed export speed on
each backend (§10), against the targets of the contract's import and export.

A generated file of BENCH_IMPORT_ROWS rows (default 1,000,000; 20,000 with --quick or
BENCH_QUICK=1): external_id, email, subscription_group_id, subscription_state; half of them for
people an earlier import created (in the other group), half for new people. Each step is its own
`subgroups` process, so its peak resident memory and its CPU time are its own: the dry run, the
import, then the export of every state (the earlier import's and the measured one's), as CSV and
as NDJSON. The same run's baseline is Python's `csv` module reading the same file, with nothing
else done: the ratios to it hold better than absolute figures on a shared machine, whose load
average is reported with each step. listmonk publishes about 10,000 rows/s for its import; its
figure is quoted, not measured here.

Writes its section of BENCHMARKS.md (`<!-- bench:imports:... -->`, `imports-quick` for a quick run).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench import report
from bench.fixtures import POSTGRES_ADMIN_URL, drop_postgres, recreate_postgres, sqlite_url
from bench.options import Options, parse_options

PG_DATABASE = "subgroups_bench_imports"
LISTMONK_ROWS_PER_SECOND = 10_000
QUICK_ROWS = 20_000
FULL_ROWS = 1_000_000
# The targets: rows/s of an import by backend, an export's 1,000,000 lines within 10 s, and at
# most 200 MiB resident throughout.
IMPORT_TARGET = {"sqlite": 50_000, "postgresql": 30_000}
EXPORT_TARGET = 100_000
MEMORY_TARGET_MIB = 200


@dataclass(frozen=True)
class Step:
    backend: str
    name: str
    rows: int
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    load: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds

    @property
    def target(self) -> int | None:
        if self.name.startswith("export"):
            return EXPORT_TARGET
        return IMPORT_TARGET[self.backend] if self.name == "import" else None

    def verdict(self) -> str:
        target = self.target
        memory = self.peak_rss_mib <= MEMORY_TARGET_MIB
        if target is None:
            return "-" if memory else f"over {MEMORY_TARGET_MIB} MiB"
        fast = self.rate >= target
        if fast and memory:
            return "met"
        reasons = [] if fast else [f"below {target:,}/s"]
        reasons += [] if memory else [f"over {MEMORY_TARGET_MIB} MiB"]
        return "not met: " + ", ".join(reasons)


@dataclass(frozen=True)
class Run:
    ran: str
    out: str
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    load: float


def subgroups(database_url: str, *arguments: str) -> Run:
    """Runs one command: its output, wall time, CPU time and peak RSS (of that process alone),
    and the machine's load average (1 minute) when it ended."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "subgroups", *arguments, "--database-url", database_url],
            stdout=out,
            stderr=err,
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise RuntimeError(f"subgroups {' '.join(arguments)} failed: {err.read().decode()}")
        return Run(
            " ".join(arguments),
            out.read().decode(),
            elapsed,
            usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss / 1024,
            os.getloadavg()[0],
        )


def write_file(path: Path, rows: int, group: str, *, offset: int) -> None:
    with path.open("w") as out:
        out.write("external_id,email,subscription_group_id,subscription_state\n")
        for i in range(offset, offset + rows):
            state = "unsubscribed" if i % 5 == 0 else "subscribed"
            out.write(f"person-{i},person{i}@example.com,{group},{state}\n")


def csv_baseline(path: Path) -> float:
    started = time.perf_counter()
    with path.open(newline="") as f:
        count = sum(1 for _ in csv.reader(f)) - 1
    return count / (time.perf_counter() - started)


def step(backend: str, name: str, rows: int, run: Run) -> Step:
    found = Step(backend, name, rows, run.seconds, run.cpu_seconds, run.peak_rss_mib, run.load)
    print(
        f"{backend} {name}: {found.rate:,.0f} rows/s, {found.cpu_seconds:.1f} s CPU,"
        f" {found.peak_rss_mib:.0f} MiB, load {found.load:.1f}",
        flush=True,
    )
    return found


def create(url: str, *arguments: str) -> str:
    created: str = orjson.loads(subgroups(url, *arguments, "--json").out)["id"]
    return created


def run_backend(backend: str, rows: int, directory: Path) -> tuple[list[Step], float]:
    url = (
        sqlite_url(directory)
        if backend == "sqlite"
        else recreate_postgres(POSTGRES_ADMIN_URL, PG_DATABASE)
    )
    try:
        subgroups(url, "db", "upgrade")
        ws = str(create(url, "workspace", "create", "Bench"))
        groups = [
            create(url, "group", "create", "--workspace", ws, "--name", name, "--channel", "email")
            for name in ("Earlier", "Measured")
        ]
        # The earlier import: the people of the measured file's first half exist already.
        earlier, measured = directory / "earlier.csv", directory / "measured.csv"
        write_file(earlier, rows // 2, groups[0], offset=0)
        subgroups(url, "import", str(earlier), "--workspace", ws, "--json")
        write_file(measured, rows, groups[1], offset=0)
        baseline = csv_baseline(measured)
        steps = []
        for name, extra in (("dry run", ["--dry-run"]), ("import", [])):
            run = subgroups(url, "import", str(measured), "--workspace", ws, "--json", *extra)
            assert orjson.loads(run.out)["rows"] == rows
            steps.append(step(backend, name, rows, run))
        for fmt in ("csv", "ndjson"):
            exported = directory / f"states.{fmt}"
            run = subgroups(
                url, "export", "states", "--workspace", ws, "--format", fmt, "-o", str(exported)
            )
            lines = sum(1 for _ in exported.open()) - (fmt == "csv")
            steps.append(step(backend, f"export states, {fmt}", lines, run))
            exported.unlink()
        return steps, baseline
    finally:
        if backend == "postgresql":
            drop_postgres(POSTGRES_ADMIN_URL, PG_DATABASE)


def render(rows: int, quick: bool, results: list[tuple[list[Step], float]]) -> str:
    command = "BENCH_QUICK=1 python -m bench.imports" if quick else "python -m bench.imports"
    if rows != (QUICK_ROWS if quick else FULL_ROWS):
        command = f"BENCH_IMPORT_ROWS={rows} {command}"
    lines = [
        f"`{command}` (also run by `make bench`); half the rows for people an earlier",
        "import created, half new. Wall time of each `subgroups` process (start-up included);",
        "its CPU time (user + system, all its threads) and peak RSS; the machine's load average",
        "when it ended. Baseline: Python's `csv` reading the same file in the same run.",
        f"listmonk's published import speed: about {LISTMONK_ROWS_PER_SECOND:,} rows/s. Targets:",
        f"import {IMPORT_TARGET['sqlite']:,} rows/s on SQLite, {IMPORT_TARGET['postgresql']:,}"
        f" on PostgreSQL; export {EXPORT_TARGET:,} lines/s (1,000,000 in 10 s); at most"
        f" {MEMORY_TARGET_MIB} MiB.",
        "",
        "| backend | step | rows | seconds | CPU s | rows/s | x listmonk | x csv read"
        " | peak RSS MiB | load | verdict |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for steps, baseline in results:
        for s in steps:
            lines.append(
                f"| {s.backend} | {s.name} | {s.rows:,} | {s.seconds:.1f} | {s.cpu_seconds:.1f} |"
                f" {s.rate:,.0f} | {s.rate / LISTMONK_ROWS_PER_SECOND:.2f} |"
                f" {s.rate / baseline:.3f} | {s.peak_rss_mib:.0f} | {s.load:.1f} |"
                f" {'(quick: start-up dominates)' if quick else s.verdict()} |"
            )
        lines.append(
            f"| {steps[0].backend} | baseline: csv read | {steps[0].rows:,} | | |"
            f" {baseline:,.0f} | | 1.000 | | | |"
        )
    return "\n".join(lines) + "\n"


def run(options: Options) -> None:
    default = QUICK_ROWS if options.quick else FULL_ROWS
    rows = int(os.environ.get("BENCH_IMPORT_ROWS", default))
    results = []
    for backend in options.backends:
        with tempfile.TemporaryDirectory(prefix="subgroups-bench-imports-") as directory:
            results.append(run_backend(backend, rows, Path(directory)))
    text = render(rows, options.quick, results)
    print(text)
    report.write_block("imports-quick" if options.quick else "imports", text, report.BENCHMARKS)


def main(argv: list[str] | None = None) -> None:
    run(parse_options("python -m bench.imports", __doc__, sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
