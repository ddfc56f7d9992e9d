"""Benchmarks of the set endpoint, run against the real server, and written to BENCHMARKS.md.

    python -m bench                 the full suite (several minutes)
    python -m bench --quick         about a minute: 5 s runs at 16 connections only
    BENCH_DURATION=30s python -m bench
    python -m bench.webhooks        webhook delivery under load (also run at the end of the above)
    python -m bench.imports         CSV import and export, 1,000,000 rows (also run at the end)
    python -m bench.cpu             CPU time per one-email set on SQLite, per thread of the server

Every figure is compared with a baseline measured in the same run on the same machine, because
the machine is shared and its absolute speed varies from minute to minute.
"""
