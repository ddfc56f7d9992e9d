"""import attempts: how many times in a row an import was taken up without a batch being
written, so that one which keeps stopping its runner is given up rather than retried forever

Revision ID: 0010_import_attempts
Revises: 0009_imports_by_time
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_import_attempts"
down_revision: str | None = "0009_imports_by_time"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("imports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("imports", schema=None) as batch_op:
        batch_op.drop_column("attempts")
