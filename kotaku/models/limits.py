"""Rate limits shared by every process: counts of events per key in short time buckets, summed over a
sliding window (wrong invite codes across all identities, per channel)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from kotaku.models.base import Base


class RateCounter(Base):
    """How many events of one key (`invite:all`, `invite:telegram`) happened in the bucket that starts at
    `bucket_start`; a window's count is the sum of its buckets. Old buckets are deleted as new ones come."""

    __tablename__ = "rate_counter"
    __table_args__ = (
        PrimaryKeyConstraint("key", "bucket_start"),
        CheckConstraint("count >= 0", name="count_non_negative"),
        Index("ix_rate_counter_bucket_start", "bucket_start"),
    )

    key: Mapped[str] = mapped_column(String(100))
    bucket_start: Mapped[datetime] = mapped_column()
    count: Mapped[int] = mapped_column(Integer, default=0)
