"""Operational tables: alerts, the outbox, conversation state, the audit log and processed inbound ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kotaku.models.base import Base, str_enum, utcnow
from kotaku.models.enums import AlertSeverity, AlertStatus, Channel, OutboxStatus


class Alert(Base):
    """A deviation or anomaly found by monitoring; one open alert per kind and subject."""

    __tablename__ = "alert"
    __table_args__ = (
        Index(
            "uq_alert_open_subject",
            "kind",
            "subject_type",
            "subject_id",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        Index("ix_alert_status_ksm", "status", "ksm_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int] = mapped_column(Integer)
    ksm_id: Mapped[int | None] = mapped_column(ForeignKey("ksm.id", ondelete="CASCADE"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"))
    severity: Mapped[AlertSeverity] = mapped_column(str_enum(AlertSeverity, "alert_severity"))
    status: Mapped[AlertStatus] = mapped_column(
        str_enum(AlertStatus, "alert_status"), default=AlertStatus.OPEN
    )
    dedup_key: Mapped[str] = mapped_column(String(200))
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)
    message: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    ack_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    resolve_note: Mapped[str | None] = mapped_column(Text)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column()


class OutboxMessage(Base):
    """A notification to deliver, written in the transaction that caused it; sent at most once per key."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        UniqueConstraint("dedup_key"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_outbox_message_due", "status", "priority", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    recipient: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column()
    priority: Mapped[int] = mapped_column(Integer, default=5)
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    # What the channel reported after sending (WhatsApp status webhooks): its message id, and
    # sent / delivered / read / failed with when and why.
    external_id: Mapped[str | None] = mapped_column(String(128), index=True)
    delivery_status: Mapped[str | None] = mapped_column(String(20))
    delivery_status_at: Mapped[datetime | None] = mapped_column()
    delivery_error: Mapped[str | None] = mapped_column(Text)


class ConversationState(Base):
    """Where one user is in one chat: flow, named state and the partly entered data."""

    __tablename__ = "conversation_state"
    __table_args__ = (UniqueConstraint("channel", "chat_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    chat_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    flow: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str | None] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    language: Mapped[str | None] = mapped_column(String(2))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()


class AuditLog(Base):
    """Who changed what and when; corrections keep the old value here."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    old: Mapped[dict[str, Any] | None] = mapped_column()
    new: Mapped[dict[str, Any] | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)


class ProcessedInbound(Base):
    """Inbound message ids already handled, so a redelivery changes nothing."""

    __tablename__ = "processed_inbound"
    __table_args__ = (PrimaryKeyConstraint("channel", "message_id"),)

    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    message_id: Mapped[str] = mapped_column(String(100))
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


class MonitoringMark(Base):
    """A KSM whose reports changed since monitoring last evaluated it. Written in the report's own
    transaction, so a crash between the save and the evaluation loses nothing: the next sweep finds it."""

    __tablename__ = "monitoring_mark"

    ksm_id: Mapped[int] = mapped_column(ForeignKey("ksm.id", ondelete="CASCADE"), primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboxMessage(Base):
    """A webhook update stored before the webhook is answered, so a crash after the answer loses
    nothing; a worker handles them in arrival order per conversation. One row per external id (the
    WhatsApp message id): a redelivery is stored once."""

    __tablename__ = "inbox_message"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_inbox_message_pending", "processed_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    external_id: Mapped[str] = mapped_column(String(200))
    conversation: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="message")
    body: Mapped[dict[str, Any]] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)


class InboxLease(Base):
    """Which process handles a conversation's stored updates now, until when. Several processes on one
    database take a conversation by lease: one at a time, so its updates stay in order; a process that
    dies leaves a lease that expires, then another one takes the conversation over."""

    __tablename__ = "inbox_lease"
    __table_args__ = (PrimaryKeyConstraint("channel", "conversation"),)

    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    conversation: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column()
