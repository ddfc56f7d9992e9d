"""import files in parts: a kept file is stored as numbered parts of at most 1 MiB, so that
storing or reading one never needs a copy of the whole file in the driver

Revision ID: 0011_import_file_parts
Revises: 0010_import_attempts
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_import_file_parts"
down_revision: str | None = "0010_import_attempts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A file kept before this revision is its own part 0.
    with op.batch_alter_table("import_files", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("part", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.drop_constraint("pk_import_files", type_="primary")
        batch_op.create_primary_key("pk_import_files", ["workspace_id", "import_id", "part"])
    with op.batch_alter_table("import_files", schema=None) as batch_op:
        batch_op.alter_column("part", server_default=None)


def downgrade() -> None:
    # Parts after the first are joined to it, so that no kept file loses its end.
    _join_parts()
    with op.batch_alter_table("import_files", schema=None) as batch_op:
        batch_op.drop_constraint("pk_import_files", type_="primary")
        batch_op.create_primary_key("pk_import_files", ["workspace_id", "import_id"])
        batch_op.drop_column("part")


def _join_parts() -> None:
    conn = op.get_bind()
    files = sa.table(
        "import_files",
        sa.column("workspace_id", sa.Integer()),
        sa.column("import_id", sa.String()),
        sa.column("part", sa.Integer()),
        sa.column("content", sa.LargeBinary()),
    )
    keys = conn.execute(
        sa.select(files.c.workspace_id, files.c.import_id).where(files.c.part > 0).distinct()
    ).all()
    for workspace_id, import_id in keys:
        mine = sa.and_(files.c.workspace_id == workspace_id, files.c.import_id == import_id)
        parts = conn.execute(
            sa.select(files.c.content).where(mine).order_by(files.c.part)
        ).scalars()
        whole = b"".join(parts)
        conn.execute(sa.delete(files).where(mine, files.c.part > 0))
        conn.execute(sa.update(files).where(mine, files.c.part == 0).values(content=whole))
