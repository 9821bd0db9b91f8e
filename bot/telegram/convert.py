"""Telegram `Update` -> `kotaku.schemas.Inbound`: text, button presses, photos, image files, locations and
voice notes. Files are downloaded here (the core gets bytes); nothing else is decided here. Also the
webhook's reading of an update (`parse_update`) and its keys in the inbox (`inbox_id`, `conversation_of`).

The inbound message id is `u<update_id>`: the engine records it, so a redelivered update is a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import Bot, Message, PhotoSize, Update
from telegram.constants import ChatType

from kotaku.config import Settings
from kotaku.models import Channel
from kotaku.schemas import Inbound, InboundKind

GROUP_TYPES = {ChatType.GROUP, ChatType.SUPERGROUP}
UPDATE_ID_LIMIT = 2**53  # Telegram's ids fit in a double
OBJECT_FIELDS = ("message", "callback_query", "edited_message", "channel_post", "edited_channel_post")


@dataclass(frozen=True)
class FileTooLarge(Exception):
    """A file above `media.max_bytes` (or above what the Bot API server lets a bot download)."""

    size: int
    limit: int


def message_id(update: Update) -> str:
    return f"u{update.update_id}"


def parse_update(data: Any, bot: Bot) -> Update:
    """The Update in a webhook's JSON document; ValueError (a short reason) when it is not one."""
    if not isinstance(data, dict):
        raise ValueError("not a Telegram update: a JSON object is expected")
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool) or not 0 <= update_id < UPDATE_ID_LIMIT:
        raise ValueError("not a Telegram update: no valid update_id")
    for name in OBJECT_FIELDS:
        if data.get(name) is not None and not isinstance(data[name], dict):
            raise ValueError(f"not a Telegram update: {name} is not an object")
    try:
        return Update.de_json(data, bot)
    except Exception as exc:  # de_json trusts its input: whatever it trips on is a malformed update
        raise ValueError(f"not a Telegram update: {type(exc).__name__} in its fields") from exc


def inbox_id(update: Update, token: str) -> str:
    """The update's key in the inbox: the bot's id (another bot on the same database starts its update
    ids anew) and the update id."""
    return f"{token.split(':', 1)[0]}:{update.update_id}"


def conversation_of(update: Update) -> str:
    """Updates of one user in one chat are handled in arrival order."""
    chat, user = update.effective_chat, update.effective_user
    return f"{chat.id if chat else 0}:{user.id if user else 0}"


def pick_photo(sizes: tuple[PhotoSize, ...] | list[PhotoSize], max_bytes: int) -> PhotoSize | None:
    """The largest size (by pixels) whose file size is known to be within `max_bytes`."""
    fitting = [p for p in sizes if p.file_size is None or p.file_size <= max_bytes]
    if not fitting:
        return None
    return max(fitting, key=lambda p: (p.width * p.height, p.file_size or 0))


async def download(bot: Bot, file_id: str, size: int | None, max_bytes: int) -> bytes:
    if size is not None and size > max_bytes:
        raise FileTooLarge(size, max_bytes)
    tg_file = await bot.get_file(file_id)
    if tg_file.file_size is not None and tg_file.file_size > max_bytes:
        raise FileTooLarge(tg_file.file_size, max_bytes)
    content = bytes(await tg_file.download_as_bytearray())
    if len(content) > max_bytes:
        raise FileTooLarge(len(content), max_bytes)
    return content


async def to_inbound(update: Update, bot: Bot, settings: Settings) -> Inbound | None:
    """The channel-neutral event for an update, or None when the update is nothing for the core
    (edited messages, service messages, stickers, updates without a sender)."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    base = {
        "channel": Channel.TELEGRAM,
        "user_id": str(user.id),
        "chat_id": str(chat.id),
        "message_id": message_id(update),
        "is_group": chat.type in GROUP_TYPES,
        "display_name": user.full_name,
    }
    query = update.callback_query
    if query is not None:
        if query.data is None:
            return None
        return Inbound(kind=InboundKind.CHOICE, choice=query.data, **base)  # type: ignore[arg-type]
    msg = update.message
    if msg is None:
        return None
    base["sent_at"] = msg.date
    fields = await _message_fields(msg, bot, settings)
    if fields is None:
        return None
    return Inbound(**base, **fields)  # type: ignore[arg-type]


async def _message_fields(msg: Message, bot: Bot, settings: Settings) -> dict[str, object] | None:
    limit = settings.media.max_bytes
    if msg.text is not None:
        return {"kind": InboundKind.TEXT, "text": msg.text}
    if msg.photo:
        best = pick_photo(msg.photo, limit)
        if best is None:
            raise FileTooLarge(max(p.file_size or 0 for p in msg.photo), limit)
        content = await download(bot, best.file_id, best.file_size, limit)
        return {
            "kind": InboundKind.PHOTO,
            "text": msg.caption,
            "file_bytes": content,
            "file_size": len(content),
            "file_name": "foto.jpg",
            "mime_type": "image/jpeg",
        }
    if msg.document is not None:
        doc = msg.document
        # An image sent as a file keeps its EXIF (time, GPS): the core reads it in the site's time zone.
        content = await download(bot, doc.file_id, doc.file_size, limit)
        return {
            "kind": InboundKind.DOCUMENT,
            "text": msg.caption,
            "file_bytes": content,
            "file_size": len(content),
            "file_name": doc.file_name or "berkas",
            "mime_type": doc.mime_type or "application/octet-stream",
        }
    if msg.location is not None:
        return {
            "kind": InboundKind.LOCATION,
            "latitude": msg.location.latitude,
            "longitude": msg.location.longitude,
            "text": msg.caption,
        }
    if msg.voice is not None or msg.audio is not None:
        audio = msg.voice or msg.audio
        assert audio is not None
        content = await download(bot, audio.file_id, audio.file_size, limit)
        return {
            "kind": InboundKind.VOICE,
            "file_bytes": content,
            "file_size": len(content),
            "file_name": "suara.ogg",
            "mime_type": audio.mime_type or "audio/ogg",
            "text": msg.caption,
        }
    return None
