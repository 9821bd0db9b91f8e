"""media activity date index: the photos of an activity by day (the Progres photo counts of the exports)

Revision ID: c4d8e2f6a1b9
Revises: b7e4a91c3d05
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c4d8e2f6a1b9"
down_revision: str | None = "b7e4a91c3d05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index("ix_media_activity_date", ["activity_id", "report_date"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index("ix_media_activity_date")
