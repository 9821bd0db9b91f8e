"""Fakes shared by the delivery tests: a scripted Sender that records what it delivered."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field

from kotaku.models import Channel
from kotaku.notify.ports import DeliveryContext, SendResult, SendStatus
from kotaku.schemas import Outbound


@dataclass
class FakeSender:
    """Delivers to an in-memory list. `script[recipient]` is a list of results returned in turn (then SENT)."""

    channel: Channel = Channel.TEST
    script: dict[str, list[SendResult]] = field(default_factory=dict)
    delivered: list[tuple[str, list[Outbound]]] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    raise_for: set[str] = field(default_factory=set)
    delay: float = 0.0

    async def send(
        self, recipient: str, messages: list[Outbound], context: DeliveryContext | None = None
    ) -> SendResult:
        self.calls[recipient] += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if recipient in self.raise_for:
            self.raise_for.discard(recipient)
            raise ConnectionError("boom")
        planned = self.script.get(recipient)
        if planned:
            result = planned.pop(0)
            if result.status != SendStatus.SENT:
                return result
        self.delivered.append((recipient, messages))
        return SendResult.ok()

    def texts(self) -> list[str]:
        return [m.text for _, msgs in self.delivered for m in msgs]

    def recipients(self) -> list[str]:
        return [r for r, _ in self.delivered]
