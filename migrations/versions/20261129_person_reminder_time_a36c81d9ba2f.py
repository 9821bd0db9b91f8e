"""person reminder time: /pengingat keeps one's own reminder time and a pause for one local date

Revision ID: a36c81d9ba2f
Revises: f560885c0746
Create Date: 2026-11-29 05:33:47.093439
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a36c81d9ba2f"
down_revision: str | None = "f560885c0746"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminder_time", sa.Time(), nullable=True))
        batch_op.add_column(sa.Column("reminder_paused_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("reminder_paused_on")
        batch_op.drop_column("reminder_time")
