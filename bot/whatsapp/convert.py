"""Meta's webhook JSON -> what the core understands. `split_update` cuts a webhook into items (each message
with its contact, each status, each error) for the inbox; `to_inbound` turns a stored message item into an
`Inbound` (downloading its media at once); `to_delivery` reads a stored status item.

The raw dicts are read here rather than through pywa's typed updates: pywa 4.5 drops a message without
`contacts[].user_id` (the format before business-scoped user ids) and a status without `contacts` (every
failed status), and both formats must work. Identity: `user_id` is the business-scoped user id (BSUID,
`contacts[].user_id` / `from_user_id`) when the webhook has one, else the `wa_id`; `chat_id` is the `wa_id`
(the phone digits we send to) when there is one, else the BSUID.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import phonenumbers
import structlog
from pywa_async import WhatsApp
from pywa_async.errors import WhatsAppError

from kotaku.config import Settings
from kotaku.models import Channel
from kotaku.schemas import Inbound, InboundKind

log = structlog.get_logger(__name__)

MESSAGE, STATUS, ERROR = "message", "status", "error"  # inbox row kinds
TRACKER_PREFIX = "outbox:"
BSUID_RE = re.compile(r"^[A-Z]{2}(\.ENT)?\.\d+$")
MEDIA_TYPES = {"image": InboundKind.PHOTO, "document": InboundKind.DOCUMENT, "audio": InboundKind.VOICE}
# Nothing to answer: a reaction to one of our messages, a system notice (number changed), the first open.
IGNORED_TYPES = {"reaction", "system", "request_welcome"}
IMAGE_EXTENSIONS = {"image/png": "png", "image/webp": "webp", "image/heic": "heic"}


# --- webhook items -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One thing a webhook carried, as the inbox stores it: `body` is self-contained (the item, its
    contact and the metadata), so handling it later needs nothing else."""

    kind: str
    external_id: str
    conversation: str
    body: dict[str, Any]


def is_bsuid(value: object) -> bool:
    return isinstance(value, str) and bool(BSUID_RE.fullmatch(value))


def _contact_for(contacts: list[Any], wa_id: object, user_id: object) -> dict[str, Any] | None:
    dicts = [c for c in contacts if isinstance(c, dict)]
    for c in dicts:
        if (user_id and c.get("user_id") == user_id) or (wa_id and c.get("wa_id") == wa_id):
            return c
    return dicts[0] if len(dicts) == 1 else None


def _error_id(waba_id: object, error: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps([waba_id, error], sort_keys=True, default=str).encode()).hexdigest()
    return f"error:{digest[:40]}"


def _list(value: object) -> list[Any]:
    """A list field of the webhook; anything else there counts as absent."""
    return value if isinstance(value, list) else []


def split_update(payload: Any) -> list[Item]:
    """The items of a `whatsapp_business_account` webhook (field "messages"; other fields, such as
    template status updates, carry nothing for the inbox). Raises ValueError when it is not one; parts of
    the wrong shape inside one (a message that is no object, a list that is none) are skipped."""
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise ValueError("not a WhatsApp webhook: no entry list")
    items: list[Item] = []
    for entry in payload["entry"]:
        if not isinstance(entry, dict):
            continue
        for change in _list(entry.get("changes")):
            if not isinstance(change, dict) or change.get("field", "messages") != "messages":
                continue
            value = change.get("value")
            if isinstance(value, dict):
                items += _items_of(value, entry.get("id"))
    return items


def _items_of(value: dict[str, Any], waba_id: object) -> list[Item]:
    items: list[Item] = []
    contacts = _list(value.get("contacts"))
    raw_metadata = value.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    common = {"metadata": metadata, "waba_id": waba_id}
    for msg in _list(value.get("messages")):
        if not isinstance(msg, dict) or not msg.get("id"):
            continue
        contact = _contact_for(contacts, msg.get("from"), msg.get("from_user_id"))
        conversation = (
            msg.get("from_user_id") or (contact or {}).get("user_id") or msg.get("from") or "unknown"
        )
        body = {**common, "message": msg, "contact": contact}
        items.append(Item(MESSAGE, str(msg["id"]), str(conversation), body))
    for st in _list(value.get("statuses")):
        if not isinstance(st, dict) or not st.get("id"):
            continue
        contact = _contact_for(contacts, st.get("recipient_id"), st.get("recipient_user_id"))
        conversation = st.get("recipient_user_id") or st.get("recipient_id") or "unknown"
        body = {**common, "status": st, "contact": contact}
        external_id = f"status:{st['id']}:{st.get('status', '')}"
        items.append(Item(STATUS, external_id, str(conversation), body))
    for error in _list(value.get("errors")):
        if isinstance(error, dict):
            phone_id = metadata.get("phone_number_id", "")
            body = {**common, "error": error}
            items.append(Item(ERROR, _error_id(waba_id, error), f"meta:{phone_id}", body))
    return items


