"""`python -m bench.imports`: CSV import and streamed export speed on each backend (§10).

A generated file of BENCH_IMPORT_ROWS rows (default 1,000,000: external_id, email,
subscription_group_id, subscription_state), half of them for people an earlier import created (in
the other group), half for new people. Each step is its own `subgroups` process, so its peak
resident memory is its own: the dry run, the import, then the export of every state. The same
run's baseline is Python's `csv` module reading the same file, with nothing else done: the
figures are ratios to it, as the machine is shared and absolute figures drift. listmonk publishes
about 10,000 rows/s for its import; its figure is quoted, not measured here.

Writes its section of BENCHMARKS.md (`<!-- bench:imports:... -->`).
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench.fixtures import POSTGRES_ADMIN_URL, drop_postgres, recreate_postgres, sqlite_url

BENCHMARKS = Path(__file__).parents[1] / "BENCHMARKS.md"
PG_DATABASE = "subgroups_bench_imports"
LISTMONK_ROWS_PER_SECOND = 10_000


@dataclass(frozen=True)
class Step:
    backend: str
    name: str
    rows: int
    seconds: float
    peak_rss_mib: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def subgroups(database_url: str, *arguments: str) -> tuple[str, float, float]:
    """Runs one command; its output, wall time and peak RSS (MiB, of that process alone)."""
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
        return out.read().decode(), elapsed, usage.ru_maxrss / 1024


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


def run_backend(backend: str, rows: int, directory: Path) -> tuple[list[Step], float]:
    url = (
        sqlite_url(directory)
        if backend == "sqlite"
        else recreate_postgres(POSTGRES_ADMIN_URL, PG_DATABASE)
    )
    try:
        subgroups(url, "db", "upgrade")
        workspace = orjson.loads(subgroups(url, "workspace", "create", "Bench", "--json")[0])["id"]
        groups = [
            orjson.loads(
                subgroups(
                    url,
                    "group",
                    "create",
                    "--workspace",
                    str(workspace),
                    "--name",
                    name,
                    "--channel",
                    "email",
                    "--json",
                )[0]
            )["id"]
            for name in ("Earlier", "Measured")
        ]
        ws = str(workspace)
        # The earlier import: the people of the measured file's first half exist already.
        earlier, measured = directory / "earlier.csv", directory / "measured.csv"
        write_file(earlier, rows // 2, groups[0], offset=0)
        subgroups(url, "import", str(earlier), "--workspace", ws, "--json")
        write_file(measured, rows, groups[1], offset=0)
        baseline = csv_baseline(measured)
        steps = []
        for name, extra in (("dry run", ["--dry-run"]), ("import", [])):
            out, seconds, peak = subgroups(
                url, "import", str(measured), "--workspace", ws, "--json", *extra
            )
            assert orjson.loads(out)["rows"] == rows
            steps.append(Step(backend, name, rows, seconds, peak))
        exported = directory / "states.csv"
        _, seconds, peak = subgroups(
            url, "export", "states", "--workspace", ws, "-o", str(exported)
        )
        lines = sum(1 for _ in exported.open()) - 1
        steps.append(Step(backend, "export states", lines, seconds, peak))
        return steps, baseline
    finally:
        if backend == "postgresql":
            drop_postgres(POSTGRES_ADMIN_URL, PG_DATABASE)


def render(rows: int, results: list[tuple[list[Step], float]]) -> str:
    lines = [
        f"`BENCH_IMPORT_ROWS={rows} python -m bench.imports`; half the rows for people an earlier",
        "import created, half new. Wall time of each `subgroups` process (start-up included);",
        "peak RSS of that process. Baseline: Python's `csv` reading the same file in the same run.",
        f"listmonk's published import speed: about {LISTMONK_ROWS_PER_SECOND:,} rows/s.",
        "",
        "| backend | step | rows | seconds | rows/s | x listmonk | x csv read | peak RSS MiB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for steps, baseline in results:
        for s in steps:
            lines.append(
                f"| {s.backend} | {s.name} | {s.rows:,} | {s.seconds:.1f} | {s.rate:,.0f} |"
                f" {s.rate / LISTMONK_ROWS_PER_SECOND:.2f} | {s.rate / baseline:.3f} |"
                f" {s.peak_rss_mib:.0f} |"
            )
    return "\n".join(lines) + "\n"


def write(text: str) -> None:
    start, end = "<!-- bench:imports:start -->", "<!-- bench:imports:end -->"
    block = f"{start}\n{text}{end}"
    current = BENCHMARKS.read_text()
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(current):
        current = pattern.sub(lambda _m: block, current)
    else:
        current = current.rstrip() + f"\n\n## Latest `imports` run\n\n{block}\n"
    BENCHMARKS.write_text(current)


def main() -> None:
    rows = int(os.environ.get("BENCH_IMPORT_ROWS", "1000000"))
    backends = sys.argv[1:] or ["sqlite", "postgresql"]
    results = []
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="subgroups-bench-imports-") as directory:
            results.append(run_backend(backend, rows, Path(directory)))
            for step in results[-1][0]:
                print(
                    f"{step.backend} {step.name}: {step.rate:,.0f} rows/s, {step.peak_rss_mib:.0f} MiB"
                )
    text = render(rows, results)
    print(text)
    write(text)


if __name__ == "__main__":
    main()
