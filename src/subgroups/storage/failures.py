"""Driver exceptions for a database that cannot be reached, as the domain's DatabaseUnavailable.

Only failures of the connection itself are translated: a refused or lost connection, a file that
cannot be opened, a database that does not exist. Errors about the statement (a broken constraint,
for one) stay the driver's, for the store that ran it to turn into a domain error or let fail.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.exc import DatabaseError, DBAPIError, InterfaceError, OperationalError

from subgroups.errors import DatabaseUnavailable

_ASYNCPG_UNREACHABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InvalidCatalogNameError,  # no such database
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidPasswordError,
    asyncpg.CannotConnectNowError,
)


_GENERAL = (DBAPIError, DatabaseError)


@contextmanager
def unavailable_on_failure() -> Iterator[None]:
    try:
        yield
    except DBAPIError as error:
        if not _unreachable(error, error.orig):
            raise
        raise DatabaseUnavailable(str(error.orig)) from error
    except (OSError, sqlite3.DatabaseError, *_ASYNCPG_UNREACHABLE) as error:
        if not _unreachable(error, error):
            raise
        raise DatabaseUnavailable(str(error)) from error


def _unreachable(error: Exception, orig: object) -> bool:
    # The driver's most general errors are what a failed connection raises: SQLite's "file is not
    # a database", and asyncpg's refusals before a connection exists (no such database, say).
    if isinstance(error, (OperationalError, InterfaceError)) or type(error) in _GENERAL:
        return True
    return isinstance(orig, (OSError, sqlite3.OperationalError, *_ASYNCPG_UNREACHABLE)) or (
        type(orig) is sqlite3.DatabaseError
    )
