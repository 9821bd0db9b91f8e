"""The port a channel implements so the dispatcher can deliver outbox messages through it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from kotaku.models import Channel
from kotaku.schemas import Outbound


class SendStatus(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"  # transient: network error, 5xx, timeout; try again with backoff
    RATE_LIMITED = "rate_limited"  # 429: try again after `retry_after` seconds
    PERMANENT = "permanent"  # blocked by the user, unknown chat, rejected content
    HELD = "held"  # cannot go now and no retry will help until the recipient writes (WhatsApp window)


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    retry_after: float | None = None
    reason: str | None = None
    external_id: str | None = None
    # With PERMANENT: the recipient blocked the bot or left the chat; the dispatcher marks the identity.
    unreachable: bool = False
    # With RATE_LIMITED: the sending account itself is restricted (WhatsApp 368); admins are alerted.
    account_restricted: bool = False

    @classmethod
    def ok(cls, external_id: str | None = None) -> SendResult:
        return cls(SendStatus.SENT, external_id=external_id)


@dataclass(frozen=True)
class DeliveryContext:
    """What the dispatcher knows about an outbox message besides its text: which entry it is (WhatsApp
    tracks statuses by it), its kind and payload (to choose a template), when the recipient last wrote
    (the WhatsApp 24-hour window) and their language."""

    outbox_id: int
    kind: str
    payload: dict[str, Any]
    last_inbound_at: datetime | None = None
    language: str = "id"


class Sender(Protocol):
    """Delivers rendered messages to one chat on one channel. Never raises for delivery problems:
    it returns a `SendResult` saying whether to retry, wait, or give up."""

    channel: Channel

    async def send(
        self, recipient: str, messages: list[Outbound], context: DeliveryContext | None = None
    ) -> SendResult: ...
