"""Every store matches its port in `services/ports.py`, the fakes as much as the SQL stores.

The tuples are typed with the port, so mypy checks each class structurally; the test checks what
mypy does not: the parameter names (services pass most arguments by keyword), their kinds and
defaults, and that each method is async exactly when the port's is (warehouse's verifyClass).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from limits.aio.storage import RedisStorage

from subgroups.domain.models import Workspace
from subgroups.outbound.http_sender import HttpSender
from subgroups.services import ports
from subgroups.services.group_cache import CachedGroupStore
from subgroups.services.ports import (
    ChangeFeed,
    Clock,
    CounterStore,
    ExportReader,
    GroupStore,
    HistoryReader,
    ImportStore,
    KeyStore,
    LinkStore,
    OperatorStore,
    PersonDataStore,
    ReportStore,
    StatusReader,
    SubscriptionStore,
    SystemClock,
    WebhookQueue,
    WebhookSender,
    WebhookStore,
    WorkspaceStore,
)
from subgroups.storage.change_feed import PostgresChangeFeed, SqliteChangeFeed
from subgroups.storage.counters import LocalCounters
from subgroups.storage.groups import SqlGroupStore
from subgroups.storage.history import SqlHistoryReader
from subgroups.storage.keys import SqlKeyStore
from subgroups.storage.operators import SqlOperatorStore
from subgroups.storage.person_data import SqlPersonDataStore
from subgroups.storage.person_links import SqlLinkStore
from subgroups.storage.postgres_exports import PostgresExportReader
from subgroups.storage.postgres_imports import PostgresImportStore
from subgroups.storage.postgres_subscriptions import PostgresSubscriptionStore
from subgroups.storage.reads import PostgresStatusReader, SqliteStatusReader
from subgroups.storage.reports import SqlReportStore
from subgroups.storage.sqlite_exports import SqliteExportReader
from subgroups.storage.sqlite_imports import SqliteImportStore
from subgroups.storage.sqlite_subscriptions import SqliteSubscriptionStore
from subgroups.storage.webhooks import SqlWebhookStore
from subgroups.storage.workspaces import SqlWorkspaceStore
from tests.clock import SettableClock
from tests.fakes import (
    FakeChangeFeed,
    FakeGroupStore,
    FakeKeyStore,
    FakeOperatorStore,
    FakeStatusReader,
    FakeSubscriptionStore,
    FakeWorkspaceStore,
)

WORKSPACE_STORES: tuple[type[WorkspaceStore], ...] = (FakeWorkspaceStore, SqlWorkspaceStore)
KEY_STORES: tuple[type[KeyStore], ...] = (FakeKeyStore, SqlKeyStore)
GROUP_STORES: tuple[type[GroupStore], ...] = (FakeGroupStore, SqlGroupStore, CachedGroupStore)
SUBSCRIPTION_STORES: tuple[type[SubscriptionStore], ...] = (
    FakeSubscriptionStore,
    SqliteSubscriptionStore,
    PostgresSubscriptionStore,
)
STATUS_READERS: tuple[type[StatusReader], ...] = (
    FakeStatusReader,
    SqliteStatusReader,
    PostgresStatusReader,
)
CHANGE_FEEDS: tuple[type[ChangeFeed], ...] = (FakeChangeFeed, SqliteChangeFeed, PostgresChangeFeed)
OPERATOR_STORES: tuple[type[OperatorStore], ...] = (FakeOperatorStore, SqlOperatorStore)
REPORT_STORES: tuple[type[ReportStore], ...] = (SqlReportStore,)
LINK_STORES: tuple[type[LinkStore], ...] = (SqlLinkStore,)
PERSON_DATA_STORES: tuple[type[PersonDataStore], ...] = (SqlPersonDataStore,)
EXPORT_READERS: tuple[type[ExportReader], ...] = (SqliteExportReader, PostgresExportReader)
IMPORT_STORES: tuple[type[ImportStore], ...] = (SqliteImportStore, PostgresImportStore)
COUNTER_STORES: tuple[type[CounterStore], ...] = (LocalCounters, RedisStorage)
CLOCKS: tuple[type[Clock], ...] = (SystemClock, SettableClock)
WEBHOOK_STORES: tuple[type[WebhookStore], ...] = (SqlWebhookStore,)
WEBHOOK_QUEUES: tuple[type[WebhookQueue], ...] = (SqlWebhookStore,)
WEBHOOK_SENDERS: tuple[type[WebhookSender], ...] = (HttpSender,)

IMPLEMENTATIONS: list[tuple[type[Any], tuple[type[Any], ...]]] = [
    (WorkspaceStore, WORKSPACE_STORES),
    (KeyStore, KEY_STORES),
    (GroupStore, GROUP_STORES),
    (SubscriptionStore, SUBSCRIPTION_STORES),
    (StatusReader, STATUS_READERS),
    (ChangeFeed, CHANGE_FEEDS),
    (OperatorStore, OPERATOR_STORES),
    (ReportStore, REPORT_STORES),
    (LinkStore, LINK_STORES),
    (PersonDataStore, PERSON_DATA_STORES),
    (ImportStore, IMPORT_STORES),
    (ExportReader, EXPORT_READERS),
    (HistoryReader, (SqlHistoryReader,)),
    (CounterStore, COUNTER_STORES),
    (Clock, CLOCKS),
    (WebhookStore, WEBHOOK_STORES),
    (WebhookQueue, WEBHOOK_QUEUES),
    (WebhookSender, WEBHOOK_SENDERS),
]


def _methods(port: type[Any]) -> dict[str, Callable[..., Any]]:
    return {
        name: member
        for name, member in vars(port).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }


def differences(port: type[Any], implementation: type[Any]) -> list[str]:
    """How `implementation` departs from `port`'s methods; empty when it matches."""
    found = []
    for name, wanted in _methods(port).items():
        have = getattr(implementation, name, None)
        if have is None:
            found.append(f"{name}: missing")
            continue
        if inspect.iscoroutinefunction(have) != inspect.iscoroutinefunction(wanted):
            found.append(f"{name}: async differs")
        want_signature = inspect.signature(wanted, eval_str=True)
        have_signature = inspect.signature(have, eval_str=True)
        if have_signature != want_signature:
            found.append(f"{name}: {have_signature} is not {want_signature}")
    return found


@pytest.mark.parametrize(
    ("port", "implementation"),
    [(port, cls) for port, classes in IMPLEMENTATIONS for cls in classes],
    ids=lambda c: c.__name__,
)
def test_each_store_matches_its_port(port: type[Any], implementation: type[Any]) -> None:
    assert differences(port, implementation) == []


def test_every_port_is_checked() -> None:
    protocols = {
        obj
        for obj in vars(ports).values()
        if isinstance(obj, type)
        and obj.__module__ == ports.__name__
        and getattr(obj, "_is_protocol", False)
    }
    assert protocols == {port for port, _ in IMPLEMENTATIONS}


class _Departing:
    """A workspace store that gets each thing wrong once, to show the check sees it."""

    def create(self, *, name: str, at: datetime) -> Workspace:
        raise NotImplementedError

    async def list(self, limit: int = 10) -> list[Workspace]:
        raise NotImplementedError


def test_the_check_sees_a_missing_method_a_sync_one_and_another_signature() -> None:
    found = differences(WorkspaceStore, _Departing)

    assert [f.split(":")[0] for f in found] == ["create", "list", "get"]
    assert found[0] == "create: async differs"
    assert found[2] == "get: missing"
