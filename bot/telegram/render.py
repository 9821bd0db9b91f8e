"""`Outbound` -> Bot API calls: inline keyboards (callback data at most 64 bytes), long texts split at
4096 characters, captions within 1024, PNG charts as photos, files as documents, and the roster
checklist edited in place (`edit_key`).
"""

from __future__ import annotations

import collections
import hashlib
import logging
from dataclasses import dataclass

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message
from telegram.constants import MessageLimit
from telegram.error import BadRequest

from kotaku.schemas import Choice, Outbound, OutboundKind

log = logging.getLogger(__name__)

MAX_TEXT = int(MessageLimit.MAX_TEXT_LENGTH)  # 4096
MAX_CAPTION = int(MessageLimit.CAPTION_LENGTH)  # 1024
MAX_CALLBACK_BYTES = 64
LONG_VALUE_PREFIX = "~"


class CallbackData:
    """Choice values as callback data. Values within 64 bytes go as they are; a longer one is replaced by
    a short token remembered here (bounded), so a keyboard never breaks the Bot API limit."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._long: collections.OrderedDict[str, str] = collections.OrderedDict()

    def encode(self, value: str) -> str:
        if len(value.encode()) <= MAX_CALLBACK_BYTES and not value.startswith(LONG_VALUE_PREFIX):
            return value
        token = LONG_VALUE_PREFIX + hashlib.sha256(value.encode()).hexdigest()[:24]
        self._long[token] = value
        self._long.move_to_end(token)
        while len(self._long) > self.capacity:
            self._long.popitem(last=False)
        return token

    def decode(self, data: str) -> str | None:
        """The choice value for callback data; None for a token this process no longer knows."""
        if not data.startswith(LONG_VALUE_PREFIX):
            return data
        return self._long.get(data)


def keyboard(choices: list[Choice], columns: int, callback: CallbackData) -> InlineKeyboardMarkup | None:
    if not choices:
        return None
    columns = max(1, min(columns, 8))
    buttons = []
    for c in choices:
        data = callback.encode(c.value)
        assert len(data.encode()) <= MAX_CALLBACK_BYTES
        buttons.append(InlineKeyboardButton(c.label[:200] or c.value, callback_data=data))
    rows = [buttons[i : i + columns] for i in range(0, len(buttons), columns)]
    return InlineKeyboardMarkup(rows)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most `limit` characters, cut at a paragraph, line or word break when there is one."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut < limit // 2:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest or not pieces:
        pieces.append(rest)
    return pieces


@dataclass
class Sent:
    messages: int = 0
    edits: int = 0


class Renderer:
    """Sends a list of `Outbound` to one chat. Remembers, per (chat, user, edit_key), the message that
    carries an editable keyboard, so a button press on it edits it instead of adding a new message."""

    def __init__(self, bot: Bot, callback: CallbackData | None = None, memory: int = 50_000) -> None:
        self.bot = bot
        self.callback = callback or CallbackData()
        self.memory = memory
        self._editable: collections.OrderedDict[tuple[str, str, str], int] = collections.OrderedDict()

    def _remember(self, key: tuple[str, str, str], message_id: int) -> None:
        self._editable[key] = message_id
        self._editable.move_to_end(key)
        while len(self._editable) > self.memory:
            self._editable.popitem(last=False)

    async def render(
        self,
        chat_id: str,
        outs: list[Outbound],
        *,
        user_id: str | None = None,
        pressed_message_id: int | None = None,
    ) -> Sent:
        """Deliver `outs`; `pressed_message_id` is the message whose button was pressed (if any).

        Telegram errors propagate (the caller decides: apology, retry, unreachable)."""
        sent = Sent()
        kw: dict = {}
        for out in outs:
            target = out.chat_id or chat_id
            markup = keyboard(out.choices, out.columns, self.callback)
            if out.kind == OutboundKind.TEXT:
                key = (target, user_id or "", out.edit_key) if out.edit_key else None
                if (
                    key is not None
                    and pressed_message_id is not None
                    and self._editable.get(key) == pressed_message_id
                    and len(out.text) <= MAX_TEXT
                    and await self._edit(target, pressed_message_id, out.text, markup, kw)
                ):
                    sent.edits += 1
                    continue
                message = await self._send_text(target, out.text, markup, kw)
                sent.messages += 1
                if key is not None and message is not None:
                    self._remember(key, message.message_id)
                continue
            await self._send_media(target, out, markup, kw)
            sent.messages += 1
        return sent

    async def _edit(
        self, chat_id: str, message_id: int, text: str, markup: InlineKeyboardMarkup | None, kw: dict
    ) -> bool:
        try:
            await self.bot.edit_message_text(
                text=text, chat_id=chat_id, message_id=message_id, reply_markup=markup, **kw
            )
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return True
            log.info("edit failed, sending a new message: %s", exc)
            return False
        return True

    async def _send_text(
        self, chat_id: str, text: str, markup: InlineKeyboardMarkup | None, kw: dict
    ) -> Message | None:
        pieces = split_text(text) if text.strip() else (["…"] if markup else [])
        message = None
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            message = await self.bot.send_message(
                chat_id=chat_id, text=piece, reply_markup=markup if last else None, **kw
            )
        return message

    async def _send_media(
        self, chat_id: str, out: Outbound, markup: InlineKeyboardMarkup | None, kw: dict
    ) -> None:
        caption = out.text or None
        rest = None
        if caption is not None and len(caption) > MAX_CAPTION:
            caption, rest = None, out.text
        name = out.file_name or ("grafik.png" if out.kind == OutboundKind.IMAGE else "berkas")
        media = InputFile(out.content or b"", filename=name)
        markup_on_media = markup if rest is None else None
        if out.kind == OutboundKind.IMAGE:
            await self.bot.send_photo(
                chat_id=chat_id, photo=media, caption=caption, reply_markup=markup_on_media, **kw
            )
        else:
            await self.bot.send_document(
                chat_id=chat_id, document=media, caption=caption, reply_markup=markup_on_media, **kw
            )
        if rest is not None:
            await self._send_text(chat_id, rest, markup, kw)
