"""The composition root: builds the database, stores and services once, from Settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from subgroups.config import Settings
from subgroups.services.exports import ExportService
from subgroups.services.feed import FeedService
from subgroups.services.group_cache import CachedGroupStore
from subgroups.services.groups import GroupService
from subgroups.services.history import HistoryService
from subgroups.services.imports import ImportService
from subgroups.services.keys import KeyService
from subgroups.services.metrics import Metrics
from subgroups.services.operators import OperatorService
from subgroups.services.ports import (
    ChangeFeed,
    Clock,
    ExportReader,
    ImportStore,
    StatusReader,
    SubscriptionStore,
    SystemClock,
)
from subgroups.services.ratelimits import Pool, RateLimitService
from subgroups.services.reports import ReportService
from subgroups.services.status import StatusService
from subgroups.services.subscriptions import SubscriptionService
from subgroups.services.workspaces import WorkspaceService
from subgroups.storage.counters import CounterStores
from subgroups.storage.engine import Database, dialect_of
from subgroups.storage.groups import SqlGroupStore
from subgroups.storage.history import SqlHistoryReader
from subgroups.storage.keys import SqlKeyStore
from subgroups.storage.migrate import is_current
from subgroups.storage.operators import SqlOperatorStore
from subgroups.storage.reports import SqlReportStore
from subgroups.storage.workspaces import SqlWorkspaceStore


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
    operators: OperatorService
    reports: ReportService
    ratelimits: RateLimitService
    metrics: Metrics
    counters: CounterStores
    imports: ImportService
    exports: ExportService
    history: HistoryService

    async def schema_is_current(self) -> bool:
        return await is_current(self.db)

    async def aclose(self) -> None:
        await self.keys.flush()
        await self.counters.aclose()
        await self.db.dispose()


@dataclass(frozen=True, slots=True)
class Backend:
    """The database and the stores whose SQL is the backend's own."""

    db: Database
    subscriptions: SubscriptionStore
    status: StatusReader
    feed: ChangeFeed
    imports: ImportStore
    exports: ExportReader


def open_backend(settings: Settings) -> Backend:
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

    postgres = PostgresDatabase(settings.database_url, pool_size=settings.db_pool_size)
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
    backend = open_backend(settings)
    db = backend.db
    workspaces = SqlWorkspaceStore(db)
    groups = CachedGroupStore(SqlGroupStore(db), seconds=settings.group_cache_seconds)
    metrics = Metrics()
    counters = CounterStores(settings.redis_url, prefix=settings.redis_prefix)
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
        ),
        groups=GroupService(groups=groups, workspaces=workspaces, clock=clock),
        subscriptions=SubscriptionService(groups=groups, store=backend.subscriptions, clock=clock),
        status=StatusService(groups=groups, reader=backend.status),
        feed=FeedService(feed=backend.feed),
        operators=OperatorService(
            operators=SqlOperatorStore(db),
            clock=clock,
            session_lifetime=timedelta(hours=settings.dashboard_session_hours),
        ),
        reports=ReportService(
            reports=SqlReportStore(db), groups=groups, workspaces=workspaces, clock=clock
        ),
        ratelimits=RateLimitService(
            rates={Pool.SET: settings.rate_limit_set, Pool.GET: settings.rate_limit_get},
            local=counters.local,
            shared=counters.shared,
            metrics=metrics,
        ),
        metrics=metrics,
        counters=counters,
        imports=ImportService(
            store=backend.imports,
            groups=groups,
            workspaces=workspaces,
            clock=clock,
            lease_seconds=settings.import_lease_seconds,
        ),
        exports=ExportService(reader=backend.exports, groups=groups, workspaces=workspaces),
        history=HistoryService(groups=groups, reader=SqlHistoryReader(db)),
    )
