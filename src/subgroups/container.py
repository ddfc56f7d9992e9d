"""The composition root: builds the database, stores and services once, from Settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from subgroups.config import Settings
from subgroups.services.exports import ExportService
from subgroups.services.feed import FeedService
from subgroups.services.group_cache import CachedGroupStore
from subgroups.services.groups import GroupService
from subgroups.services.history import HistoryService
from subgroups.services.import_loop import ImportLoop
from subgroups.services.imports import ImportService
from subgroups.services.in_flight import InFlight
from subgroups.services.keys import KeyService
from subgroups.services.links import LinkService
from subgroups.services.metrics import Metrics, backlog_families, import_families
from subgroups.services.operators import OperatorService
from subgroups.services.person import PersonService
from subgroups.services.ports import (
    ChangeFeed,
    Clock,
    ExportReader,
    ImportStore,
    StatusReader,
    SubscriptionStore,
    SystemClock,
    WebhookQueue,
)
from subgroups.services.ratelimits import Pool, RateLimitService
from subgroups.services.reports import ReportService
from subgroups.services.status import StatusService
from subgroups.services.subscriptions import SubscriptionService
from subgroups.services.webhook_delivery import Dispatcher
from subgroups.services.webhooks import WebhookService
from subgroups.services.workspaces import WorkspaceService
from subgroups.storage.counters import CounterStores
from subgroups.storage.engine import Database, dialect_of
from subgroups.storage.groups import SqlGroupStore
from subgroups.storage.history import SqlHistoryReader
from subgroups.storage.keys import SqlKeyStore
from subgroups.storage.migrate import is_current
from subgroups.storage.operators import SqlOperatorStore
from subgroups.storage.person_data import SqlPersonDataStore
from subgroups.storage.person_links import SqlLinkStore
from subgroups.storage.reports import SqlReportStore
from subgroups.storage.sealed_secrets import LazySecretBox
from subgroups.storage.webhooks import SqlWebhookStore
from subgroups.storage.workspaces import SqlWorkspaceStore

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    db: Database
    workspaces: WorkspaceService
    keys: KeyService
    groups: GroupService
    subscriptions: SubscriptionService
    status: StatusService
    feed: FeedService
    webhooks: WebhookService
    operators: OperatorService
    reports: ReportService
    links: LinkService
    person: PersonService
    ratelimits: RateLimitService
    metrics: Metrics
    counters: CounterStores
    imports: ImportService
    exports: ExportService
    history: HistoryService
    # What the webhook dispatcher works on (see dispatcher()).
    clock: Clock
    change_feed: ChangeFeed
    webhook_queue: WebhookQueue
    # The requests this process is answering: its dispatcher gives way to them.
    in_flight: InFlight

    def dispatcher(self) -> Dispatcher:
        """A webhook dispatcher for this process, with its own HTTP client (close it with
        `dispatcher.aclose()`), ready to `run`."""
        from subgroups.outbound.http_sender import HttpSender

        settings = self.settings
        return Dispatcher(
            queue=self.webhook_queue,
            feed=self.change_feed,
            sender=HttpSender(allow_private=settings.webhook_allow_private),
            clock=self.clock,
            metrics=self.metrics,
            schedule=settings.webhook_retry_schedule,
            concurrency=settings.webhook_concurrency,
            lease_seconds=settings.webhook_lease_seconds,
            poll_seconds=settings.webhook_poll_seconds,
            keep_days=settings.webhook_keep_days,
            in_flight=self.in_flight,
        )

    def import_loop(self) -> ImportLoop:
        """The loop that runs imports sent over HTTP or from the dashboard, ready to `run`."""
        return ImportLoop(imports=self.imports, poll_seconds=self.settings.import_poll_seconds)

    group_cache: CachedGroupStore

    async def schema_is_current(self) -> bool:
        return await is_current(self.db)

    async def aclose(self) -> None:
        await self.keys.flush()
        await self.group_cache.close()
        await self.counters.aclose()
        await self.db.dispose()
        self.metrics.close()


@dataclass(frozen=True, slots=True)
class Backend:
    """The database and the stores whose SQL is the backend's own."""

    db: Database
    subscriptions: SubscriptionStore
    status: StatusReader
    feed: ChangeFeed
    imports: ImportStore
    exports: ExportReader


