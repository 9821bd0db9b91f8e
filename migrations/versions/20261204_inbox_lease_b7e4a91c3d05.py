"""inbox lease: which process handles a conversation's stored updates, until when

Revision ID: b7e4a91c3d05
Revises: 3f9a2c7d5e18
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e4a91c3d05"
down_revision: str | None = "3f9a2c7d5e18"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = ("telegram", "whatsapp", "console", "test")


def upgrade() -> None:
    op.create_table(
        "inbox_lease",
        sa.Column(
            "channel",
            sa.Enum(*CHANNELS, name="channel", native_enum=False, create_constraint=True, length=12),
            nullable=False,
        ),
        sa.Column("conversation", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "conversation", name=op.f("pk_inbox_lease")),
    )


def downgrade() -> None:
    op.drop_table("inbox_lease")
