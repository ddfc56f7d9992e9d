"""imports: the import jobs, their files and their error rows; state-change records gain the import
id, `consented_at` and `consent_source`

The new record columns are nullable and have no default, so adding them rewrites no row on
either backend.

Revision ID: 0007_imports
Revises: 0006_webhooks
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_imports"
down_revision: str | None = "0006_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RECORD_COLUMNS = (
    ("import_id", sa.String(36)),
    ("consented_at", sa.DateTime(timezone=True)),
    ("consent_source", sa.String(200)),
)


def _counter(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def _job_key() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id", "import_id"], ["imports.workspace_id", "imports.id"]
    )


def upgrade() -> None:
    for name, type_ in _RECORD_COLUMNS:
        op.add_column("state_changes", sa.Column(name, type_, nullable=True))
    op.create_table(
        "imports",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("total_rows", sa.BigInteger(), nullable=True),
        *(
            _counter(name)
            for name in (
                "rows",
                "unchanged",
                "refused",
                "invalid",
                "profiles_created",
                "subscribed",
                "unsubscribed",
            )
        ),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("ignored_columns", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_imports_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_imports")),
    )
    op.create_index(op.f("ix_imports_workspace_id_sha256"), "imports", ["workspace_id", "sha256"])
    op.create_table(
        "import_files",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.String(36), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        _job_key(),
        sa.PrimaryKeyConstraint("workspace_id", "import_id", name=op.f("pk_import_files")),
    )
    op.create_table(
        "import_errors",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.String(36), nullable=False),
        sa.Column("line", sa.BigInteger(), nullable=False),
        sa.Column("column_name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        _job_key(),
        sa.PrimaryKeyConstraint("workspace_id", "import_id", "line", name=op.f("pk_import_errors")),
    )


def downgrade() -> None:
    op.drop_table("import_errors")
    op.drop_table("import_files")
    op.drop_index(op.f("ix_imports_workspace_id_sha256"), table_name="imports")
    op.drop_table("imports")
    with op.batch_alter_table("state_changes") as batch_op:
        for name, _type in reversed(_RECORD_COLUMNS):
            batch_op.drop_column(name)
