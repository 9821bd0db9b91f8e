"""The port a channel implements so the dispatcher can deliver outbox messages through it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from kotaku.models import Channel
from kotaku.schemas import Outbound


class SendStatus(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"  # transient: network error, 5xx, timeout; try again with backoff
    RATE_LIMITED = "rate_limited"  # 429: try again after `retry_after` seconds
    PERMANENT = "permanent"  # blocked by the user, unknown chat, no template outside the window


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    retry_after: float | None = None
    reason: str | None = None
    external_id: str | None = None
    # With PERMANENT: the recipient blocked the bot or left the chat; the dispatcher marks the identity.
    unreachable: bool = False

    @classmethod
    def ok(cls, external_id: str | None = None) -> SendResult:
        return cls(SendStatus.SENT, external_id=external_id)


class Sender(Protocol):
    """Delivers rendered messages to one chat on one channel. Never raises for delivery problems:
    it returns a `SendResult` saying whether to retry, wait, or give up."""

    channel: Channel

    async def send(self, recipient: str, messages: list[Outbound]) -> SendResult: ...
