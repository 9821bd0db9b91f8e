"""monitoring mark: KSMs whose reports changed since monitoring last evaluated them

Revision ID: 5d1c0e7a9b42
Revises: a36c81d9ba2f
Create Date: 2026-12-01 20:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d1c0e7a9b42"
down_revision: str | None = "a36c81d9ba2f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monitoring_mark",
        sa.Column("ksm_id", sa.Integer(), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ksm_id"], ["ksm.id"], name=op.f("fk_monitoring_mark_ksm_id_ksm"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("ksm_id", name=op.f("pk_monitoring_mark")),
    )


def downgrade() -> None:
    op.drop_table("monitoring_mark")
