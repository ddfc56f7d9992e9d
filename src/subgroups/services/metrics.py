"""The server's metrics, for an operator's Prometheus: what every layer counts and times.

One `Metrics` per process, built with the services and handed to whoever records: the web layer
(requests by route and status, and their latency), the services (rate-limit refusals, key-cache
hits), storage (the SQLite writer's batches and commits, the PostgreSQL pools).

Under `subgroups serve --workers N` each worker records into files of prometheus_client's
multiprocess mode, in a directory the server makes for its workers (PROMETHEUS_MULTIPROC_DIR), and
whichever worker answers a scrape reads them all: one scrape sees the whole server. One process
alone keeps its values in memory.

Adding metrics (the one place to do it):
- a value recorded as things happen: make it here, with `metrics.counter(...)`, `.gauge(...)` or
  `.histogram(...)`, and keep the object where it is recorded (as `SqliteWriter` does). Under
  several workers a counter or histogram adds up across them; a gauge is summed over the live ones.
- a value read when scraped (a backlog in the database, the age of the oldest undelivered item):
  `metrics.add_scrape_collector(async_fn)`, where `async_fn()` returns prometheus_client metric
  families (`GaugeMetricFamily` ...). It runs in the process that answers the scrape, once per
  scrape, so a value read from the database is counted once, not once per worker.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Final, Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from subgroups.domain.imports import ImportQueue
from subgroups.domain.webhooks import Backlog

# The text format prometheus_client writes.
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

AUTH_FAILURES: Final = "subgroups_auth_failures_total"
RATE_LIMITED: Final = "subgroups_rate_limited_total"
RATE_LIMIT_STORE_ERRORS: Final = "subgroups_rate_limit_store_errors_total"
WEBHOOKS_DELIVERED: Final = "subgroups_webhook_deliveries_delivered_total"
WEBHOOKS_FAILED: Final = "subgroups_webhook_deliveries_failed_total"

# Seconds: from a cached status/get (under a millisecond) to a request that waited on a lock.
LATENCY_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
COMMIT_BUCKETS: Final = (
    0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip
BATCH_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256)

POOLS: Final = ("raw", "sqlalchemy")

# A `_created` timestamp beside every series doubles the scrape for nothing a dashboard uses (and
# the multiprocess mode has none): off for the whole process.
disable_created_metrics()  # type: ignore[no-untyped-call]

ScrapeCollector = Callable[[], Awaitable[Iterable[Metric]]]
GaugeMode = Literal["livesum", "livemax", "mostrecent"]


class Metrics:
    def __init__(self, *, multiprocess_dir: str | None = None, enabled: bool = True) -> None:
        """`multiprocess_dir`: the workers' shared directory (PROMETHEUS_MULTIPROC_DIR), which
        prometheus_client read from the environment when it was imported; `enabled`: whether the
        hot paths record (`Settings.metrics`)."""
        self.enabled = enabled
        self._multiprocess_dir = multiprocess_dir
        self._registry = CollectorRegistry()
        self._scrape_collectors: list[ScrapeCollector] = []
        self._counters = {
            AUTH_FAILURES: self.counter(
                AUTH_FAILURES,
                "Requests refused with 401: a missing, unknown, revoked or malformed API key.",
            ),
            RATE_LIMITED: self.counter(
                RATE_LIMITED, "Requests refused with 429: the workspace spent its budget."
            ),
            RATE_LIMIT_STORE_ERRORS: self.counter(
                RATE_LIMIT_STORE_ERRORS,
                "Rate-limit operations the shared store (Redis) failed; those requests were"
                " counted in this process instead.",
            ),
            WEBHOOKS_DELIVERED: self.counter(
                WEBHOOKS_DELIVERED, "Webhook deliveries delivered (a 2xx from the receiver)."
            ),
            WEBHOOKS_FAILED: self.counter(
                WEBHOOKS_FAILED,
                "Webhook deliveries marked failed after their last attempt (replayable).",
            ),
        }
        self.requests = self.counter(
            "subgroups_http_requests_total",
            "HTTP requests answered, by route (the path template; 'unmatched' when none) and status.",
            ("route", "method", "status"),
        )
        self.request_seconds = self.histogram(
            "subgroups_http_request_duration_seconds",
            "Time from a request's arrival in the application to its last byte, by route.",
            ("route",),
            buckets=LATENCY_BUCKETS,
        )
        self.key_cache = self.counter(
            "subgroups_key_cache_lookups_total",
            "API keys looked up: 'hit' answered from the process's memory, 'miss' from the database.",
            ("result",),
        )

        self.processes = self.gauge(
            "subgroups_processes",
            "Processes of the server recording metrics: the workers, each counting itself.",
        )
        self.processes.set(1)
        self.writer_batch_size = self.histogram(
            "subgroups_sqlite_writer_batch_size",
            "Writes (requests and other jobs) committed together in one SQLite transaction.",
            buckets=BATCH_BUCKETS,
        )
        self.writer_commit_seconds = self.histogram(
            "subgroups_sqlite_writer_commit_seconds",
            "Time of each SQLite COMMIT (with synchronous=FULL, mostly the flush to disk).",
            buckets=COMMIT_BUCKETS,
        )
        self.writer_queue_depth = self.gauge(
            "subgroups_sqlite_writer_queue_depth",
            "Writes waiting for the SQLite writer when it last began a transaction.",
        )
        pool_labels = ("pool",)
        self.pool_in_use = self.gauge(
            "subgroups_postgres_pool_connections_in_use",
            "PostgreSQL connections lent out: pool 'raw' serves the set and read statements,"
            " 'sqlalchemy' everything else.",
            pool_labels,
        )
        self.pool_size = self.gauge(
            "subgroups_postgres_pool_connections_max",
            "The most connections each PostgreSQL pool opens.",
            pool_labels,
        )
        self.pool_waits = self.counter(
            "subgroups_postgres_pool_waits_total",
            "Requests for a PostgreSQL connection that found every connection of the pool lent.",
            pool_labels,
        )
        self.pool_wait_seconds = self.counter(
            "subgroups_postgres_pool_wait_seconds_total",
            "Time spent waiting for a PostgreSQL connection.",
            pool_labels,
        )
        for pool in POOLS:  # every series there from the start, at 0
            for family in (
                self.pool_in_use,
                self.pool_size,
                self.pool_waits,
                self.pool_wait_seconds,
            ):
                family.labels(pool)
        for result in ("hit", "miss"):
            self.key_cache.labels(result)

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(_base(name), documentation, labels, registry=self._registry)

    def gauge(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        *,
        mode: GaugeMode = "livesum",
    ) -> Gauge:
        """`mode`: how several workers' values combine (a sum over the live ones by default)."""
        return Gauge(name, documentation, labels, registry=self._registry, multiprocess_mode=mode)

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        *,
        buckets: Sequence[float],
    ) -> Histogram:
        return Histogram(name, documentation, labels, registry=self._registry, buckets=buckets)

    def add_scrape_collector(self, collector: ScrapeCollector) -> None:
        self._scrape_collectors.append(collector)

    def inc(self, name: str, amount: int = 1) -> None:
        """Adds to one of the unlabelled counters named above (AUTH_FAILURES ...)."""
        self._counters[name].inc(amount)

    def value(self, name: str) -> float:
        """This process's count of one of those counters."""
        return self.sample(name)

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float:
        """This process's value of one series (0 when it has none yet)."""
        return self._registry.get_sample_value(name, labels) or 0.0

    def close(self) -> None:
        """At a worker's orderly end: its gauges stop counting (its counters stay, as they must)."""
        if self._multiprocess_dir:
            mark_process_dead(os.getpid(), self._multiprocess_dir)  # type: ignore[no-untyped-call]

    async def render(self) -> bytes:
        """The whole server's metrics in the Prometheus text format."""
        registry = CollectorRegistry()
        if self._multiprocess_dir:
            MultiProcessCollector(registry, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]
        else:
            registry.register(_Forward(self._registry))
        scraped = await asyncio.gather(*(collect() for collect in self._scrape_collectors))
        registry.register(_Fixed([family for families in scraped for family in families]))
        return generate_latest(registry)


