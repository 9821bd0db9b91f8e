"""monitoring sweep indexes: the recent days' NIK hashes and KSMs of attendance records (nik_double), and
each KSM's sheets with their wages (wages to date), both read from the index alone

Revision ID: d2a7f3c9e41b
Revises: c4d8e2f6a1b9
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "d2a7f3c9e41b"
down_revision: str | None = "c4d8e2f6a1b9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attendance_record", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attendance_record_date_nik", ["work_date", "nik_hash", "ksm_id"], unique=False
        )
    with op.batch_alter_table("attendance_day", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attendance_day_ksm_wages", ["ksm_id", "work_date", "total_wages"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("attendance_day", schema=None) as batch_op:
        batch_op.drop_index("ix_attendance_day_ksm_wages")
    with op.batch_alter_table("attendance_record", schema=None) as batch_op:
        batch_op.drop_index("ix_attendance_record_date_nik")
