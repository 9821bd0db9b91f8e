"""A push/pop channel for end-to-end tests: send what a user types or taps, pop what the bot said."""

from __future__ import annotations

import itertools
from datetime import datetime

from kotaku.dialog.engine import Engine
from kotaku.models import Channel
from kotaku.schemas import Choice, Inbound, InboundKind, Outbound

_MESSAGE_IDS = itertools.count(1)


class TestChannel:
    """Drives the engine as one or more users would; counts messages and taps for the README figures."""

    __test__ = False  # not a pytest class

    def __init__(self, engine: Engine, channel: Channel = Channel.TEST) -> None:
        self.engine = engine
        self.channel = channel
        self.user = "user-1"
        self.chat: str | None = None
        self.is_group = False
        self.outbox: list[Outbound] = []
        self.messages_sent = 0
        self.taps = 0
        self.last_id = ""

    def as_user(self, user: str, chat: str | None = None, *, group: bool = False) -> TestChannel:
        self.user, self.chat, self.is_group = user, chat, group
        return self

    def _inbound(self, **kw: object) -> Inbound:
        message_id = str(kw.pop("message_id", None) or f"m{next(_MESSAGE_IDS)}")
        self.last_id = message_id
        return Inbound(
            channel=self.channel,
            user_id=self.user,
            chat_id=self.chat or self.user,
            message_id=message_id,
            is_group=self.is_group,
            display_name=self.user,
            **kw,  # type: ignore[arg-type]
        )

    async def _send(self, inbound: Inbound) -> list[Outbound]:
        replies = await self.engine.handle(inbound)
        self.outbox.extend(replies)
        return replies

    async def text(self, text: str, message_id: str | None = None) -> list[Outbound]:
        self.messages_sent += 1
        return await self._send(self._inbound(kind=InboundKind.TEXT, text=text, message_id=message_id))

    async def tap(self, label_or_value: str, message_id: str | None = None) -> list[Outbound]:
        """Press a button offered in the last reply that had choices (by label, value or 1-based number)."""
        choice = self.find_choice(label_or_value)
        self.taps += 1
        return await self._send(
            self._inbound(kind=InboundKind.CHOICE, choice=choice.value, message_id=message_id)
        )

    async def press(self, value: str, message_id: str | None = None) -> list[Outbound]:
        """A button press carrying exactly `value`, offered or not: a stale or forged callback."""
        self.taps += 1
        return await self._send(self._inbound(kind=InboundKind.CHOICE, choice=value, message_id=message_id))

    async def photo(
        self,
        content: bytes,
        caption: str | None = None,
        *,
        latitude: float | None = None,
        longitude: float | None = None,
        taken_at: datetime | None = None,
        mime_type: str = "image/jpeg",
    ) -> list[Outbound]:
        self.messages_sent += 1
        return await self._send(
            self._inbound(
                kind=InboundKind.PHOTO,
                text=caption,
                file_bytes=content,
                file_size=len(content),
                mime_type=mime_type,
                file_name="foto.jpg",
                latitude=latitude,
                longitude=longitude,
                taken_at=taken_at,
            )
        )

    async def location(self, latitude: float, longitude: float) -> list[Outbound]:
        self.messages_sent += 1
        return await self._send(
            self._inbound(kind=InboundKind.LOCATION, latitude=latitude, longitude=longitude)
        )

    async def voice(self, content: bytes, mime_type: str = "audio/ogg") -> list[Outbound]:
        self.messages_sent += 1
        return await self._send(
            self._inbound(
                kind=InboundKind.VOICE,
                file_bytes=content,
                file_size=len(content),
                mime_type=mime_type,
                file_name="suara.ogg",
            )
        )

    async def document(self, content: bytes, file_name: str, mime_type: str) -> list[Outbound]:
        self.messages_sent += 1
        return await self._send(
            self._inbound(
                kind=InboundKind.DOCUMENT,
                file_bytes=content,
                file_size=len(content),
                mime_type=mime_type,
                file_name=file_name,
            )
        )

    async def resend(self, message_id: str, text: str) -> list[Outbound]:
        """The same message id again, as a channel redelivery would."""
        return await self._send(self._inbound(kind=InboundKind.TEXT, text=text, message_id=message_id))

    # --- reading what the bot said -------------------------------------------------------------

    def last(self) -> Outbound:
        assert self.outbox, "the bot said nothing"
        return self.outbox[-1]

    def last_text(self) -> str:
        return self.last().text

    def all_text(self) -> str:
        return "\n".join(o.text for o in self.outbox)

    def pop_all(self) -> list[Outbound]:
        out, self.outbox = self.outbox, []
        return out

    def last_choices(self) -> list[Choice]:
        for out in reversed(self.outbox):
            if out.choices:
                return out.choices
        raise AssertionError("no reply offered choices")

    def find_choice(self, label_or_value: str) -> Choice:
        choices = self.last_choices()
        if label_or_value.isdigit() and 1 <= int(label_or_value) <= len(choices):
            return choices[int(label_or_value) - 1]
        want = label_or_value.lower()
        for c in choices:
            if c.value.lower() == want or c.label.lower() == want:
                return c
        for c in choices:
            if want in c.label.lower():
                return c
        raise AssertionError(f"no choice {label_or_value!r} in {[c.label for c in choices]}")
