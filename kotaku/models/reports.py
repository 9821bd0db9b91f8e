"""What KSMs report: progress, attendance, obstacles and media, each with who entered it and when."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kotaku.models.base import Base, str_enum, utcnow
from kotaku.models.enums import (
    AttendanceMode,
    Channel,
    MediaKind,
    ObstacleCategory,
    ObstacleStatus,
    Severity,
)
from kotaku.models.people import Worker
from kotaku.models.program import Activity, Ksm


class ProgressReport(Base):
    """Cumulative physical progress of one activity on one local date (one row per day; corrections audited)."""

    __tablename__ = "progress_report"
    __table_args__ = (
        UniqueConstraint("activity_id", "report_date"),
        CheckConstraint("percent >= 0 AND percent <= 100", name="percent_range"),
        CheckConstraint("volume IS NULL OR volume >= 0", name="volume_non_negative"),
        Index("ix_progress_report_activity_date", "activity_id", "report_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="RESTRICT"))
    report_date: Mapped[date] = mapped_column(Date, index=True)
    percent: Mapped[float] = mapped_column(Float)
    volume: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[Channel | None] = mapped_column(str_enum(Channel, "channel"))
    revision: Mapped[int] = mapped_column(Integer, default=1)

    activity: Mapped[Activity] = relationship()


class AttendanceDay(Base):
    """One KSM's attendance sheet for one local date: by roster (with records) or by count."""

    __tablename__ = "attendance_day"
    __table_args__ = (
        UniqueConstraint("ksm_id", "work_date"),
        CheckConstraint("count_male >= 0 AND count_female >= 0", name="counts_non_negative"),
        CheckConstraint("total_wages >= 0", name="wages_non_negative"),
        # The monitoring sweep's wages to date per KSM, from the index alone.
        Index("ix_attendance_day_ksm_wages", "ksm_id", "work_date", "total_wages"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ksm_id: Mapped[int] = mapped_column(ForeignKey("ksm.id", ondelete="RESTRICT"), index=True)
    work_date: Mapped[date] = mapped_column(Date, index=True)
    mode: Mapped[AttendanceMode] = mapped_column(str_enum(AttendanceMode, "attendance_mode"))
    count_male: Mapped[int] = mapped_column(Integer, default=0)
    count_female: Mapped[int] = mapped_column(Integer, default=0)
    hok: Mapped[float] = mapped_column(Float, default=0.0)
    total_wages: Mapped[int] = mapped_column(BigInteger, default=0)
    wages_paid: Mapped[bool] = mapped_column(Boolean, default=False)
    late_reason: Mapped[str | None] = mapped_column(Text)
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[Channel | None] = mapped_column(str_enum(Channel, "channel"))
    revision: Mapped[int] = mapped_column(Integer, default=1)

    ksm: Mapped[Ksm] = relationship()
    records: Mapped[list[AttendanceRecord]] = relationship(
        back_populates="day", cascade="all, delete-orphan", order_by="AttendanceRecord.id"
    )


class AttendanceRecord(Base):
    """One worker present on one day. KSM, date and NIK hash are copied here for cross-site checks."""

    __tablename__ = "attendance_record"
    __table_args__ = (
        UniqueConstraint("attendance_day_id", "worker_id"),
        CheckConstraint("hok > 0 AND hok <= 2", name="hok_range"),
        CheckConstraint("wage >= 0", name="wage_non_negative"),
        Index("ix_attendance_record_nik_date", "nik_hash", "work_date"),
        # The monitoring sweep's `nik_double`: the recent days' NIK hashes and KSMs, from the index alone.
        Index("ix_attendance_record_date_nik", "work_date", "nik_hash", "ksm_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attendance_day_id: Mapped[int] = mapped_column(ForeignKey("attendance_day.id", ondelete="CASCADE"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id", ondelete="RESTRICT"), index=True)
    ksm_id: Mapped[int] = mapped_column(ForeignKey("ksm.id", ondelete="RESTRICT"))
    work_date: Mapped[date] = mapped_column(Date)
    nik_hash: Mapped[str | None] = mapped_column(String(64))
    hok: Mapped[float] = mapped_column(Float, default=1.0)
    wage: Mapped[int] = mapped_column(BigInteger)
    paid: Mapped[bool] = mapped_column(Boolean, default=False)

    day: Mapped[AttendanceDay] = relationship(back_populates="records")
    worker: Mapped[Worker] = relationship()


class Media(Base):
    """A photo, document, voice note or location attached to a KSM's report of a day (files by sha256)."""

    __tablename__ = "media"
    __table_args__ = (
        CheckConstraint("milestone IS NULL OR milestone BETWEEN 0 AND 100", name="milestone_range"),
        CheckConstraint("size_bytes IS NULL OR size_bytes >= 0", name="size_non_negative"),
        Index("ix_media_sha256", "sha256"),
        Index("ix_media_ksm_date", "ksm_id", "report_date"),
        Index("ix_media_activity_date", "activity_id", "report_date"),  # the photo counts of Progres
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ksm_id: Mapped[int] = mapped_column(ForeignKey("ksm.id", ondelete="RESTRICT"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"))
    report_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[MediaKind] = mapped_column(str_enum(MediaKind, "media_kind"))
    sha256: Mapped[str | None] = mapped_column(String(64))
    phash: Mapped[str | None] = mapped_column(String(32))
    path: Mapped[str | None] = mapped_column(String(300))
    mime_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    caption: Mapped[str | None] = mapped_column(Text)
    milestone: Mapped[int | None] = mapped_column(Integer)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    taken_at: Mapped[datetime | None] = mapped_column()
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[Channel | None] = mapped_column(str_enum(Channel, "channel"))


class Obstacle(Base):
    """A kendala at a site, with its severity and follow-up."""

    __tablename__ = "obstacle"

    id: Mapped[int] = mapped_column(primary_key=True)
    short_id: Mapped[str] = mapped_column(String(12), unique=True)
    ksm_id: Mapped[int] = mapped_column(ForeignKey("ksm.id", ondelete="RESTRICT"), index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"))
    report_date: Mapped[date] = mapped_column(Date)
    category: Mapped[ObstacleCategory] = mapped_column(str_enum(ObstacleCategory, "obstacle_category"))
    severity: Mapped[Severity] = mapped_column(str_enum(Severity, "severity"))
    description: Mapped[str] = mapped_column(Text)
    voice_media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id", ondelete="SET NULL"))
    photo_media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id", ondelete="SET NULL"))
    status: Mapped[ObstacleStatus] = mapped_column(
        str_enum(ObstacleStatus, "obstacle_status"), default=ObstacleStatus.OPEN, index=True
    )
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column()
    close_note: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any] | None] = mapped_column()

    ksm: Mapped[Ksm] = relationship()
