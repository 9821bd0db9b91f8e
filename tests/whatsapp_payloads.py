"""Meta-format WhatsApp Cloud API webhook payloads for tests: the fixtures in tests/data/whatsapp/*.json,
`load(name, **overrides)` to fill in ids/timestamps/texts, builders for the common inbound updates and
statuses, `sign()` for the `X-Hub-Signature-256` header, and the Meta error catalogue shared with
tests/fake_graph.py.

Shapes follow what pywa 4.5 parses (pywa/types/message.py, callback.py, message_status.py, user.py):

* NEW (2026, business-scoped user ids): `contacts[0]` = {"profile": {"name"}, "wa_id", "user_id": BSUID}
  and the message carries `from` (wa_id) plus `from_user_id` (BSUID); a status carries `recipient_id`
  (wa_id) plus `recipient_user_id`, and the value has the same `contacts` array. pywa reads the BSUID as
  `update.from_user.bsuid` (from `contacts[0].user_id`) and the phone as `update.from_user.wa_id`.
  A BSUID is `<ISO country>.<digits>` (pywa: `^[A-Z]{2}\\.\\d+$`), e.g. "ID.1001681230456292".
* OLD (pre-BSUID): `contacts[0]` = {"profile": {"name"}, "wa_id"}, no `user_id` anywhere.

Caveats of pywa 4.5 the channel has to live with (tests/unit/test_whatsapp_payloads.py pins them):

* `User.from_contact` reads `contacts[0]["user_id"]` unconditionally: an OLD-format message never reaches
  `on_message`/`on_callback_button`/... (pywa logs "Failed to construct update", KeyError 'user_id');
  only `on_raw_update` sees it.
* `MessageStatus.from_update` reads `value["contacts"][0]`: a status without a `contacts` array never
  reaches `on_message_status`. Meta omits `contacts` on FAILED statuses (and old-format statuses never
  had it), so `status_failed_no_contacts.json` / `status(..., contacts=False)` only reach `on_raw_update`.
  `status_failed.json` (with contacts) is the shape pywa's own tests use.
* A value with only `errors` (an error webhook) has no typed update at all: `on_raw_update` only.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx

DATA_DIR = Path(__file__).resolve().parent / "data" / "whatsapp"

# The identities every fixture uses (replace them with overrides).
WABA_ID = "104857293016482"
PHONE_ID = "113672840195736"
DISPLAY_NUMBER = "6281319870001"
WA_ID = "6281234567890"
BSUID = "ID.1001681230456292"
NAME = "Pak Darto"
APP_SECRET = "kotaku-test-app-secret"
VERIFY_TOKEN = "kotaku-test-verify-token"

FIXTURES = (
    "text",
    "text_old_format",
    "button_reply",
    "list_reply",
    "template_button_reply",
    "image",
    "document",
    "location",
    "voice",
    "unsupported",
    "status_sent",
    "status_delivered",
    "status_read",
    "status_failed",
    "status_failed_no_contacts",
    "error",
)

ERROR_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

# Meta error code -> (title, details). The API answers `"message": "(#<code>) <title>"`, webhooks carry
# `"title"`/`"message"` = title and `"error_data": {"details": ...}`.
ERRORS: dict[int, tuple[str, str | None]] = {
    1: ("An unknown error occurred", "Invalid request or possible server error."),
    2: ("Service temporarily unavailable", "Temporary due to downtime or due to being overloaded."),
    4: ("Application request limit reached", "The app has reached its API call rate limit."),
    100: ("Invalid parameter", "The request included one or more unsupported or misspelled parameters."),
    190: ("Invalid OAuth access token - Cannot parse access token", None),
    368: (
        "Temporarily blocked for policies violations",
        "The WhatsApp Business Account associated with the app has been restricted or disabled for "
        "violating a platform policy.",
    ),
    130429: ("Rate limit hit", "Cloud API message throughput has been reached."),
    131000: ("Something went wrong", "Message failed to send due to an unknown error."),
    131005: ("Access denied", "Permission is either not granted or has been removed."),
    131008: ("Required parameter is missing", "The request is missing a required parameter."),
    131009: ("Parameter value is not valid", "One or more parameter values are invalid."),
    131016: ("Service unavailable", "A service is temporarily unavailable."),
    131026: (
        "Message undeliverable",
        "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp "
        "phone number; the recipient has not accepted the new Terms of Service and Privacy Policy; the "
        "recipient is using an old WhatsApp version.",
    ),
    131047: (
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied "
        "to this number.",
    ),
    131048: (
        "Spam rate limit hit",
        "Message failed to send because there are restrictions on how many messages can be sent from "
        "this phone number.",
    ),
    131049: (
        "This message was not delivered to maintain healthy ecosystem engagement.",
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
    ),
    131051: ("Message type unknown", "Message type is currently not supported."),
    131052: ("Media download error", "Unable to download the media sent by the user."),
    131053: ("Media upload error", "Unable to upload the media used in the message."),
    131056: (
        "(Business Account, Consumer Account) pair rate limit hit",
        "Too many messages sent from the sender phone number to the same recipient phone number in a "
        "short period of time.",
    ),
    132000: (
        "Number of parameters does not match the expected number of params",
        "The number of variable parameter values included in the request did not match the number of "
        "variable parameters defined in the template.",
    ),
    132001: ("Template name does not exist in the translation", "The template does not exist."),
}

_BSUID_RE = re.compile(r"^[A-Z]{2}(\.ENT)?\.\d+$")


# --- small helpers -------------------------------------------------------------------------------------


def is_bsuid(value: str) -> bool:
    return bool(_BSUID_RE.fullmatch(value))


def bsuid_for(wa_id: str, country: str = "ID") -> str:
    """A stable, pywa-valid BSUID for a phone number (the same wa_id always gets the same BSUID)."""
    digits = str(int(hashlib.sha256(wa_id.encode()).hexdigest(), 16))[:16]
    return f"{country}.{digits}"


def new_wamid(wa_id: str = WA_ID, *, outgoing: bool = False) -> str:
    """A fresh message id shaped like Meta's (base64 of the chat number and a random token)."""
    digits = "".join(ch for ch in wa_id if ch.isdigit()) or "0"
    kind, token = (b"\x11", secrets.token_hex(9)) if outgoing else (b"\x12", secrets.token_hex(16))
    tok = token.upper().encode()
    raw = (
        b"\x1c\x18"
        + bytes([len(digits)])
        + digits.encode()
        + b"\x15\x02\x00"
        + kind
        + b"\x18"
        + bytes([len(tok)])
        + tok
        + b"\x00"
    )
    return "wamid." + base64.b64encode(raw).decode()


