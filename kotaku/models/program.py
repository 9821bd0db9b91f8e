"""Where the works happen: regions, BKM, KSM, activities and their planned curve."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kotaku.models.base import Base, str_enum, utcnow
from kotaku.models.enums import Indicator, RegionLevel


class Region(Base):
    """Provinsi, kabupaten/kota, kecamatan or kelurahan/desa, keyed by its Kemendagri code."""

    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[RegionLevel] = mapped_column(str_enum(RegionLevel, "region_level"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("region.id", ondelete="RESTRICT"), index=True)
    timezone: Mapped[str] = mapped_column(String(40))
    # Materialised path of codes ("33/33.22/33.22.05/33.22.05.2001") so scope checks are one LIKE.
    path: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[Region | None] = relationship(remote_side=[id])


class Bkm(Base):
    """Badan/Lembaga Keswadayaan Masyarakat of one kelurahan."""

    __tablename__ = "bkm"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    kelurahan_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    kelurahan: Mapped[Region] = relationship()


class Ksm(Base):
    """Kelompok Swadaya Masyarakat: the community group doing the works and reporting them."""

    __tablename__ = "ksm"
    __table_args__ = (
        CheckConstraint("latitude IS NULL OR (latitude BETWEEN -90 AND 90)", name="latitude_range"),
        CheckConstraint("longitude IS NULL OR (longitude BETWEEN -180 AND 180)", name="longitude_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    bkm_id: Mapped[int] = mapped_column(ForeignKey("bkm.id", ondelete="RESTRICT"), index=True)
    keeps_roster: Mapped[bool] = mapped_column(default=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    reminder_time: Mapped[time | None] = mapped_column(Time)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    bkm: Mapped[Bkm] = relationship()
    activities: Mapped[list[Activity]] = relationship(back_populates="ksm", order_by="Activity.code")


class Activity(Base):
    """One kegiatan of a KSM: what is built, how much, for how much, and when."""

    __tablename__ = "activity"
    __table_args__ = (
        CheckConstraint("target_volume > 0", name="target_volume_positive"),
        CheckConstraint("budget >= 0", name="budget_non_negative"),
        CheckConstraint("wage_budget >= 0 AND wage_budget <= budget", name="wage_budget_within_budget"),
        CheckConstraint("end_date >= start_date", name="end_after_start"),
        CheckConstraint("latitude IS NULL OR (latitude BETWEEN -90 AND 90)", name="latitude_range"),
        CheckConstraint("longitude IS NULL OR (longitude BETWEEN -180 AND 180)", name="longitude_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    ksm_id: Mapped[int] = mapped_column(ForeignKey("ksm.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    indicator: Mapped[Indicator] = mapped_column(str_enum(Indicator, "indicator"))
    unit: Mapped[str] = mapped_column(String(20))
    target_volume: Mapped[float] = mapped_column(Float)
    budget: Mapped[int] = mapped_column(BigInteger)
    wage_budget: Mapped[int] = mapped_column(BigInteger)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ksm: Mapped[Ksm] = relationship(back_populates="activities")
    plan_points: Mapped[list[PlanPoint]] = relationship(
        back_populates="activity", order_by="PlanPoint.plan_date", cascade="all, delete-orphan"
    )


class PlanPoint(Base):
    """A point of the planned S-curve: cumulative percent expected by a local date."""

    __tablename__ = "plan_point"
    __table_args__ = (
        UniqueConstraint("activity_id", "plan_date"),
        CheckConstraint("planned_percent >= 0 AND planned_percent <= 100", name="percent_range"),
        Index("ix_plan_point_activity_date", "activity_id", "plan_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    plan_date: Mapped[date] = mapped_column(Date)
    planned_percent: Mapped[float] = mapped_column(Float)

    activity: Mapped[Activity] = relationship(back_populates="plan_points")
