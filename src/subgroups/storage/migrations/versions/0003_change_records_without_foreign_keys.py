"""change records without foreign keys: state_changes no longer references profiles and
workspaces (see storage/tables.py for why)

On SQLite the table is rebuilt (its constraints cannot be dropped in place); on PostgreSQL the
constraints are dropped, which takes a brief exclusive lock and does not rewrite the table.

Revision ID: 0003_change_records_no_fk
Revises: 0002_dashboard
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_change_records_no_fk"
down_revision: str | None = "0002_dashboard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FOREIGN_KEYS = (
    ("fk_state_changes_profile_id_profiles", "profiles", "profile_id"),
    ("fk_state_changes_workspace_id_workspaces", "workspaces", "workspace_id"),
)


def upgrade() -> None:
    with op.batch_alter_table("state_changes", schema=None) as batch_op:
        for name, _, _ in _FOREIGN_KEYS:
            batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("state_changes", schema=None) as batch_op:
        for name, table, column in _FOREIGN_KEYS:
            batch_op.create_foreign_key(name, table, [column], ["id"])