def new_media_id() -> str:
    """A fresh numeric media id (Meta's are 15-16 digits)."""
    return str(1_000_000_000_000_000 + secrets.randbelow(8_999_999_999_999_999))


def timestamp(ts: int | float | str | dt.datetime | None = None) -> str:
    """Epoch seconds as Meta sends them (a string); None = now."""
    if ts is None:
        return str(int(time.time()))
    if isinstance(ts, dt.datetime):
        return str(int(ts.timestamp()))
    return str(int(float(ts)))


def webhook_error(code: int, *, title: str | None = None, details: str | None = None) -> dict[str, Any]:
    """An error object as webhooks carry it (in `statuses[].errors`, `messages[].errors`, `value.errors`)."""
    known_title, known_details = ERRORS.get(code, ("Unknown error", None))
    out: dict[str, Any] = {"code": code, "title": title or known_title, "message": title or known_title}
    if details or known_details:
        out["error_data"] = {"details": details or known_details}
    out["href"] = ERROR_HREF
    return out


def dumps(payload: Mapping[str, Any]) -> bytes:
    """The body as Meta posts it (compact JSON, UTF-8)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def sign(body: bytes, app_secret: str = APP_SECRET) -> str:
    """The `X-Hub-Signature-256` header value for `body` (what pywa.utils.webhook_updates_validator checks)."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signed(payload: Mapping[str, Any], app_secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    """(body, headers) ready to POST to a webhook endpoint."""
    body = dumps(payload)
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, app_secret)}


def challenge_params(verify_token: str = VERIFY_TOKEN, challenge: str = "1158201444") -> dict[str, str]:
    """The query of Meta's webhook verification GET (the endpoint must answer `challenge` as text)."""
    return {"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": challenge}


