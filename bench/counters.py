"""PostgreSQL's own counters of page and WAL traffic, read before and after a measured run.

They show where a large database's extra time goes: a page read is one the request needed that
was not in PostgreSQL's shared buffers (it came from the operating system's cache or the disk);
a full-page image is a whole 8 KiB page copied into the WAL because the request was the first
to change it since the last checkpoint.

The statistics a backend gathers reach the shared counters when it goes idle, at most once a
second and at the latest 10 s after; reading them waits long enough for the pool's connections
to have reported the run.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import asyncpg

REPORT_DELAY_SECONDS = 11.0  # PostgreSQL's idle flush interval (10 s) and a margin


@dataclass(frozen=True)
class PageCounters:
    hits: float  # pages found in shared buffers
    reads: float  # pages read into shared buffers
    written_by_backends: float  # pages written out by backends to make room (buffers_backend)
    wal_bytes: float
    full_page_images: float

    def __sub__(self, other: PageCounters) -> PageCounters:
        return PageCounters(
            self.hits - other.hits,
            self.reads - other.reads,
            self.written_by_backends - other.written_by_backends,
            self.wal_bytes - other.wal_bytes,
            self.full_page_images - other.full_page_images,
        )

    def per(self, requests: int) -> PageCounters:
        n = max(requests, 1)
        return PageCounters(
            self.hits / n,
            self.reads / n,
            self.written_by_backends / n,
            self.wal_bytes / n,
            self.full_page_images / n,
        )

    def line(self) -> str:
        return (
            f"{self.hits:,.0f} buffer hits, {self.reads:,.1f} reads,"
            f" {self.written_by_backends:,.1f} backend writes,"
            f" {self.wal_bytes / 1024:,.1f} KiB WAL ({self.full_page_images:,.1f} full-page images)"
        )


def page_counters(database_url: str) -> PageCounters:
    """The counters once the last run has reported them: buffer hits and reads of the database
    behind `database_url`; backend writes and WAL of the whole server, which the benchmark has
    to itself."""
    time.sleep(REPORT_DELAY_SECONDS)
    return asyncio.run(_read(database_url.replace("postgresql+asyncpg", "postgresql")))


_COUNTERS = """
SELECT d.blks_hit, d.blks_read, b.buffers_backend, w.wal_bytes, w.wal_fpi
FROM pg_stat_database AS d, pg_stat_bgwriter AS b, pg_stat_wal AS w
WHERE d.datname = current_database()
"""


async def _read(url: str) -> PageCounters:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(_COUNTERS)
    finally:
        await conn.close()
    assert row is not None  # the database is connected to, so it has its row
    return PageCounters(*(float(value) for value in row))
