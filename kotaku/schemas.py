"""Channel-neutral messages at the edge of the core: what came in (`Inbound`) and what to say (`Outbound`)."""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, Field

from kotaku.models.enums import Channel


class InboundKind(enum.StrEnum):
    TEXT = "text"
    CHOICE = "choice"
    PHOTO = "photo"
    DOCUMENT = "document"
    LOCATION = "location"
    VOICE = "voice"


class Inbound(BaseModel):
    """One user action on any channel: a text, a button press, a photo, a document, a location or a voice note."""

    channel: Channel
    user_id: str
    chat_id: str
    message_id: str
    kind: InboundKind = InboundKind.TEXT
    text: str | None = None
    choice: str | None = None
    is_group: bool = False
    display_name: str | None = None
    # The sender's number in E.164 when the channel vouches for it (WhatsApp `wa_id`).
    phone: str | None = None
    file_bytes: bytes | None = Field(default=None, repr=False)
    file_name: str | None = None
    mime_type: str | None = None
    file_size: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    taken_at: datetime | None = None
    sent_at: datetime | None = None


class Choice(BaseModel):
    label: str
    value: str


class OutboundKind(enum.StrEnum):
    TEXT = "text"
    IMAGE = "image"
    FILE = "file"


class Outbound(BaseModel):
    """One thing to say: text with optional choices (buttons), an image or a file."""

    kind: OutboundKind = OutboundKind.TEXT
    text: str = ""
    choices: list[Choice] = Field(default_factory=list)
    columns: int = 1
    content: bytes | None = Field(default=None, repr=False)
    file_name: str | None = None
    mime_type: str | None = None
    # Channels that can edit a message (Telegram) replace the last message with the same key.
    edit_key: str | None = None
    chat_id: str | None = None