def post(url: str, payload: Mapping[str, Any], app_secret: str = APP_SECRET, **kw: Any) -> httpx.Response:
    """POST a signed webhook like Meta does (from a test thread)."""
    body, headers = signed(payload, app_secret)
    return httpx.post(url, content=body, headers=headers, timeout=kw.pop("timeout", 10), **kw)


async def apost(
    client: httpx.AsyncClient, url: str, payload: Mapping[str, Any], app_secret: str = APP_SECRET
) -> httpx.Response:
    """POST a signed webhook with an AsyncClient (e.g. one on httpx.ASGITransport(app=web))."""
    body, headers = signed(payload, app_secret)
    return await client.post(url, content=body, headers=headers)


def value_of(payload: Mapping[str, Any]) -> dict[str, Any]:
    """`entry[0].changes[0].value` of a webhook payload."""
    return payload["entry"][0]["changes"][0]["value"]


# --- fixtures and overrides ---------------------------------------------------------------------------


def load(name: str, /, **overrides: Any) -> dict[str, Any]:
    """A fresh copy of tests/data/whatsapp/<name>.json with `overrides` applied.

    Keys (each must apply to the fixture, else TypeError): waba_id, phone_id, display_phone_number,
    wa_id (None: a username-only user, no phone), bsuid (None: drop every user_id = old format), name,
    username, wamid, ts, text, caption, media_id, mime_type, sha256, filename, url (None drops it),
    button_id, button_title, row_id, row_title, row_description, payload, button_text,
    context_wamid, context_from, latitude, longitude, location_name, address, status,
    tracker (None drops it), errors (an int code, a list of codes/error dicts, or None), pricing,
    contacts (False drops the contacts array), unsupported_type.
    """
    payload = json.loads((DATA_DIR / f"{name}.json").read_text())
    for key, val in overrides.items():
        if not _apply(payload, key, val):
            raise TypeError(f"override {key!r} does not apply to fixture {name!r}")
    return payload