def backlog_families(backlog: Backlog, *, now: datetime) -> list[Metric]:
    """The webhook backlog as gauges, read from the database when scraped (the same whichever
    process answers)."""
    age = 0.0
    if backlog.oldest_undelivered_at is not None:
        age = max(0.0, (now - backlog.oldest_undelivered_at).total_seconds())
    return [
        GaugeMetricFamily(
            "subgroups_webhook_deliveries_queued",
            "Webhook deliveries waiting to be sent or tried again.",
            value=backlog.pending,
        ),
        GaugeMetricFamily(
            "subgroups_webhook_deliveries_failed",
            "Webhook deliveries that failed for good (replayable).",
            value=backlog.failed,
        ),
        GaugeMetricFamily(
            "subgroups_webhook_oldest_undelivered_age_seconds",
            "Age of the oldest change not yet delivered to an enabled endpoint (0: none).",
            value=round(age, 3),
        ),
    ]


def import_families(queue: ImportQueue) -> list[Metric]:
    """Import progress as gauges, read from the database when scraped: imports waiting for a
    runner, imports running, and the rows the running ones have done of the rows they hold."""
    return [
        GaugeMetricFamily(
            "subgroups_imports_queued", "Imports waiting for a runner.", value=queue.queued
        ),
        GaugeMetricFamily("subgroups_imports_running", "Imports running.", value=queue.running),
        GaugeMetricFamily(
            "subgroups_import_rows_done",
            "Rows the running imports have applied or reported.",
            value=queue.rows_done,
        ),
        GaugeMetricFamily(
            "subgroups_import_rows_total",
            "Rows the running imports' files hold.",
            value=queue.rows_total,
        ),
    ]


def _base(name: str) -> str:
    # prometheus_client appends `_total` to a counter's name itself.
    return name.removesuffix("_total")


class _Forward(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


class _Fixed(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families
