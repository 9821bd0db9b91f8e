"""rate counter: event counts per key and time bucket, for limits that hold across processes

Revision ID: 3f9a2c7d5e18
Revises: 8e3b7c1d2f40
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3f9a2c7d5e18"
down_revision: str | None = "8e3b7c1d2f40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_counter",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.CheckConstraint("count >= 0", name=op.f("ck_rate_counter_count_non_negative")),
        sa.PrimaryKeyConstraint("key", "bucket_start", name=op.f("pk_rate_counter")),
    )
    with op.batch_alter_table("rate_counter", schema=None) as batch_op:
        batch_op.create_index("ix_rate_counter_bucket_start", ["bucket_start"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rate_counter", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_counter_bucket_start")
    op.drop_table("rate_counter")
