"""The user/status lookup as one statement per dialect, sent without SQLAlchemy.

One statement answers a page: the number of profiles the identifiers select, then one row per
state of each profile on the page (a profile without any state gets one row of NULLs, and a page
past the last profile one row with only the count). One statement is one snapshot, so the count
and the page always agree, and on SQLite it runs in a single hand-over like status/get's lookup
(`status_lookup.py`). Through SQLAlchemy this was three statements in a transaction, each a round
trip through the driver's thread: five times slower than the one statement (BENCHMARKS.md).

Profiles are found by their (workspace_id, <identifier>) index; states by the primary key, which
leads with the profile; groups by theirs.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

from subgroups.domain.reads import IdentifierKind
from subgroups.storage.status_lookup import SQLITE_VALUES, by_kind

# count, profile id, external id, email, phone, group id, group name, channel, subscribed; all but
# the count NULL in the one row of an empty page, the group's four in the row of a profile without
# any state.
Row = tuple[Any, ...]

_TEMPLATE: Final = """
WITH matching AS (
    SELECT p.id, p.external_id, p.email, p.phone FROM profiles AS p
    WHERE p.workspace_id = {workspace} AND p.{column} {values}
),
page AS (SELECT * FROM matching ORDER BY id LIMIT {limit} OFFSET {offset})
SELECT (SELECT count(*) FROM matching), page.id, page.external_id, page.email, page.phone,
       {group}.id, {group}.name, {group}.channel, {state}.subscribed
FROM (SELECT 1) AS one
LEFT JOIN page ON TRUE
{states}
ORDER BY page.id, {group}.pk
"""


# $1 workspace id, $2 the values as a text array, $3 limit, $4 offset. The states are joined
# LATERAL, page profile by page profile: a plan that hashed the whole table's states instead
# (which small or stale statistics can make look cheaper) is then not possible. `OFFSET 0` keeps
# the planner from pulling the subquery up into an ordinary join, which would allow it again.
POSTGRES: Final = by_kind(
    _TEMPLATE,
    workspace="$1",
    values="= ANY($2::text[])",
    limit="$3",
    offset="$4",
    states="""LEFT JOIN LATERAL (
    SELECT g.pk, g.id, g.name, g.channel, s.subscribed
    FROM subscription_states AS s JOIN subscription_groups AS g ON g.pk = s.group_pk
    WHERE s.profile_id = page.id
    OFFSET 0
) AS st ON TRUE""",
    group="st",
    state="st",
)
# The values as a JSON array, as in status_lookup.SQLITE. SQLite has no LATERAL, and needs none:
# it joins by nested loops only, here the page's profiles outside and the states' primary key in.
SQLITE: Final = by_kind(
    _TEMPLATE,
    workspace=":workspace",
    values=SQLITE_VALUES,
    limit=":limit",
    offset=":offset",
    states="""LEFT JOIN subscription_states AS s ON s.profile_id = page.id
LEFT JOIN subscription_groups AS g ON g.pk = s.group_pk""",
    group="g",
    state="s",
)


def sqlite_rows(
    conn: sqlite3.Connection,
    kind: IdentifierKind,
    workspace_id: int,
    values: str,
    limit: int,
    offset: int,
) -> list[Row]:
    """Runs the SQLite statement; `values` is a JSON array of strings."""
    params = {"workspace": workspace_id, "values": values, "limit": limit, "offset": offset}
    rows: list[Row] = conn.execute(SQLITE[kind], params).fetchall()
    return rows