# --- who wrote -----------------------------------------------------------------------------------------


def e164(wa_id: str | None) -> str | None:
    """The phone number of a `wa_id` (digits with the country code) in E.164, when it is one."""
    if not wa_id or not wa_id.isdigit():
        return None
    try:
        number = phonenumbers.parse("+" + wa_id, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class Contact:
    """Who sent a message item, in both webhook formats."""

    user_id: str
    chat_id: str
    wa_id: str | None
    bsuid: str | None
    phone: str | None
    name: str | None
    is_group: bool = False


def contact_of(body: Mapping[str, Any]) -> Contact:
    msg = body.get("message") or {}
    contact = body.get("contact") or {}
    sent_from = msg.get("from")
    wa_id = contact.get("wa_id") or (
        sent_from if isinstance(sent_from, str) and sent_from.isdigit() else None
    )
    bsuid = msg.get("from_user_id") or contact.get("user_id") or (sent_from if is_bsuid(sent_from) else None)
    user_id = str(bsuid or wa_id or sent_from or "unknown")
    group = msg.get("group_id")
    chat_id = str(group or wa_id or bsuid or user_id)
    name = (contact.get("profile") or {}).get("name") or None
    return Contact(
        user_id=user_id,
        chat_id=chat_id,
        wa_id=str(wa_id) if wa_id else None,
        bsuid=str(bsuid) if bsuid else None,
        phone=e164(str(wa_id)) if wa_id else None,
        name=name,
        is_group=bool(group),
    )


# --- media ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileTooLarge(Exception):
    """A file above `media.max_bytes`: refused without downloading it (or the rest of it)."""

    size: int
    limit: int


class MediaUnavailable(Exception):
    """Every attempt to fetch a media file failed (Meta's error, HTTP error, timeout)."""


async def download_media(
    wa: WhatsApp, media_id: str, *, max_bytes: int, attempts: int, delay: float = 1.0
) -> bytes:
    """The bytes of an incoming media file, by its id (`get_media_url`, then the URL with the token),
    tried `attempts` times with a growing pause; FileTooLarge as soon as the size is known to be over."""
    problem: Exception | None = None
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            await asyncio.sleep(delay * (attempt - 1))
        try:
            info = await wa.get_media_url(media_id)
            if info.file_size and info.file_size > max_bytes:
                raise FileTooLarge(info.file_size, max_bytes)
            content = bytearray()
            async with contextlib.aclosing(wa.stream_media(info.url)) as chunks:
                async for chunk in chunks:
                    content += chunk
                    if len(content) > max_bytes:
                        raise FileTooLarge(len(content), max_bytes)
            return bytes(content)
        except FileTooLarge:
            raise
        except (WhatsAppError, httpx.HTTPError, KeyError, ValueError) as exc:
            problem = exc
            log.warning(
                "whatsapp_media_download_failed",
                media_id=media_id,
                attempt=attempt,
                of=attempts,
                error=repr(exc)[:300],
            )
    raise MediaUnavailable(f"media {media_id}: {attempts} attempts failed, last: {problem!r}"[:500])


# --- message -> Inbound --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """A catalogue sentence the channel says itself (unsupported message, file too large, ...)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Converted:
    """What a message item becomes: an Inbound for the engine, a notice for the user, both, or neither
    (nothing to answer)."""

    inbound: Inbound | None = None
    notice: Notice | None = None


def sent_at(msg: Mapping[str, Any]) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(msg["timestamp"]), tz=UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


async def to_inbound(
    body: Mapping[str, Any],
    wa: WhatsApp,
    settings: Settings,
    *,
    user_id: str | None = None,
    retry_delay: float = 1.0,
) -> Converted:
    """The Inbound for a stored message item. `user_id` overrides the sender's (the identity it belongs
    to, see kotaku.services.people.note_whatsapp_contact)."""
    msg = body.get("message") or {}
    who = contact_of(body)
    typ = str(msg.get("type") or "")
    base: dict[str, Any] = {
        "channel": Channel.WHATSAPP,
        "user_id": user_id or who.user_id,
        "chat_id": who.chat_id,
        "message_id": str(msg.get("id")),
        "is_group": who.is_group,
        "display_name": who.name,
        "phone": who.phone,
        "sent_at": sent_at(msg),
    }
    if typ in IGNORED_TYPES:
        return Converted()
    if typ == "text":
        return Converted(Inbound(kind=InboundKind.TEXT, text=(msg.get("text") or {}).get("body", ""), **base))
    if typ == "interactive":
        interactive = msg.get("interactive") or {}
        reply = interactive.get("button_reply") or interactive.get("list_reply")
        if isinstance(reply, dict) and reply.get("id"):
            return Converted(Inbound(kind=InboundKind.CHOICE, choice=str(reply["id"]), **base))
        return Converted(notice=Notice("whatsapp.unsupported"))
    if typ == "button":  # a template's quick-reply button
        button = msg.get("button") or {}
        value = button.get("payload") or button.get("text")
        if value:
            return Converted(Inbound(kind=InboundKind.CHOICE, choice=str(value), **base))
        return Converted(notice=Notice("whatsapp.unsupported"))
    if typ == "location":
        loc = msg.get("location") or {}
        try:
            lat, lon = float(loc["latitude"]), float(loc["longitude"])
        except (KeyError, TypeError, ValueError):
            return Converted(notice=Notice("whatsapp.unsupported"))
        return Converted(Inbound(kind=InboundKind.LOCATION, latitude=lat, longitude=lon, **base))
    if typ in MEDIA_TYPES:
        return await _media(msg, typ, base, wa, settings, retry_delay)
    log.info("whatsapp_type_not_supported", type=typ, message_id=base["message_id"])
    return Converted(notice=Notice("whatsapp.unsupported"))


def _file_name(typ: str, media: Mapping[str, Any], mime: str) -> str:
    if typ == "document":
        return str(media.get("filename") or "berkas")
    if typ == "audio":
        return "suara.ogg" if "ogg" in mime else "suara"
    return f"foto.{IMAGE_EXTENSIONS.get(mime, 'jpg')}"


async def _media(
    msg: Mapping[str, Any],
    typ: str,
    base: dict[str, Any],
    wa: WhatsApp,
    settings: Settings,
    retry_delay: float,
) -> Converted:
    media = msg.get(typ) or {}
    kind = MEDIA_TYPES[typ]
    default_mime = {"image": "image/jpeg", "audio": "audio/ogg"}.get(typ, "application/octet-stream")
    mime = str(media.get("mime_type") or default_mime).split(";")[0].strip()
    fields: dict[str, Any] = {
        "kind": kind,
        "text": media.get("caption"),
        "file_name": _file_name(typ, media, mime),
        "mime_type": mime,
    }
    media_id = media.get("id")
    limit = settings.media.max_bytes
    try:
        if not media_id:
            raise MediaUnavailable("no media id in the webhook")
        content = await download_media(
            wa,
            str(media_id),
            max_bytes=limit,
            attempts=settings.whatsapp.media_attempts,
            delay=retry_delay,
        )
    except FileTooLarge as exc:
        return Converted(notice=Notice("whatsapp.file_too_large", {"size": exc.size, "limit": exc.limit}))
    except MediaUnavailable as exc:
        log.warning("whatsapp_media_given_up", message_id=base["message_id"], error=str(exc))
        # The report being entered is kept: the engine gets the message without its bytes (the flow
        # asks again) and the user is told the file could not be fetched.
        return Converted(Inbound(**base, **fields), Notice("whatsapp.media_failed"))
    return Converted(Inbound(**base, **fields, file_bytes=content, file_size=len(content)))


# --- statuses ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """A status webhook item: which of our messages, what happened, and Meta's errors."""

    wamid: str
    status: str
    at: datetime | None
    outbox_id: int | None
    codes: tuple[int, ...]
    error: str | None
    recipients: tuple[str, ...]


def outbox_id_of(tracker: object) -> int | None:
    """The outbox id in a tracker (`biz_opaque_callback_data`) "outbox:<id>"."""
    if isinstance(tracker, str) and tracker.startswith(TRACKER_PREFIX):
        rest = tracker.removeprefix(TRACKER_PREFIX)
        if rest.isdigit():
            return int(rest)
    return None


def _error_text(error: Mapping[str, Any]) -> str:
    title = error.get("title") or error.get("message") or ""
    details = (
        (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
    )
    text = f"{error.get('code', '?')} {title}".strip()
    return f"{text}: {details}" if details else text


def to_delivery(body: Mapping[str, Any]) -> Delivery:
    st = body.get("status") or {}
    errors = [e for e in st.get("errors") or [] if isinstance(e, dict)]
    codes: list[int] = []
    for e in errors:
        with contextlib.suppress(TypeError, ValueError):
            codes.append(int(e.get("code")))  # type: ignore[arg-type]
    recipients = tuple(str(r) for r in (st.get("recipient_id"), st.get("recipient_user_id")) if r)
    return Delivery(
        wamid=str(st.get("id") or ""),
        status=str(st.get("status") or ""),
        at=sent_at(st),
        outbox_id=outbox_id_of(st.get("biz_opaque_callback_data")),
        codes=tuple(codes),
        error="; ".join(_error_text(e) for e in errors)[:1000] or None,
        recipients=recipients,
    )
