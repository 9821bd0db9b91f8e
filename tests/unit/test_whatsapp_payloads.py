"""The WhatsApp test doubles agree with pywa 4.5: every webhook fixture and builder in
tests/whatsapp_payloads.py parses with pywa's own update handling (typed updates, BSUIDs, trackers,
errors; and what pywa 4.5 cannot type: old-format messages, statuses without contacts, error webhooks),
`sign()` passes pywa's validator, and tests/fake_graph.py answers a real pywa_async client over HTTP
(text, buttons, list, template, media upload/URL/download, read marks, Meta's error bodies mapped to
pywa's typed errors, token check, limits, status webhooks, the standalone process)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pywa_async import WhatsApp, handlers, types
from pywa_async import errors as wa_errors
from pywa_async.types.templates import TemplateLanguage
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests import whatsapp_payloads as wp
from tests.fake_graph import (
    TOKEN,
    FakeGraph,
    Limits,
    RewriteTransport,
    api_error_body,
    fake_graph,  # noqa: F401
    free_port,
    graph_client,  # noqa: F401
    make_client,
)

REPO = Path(__file__).resolve().parents[2]
OTHER = "6285712345678"


# --- a pywa client that parses webhooks ------------------------------------------------------------------


class Parsed:
    """A pywa_async.WhatsApp with a capturing handler of every kind this bot uses."""

    def __init__(self, session: httpx.AsyncClient | None = None, **kw: Any) -> None:
        self.typed: list[Any] = []
        self.raw: list[types.RawUpdate] = []
        self.calls: list[httpx.Request] = []
        if session is None:
            session = httpx.AsyncClient(transport=httpx.MockTransport(self._no_network))
        self.wa = WhatsApp(
            phone_id=wp.PHONE_ID,
            token="t",
            session=session,
            server=None,
            verify_token="v",
            app_secret="s",
            skip_duplicate_updates=False,
            **kw,
        )
        self.wa.add_handlers(
            handlers.MessageHandler(self._typed),
            handlers.CallbackButtonHandler(self._typed),
            handlers.CallbackSelectionHandler(self._typed),
            handlers.MessageStatusHandler(self._typed),
            handlers.RawUpdateHandler(self._raw),
        )

    def _no_network(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        return httpx.Response(599)

    async def _typed(self, _: WhatsApp, update: Any) -> None:
        self.typed.append(update)

    async def _raw(self, _: WhatsApp, update: types.RawUpdate) -> None:
        self.raw.append(update)

    async def feed(self, payload: dict[str, Any]) -> Any:
        """Hand one webhook body to pywa; the typed update (None when pywa made none)."""
        self.typed.clear()
        self.raw.clear()
        assert await self.wa.webhook_update_handler(wp.dumps(payload)) == ("ok", 200)
        assert len(self.raw) == 1  # on_raw_update always sees the body
        assert len(self.typed) <= 1
        return self.typed[0] if self.typed else None


@pytest.fixture
async def parsed() -> AsyncIterator[Parsed]:
    p = Parsed()
    yield p
    assert p.calls == []  # parsing never touched the network
    await p.wa.api._session.aclose()


def ts_of(payload: dict[str, Any]) -> dt.datetime:
    value = wp.value_of(payload)
    item = (value.get("messages") or value.get("statuses"))[0]
    return dt.datetime.fromtimestamp(int(item["timestamp"]), dt.UTC)


# --- construction -------------------------------------------------------------------------------------------


async def test_client_construction_touches_no_network() -> None:
    plain = WhatsApp(phone_id=wp.PHONE_ID, token="t", server=None, verify_token="v", app_secret="s")
    assert plain._server is None  # no webhook routes, no callback registration
    assert str(plain.api._session.base_url) == "https://graph.facebook.com/v26.0/"
    assert plain.api._session.headers["Authorization"] == "Bearer t"
    await plain.api._session.aclose()
    p = Parsed()
    assert p.calls == []
    await p.wa.api._session.aclose()


def test_every_fixture_is_a_whatsapp_business_account_envelope() -> None:
    names = sorted(f.stem for f in wp.DATA_DIR.glob("*.json"))
    assert names == sorted(wp.FIXTURES)
    for name in names:
        payload = wp.load(name)
        assert payload["object"] == "whatsapp_business_account"
        [entry] = payload["entry"]
        [change] = entry["changes"]
        assert entry["id"] == wp.WABA_ID and change["field"] == "messages"
        value = change["value"]
        assert value["messaging_product"] == "whatsapp"
        assert value["metadata"] == {
            "display_phone_number": wp.DISPLAY_NUMBER,
            "phone_number_id": wp.PHONE_ID,
        }
        for item in value.get("messages", []) + value.get("statuses", []):
            assert isinstance(item["timestamp"], str) and item["timestamp"].isdigit()
            assert item["id"].startswith("wamid.HBg")
        for contact in value.get("contacts", []):
            assert contact["wa_id"].startswith("62")


# --- fixtures through pywa -----------------------------------------------------------------------------------


async def test_text_new_format_carries_the_bsuid(parsed: Parsed) -> None:
    payload = wp.load("text")
    msg = await parsed.feed(payload)
    assert isinstance(msg, types.Message)
    assert msg.type == types.MessageType.TEXT
    assert msg.text == "Lapor progres RT 03 hari ini"
    assert msg.from_user.wa_id == wp.WA_ID
    assert msg.from_user.bsuid == wp.BSUID == wp.bsuid_for(wp.WA_ID)
    assert msg.from_user.country_code == "ID"
    assert msg.from_user.name == wp.NAME
    assert msg.id == wp.value_of(payload)["messages"][0]["id"]
    assert msg.timestamp == ts_of(payload)
    assert msg.metadata.phone_number_id == wp.PHONE_ID
    assert msg.chat.id == wp.BSUID  # pywa prefers the BSUID as the chat id (user_identifier_priority)


async def test_text_old_format_is_the_same_message_without_user_ids(
    parsed: Parsed, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = wp.load("text_old_format"), wp.load("text")
    old_msg, new_msg = wp.value_of(old)["messages"][0], wp.value_of(new)["messages"][0]
    assert {k: v for k, v in new_msg.items() if k != "from_user_id"} == old_msg
    assert wp.value_of(old)["contacts"] == [{"profile": {"name": wp.NAME}, "wa_id": wp.WA_ID}]
    assert wp.value_of(new)["contacts"][0]["user_id"] == wp.BSUID
    # pywa 4.5 requires contacts[0].user_id for a typed update: only on_raw_update sees an old one
    with caplog.at_level(logging.ERROR, logger="pywa"):
        assert await parsed.feed(old) is None
    assert "Failed to construct update" in caplog.text and "user_id" in caplog.text
    raw = parsed.raw[0]
    assert raw.value["messages"][0]["text"]["body"] == "Lapor progres RT 03 hari ini"
    assert raw.value["contacts"][0]["wa_id"] == wp.WA_ID


async def test_button_reply(parsed: Parsed) -> None:
    payload = wp.load("button_reply")
    cb = await parsed.feed(payload)
    assert isinstance(cb, types.CallbackButton)
    assert (cb.data, cb.title) == ("absen:hadir", "Hadir")
    assert not cb.is_quick_reply
    assert cb.reply_to_message.id == wp.value_of(payload)["messages"][0]["context"]["id"]
    assert (cb.from_user.wa_id, cb.from_user.bsuid) == (wp.WA_ID, wp.BSUID)


async def test_list_reply(parsed: Parsed) -> None:
    sel = await parsed.feed(wp.load("list_reply"))
    assert isinstance(sel, types.CallbackSelection)
    assert (sel.data, sel.title) == ("kegiatan:drainase", "Drainase")
    assert sel.description == "Saluran air RT 03 / RW 05"
    assert sel.from_user.bsuid == wp.BSUID


async def test_template_quick_reply_button(parsed: Parsed) -> None:
    cb = await parsed.feed(wp.load("template_button_reply"))
    assert isinstance(cb, types.CallbackButton) and cb.is_quick_reply
    assert (cb.data, cb.title) == ("laporan:buka", "Buka laporan")


async def test_image_with_caption(parsed: Parsed) -> None:
    msg = await parsed.feed(wp.load("image"))
    assert msg.type == types.MessageType.IMAGE and msg.has_media
    assert msg.image.id == "1029384756473829"
    assert msg.image.caption == msg.caption == "Progres drainase 60%"
    assert msg.image.mime_type == "image/jpeg"
    assert msg.image.url.startswith("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=")


async def test_document(parsed: Parsed) -> None:
    msg = await parsed.feed(wp.load("document"))
    assert msg.type == types.MessageType.DOCUMENT
    doc = msg.document
    assert (doc.id, doc.filename, doc.mime_type) == (
        "2039485761029384",
        "rekap_ksm_rw05.pdf",
        "application/pdf",
    )
    assert doc.caption == "Rekap minggu ke-23"


async def test_location(parsed: Parsed) -> None:
    msg = await parsed.feed(wp.load("location"))
    assert msg.type == types.MessageType.LOCATION
    loc = msg.location
    assert (loc.latitude, loc.longitude) == (-6.917464, 107.619123)
    assert loc.name == "Balai RW 05 Cicadas" and loc.address.endswith("Kota Bandung")


async def test_voice_note(parsed: Parsed) -> None:
    msg = await parsed.feed(wp.load("voice"))
    assert msg.type == types.MessageType.AUDIO
    assert msg.audio.voice is True
    assert msg.audio.id == "3048576190283746"
    assert msg.audio.mime_type == "audio/ogg; codecs=opus"


async def test_unsupported_message(parsed: Parsed) -> None:
    msg = await parsed.feed(wp.load("unsupported"))
    assert isinstance(msg, types.Message)
    assert msg.type == types.MessageType.UNSUPPORTED
    assert msg.unsupported is not None and msg.unsupported.type == "poll"
    assert isinstance(msg.error, wa_errors.UnsupportedMessageType) and msg.error.code == 131051


@pytest.mark.parametrize(
    ("name", "state"),
    [
        ("status_sent", types.MessageStatusType.SENT),
        ("status_delivered", types.MessageStatusType.DELIVERED),
        ("status_read", types.MessageStatusType.READ),
    ],
)
async def test_status_with_tracker(parsed: Parsed, name: str, state: types.MessageStatusType) -> None:
    payload = wp.load(name)
    st = await parsed.feed(payload)
    assert isinstance(st, types.MessageStatus)
    assert st.status == state
    assert st.tracker == "outbox:4127"  # biz_opaque_callback_data
    assert st.id == wp.value_of(payload)["statuses"][0]["id"]
    assert (st.from_user.wa_id, st.from_user.bsuid) == (wp.WA_ID, wp.BSUID)
    assert st.error is None
    assert st.pricing is not None and st.timestamp == ts_of(payload)


async def test_status_failed_131047(parsed: Parsed) -> None:
    st = await parsed.feed(wp.load("status_failed"))
    assert st.status == types.MessageStatusType.FAILED
    assert isinstance(st.error, wa_errors.ReEngagementMessage)
    assert st.error.code == 131047 and "24 hours" in str(st.error.details)
    assert st.tracker == "outbox:4127"


async def test_status_without_contacts_reaches_only_the_raw_handler(parsed: Parsed) -> None:
    # Meta omits `contacts` on failed statuses; pywa 4.5's MessageStatus needs value["contacts"][0]
    payload = wp.load("status_failed_no_contacts")
    assert await parsed.feed(payload) is None
    raw_status = parsed.raw[0].value["statuses"][0]
    assert raw_status["status"] == "failed" and raw_status["biz_opaque_callback_data"] == "outbox:4127"
    error = wa_errors.WhatsAppError.from_dict(raw_status["errors"][0])
    assert isinstance(error, wa_errors.ReEngagementMessage)


async def test_error_webhook(parsed: Parsed) -> None:
    assert await parsed.feed(wp.load("error")) is None  # no typed update for value.errors
    [err] = parsed.raw[0].value["errors"]
    assert isinstance(wa_errors.WhatsAppError.from_dict(err), wa_errors.UnknownError)
    assert (
        wa_errors.WhatsAppError.from_dict(
            wp.error_webhook(368)["entry"][0]["changes"][0]["value"]["errors"][0]
        ).code
        == 368
    )


async def test_update_for_another_phone_number_is_filtered(parsed: Parsed) -> None:
    assert await parsed.feed(wp.load("text", phone_id="999999999999999")) is None


# --- builders and overrides ----------------------------------------------------------------------------------


async def test_builders_parse_with_pywa(parsed: Parsed) -> None:
    msg = await parsed.feed(wp.text_message(OTHER, "hadir", name="Bu Sri", ts=1781085600))
    assert (msg.text, msg.from_user.wa_id, msg.from_user.name) == ("hadir", OTHER, "Bu Sri")
    assert msg.from_user.bsuid == wp.bsuid_for(OTHER)
    assert msg.timestamp == dt.datetime(2026, 6, 10, 10, tzinfo=dt.UTC)
    assert msg.id.startswith("wamid.HBg")

    bsuid = "ID.7301946528301846"
    only = await parsed.feed(wp.text_message(None, "hai", bsuid=bsuid, username="@darto"))
    assert only.from_user.wa_id is None and only.from_user.bsuid == bsuid
    assert only.from_user.username == "@darto"

    assert await parsed.feed(wp.text_message(OTHER, "lama", old_format=True)) is None
    assert "user_id" not in json.dumps(parsed.raw[0].value)

    cb = await parsed.feed(wp.button_reply(OTHER, "absen:izin", "Izin", context_wamid="wamid.OURS"))
    assert (cb.data, cb.title, cb.reply_to_message.id) == ("absen:izin", "Izin", "wamid.OURS")

    sel = await parsed.feed(wp.list_reply(OTHER, "rt:03", "RT 03", description="RW 05"))
    assert (sel.data, sel.title, sel.description) == ("rt:03", "RT 03", "RW 05")
    sel = await parsed.feed(wp.list_reply(OTHER, "rt:04", "RT 04"))
    assert sel.description is None

    img = await parsed.feed(wp.image_message(OTHER, "555", caption="foto", content=b"jpeg"))
    assert (img.image.id, img.image.caption, img.image.url) == ("555", "foto", None)
    img = await parsed.feed(wp.image_message(OTHER, "556"))
    assert img.image.caption is None

    doc = await parsed.feed(
        wp.document_message(OTHER, "557", filename="a.xlsx", mime_type="application/vnd.ms-excel")
    )
    assert (doc.document.id, doc.document.filename) == ("557", "a.xlsx")

    loc = await parsed.feed(wp.location_message(OTHER, -7.25, 112.75))
    assert (loc.location.latitude, loc.location.longitude) == (-7.25, 112.75)
    assert loc.location.name is None and loc.location.address is None

    voice = await parsed.feed(wp.voice_message(OTHER, "558"))
    assert voice.audio.voice and voice.audio.id == "558"

    unsupported = await parsed.feed(wp.unsupported_message(OTHER, unsupported_type="edit"))
    assert unsupported.unsupported.type == "edit"

    quick = await parsed.feed(wp.template_button_reply(OTHER, "p1", "Ya"))
    assert quick.is_quick_reply and quick.data == "p1"


async def test_status_builder(parsed: Parsed) -> None:
    for state in ("sent", "delivered", "read", "played"):
        st = await parsed.feed(wp.status("wamid.A", state, tracker="outbox:9", recipient=OTHER))
        assert (st.id, st.status.value, st.tracker) == ("wamid.A", state, "outbox:9")
        assert (st.from_user.wa_id, st.from_user.bsuid) == (OTHER, wp.bsuid_for(OTHER))

    st = await parsed.feed(wp.status("wamid.B", "sent"))
    assert st.tracker is None

    for code, cls in [
        (131047, wa_errors.ReEngagementMessage),
        (131026, wa_errors.MessageUndeliverable),
        (131049, wa_errors.MessageUndeliverableDueToHealthyEcosystemEngagement),
    ]:
        st = await parsed.feed(wp.status("wamid.C", "failed", tracker="t", errors=code))
        assert st.status == types.MessageStatusType.FAILED
        assert isinstance(st.error, cls) and st.error.code == code

    bsuid = "ID.5550001112223334"
    st = await parsed.feed(wp.status("wamid.D", "delivered", recipient=bsuid))
    assert st.from_user.bsuid == bsuid and st.from_user.wa_id is None
    raw = wp.value_of(wp.status("wamid.D", "delivered", recipient=bsuid))["statuses"][0]
    assert "recipient_id" not in raw and raw["recipient_user_id"] == bsuid

    payload = wp.status("wamid.E", "failed", errors=131047, contacts=False)
    assert await parsed.feed(payload) is None
    assert "recipient_user_id" not in wp.value_of(payload)["statuses"][0]
    assert await parsed.feed(wp.status("wamid.F", "read", old_format=True)) is None


def test_load_overrides() -> None:
    payload = wp.load(
        "text", text="baru", wa_id=OTHER, bsuid="ID.42", ts=dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    )
    value = wp.value_of(payload)
    assert value["messages"][0]["text"]["body"] == "baru"
    assert value["messages"][0]["from"] == value["contacts"][0]["wa_id"] == OTHER
    assert value["messages"][0]["from_user_id"] == value["contacts"][0]["user_id"] == "ID.42"
    assert value["messages"][0]["timestamp"] == "1767312000"
    assert wp.load("text") == wp.load("text")  # fresh copies, the files are untouched
    with pytest.raises(TypeError, match="does not apply"):
        wp.load("text", caption="x")
    with pytest.raises(TypeError, match="unknown override"):
        wp.load("text", colour="red")
    st = wp.value_of(wp.load("status_sent", tracker=None, status="read"))["statuses"][0]
    assert "biz_opaque_callback_data" not in st and st["status"] == "read"


# --- signatures ------------------------------------------------------------------------------------------------


async def test_sign_matches_pywa_validator() -> None:
    from pywa.utils import webhook_updates_validator

    body = wp.dumps(wp.text_message(wp.WA_ID, "Lapor"))
    sig = wp.sign(body, "s")
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert webhook_updates_validator(app_secret="s", request_body=body, x_hub_signature=sig)
    p = Parsed()
    assert await p.wa.webhook_update_validator(body, sig) is None
    assert await p.wa.webhook_update_validator(body, wp.sign(body, "other-secret")) == ("Forbidden", 403)
    assert await p.wa.webhook_update_validator(body + b" ", sig) == ("Forbidden", 403)
    assert await p.wa.webhook_update_validator(body, None) == ("Unauthorized", 401)
    assert await p.wa.webhook_update_validator(body, "") == ("Unauthorized", 401)
    body2, headers = wp.signed(wp.load("status_read"), "s")
    assert await p.wa.webhook_update_validator(body2, headers["X-Hub-Signature-256"]) is None
    await p.wa.api._session.aclose()


# --- the fake Graph API with a real pywa client ------------------------------------------------------------------


def jpeg() -> bytes:
    return b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(range(256)) * 4 + b"\xff\xd9"


async def test_send_text_buttons_list_and_template(fake_graph: FakeGraph, graph_client: WhatsApp) -> None:  # noqa: F811
    fake, wa = fake_graph, graph_client
    sent = await wa.send_message(to=wp.WA_ID, text="Selamat pagi, Pak", tracker="outbox:1")
    assert sent.id.startswith("wamid.HBg") and sent.to == wp.WA_ID
    [req] = fake.sent(wp.WA_ID)
    assert (req.method, req.path) == ("POST", f"/v26.0/{wp.PHONE_ID}/messages")
    assert req.authorization == f"Bearer {TOKEN}"
    assert req.headers["user-agent"].startswith("PyWa/")
    assert req.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "type": "text",
        "to": wp.WA_ID,
        "biz_opaque_callback_data": "outbox:1",
        "text": {"body": "Selamat pagi, Pak", "preview_url": False},
    }
    assert req.response["contacts"] == [{"input": wp.WA_ID, "wa_id": wp.WA_ID}]
    assert req.wamid == sent.id and req.tracker == "outbox:1"

    buttons = await wa.send_message(
        to=wp.WA_ID,
        text="Kehadiran hari ini?",
        buttons=[types.Button("Hadir", "absen:hadir"), types.Button("Izin", "absen:izin")],
    )
    assert fake.last_buttons(wp.WA_ID) == [
        {"id": "absen:hadir", "title": "Hadir"},
        {"id": "absen:izin", "title": "Izin"},
    ]
    assert fake.button(wp.WA_ID, "izin") == ("absen:izin", "Izin", buttons.id)

    listed = await wa.send_message(
        to=wp.WA_ID,
        text="Pilih kegiatan",
        buttons=types.SectionList(
            button_title="Pilih",
            sections=[
                types.Section(
                    title="Infrastruktur",
                    rows=[
                        types.SectionRow(title="Drainase", callback_data="k:drainase", description="RT 03"),
                        types.SectionRow(title="Jalan lingkungan", callback_data="k:jalan"),
                    ],
                )
            ],
        ),
    )
    assert [r["id"] for r in fake.last_rows(wp.WA_ID)] == ["k:drainase", "k:jalan"]
    assert fake.row(wp.WA_ID, "jalan") == ("k:jalan", "Jalan lingkungan", listed.id)
    assert [i["type"] for i in fake.interactive_to(wp.WA_ID)] == ["button", "list"]

    template = await wa.send_template(
        to=wp.WA_ID,
        name="kotaku_pemberitahuan",
        language=TemplateLanguage.INDONESIAN,
        params=[{"type": "body", "parameters": [{"type": "text", "text": "Laporan belum masuk"}]}],
        tracker="outbox:2",
    )
    assert template.status == types.SentTemplateStatus.ACCEPTED
    [tpl] = fake.templates_to(wp.WA_ID)
    assert tpl["name"] == "kotaku_pemberitahuan" and tpl["language"] == {"code": "id"}
    assert fake.texts_to(wp.WA_ID) == [
        "Selamat pagi, Pak",
        "Kehadiran hari ini?",
        "Pilih kegiatan",
        "Laporan belum masuk",
    ]
    assert len({r.wamid for r in fake.sent()}) == 4

    to_bsuid = await wa.send_message(to=wp.BSUID, text="lewat BSUID")
    [body] = fake.sent_to(wp.BSUID)
    assert body["recipient"] == wp.BSUID and "to" not in body
    assert to_bsuid.to == wp.BSUID
    assert fake.sent(wp.BSUID)[0].response["contacts"] == [{"input": wp.BSUID, "user_id": wp.BSUID}]

    assert (await wa.mark_message_as_read("wamid.IN1")).success
    assert (await wa.indicate_typing("wamid.IN2")).success
    assert fake.read_marks() == ["wamid.IN1", "wamid.IN2"]
    assert [r.kind for r in fake.requests[-2:]] == ["read", "typing"]
    assert len(fake.sent()) == 5  # read marks are not sends


async def test_media_upload_url_and_download(fake_graph: FakeGraph, graph_client: WhatsApp) -> None:  # noqa: F811
    fake, wa = fake_graph, graph_client
    photo = jpeg()
    sent = await wa.send_image(to=wp.WA_ID, image=photo, caption="Grafik progres", mime_type="image/jpeg")
    [upload] = fake.requests_of("upload")
    assert upload.path == f"/v26.0/{wp.PHONE_ID}/media"
    assert upload.form == {"messaging_product": "whatsapp", "type": "image/jpeg"}
    assert fake.uploads()[0].content == photo and fake.uploads()[0].content_type == "image/jpeg"
    [media] = fake.media_to(wp.WA_ID, "image")
    assert media["caption"] == "Grafik progres" and fake.media[media["id"]].content == photo
    assert sent.uploaded_media is not None and sent.uploaded_media.id == media["id"]

    fake.add_media("1029384756473829", b"foto-lapangan", "image/jpeg")
    url = await wa.get_media_url("1029384756473829")
    assert url.url == fake.media_url("1029384756473829")
    assert (url.mime_type, url.file_size) == ("image/jpeg", len(b"foto-lapangan"))
    assert url.sha256 == fake.media["1029384756473829"].sha256
    assert await wa.get_media_bytes(url.url) == b"foto-lapangan"
    download = fake.requests_of("media_download")[-1]
    assert download.authorization == f"Bearer {TOKEN}"

    fake.fail_media_download(times=2, http_status=500)
    for _ in range(2):
        with pytest.raises(httpx.HTTPStatusError):
            await wa.get_media_bytes(url.url)
    assert await wa.get_media_bytes(url.url) == b"foto-lapangan"
    fake.fail_media_download(media_id="other")
    assert await wa.get_media_bytes(url.url) == b"foto-lapangan"

    with pytest.raises(wa_errors.WhatsAppError) as missing:
        await wa.get_media_url("404404404")
    assert missing.value.code == 100 and missing.value.subcode == 33

    assert (await wa.delete_media("1029384756473829")).success
    assert "1029384756473829" not in fake.media


async def test_incoming_media_downloads_through_the_fake(fake_graph: FakeGraph) -> None:  # noqa: F811
    fake = fake_graph
    session = httpx.AsyncClient(transport=RewriteTransport(fake.base_url), timeout=10)
    p = Parsed(session=session)
    p.wa.token = TOKEN
    fake.add_media("777", b"voice-bytes", "audio/ogg")
    old = await p.feed(wp.voice_message(wp.WA_ID, "777", ts=time.time() - 3600))
    assert await old.audio.get_bytes() == b"voice-bytes"
    assert [r.kind for r in fake.requests] == ["media_url", "media_download"]

    fake.reset()
    fake.add_media("778", b"jpeg-bytes", "image/jpeg")
    fresh = await p.feed(wp.image_message(wp.WA_ID, "778", url=fake.lookaside_url("778")))
    assert await fresh.image.get_bytes() == b"jpeg-bytes"  # the webhook's own URL, via RewriteTransport
    [req] = fake.requests
    assert req.kind == "media_download" and req.path == "/whatsapp_business/attachments/"
    assert req.query["mid"] == "778"
    await session.aclose()


@pytest.mark.parametrize(
    ("code", "http_status", "cls"),
    [
        (131047, 400, wa_errors.ReEngagementMessage),
        (131026, 400, wa_errors.MessageUndeliverable),
        (130429, 400, wa_errors.RateLimitHit),
        (131056, 400, wa_errors.TooManyMessages),
        (368, 403, wa_errors.TemporarilyBlocked),
        (131000, 500, wa_errors.UnknownError),
        (2, 503, wa_errors.WhatsAppError),
    ],
)
async def test_injected_errors_raise_pywa_typed_errors(
    fake_graph: FakeGraph,  # noqa: F811
    graph_client: WhatsApp,  # noqa: F811
    code: int,
    http_status: int,
    cls: type[wa_errors.WhatsAppError],
) -> None:
    fake, wa = fake_graph, graph_client
    fake.fail_next(code, http_status, subcode=2494010 if code == 131047 else None)
    with pytest.raises(cls) as raised:
        await wa.send_message(to=wp.WA_ID, text="Pengingat laporan")
    err = raised.value
    assert type(err) is cls
    assert err.code == code and err.status_code == http_status
    assert err.type == "OAuthException" and err.fbtrace_id
    assert err.details == wp.ERRORS[code][1]
    if code == 131047:
        assert err.subcode == 2494010 and err.message == "(#131047) Re-engagement message"
    [failed] = fake.requests_of("message")
    assert failed.status == http_status and fake.sent() == []
    assert failed.response == err.raw_response.json()
    await wa.send_message(to=wp.WA_ID, text="lagi")  # one-shot
    assert len(fake.sent(wp.WA_ID)) == 1


async def test_error_shapes_and_targeting(fake_graph: FakeGraph, graph_client: WhatsApp) -> None:  # noqa: F811
    fake, wa = fake_graph, graph_client
    body = api_error_body(131047)["error"]
    assert body["error_data"] == {"messaging_product": "whatsapp", "details": wp.ERRORS[131047][1]}
    assert set(body) == {"message", "type", "code", "error_data", "fbtrace_id"}

    fake.fail_next(502, 502, body="<html><body>502 Bad Gateway</body></html>")
    with pytest.raises(wa_errors.WhatsAppError) as proxy:
        await wa.send_message(to=wp.WA_ID, text="x")
    assert type(proxy.value) is wa_errors.WhatsAppError and proxy.value.code == 502

    fake.fail_next(131026, to=OTHER, times=2)
    await wa.send_message(to=wp.WA_ID, text="ke Pak Darto")
    for _ in range(2):
        with pytest.raises(wa_errors.MessageUndeliverable):
            await wa.send_message(to=OTHER, text="ke nomor lain")
    await wa.send_message(to=OTHER, text="sudah bisa")

    fake.fail_next(131000, 500, on="upload")
    with pytest.raises(wa_errors.UnknownError):
        await wa.send_image(to=wp.WA_ID, image=jpeg(), mime_type="image/jpeg")
    fake.fail_next(131000, 500, on="read")
    with pytest.raises(wa_errors.UnknownError):
        await wa.mark_message_as_read("wamid.X")

    fake.close_window(OTHER)
    with pytest.raises(wa_errors.ReEngagementMessage):
        await wa.send_message(to=OTHER, text="di luar 24 jam")
    await wa.send_template(
        to=OTHER,
        name="kotaku_pemberitahuan",
        language=TemplateLanguage.INDONESIAN,
        params=[{"type": "body", "parameters": [{"type": "text", "text": "pengingat"}]}],
    )
    fake.open_window(OTHER)
    await wa.send_message(to=OTHER, text="jendela terbuka")


async def test_token_phone_id_and_payload_checks(fake_graph: FakeGraph, graph_client: WhatsApp) -> None:  # noqa: F811
    fake, wa = fake_graph, graph_client
    wrong = make_client(fake, token="EAAwrong")
    with pytest.raises(wa_errors.ExpiredAccessToken) as denied:
        await wrong.send_message(to=wp.WA_ID, text="x")
    assert denied.value.status_code == 401 and denied.value.code == 190
    fake.add_media("9", b"x", "image/png")
    with pytest.raises(httpx.HTTPStatusError):
        await wrong.get_media_bytes(fake.media_url("9"))
    await wrong.api._session.aclose()

    other_phone = make_client(fake, phone_id="100000000000001")
    with pytest.raises(wa_errors.WhatsAppError) as unknown:
        await other_phone.send_message(to=wp.WA_ID, text="x")
    assert unknown.value.code == 100 and unknown.value.type == "GraphMethodException"
    await other_phone.api._session.aclose()

    with pytest.raises(wa_errors.InvalidParameter) as invalid:
        await wa.send_message(
            to=wp.WA_ID, text="x", buttons=[types.Button("Judul tombol yang terlalu panjang", "b1")]
        )
    assert "Button title length" in str(invalid.value.details)
    with pytest.raises(wa_errors.InvalidParameter):
        await wa.send_message(
            to=wp.WA_ID, text="x", buttons=[types.Button(f"B{i}", f"b{i}") for i in range(4)]
        )
    with pytest.raises(wa_errors.WhatsAppError) as long_text:
        await wa.send_message(to=wp.WA_ID, text="x" * 4097)
    assert long_text.value.code == 100
    assert fake.sent() == []

    with FakeGraph(token=None) as open_fake:
        anyone = make_client(open_fake, token="EAAanything")
        await anyone.send_message(to=wp.WA_ID, text="tanpa cek token")
        assert open_fake.sent()[0].authorization == "Bearer EAAanything"
        await anyone.api._session.aclose()

    async with httpx.AsyncClient(base_url=fake.base_url) as raw:
        res = await raw.post(
            f"/{wp.PHONE_ID}/messages", json={}, headers={"Authorization": f"Bearer {TOKEN}"}
        )  # no /v26.0 prefix
        assert res.status_code == 400 and res.json()["error"]["code"] == 2500


async def test_limits() -> None:
    with FakeGraph(limits=Limits(pair_seconds=60)) as fake:
        wa = make_client(fake)
        await wa.send_message(to=wp.WA_ID, text="satu")
        with pytest.raises(wa_errors.TooManyMessages):
            await wa.send_message(to=wp.WA_ID, text="dua")
        await wa.send_message(to=OTHER, text="lain")
        await wa.api._session.aclose()
    with FakeGraph(limits=Limits(per_second=2)) as fake:
        wa = make_client(fake)
        await wa.send_message(to=wp.WA_ID, text="1")
        await wa.send_message(to=OTHER, text="2")
        with pytest.raises(wa_errors.RateLimitHit):
            await wa.send_message(to="6281100000003", text="3")
        await wa.api._session.aclose()


# --- webhooks from the fake ---------------------------------------------------------------------------------------


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records what is posted to it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.bodies: list[tuple[bytes, str | None]] = []

        async def hook(request: Request) -> Response:
            self.bodies.append((await request.body(), request.headers.get("x-hub-signature-256")))
            return Response("ok")

        app = Starlette(routes=[Route("/whatsapp/webhook", hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/whatsapp/webhook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


async def test_status_webhooks_from_the_fake(receiver: Receiver) -> None:
    p = Parsed()
    with FakeGraph(webhook_url=receiver.url, app_secret="s", auto_status=("sent", "delivered")) as fake:
        wa = make_client(fake)
        sent = await wa.send_message(to=wp.WA_ID, text="Halo", tracker="outbox:7")
        await fake.await_for(lambda: len(receiver.bodies) == 2)
        statuses = []
        for body, sig in receiver.bodies:
            assert await p.wa.webhook_update_validator(body, sig) is None
            statuses.append(await p.feed(json.loads(body)))
        assert [(s.id, s.status.value, s.tracker) for s in statuses] == [
            (sent.id, "sent", "outbox:7"),
            (sent.id, "delivered", "outbox:7"),
        ]

        fake.auto_status = ()
        fake.fail_next(131026, via="webhook")
        accepted = await wa.send_message(to=wp.WA_ID, text="tidak sampai", tracker="outbox:8")
        await fake.await_for(lambda: len(receiver.bodies) == 3)
        failed = await p.feed(json.loads(receiver.bodies[2][0]))
        assert (failed.id, failed.status, failed.tracker) == (
            accepted.id,
            types.MessageStatusType.FAILED,
            "outbox:8",
        )
        assert isinstance(failed.error, wa_errors.MessageUndeliverable)

        fake.close_window(OTHER, via="webhook")
        late = await wa.send_message(to=OTHER, text="di luar jendela")
        await fake.await_for(lambda: len(receiver.bodies) == 4)
        closed = await p.feed(json.loads(receiver.bodies[3][0]))
        assert closed.id == late.id and isinstance(closed.error, wa_errors.ReEngagementMessage)

        assert await fake.adeliver(wp.text_message(wp.WA_ID, "masuk")) == 200
        assert await asyncio.to_thread(fake.deliver, wp.load("button_reply")) == 200
        assert len(fake.deliveries) == 6 and all(code == 200 for _, code in fake.deliveries)
        inbound = await p.feed(json.loads(receiver.bodies[4][0]))
        assert inbound.text == "masuk"
        await wa.api._session.aclose()
    await p.wa.api._session.aclose()


@pytest.mark.timeout(60)
def test_standalone_process() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_graph", "--port", str(free_port())],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("FAKE_GRAPH_URL="), proc.stderr.read() if proc.stderr else line
        base = line.split("=", 1)[1]
        auth = {"Authorization": f"Bearer {TOKEN}"}
        body = {"messaging_product": "whatsapp", "to": wp.WA_ID, "type": "text", "text": {"body": "hai"}}
        res = httpx.post(f"{base}/v26.0/{wp.PHONE_ID}/messages", json=body, headers=auth)
        assert res.status_code == 200 and res.json()["messages"][0]["id"].startswith("wamid.")
        res = httpx.post(f"{base}/_fake/fail", json={"code": 131047})
        assert res.json() == {"ok": True}
        assert httpx.post(f"{base}/v26.0/{wp.PHONE_ID}/messages", json=body, headers=auth).status_code == 400
        recorded = httpx.get(f"{base}/_fake/requests").json()
        assert [(r["kind"], r["status"]) for r in recorded] == [("message", 200), ("message", 400)]
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode == 0
