"""The status/get lookup as one statement per dialect, sent without SQLAlchemy.

status/get is answered by a single statement: the profiles that carry the requested identifiers,
found by their (workspace_id, <identifier>) index, each with its state in the group looked up by
primary key, NULL when it has none. One statement is one snapshot, so no transaction is needed.

Each state is found by its whole primary key (profile, group), in one index descent. An index
leading with the group must not serve this lookup (tests/storage/test_state_flips.py keeps such an
index from being added): the planner would pick it whenever its statistics still describe the
group as nearly empty (a group filled since the last ANALYZE, on a table large enough that
autovacuum waits millions of rows before it analyses again), and 50 lookups would become a scan
of every member of the group.
- PostgreSQL: `group_pk = $2` would offer it such an index, so the key is bounded as a row,
  `(profile_id, group_pk)` between `(p.id, $2)` and itself, which only an index leading with those
  two columns can serve: the primary key. (Comparing `group_pk + 0` instead would keep such an
  index out too, but make the lookup read every state of the profile, in every group.)
- SQLite always searches a unique index whose every column is compared for equality.
tests/storage/test_read_plans.py checks the plans, with stale statistics.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from subgroups.domain.reads import IdentifierKind

KINDS: Final[tuple[IdentifierKind, ...]] = ("external_id", "email", "phone")

_TEMPLATE: Final = """
SELECT p.{column}, (
    SELECT s.subscribed FROM subscription_states AS s
    WHERE s.profile_id = p.id AND {state_key}
)
FROM profiles AS p
WHERE p.workspace_id = {workspace} AND p.{column} {values}
"""


def by_kind(template: str, **parts: str) -> dict[IdentifierKind, str]:
    """`template` for each kind of identifier (its `{column}`), with one dialect's `parts`."""
    return {kind: template.format(column=kind, **parts) for kind in KINDS}


# The values as a JSON array: one statement text whatever their number, so sqlite3 prepares it once.
SQLITE_VALUES: Final = "IN (SELECT value FROM json_each(:values))"

# $1 workspace id, $2 group pk, $3 the values as a text array.
POSTGRES: Final = by_kind(
    _TEMPLATE,
    workspace="$1",
    state_key="(s.profile_id, s.group_pk) BETWEEN (p.id, $2) AND (p.id, $2)",
    values="= ANY($3::text[])",
)
SQLITE: Final = by_kind(
    _TEMPLATE, workspace=":workspace", state_key="s.group_pk = :group", values=SQLITE_VALUES
)


def sqlite_rows(
    conn: sqlite3.Connection, kind: IdentifierKind, workspace_id: int, group_pk: int, values: str
) -> list[tuple[str, int | None]]:
    """Runs the SQLite statement; `values` is a JSON array of strings."""
    params = {"workspace": workspace_id, "group": group_pk, "values": values}
    rows: list[tuple[str, int | None]] = conn.execute(SQLITE[kind], params).fetchall()
    return rows
