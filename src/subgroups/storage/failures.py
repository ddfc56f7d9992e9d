"""Driver exceptions for a database that cannot be reached, as the domain's DatabaseUnavailable.

Only failures of the connection itself are translated: a refused or lost connection, a file that
cannot be opened, a database that does not exist. Errors about the statement (a broken constraint,
for one) stay the driver's, for the store that ran it to turn into a domain error or let fail.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from sqlalchemy.exc import DatabaseError, DBAPIError, InterfaceError, OperationalError

from subgroups.errors import DatabaseUnavailable


@cache
def _asyncpg_errors() -> tuple[type[Exception], ...]:
    """asyncpg's errors for a database it cannot reach (no such database, refused, ...)."""
    import asyncpg  # only ever called once an asyncpg error may exist: see _unreachable_kinds

    return (
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.InvalidCatalogNameError,
        asyncpg.InvalidAuthorizationSpecificationError,
        asyncpg.InvalidPasswordError,
        asyncpg.CannotConnectNowError,
    )


def _unreachable_kinds() -> tuple[type[Exception], ...]:
    # No asyncpg error can exist before asyncpg is loaded, and a SQLite process never loads it.
    asyncpg_errors = _asyncpg_errors() if "asyncpg" in sys.modules else ()
    return (OSError, sqlite3.OperationalError, *asyncpg_errors)


_GENERAL = (DBAPIError, DatabaseError)


@contextmanager
def unavailable_on_failure() -> Iterator[None]:
    try:
        yield
    except DBAPIError as error:
        if not _unreachable(error, error.orig):
            raise
        raise DatabaseUnavailable(str(error.orig)) from error
    except Exception as error:
        if not _unreachable(error, error):
            raise
        raise DatabaseUnavailable(str(error)) from error


def _unreachable(error: Exception, orig: object) -> bool:
    # The driver's most general errors are what a failed connection raises: SQLite's "file is not
    # a database", and asyncpg's refusals before a connection exists (no such database, say).
    if isinstance(error, (OperationalError, InterfaceError)) or type(error) in _GENERAL:
        return True
    return isinstance(orig, _unreachable_kinds()) or type(orig) is sqlite3.DatabaseError