def _errors(val: int | Iterable[int | dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(val, int):
        return [webhook_error(val)]
    return [webhook_error(e) if isinstance(e, int) else dict(e) for e in val]


def _set(obj: dict[str, Any] | None, key: str, val: Any) -> bool:
    if obj is None:
        return False
    if val is None:
        obj.pop(key, None)
    else:
        obj[key] = val
    return True


def _apply(payload: dict[str, Any], key: str, val: Any) -> bool:
    entry = payload["entry"][0]
    value = entry["changes"][0]["value"]
    contact = (value.get("contacts") or [None])[0]
    msg = (value.get("messages") or [None])[0]
    st = (value.get("statuses") or [None])[0]
    item = msg or st
    typ = msg.get("type") if msg else None
    media = msg.get(typ) if msg and typ in ("image", "document", "audio", "video", "sticker") else None
    inter = msg.get("interactive") if msg else None
    reply = None
    if inter:
        reply = inter.get("button_reply") or inter.get("list_reply")
    match key:
        case "waba_id":
            entry["id"] = val
            return True
        case "phone_id":
            value["metadata"]["phone_number_id"] = val
            return True
        case "display_phone_number":
            value["metadata"]["display_phone_number"] = val
            return True
        case "wa_id":
            done = _set(contact, "wa_id", val)
            done = _set(msg, "from", val) or done
            return _set(st, "recipient_id", val) or done
        case "bsuid":
            done = _set(contact, "user_id", val)
            done = _set(msg, "from_user_id", val) or done
            return _set(st, "recipient_user_id", val) or done
        case "name" | "username":
            if contact is None:
                return False
            return _set(contact.setdefault("profile", {}), key, val)
        case "wamid":
            return _set(item, "id", val)
        case "ts":
            return _set(item, "timestamp", timestamp(val))
        case "text":
            if msg is None or typ != "text":
                return False
            msg["text"]["body"] = val
            return True
        case "caption" | "mime_type" | "sha256" | "filename" | "url":
            return _set(media, key, val)
        case "media_id":
            return _set(media, "id", val)
        case "button_id" | "row_id":
            return bool(reply) and _set(reply, "id", val)
        case "button_title" | "row_title":
            return bool(reply) and _set(reply, "title", val)
        case "row_description":
            return bool(inter and "list_reply" in inter) and _set(reply, "description", val)
        case "payload":
            return _set(msg.get("button") if msg else None, "payload", val)
        case "button_text":
            return _set(msg.get("button") if msg else None, "text", val)
        case "context_wamid" | "context_from":
            if msg is None:
                return False
            ctx = msg.setdefault("context", {"from": value["metadata"]["display_phone_number"]})
            return _set(ctx, "id" if key == "context_wamid" else "from", val)
        case "latitude" | "longitude" | "address":
            return _set(msg.get("location") if msg else None, key, val)
        case "location_name":
            return _set(msg.get("location") if msg else None, "name", val)
        case "status":
            return _set(st, "status", val)
        case "tracker":
            return _set(st, "biz_opaque_callback_data", val)
        case "pricing":
            return _set(st, "pricing", val)
        case "errors":
            target = item if item is not None else value
            return _set(target, "errors", None if val is None else _errors(val))
        case "contacts":
            if val:
                return "contacts" in value
            value.pop("contacts", None)
            return True
        case "unsupported_type":
            return _set(msg.get("unsupported") if msg else None, "type", val)
    raise TypeError(f"unknown override {key!r}")


# --- builders ------------------------------------------------------------------------------------------


def _user(
    wa_id: str | None, bsuid: str | None, old_format: bool, name: str | None, username: str | None
) -> dict[str, Any]:
    if old_format:
        if wa_id is None:
            raise ValueError("an old-format payload always has a wa_id")
        return {"wa_id": wa_id, "bsuid": None, "name": name, "username": username}
    if wa_id is None and bsuid is None:
        raise ValueError("a username-only user needs a bsuid")
    return {
        "wa_id": wa_id,
        "bsuid": bsuid or bsuid_for(str(wa_id)),
        "name": name,
        "username": username,
    }


def _inbound(
    name: str,
    wa_id: str | None,
    *,
    bsuid: str | None,
    wamid_: str | None,
    ts: Any,
    sender: str | None,
    old_format: bool,
    username: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    user = _user(wa_id, bsuid, old_format, sender, username)
    return load(
        name,
        **user,
        wamid=wamid_ or new_wamid(wa_id or str(bsuid)),
        ts=timestamp(ts),
        **fields,
    )


def text_message(
    wa_id: str | None,
    text: str,
    *,
    bsuid: str | None = None,
    wamid: str | None = None,
    ts: Any = None,
    name: str = NAME,
    old_format: bool = False,
    username: str | None = None,
) -> dict[str, Any]:
    """An inbound text. New format by default, with `bsuid` (default: `bsuid_for(wa_id)`); wa_id=None is a
    user who adopted a username (no phone in the webhook); old_format=True drops every user_id."""
    return _inbound(
        "text",
        wa_id,
        bsuid=bsuid,
        wamid_=wamid,
        ts=ts,
        sender=name,
        old_format=old_format,
        username=username,
        text=text,
    )


def button_reply(
    wa_id: str | None,
    button_id: str,
    title: str,
    *,
    context_wamid: str | None = None,
    bsuid: str | None = None,
    wamid: str | None = None,
    ts: Any = None,
    name: str = NAME,
    old_format: bool = False,
) -> dict[str, Any]:
    """A tap on a reply button (`interactive.button_reply`) of our message `context_wamid`."""
    return _inbound(
        "button_reply",
        wa_id,
        bsuid=bsuid,
        wamid_=wamid,
        ts=ts,
        sender=name,
        old_format=old_format,
        button_id=button_id,
        button_title=title,
        context_wamid=context_wamid or new_wamid(wa_id or "0", outgoing=True),
    )


def list_reply(
    wa_id: str | None,
    row_id: str,
    title: str,
    *,
    description: str | None = None,
    context_wamid: str | None = None,
    bsuid: str | None = None,
    wamid: str | None = None,
    ts: Any = None,
    name: str = NAME,
    old_format: bool = False,
) -> dict[str, Any]:
    """A choice in a list message (`interactive.list_reply`) of our message `context_wamid`."""
    return _inbound(
        "list_reply",
        wa_id,
        bsuid=bsuid,
        wamid_=wamid,
        ts=ts,
        sender=name,
        old_format=old_format,
        row_id=row_id,
        row_title=title,
        row_description=description,
        context_wamid=context_wamid or new_wamid(wa_id or "0", outgoing=True),
    )


def template_button_reply(
    wa_id: str | None,
    payload: str,
    text: str,
    *,
    context_wamid: str | None = None,
    bsuid: str | None = None,
    wamid: str | None = None,
    ts: Any = None,
    name: str = NAME,
    old_format: bool = False,
) -> dict[str, Any]:
    """A tap on a template's quick-reply button (`type: button`, pywa: CallbackButton.is_quick_reply)."""
    return _inbound(
        "template_button_reply",
        wa_id,
        bsuid=bsuid,
        wamid_=wamid,
        ts=ts,
        sender=name,
        old_format=old_format,
        payload=payload,
        button_text=text,
        context_wamid=context_wamid or new_wamid(wa_id or "0", outgoing=True),
    )


def _media_sha(content: bytes | None) -> str | None:
    """The sha256 Meta puts in media webhooks (base64 of the digest)."""
    return None if content is None else base64.b64encode(hashlib.sha256(content).digest()).decode()


def image_message(
    wa_id: str | None,
    media_id: str,
    *,
    caption: str | None = None,
    mime_type: str = "image/jpeg",
    content: bytes | None = None,
    url: str | None = None,
    bsuid: str | None = None,
    wamid: str | None = None,
    ts: Any = None,
    name: str = NAME,
    old_format: bool = False,
) -> dict[str, Any]:
    """An inbound photo. `content` only sets the sha256 (register the bytes with FakeGraph.add_media).
    `url` (default: none) is the lookaside URL Meta now puts in media webhooks: pywa downloads from it
    directly while it is under 5 minutes old, else it asks GET /{media_id} first."""
    fields: dict[str, Any] = {"media_id": media_id, "caption": caption, "mime_type": mime_type, "url": url}
    sha = _media_sha(content)
    if sha:
        fields["sha256"] = sha
    return _inbound(
        "image", wa_id, bsuid=bsuid, wamid_=wamid, ts=ts, sender=name, old_format=old_format, **fields
    )


def document_message(
    wa_id: str | None,
    media_id: str,
    *,
    filename: str = "laporan.pdf",
    mime_type: str = "application/pdf",
    caption: str | None = None,
    content: bytes | None = None,
    bsuid: str | None = None,
    wamid: str | None = None,
    ts: Any = None,
    name: str = NAME,
    old_format: bool = False,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "media_id": media_id,
        "filename": filename,
        "mime_type": mime_type,
        "caption": caption,
    }
    sha = _media_sha(content)
    if sha:
        fields["sha256"] = sha
    return _inbound(
        "document", wa_id, bsuid=bsuid, wamid_=wamid, ts=ts, sender=name, old_format=old_format, **fields
    )


def location_message(
    wa_id: str | None,
    latitude: float,
    longitude: float,
    *,
    location_name: str | None = None,
    address: str | None = None,
    bsuid: str | None = None,
    wamid: str | None = None,
    ts: Any = None,
    name: str = NAME,
    old_format: bool = False,
) -> dict[str, Any]:
    """A shared location (a pin: name/address only for a chosen place, None for "current location")."""
    return _inbound(
        "location",
        wa_id,
        bsuid=bsuid,
        wamid_=wamid,
        ts=ts,
        sender=name,
        old_format=old_format,
        latitude=latitude,
        longitude=longitude,
        location_name=location_name,
        address=address,
    )


def voice_message(
    wa_id: str | None,
    media_id: str,
    *,
    content: bytes | None = None,
    bsuid: str | None = None,
    wamid: str | None = None,
    ts: Any = None,
    name: str = NAME,
    old_format: bool = False,
) -> dict[str, Any]:
    """A voice note (`type: audio`, `audio.voice: true`, audio/ogg opus)."""
    fields: dict[str, Any] = {"media_id": media_id}
    sha = _media_sha(content)
    if sha:
        fields["sha256"] = sha
    return _inbound(
        "voice", wa_id, bsuid=bsuid, wamid_=wamid, ts=ts, sender=name, old_format=old_format, **fields
    )


def unsupported_message(
    wa_id: str | None,
    *,
    unsupported_type: str = "poll",
    bsuid: str | None = None,
    wamid: str | None = None,
    ts: Any = None,
    name: str = NAME,
    old_format: bool = False,
) -> dict[str, Any]:
    """A message of a type the Cloud API does not support (type `unsupported`, error 131051)."""
    return _inbound(
        "unsupported",
        wa_id,
        bsuid=bsuid,
        wamid_=wamid,
        ts=ts,
        sender=name,
        old_format=old_format,
        unsupported_type=unsupported_type,
    )


def status(
    wamid: str,
    status: str,
    *,
    tracker: str | None = None,
    recipient: str = WA_ID,
    bsuid: str | None = None,
    errors: int | Iterable[int | dict[str, Any]] | None = None,
    ts: Any = None,
    contacts: bool = True,
    old_format: bool = False,
    name: str = NAME,
) -> dict[str, Any]:
    """A status webhook (sent, delivered, read, played, failed) for our message `wamid`.

    `tracker` is `biz_opaque_callback_data` (the `tracker=` given to pywa's send_*; pywa: MessageStatus.tracker).
    `recipient` is what the message was sent `to` (a wa_id, or a BSUID: then no wa_id appears).
    `errors` (a code such as 131047, or error dicts) makes sense with status="failed".
    contacts=False drops the `contacts` array as Meta does on failed statuses (pywa 4.5 then only gives
    the update to on_raw_update); old_format=True drops every user_id and the contacts array.
    """
    if is_bsuid(recipient):
        wa_id, user_id = None, recipient
    else:
        wa_id, user_id = recipient, bsuid or bsuid_for(recipient)
    base = {"failed": "status_failed"}.get(status, "status_sent")
    payload = load(
        base,
        wamid=wamid,
        status=status,
        ts=timestamp(ts),
        tracker=tracker,
        errors=errors,
        wa_id=wa_id,
        bsuid=None if old_format else user_id,
        name=name,
    )
    st = value_of(payload)["statuses"][0]
    if old_format or not contacts:
        value_of(payload).pop("contacts", None)
    if status == "failed" and not contacts and wa_id is not None:
        st.pop("recipient_user_id", None)  # Meta: omitted when the failed message went to a phone number
    return payload


def error_webhook(
    code: int = 131000, *, details: str | None = None, phone_id: str = PHONE_ID
) -> dict[str, Any]:
    """A webhook carrying only `value.errors` (an account/app level problem, no message or status)."""
    return load("error", errors=[webhook_error(code, details=details)], phone_id=phone_id)
