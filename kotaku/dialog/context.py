"""What a flow sees while handling one inbound message: who, where, the draft, and how to reply."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from kotaku import clock
from kotaku.catalogue import t as catalogue_t
from kotaku.config import Settings
from kotaku.models import ChannelIdentity, ConversationState, Ksm, Person
from kotaku.schemas import Choice, Inbound, InboundKind, Outbound, OutboundKind
from kotaku.services.scope import ksm_timezone, person_timezone


@dataclass
class Context:
    session: AsyncSession
    settings: Settings
    inbound: Inbound
    conv: ConversationState
    now: datetime
    person: Person | None = None
    identity: ChannelIdentity | None = None
    group_ksm_id: int | None = None
    replies: list[Outbound] = field(default_factory=list)

    # --- language and replies ------------------------------------------------------------------

    @property
    def lang(self) -> str:
        if self.person is not None and self.person.language:
            return self.person.language
        return self.conv.language or self.settings.app.language

    def t(self, key: str, /, **kwargs: Any) -> str:
        return catalogue_t(key, self.lang, **kwargs)

    def say(
        self, text: str, choices: list[Choice] | None = None, *, columns: int = 1, edit_key: str | None = None
    ) -> None:
        self.replies.append(Outbound(text=text, choices=choices or [], columns=columns, edit_key=edit_key))

    def send_image(self, content: bytes, caption: str = "", file_name: str = "grafik.png") -> None:
        self.replies.append(
            Outbound(
                kind=OutboundKind.IMAGE,
                text=caption,
                content=content,
                file_name=file_name,
                mime_type="image/png",
            )
        )

    def send_file(self, content: bytes, file_name: str, mime_type: str, caption: str = "") -> None:
        self.replies.append(
            Outbound(
                kind=OutboundKind.FILE,
                text=caption,
                content=content,
                file_name=file_name,
                mime_type=mime_type,
            )
        )

    # --- input -----------------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """The typed text, or the pressed button's value."""
        if self.inbound.kind == InboundKind.CHOICE:
            return (self.inbound.choice or "").strip()
        return (self.inbound.text or "").strip()

    @property
    def is_choice(self) -> bool:
        return self.inbound.kind == InboundKind.CHOICE

    # --- conversation state ----------------------------------------------------------------------

    @property
    def flow(self) -> str | None:
        return self.conv.flow

    @property
    def state(self) -> str | None:
        return self.conv.state

    @property
    def data(self) -> dict[str, Any]:
        if self.conv.data is None:
            self.conv.data = {}
        return self.conv.data

    def touch(self) -> None:
        """Mark the draft changed so it is saved, and push its expiry forward."""
        flag_modified(self.conv, "data")
        self.conv.updated_at = self.now
        self.conv.expires_at = self.now + timedelta(hours=self.settings.dialog.draft_ttl_hours)

    def goto(self, flow: str, state: str, **data: Any) -> None:
        if self.conv.flow != flow:
            self.conv.data = {}
        self.conv.flow = flow
        self.conv.state = state
        self.data.update(data)
        self.touch()

    def finish(self) -> None:
        self.conv.flow = None
        self.conv.state = None
        self.conv.data = {}
        self.conv.expires_at = None
        flag_modified(self.conv, "data")
        self.conv.updated_at = self.now

    # --- where and when --------------------------------------------------------------------------

    async def ksm(self, ksm_id: int) -> Ksm:
        ksm = await self.session.get(Ksm, ksm_id)
        assert ksm is not None
        return ksm

    async def timezone_of_ksm(self, ksm_id: int) -> str:
        return await ksm_timezone(self.session, ksm_id, self.settings.app.default_timezone)

    async def today_for_ksm(self, ksm_id: int) -> date:
        return clock.local_today(await self.timezone_of_ksm(ksm_id), self.now)

    async def timezone_of_person(self) -> str:
        """The person's own time zone: their KSM's, BKM's or region's; default otherwise."""
        if self.person is None:
            return self.settings.app.default_timezone
        return await person_timezone(self.session, self.person, self.settings.app.default_timezone)

    async def person_today(self) -> date:
        return clock.local_today(await self.timezone_of_person(), self.now)
