"""A database: its two doors (`write`, `snapshot`), and which backend a URL names.

Every write goes through `Database.write(fn)`: `fn` is a plain function of a SQLAlchemy
`Connection` that runs in one transaction and returns a value. On SQLite it runs in the one writer
thread, batched with other writes (`sqlite_database.py`); on PostgreSQL in a transaction of the
pool (`postgres_database.py`). A write function must not commit, roll back or wait on anything but
the database: on SQLite it shares its transaction with other callers, inside a savepoint of its own.

Reads that need a consistent view use `snapshot()`. The backends' own fast paths (the set
endpoints' writes, the status lookup) live in the stores made for each backend; the backend and
its stores are chosen once, in `container.build_services`, and no store asks which dialect it is on.

Errors the driver raises while connecting are turned into `DatabaseUnavailable` here, at the
boundary: nothing above storage sees a driver exception for a database it cannot reach.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from sqlalchemy import ColumnElement, Connection, Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:  # each dialect is loaded by its own backend's module
    from sqlalchemy.dialects import postgresql, sqlite

T = TypeVar("T")
DialectName = Literal["sqlite", "postgresql"]
WriteFn = Callable[[Connection], T]


def async_url(url: str) -> str:
    """`sqlite:///x.db` or `postgresql://…` as the async driver URL SQLAlchemy needs."""
    backend = dialect_of(url)
    parsed = make_url(url)
    if backend == "sqlite":
        return str(parsed.set(drivername="sqlite+aiosqlite"))
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def dialect_of(url: str) -> DialectName:
    """Which backend `url` names; ValueError for anything else."""
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        backend = None
    if backend == "sqlite":
        return "sqlite"
    if backend in ("postgresql", "postgres"):
        return "postgresql"
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///… or postgresql://…")


class Database(abc.ABC):
    """The connections of one database. Stores reach it only through these methods."""

    url: str

    @abc.abstractmethod
    async def write(self, fn: WriteFn[T]) -> T:
        """Runs `fn` in a write transaction; returns its result once that is committed (durably).

        An exception from `fn` undoes everything `fn` wrote and is raised here."""

    @abc.abstractmethod
    def snapshot(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A read-only transaction: every statement in it sees the same committed state."""

    @abc.abstractmethod
    async def dispose(self) -> None: ...

    @abc.abstractmethod
    def insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that understands ON CONFLICT in this dialect."""

    @abc.abstractmethod
    def utc_day(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """The UTC calendar day of a Timestamp column, comparable with a `date`."""
