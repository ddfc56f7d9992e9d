"""dashboard: operators, their sessions and sign-in failures; who made a dashboard change; the
index the group counts are read from; daily group changes for the size charts

Revision ID: 0002_dashboard
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_dashboard"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("email", name=op.f("uq_operators_email")),
    )
    op.create_table(
        "operator_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_operator_sessions_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_operator_sessions")),
    )
    with op.batch_alter_table("operator_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_operator_sessions_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_operator_sessions_operator_id"), ["operator_id"], unique=False
        )
    op.create_table(
        "operator_sign_in_failures",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("email", "client_ip", name=op.f("pk_operator_sign_in_failures")),
    )
    op.create_table(
        "group_day_changes",
        sa.Column("group_pk", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("subscribed", sa.Integer(), nullable=False),
        sa.Column("unsubscribed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_pk"],
            ["subscription_groups.pk"],
            name=op.f("fk_group_day_changes_group_pk_subscription_groups"),
        ),
        sa.PrimaryKeyConstraint("group_pk", "day", name=op.f("pk_group_day_changes")),
    )
    with op.batch_alter_table("state_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("operator", sa.String(length=320), nullable=True))
    with op.batch_alter_table("subscription_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscription_states_group_pk_subscribed"),
            ["group_pk", "subscribed"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("subscription_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_states_group_pk_subscribed"))
    with op.batch_alter_table("state_changes", schema=None) as batch_op:
        batch_op.drop_column("operator")
    op.drop_table("group_day_changes")
    op.drop_table("operator_sign_in_failures")
    with op.batch_alter_table("operator_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operator_sessions_operator_id"))
        batch_op.drop_index(batch_op.f("ix_operator_sessions_expires_at"))
    op.drop_table("operator_sessions")
    op.drop_table("operators")
