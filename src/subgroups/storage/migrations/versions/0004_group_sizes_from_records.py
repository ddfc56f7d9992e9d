"""group sizes from the change records: the (group_pk, subscribed) index on subscription_states
goes, group_sizes keeps each group's sizes summed over the days that are over, and on PostgreSQL
subscription_states leaves room on its pages for flips to be heap-only updates

Without that index, a flip changes no indexed column. PostgreSQL then rewrites the row on its own
page without touching an index, if the page has room: the fill factor of 80 keeps a fifth of each
page free, for pages written from now on. A table that is already large gains that room only when
it is rewritten (VACUUM FULL, or pg_repack without the lock); flips are correct either way.

group_sizes starts empty: the dashboard sums each group's records the first time it shows the
group, once, and from then on only the days that have ended since.

Revision ID: 0004_group_sizes
Revises: 0003_change_records_no_fk
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_group_sizes"
down_revision: str | None = "0003_change_records_no_fk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "ix_subscription_states_group_pk_subscribed"


def _on_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "group_sizes",
        sa.Column("group_pk", sa.Integer(), nullable=False),
        sa.Column("through_day", sa.Date(), nullable=False),
        sa.Column("subscribed", sa.BigInteger(), nullable=False),
        sa.Column("unsubscribed", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_pk"],
            ["subscription_groups.pk"],
            name=op.f("fk_group_sizes_group_pk_subscription_groups"),
        ),
        sa.PrimaryKeyConstraint("group_pk", name=op.f("pk_group_sizes")),
    )
    with op.batch_alter_table("subscription_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f(_INDEX))
    if _on_postgresql():
        op.execute("ALTER TABLE subscription_states SET (fillfactor = 80)")


def downgrade() -> None:
    if _on_postgresql():
        op.execute("ALTER TABLE subscription_states RESET (fillfactor)")
    with op.batch_alter_table("subscription_states", schema=None) as batch_op:
        batch_op.create_index(batch_op.f(_INDEX), ["group_pk", "subscribed"], unique=False)
    op.drop_table("group_sizes")
