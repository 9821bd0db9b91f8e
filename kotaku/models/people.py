"""Who is who: people with a role and a scope, their chat identities, invites and the worker roster."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kotaku.models.base import Base, str_enum, utcnow
from kotaku.models.enums import Channel, Gender, Role, Skill
from kotaku.models.program import Bkm, Ksm, Region

# A scope is exactly one of: a KSM, a BKM, a region (kelurahan..provinsi), or nothing (national).
SCOPE_CHECK = (
    "(CASE WHEN scope_ksm_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN scope_bkm_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN scope_region_id IS NULL THEN 0 ELSE 1 END) <= 1"
)


class Person(Base):
    __tablename__ = "person"
    __table_args__ = (CheckConstraint(SCOPE_CHECK, name="one_scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    language: Mapped[str] = mapped_column(String(2), default="id")
    scope_ksm_id: Mapped[int | None] = mapped_column(ForeignKey("ksm.id", ondelete="RESTRICT"), index=True)
    scope_bkm_id: Mapped[int | None] = mapped_column(ForeignKey("bkm.id", ondelete="RESTRICT"), index=True)
    scope_region_id: Mapped[int | None] = mapped_column(
        ForeignKey("region.id", ondelete="RESTRICT"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # /pengingat: one's own reminder time (local to the site) and "not today" (a local date).
    reminder_time: Mapped[time | None] = mapped_column(Time)
    reminder_paused_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    scope_ksm: Mapped[Ksm | None] = relationship()
    scope_bkm: Mapped[Bkm | None] = relationship()
    scope_region: Mapped[Region | None] = relationship()
    identities: Mapped[list[ChannelIdentity]] = relationship(back_populates="person")


class ChannelIdentity(Base):
    """A person's account on one channel (Telegram user id, WhatsApp number, console name)."""

    __tablename__ = "channel_identity"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    external_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column()
    unreachable_at: Mapped[datetime | None] = mapped_column()
    unreachable_reason: Mapped[str | None] = mapped_column(String(200))
    # The phone number in E.164 when the channel tells it (WhatsApp `wa_id`), next to a user id that is
    # not a phone number (WhatsApp's business-scoped user id).
    phone: Mapped[str | None] = mapped_column(String(20), index=True)

    person: Mapped[Person] = relationship(back_populates="identities")


class GroupBinding(Base):
    """A group chat bound to a KSM: registered members may report there."""

    __tablename__ = "group_binding"
    __table_args__ = (UniqueConstraint("channel", "chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    chat_id: Mapped[str] = mapped_column(String(64))
    ksm_id: Mapped[int] = mapped_column(ForeignKey("ksm.id", ondelete="CASCADE"), index=True)
    bound_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    bound_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invite(Base):
    """A single-use, expiring code that binds a chat identity to a person with a role and scope."""

    __tablename__ = "invite"
    __table_args__ = (CheckConstraint(SCOPE_CHECK, name="one_scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    scope_ksm_id: Mapped[int | None] = mapped_column(ForeignKey("ksm.id", ondelete="CASCADE"))
    scope_bkm_id: Mapped[int | None] = mapped_column(ForeignKey("bkm.id", ondelete="CASCADE"))
    scope_region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    name: Mapped[str | None] = mapped_column(String(160))
    phone: Mapped[str | None] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    used_by_identity_id: Mapped[int | None] = mapped_column(
        ForeignKey("channel_identity.id", ondelete="SET NULL")
    )


class AuthFailure(Base):
    """A failed invite attempt, to rate-limit guessing per identity."""

    __tablename__ = "auth_failure"
    __table_args__ = (Index("ix_auth_failure_identity_at", "channel", "external_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    external_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Worker(Base):
    """A worker on a KSM's roster. The NIK is kept only encrypted plus a keyed hash for matching."""

    __tablename__ = "worker"
    __table_args__ = (
        UniqueConstraint("ksm_id", "nik_hash"),
        CheckConstraint("daily_rate >= 0", name="rate_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ksm_id: Mapped[int] = mapped_column(ForeignKey("ksm.id", ondelete="RESTRICT"), index=True)
    code: Mapped[str | None] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(160))
    gender: Mapped[Gender] = mapped_column(str_enum(Gender, "gender"))
    skill: Mapped[Skill] = mapped_column(str_enum(Skill, "skill"))
    nik_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    nik_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    daily_rate: Mapped[int] = mapped_column(BigInteger)
    phone: Mapped[str | None] = mapped_column(String(20))
    is_phk: Mapped[bool | None] = mapped_column(Boolean)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ksm: Mapped[Ksm] = relationship()