def open_backend(settings: Settings, metrics: Metrics | None = None) -> Backend:
    """The one place that chooses between SQLite and PostgreSQL.

    Each backend's modules are imported here, when chosen: a SQLite process (every CLI command
    on the default database) never loads PostgreSQL's driver or dialect, nor the other way round.
    """
    from subgroups.storage.change_feed import PostgresChangeFeed, SqliteChangeFeed
    from subgroups.storage.reads import PostgresStatusReader, SqliteStatusReader

    if dialect_of(settings.database_url) == "sqlite":
        from subgroups.storage.sqlite_database import SqliteDatabase
        from subgroups.storage.sqlite_exports import SqliteExportReader
        from subgroups.storage.sqlite_imports import SqliteImportStore
        from subgroups.storage.sqlite_subscriptions import SqliteSubscriptionStore

        sqlite = SqliteDatabase(
            settings.database_url,
            pool_size=settings.db_pool_size,
            synchronous=settings.sqlite_synchronous,
            metrics=metrics,
        )
        return Backend(
            sqlite,
            SqliteSubscriptionStore(sqlite),
            SqliteStatusReader(sqlite),
            SqliteChangeFeed(sqlite),
            SqliteImportStore(sqlite),
            SqliteExportReader(sqlite),
        )
    from subgroups.storage.postgres_database import PostgresDatabase
    from subgroups.storage.postgres_exports import PostgresExportReader
    from subgroups.storage.postgres_imports import PostgresImportStore
    from subgroups.storage.postgres_subscriptions import PostgresSubscriptionStore

    postgres = PostgresDatabase(
        settings.database_url, pool_size=settings.db_pool_size, metrics=metrics
    )
    return Backend(
        postgres,
        PostgresSubscriptionStore(postgres),
        PostgresStatusReader(postgres),
        PostgresChangeFeed(postgres),
        PostgresImportStore(postgres),
        PostgresExportReader(postgres),
    )


def build_services(settings: Settings, *, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    metrics = Metrics(
        multiprocess_dir=settings.metrics_multiprocess_dir, enabled=settings.metrics == "on"
    )
    recording = metrics if metrics.enabled else None
    backend = open_backend(settings, recording)
    db = backend.db
    workspaces = SqlWorkspaceStore(db)
    groups = CachedGroupStore(SqlGroupStore(db), seconds=settings.group_cache_seconds)
    counters = CounterStores(settings.redis_url, prefix=settings.redis_prefix)
    webhooks = SqlWebhookStore(db, LazySecretBox(settings))
    webhook_service = WebhookService(
        webhooks=webhooks,
        workspaces=workspaces,
        clock=clock,
        allow_private=settings.webhook_allow_private,
    )

    async def webhook_backlog() -> list[Metric]:
        return backlog_families(await webhook_service.backlog(), now=clock.now())

    metrics.add_scrape_collector(webhook_backlog)
    link_store = SqlLinkStore(db)
    report_store = SqlReportStore(db)
    links = LinkService(
        links=link_store, groups=groups, subscriptions=backend.subscriptions, clock=clock
    )
    person = PersonService(
        links=links,
        link_store=link_store,
        data=SqlPersonDataStore(db),
        workspaces=workspaces,
        groups=groups,
        subscriptions=backend.subscriptions,
        reports=report_store,
        clock=clock,
    )
    imports = ImportService(
        store=backend.imports,
        groups=groups,
        workspaces=workspaces,
        clock=clock,
        lease_seconds=settings.import_lease_seconds,
        person=person,
    )

    async def import_queue() -> list[Metric]:
        return import_families(await imports.queue())

    metrics.add_scrape_collector(import_queue)
    return Services(
        settings=settings,
        db=db,
        workspaces=WorkspaceService(workspaces=workspaces, clock=clock),
        keys=KeyService(
            keys=SqlKeyStore(db),
            workspaces=workspaces,
            clock=clock,
            cache_seconds=settings.key_cache_seconds,
            touch_seconds=settings.key_touch_seconds,
            metrics=recording,
        ),
        groups=GroupService(groups=groups, workspaces=workspaces, clock=clock),
        subscriptions=SubscriptionService(groups=groups, store=backend.subscriptions, clock=clock),
        status=StatusService(groups=groups, reader=backend.status),
        feed=FeedService(feed=backend.feed),
        webhooks=webhook_service,
        operators=OperatorService(
            operators=SqlOperatorStore(db),
            clock=clock,
            session_lifetime=timedelta(hours=settings.dashboard_session_hours),
        ),
        reports=ReportService(
            reports=report_store, groups=groups, workspaces=workspaces, clock=clock
        ),
        links=links,
        person=person,
        ratelimits=RateLimitService(
            rates={
                Pool.SET: settings.rate_limit_set,
                Pool.GET: settings.rate_limit_get,
                Pool.PUBLIC: settings.rate_limit_public,
            },
            local=counters.local,
            shared=counters.shared,
            metrics=metrics,
        ),
        metrics=metrics,
        counters=counters,
        clock=clock,
        change_feed=backend.feed,
        webhook_queue=webhooks,
        in_flight=InFlight(),
        group_cache=groups,
        imports=imports,
        exports=ExportService(reader=backend.exports, groups=groups, workspaces=workspaces),
        history=HistoryService(groups=groups, reader=SqlHistoryReader(db)),
    )
