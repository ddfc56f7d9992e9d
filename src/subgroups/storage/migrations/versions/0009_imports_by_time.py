"""a workspace's imports, newest first: an index on imports (workspace_id, created_at) for the
dashboard's list of recent imports

Revision ID: 0009_imports_by_time
Revises: 0008_person_links
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_imports_by_time"
down_revision: str | None = "0008_person_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_imports_workspace_id_created_at"), "imports", ["workspace_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_imports_workspace_id_created_at"), table_name="imports")
