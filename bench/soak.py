"""Memory: the RSS of one worker over many requests.

    python -m bench.soak                       1,000,000 requests on SQLite
    BENCH_SOAK_REQUESTS=200000 BENCH_SOAK_BACKEND=postgresql python -m bench.soak

The worker serves runs of wrk, alternating one email and 50 external ids per request, until the
count is reached; its RSS is read after the warm-up and after every run.
"""

from __future__ import annotations

import os
from pathlib import Path
from tempfile import mkdtemp

from bench import report
from bench.fixtures import POSTGRES_ADMIN_URL, Fixture, drop_postgres, recreate_postgres, sqlite_url
from bench.load import ensure_wrk, run_wrk
from bench.machine import describe
from bench.results import Row
from bench.servers import rss_kib, running, service_command
from bench.suite import EMAIL, EXT50

RUN = "30s"
PG_DATABASE = "subgroups_soak"


def main() -> None:
    ensure_wrk()
    wanted = int(os.environ.get("BENCH_SOAK_REQUESTS", "1000000"))
    backend = os.environ.get("BENCH_SOAK_BACKEND", "sqlite")
    logs = Path(mkdtemp(prefix="subgroups-soak-"))
    machine = describe(POSTGRES_ADMIN_URL)
    url = (
        sqlite_url(logs)
        if backend == "sqlite"
        else recreate_postgres(POSTGRES_ADMIN_URL, PG_DATABASE)
    )
    fixture = Fixture(url)
    for mix in (EMAIL, EXT50):
        fixture.seed(mix)
    samples: list[report.MemorySample] = []
    rows: list[Row] = []
    with running(service_command(url, 1), logs / "server.log") as server:
        warm = fixture.new_group("warm-up")
        run_wrk(
            server.url,
            key=fixture.tenant.key,
            group_id=warm,
            mix=EMAIL,
            connections=16,
            duration="5s",
        )
        served = 0
        samples.append(report.MemorySample(backend, served, rss_kib(server)))
        print(f"after warm-up: {samples[-1].rss_kib / 1024:.1f} MiB", flush=True)
        turn = 0
        while served < wanted:
            mix = (EMAIL, EXT50)[turn % 2]
            turn += 1
            group_id = fixture.new_group(f"soak {turn}")
            result = run_wrk(
                server.url,
                key=fixture.tenant.key,
                group_id=group_id,
                mix=mix,
                connections=16,
                duration=RUN,
            )
            served += result.requests
            samples.append(report.MemorySample(backend, served, rss_kib(server)))
            rows.append(
                Row(
                    f"soak run {turn}, {mix.mode}",
                    backend,
                    1,
                    16,
                    result.rps,
                    result.p50_ms,
                    result.p99_ms,
                    failures=result.errors + result.bad_status,
                )
            )
            print(
                f"{served:>9,} requests: RSS {samples[-1].rss_kib / 1024:.1f} MiB"
                f" ({result.rps:,.0f} req/s, {rows[-1].failures} failures)",
                flush=True,
            )
    if backend != "sqlite":
        drop_postgres(POSTGRES_ADMIN_URL, PG_DATABASE)
    failures = sum(r.failures for r in rows)
    extra = [
        "RSS after warm-up and after each run, in MiB: "
        + ", ".join(f"{s.rss_kib / 1024:.1f}" for s in samples),
        "",
        f"{served:,} requests in {len(rows)} runs, {failures} failures.",
    ]
    report.write(
        report.Report(
            region=f"soak-{backend}",
            command=f"BENCH_SOAK_REQUESTS={wanted} BENCH_SOAK_BACKEND={backend} python -m bench.soak",
            duration=RUN,
            machine=machine,
            rows=[],
            memory=samples,
            extra=extra,
        )
    )


if __name__ == "__main__":
    main()
