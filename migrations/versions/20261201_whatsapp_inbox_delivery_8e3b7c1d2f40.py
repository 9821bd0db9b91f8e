"""whatsapp: webhook inbox, delivery statuses on the outbox, held messages, identity phone

Revision ID: 8e3b7c1d2f40
Revises: 5d1c0e7a9b42
Create Date: 2026-12-01 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8e3b7c1d2f40"
down_revision: str | None = "5d1c0e7a9b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = ("telegram", "whatsapp", "console", "test")
OLD_STATUSES = ("pending", "sending", "sent", "failed")
NEW_STATUSES = (*OLD_STATUSES, "held")


def _in(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "inbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(*CHANNELS, name="channel", native_enum=False, create_constraint=True, length=12),
            nullable=False,
        ),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("conversation", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_message")),
        sa.UniqueConstraint("channel", "external_id", name=op.f("uq_inbox_message_channel_external_id")),
    )
    with op.batch_alter_table("inbox_message", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_message_pending", ["processed_at", "id"], unique=False)

    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("delivery_status", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("delivery_status_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("delivery_error", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_message_external_id"), ["external_id"], unique=False)
        batch_op.drop_constraint(op.f("ck_outbox_message_outbox_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_message_outbox_status"), _in(NEW_STATUSES))

    with op.batch_alter_table("channel_identity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f("ix_channel_identity_phone"), ["phone"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("channel_identity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_identity_phone"))
        batch_op.drop_column("phone")

    op.execute("UPDATE outbox_message SET status = 'failed' WHERE status = 'held'")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_message_outbox_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_message_outbox_status"), _in(OLD_STATUSES))
        batch_op.drop_index(batch_op.f("ix_outbox_message_external_id"))
        batch_op.drop_column("delivery_error")
        batch_op.drop_column("delivery_status_at")
        batch_op.drop_column("delivery_status")
        batch_op.drop_column("external_id")

    with op.batch_alter_table("inbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_message_pending")
    op.drop_table("inbox_message")
