"""the person's own say (contract §11): link-signing secrets, the workspace's page branding and
suppression key, suppression entries and erasures; the user agent and reason of a record

Revision ID: 0008_person_links
Revises: 0007_imports
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_person_links"
down_revision: str | None = "0007_imports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REASONS = "ix_state_changes_reasons"


def _workspace_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id"], ["workspaces.id"], name=op.f(f"fk_{table}_workspace_id_workspaces")
    )


def upgrade() -> None:
    op.create_table(
        "link_secrets",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retires_at", sa.DateTime(timezone=True), nullable=True),
        _workspace_fk("link_secrets"),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_link_secrets")),
    )
    op.create_table(
        "person_pages",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=True),
        sa.Column("accent_color", sa.String(length=7), nullable=True),
        sa.Column("suppression_key", sa.String(length=64), nullable=False),
        _workspace_fk("person_pages"),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_person_pages")),
    )
    op.create_table(
        "suppressions",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("contact_hash", sa.String(length=64), nullable=False),
        sa.Column("subscription_group_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        _workspace_fk("suppressions"),
        sa.PrimaryKeyConstraint(
            "workspace_id", "contact_hash", "subscription_group_id", name=op.f("pk_suppressions")
        ),
    )
    op.create_table(
        "erasures",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column(
            "profile_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_by", sa.String(length=320), nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        _workspace_fk("erasures"),
        sa.PrimaryKeyConstraint("workspace_id", "profile_id", name=op.f("pk_erasures")),
    )
    with op.batch_alter_table("state_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_agent", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("reason_detail", sa.String(length=500), nullable=True))
    op.create_index(
        _REASONS,
        "state_changes",
        ["workspace_id", "subscription_group_id", "occurred_at"],
        unique=False,
        postgresql_where=sa.text("reason IS NOT NULL"),
        sqlite_where=sa.text("reason IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(_REASONS, table_name="state_changes")
    with op.batch_alter_table("state_changes", schema=None) as batch_op:
        batch_op.drop_column("reason_detail")
        batch_op.drop_column("reason")
        batch_op.drop_column("user_agent")
    op.drop_table("erasures")
    op.drop_table("suppressions")
    op.drop_table("person_pages")
    op.drop_table("link_secrets")
