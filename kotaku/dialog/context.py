"""What a flow sees while handling one inbound message: who, where, the draft, and how to reply.

The conversation state (flow, named state, draft) is kept here while the message is handled and written
to its row once, by the engine, at the end (`store()`), not after every query.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from kotaku import clock
from kotaku.catalogue import t as catalogue_t
from kotaku.config import Settings
from kotaku.models import ChannelIdentity, ConversationState, Ksm, Person
from kotaku.schemas import Choice, Inbound, InboundKind, Outbound, OutboundKind
from kotaku.services.scope import ksm_timezone, person_timezone
from kotaku.uow import UnitOfWork

if TYPE_CHECKING:
    from kotaku.dialog.flow import FlowRegistry


class Draft(BaseModel):
    """What a flow has gathered so far; each flow subclasses it with its own typed fields. Saved as JSON
    with the conversation, so it survives a restart."""

    model_config = ConfigDict(extra="ignore")

    ksm_id: int | None = None  # the KSM a writing flow reports for (resolved before start())
    pending_args: str = ""  # what followed the command while the KSM is being chosen


D = TypeVar("D", bound=Draft)


class DraftUnreadable(Exception):
    """A saved draft that does not fit its flow's draft any more (e.g. after an upgrade)."""


@dataclass
class Context:
    uow: UnitOfWork
    settings: Settings
    inbound: Inbound
    conv: ConversationState
    now: datetime
    flows: FlowRegistry | None = None
    person: Person | None = None
    identity: ChannelIdentity | None = None
    group_ksm_id: int | None = None
    replies: list[Outbound] = field(default_factory=list)
    _flow: str | None = field(init=False, default=None)
    _state: str | None = field(init=False, default=None)
    _data: dict[str, Any] = field(init=False, default_factory=dict)  # the saved draft, until typed
    _draft: Draft | None = field(init=False, default=None)
    _touched: bool = field(init=False, default=False)
    _ksms: dict[int, Ksm] = field(init=False, default_factory=dict)  # read in this message

    def __post_init__(self) -> None:
        self._flow, self._state = self.conv.flow, self.conv.state
        self._data = copy.deepcopy(self.conv.data or {})

    @property
    def session(self) -> AsyncSession:
        return self.uow.session

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
        return self._flow

    @property
    def state(self) -> str | None:
        return self._state

    def draft(self, model: type[D]) -> D:
        """The draft as the flow's typed model; changes to it are saved at the end of the message."""
        if isinstance(self._draft, model):
            return self._draft
        raw = self._draft.model_dump(mode="json") if self._draft is not None else self._data
        try:
            typed = model.model_validate(raw)
        except ValidationError as exc:
            raise DraftUnreadable(str(exc)) from exc
        self._draft = typed
        return typed

    def touch(self) -> None:
        """Push the draft's expiry forward (any step of a flow does; kept for flows that say so)."""
        self._touched = True

    def goto(self, flow: str, state: str, **data: Any) -> None:
        if self._flow != flow:
            self._data, self._draft = {}, None
        self._flow = flow
        self._state = state
        if data:
            if self._draft is not None:
                for key, value in data.items():
                    setattr(self._draft, key, value)
            else:
                self._data.update(data)
        self._touched = True

    def finish(self) -> None:
        self._flow = self._state = None
        self._data, self._draft = {}, None
        self._touched = True

    def store(self) -> None:
        """Write the conversation state to its row, once, if it changed (called by the engine)."""
        data = self._draft.model_dump(mode="json") if self._draft is not None else self._data
        conv = self.conv
        changed = (conv.flow, conv.state, conv.data or {}) != (self._flow, self._state, data)
        if not (changed or (self._touched and self._flow)):
            return
        conv.flow, conv.state, conv.data = self._flow, self._state, copy.deepcopy(data)
        flag_modified(conv, "data")
        conv.updated_at = self.now
        conv.expires_at = (
            self.now + timedelta(hours=self.settings.dialog.draft_ttl_hours) if self._flow else None
        )

    # --- where and when --------------------------------------------------------------------------

    async def ksm(self, ksm_id: int) -> Ksm:
        """The KSM, read once per message (the session's identity map holds it only while referenced)."""
        ksm = self._ksms.get(ksm_id)
        if ksm is None:
            ksm = await self.session.get(Ksm, ksm_id)
            assert ksm is not None
            self._ksms[ksm_id] = ksm
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
