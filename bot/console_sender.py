"""Delivering outbox notifications in the console: each one is printed as "🔔 [to Mbak Wulan] ...".

Recipients are console chat ids (a person's code, or a bound group's id); the name shown is the person's.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from kotaku.db import Database
from kotaku.models import Channel, ChannelIdentity, Person
from kotaku.notify.ports import DeliveryContext, SendResult
from kotaku.schemas import Outbound, OutboundKind


class ConsoleSender:
    channel = Channel.CONSOLE

    def __init__(self, db: Database, write: Callable[[str], None]) -> None:
        self.db = db
        self.write = write
        self._names: dict[str, str] = {}

    async def _name(self, recipient: str) -> str:
        if recipient not in self._names:
            async with self.db.session() as s:
                name = (
                    await s.execute(
                        select(Person.name)
                        .join(ChannelIdentity, ChannelIdentity.person_id == Person.id)
                        .where(
                            ChannelIdentity.channel == Channel.CONSOLE, ChannelIdentity.chat_id == recipient
                        )
                    )
                ).scalar_one_or_none()
            self._names[recipient] = name or recipient
        return self._names[recipient]

    async def send(
        self, recipient: str, messages: list[Outbound], context: DeliveryContext | None = None
    ) -> SendResult:
        name = await self._name(recipient)
        for out in messages:
            text = out.text
            if out.kind != OutboundKind.TEXT:
                text = f"[{out.file_name or out.kind.value}] {text}".strip()
            lines = [f"🔔 [to {name}] {text}"]
            if out.choices:
                lines.append("   " + "  ".join(f"({c.value}) {c.label}" for c in out.choices))
            self.write("\n".join(lines))
        return SendResult.ok()
