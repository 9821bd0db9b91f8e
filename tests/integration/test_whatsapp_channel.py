"""The WhatsApp channel against the fake Graph API (tests/fake_graph.py) with Meta-format payloads
(tests/whatsapp_payloads.py): conversion of both webhook formats and every kind, rendering within Meta's
limits (buttons, lists, pages, cuts, splits, media), the outbox sender's decisions and error mapping, the
webhook route (challenge, signature, size, malformed, duplicates, statuses), media downloads retried and
given up, and identities moved from the phone number to the business-scoped user id."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from PIL import Image
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.web import WhatsAppHook, create_app
from bot.whatsapp import (
    ChoiceMemory,
    Planner,
    Renderer,
    WhatsAppChannel,
    WhatsAppSender,
    build_client,
    split_update,
    to_inbound,
)
from bot.whatsapp.client import BaseURLTransport, close_client
from bot.whatsapp.convert import MESSAGE, STATUS, e164, to_delivery
from bot.whatsapp.render import (
    MAX_BODY,
    ButtonsPiece,
    ListPiece,
    MediaPiece,
    TextPiece,
    interactive_split,
    page_starts,
)
from kotaku.bootstrap import bootstrap
from kotaku.config import Settings, WhatsAppConfig
from kotaku.db import Database
from kotaku.metrics import Metrics
from kotaku.models import (
    AttendanceRecord,
    Channel,
    ChannelIdentity,
    ConversationState,
    InboxMessage,
    Media,
    Obstacle,
    OutboxMessage,
    OutboxStatus,
    ProcessedInbound,
    ProgressReport,
)
from kotaku.notify.ports import DeliveryContext, SendStatus
from kotaku.schemas import Choice, InboundKind, Outbound, OutboundKind
from kotaku.security import NikVault
from kotaku.services import invites as invite_service
from kotaku.services.inbox import InboxWorker
from kotaku.services.scope import resolve_scope
from tests import whatsapp_payloads as wp
from tests.catalogue_keys import keys_in
from tests.factories import Program, build_program
from tests.fake_graph import TOKEN, FakeGraph

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # Thursday 16:00 WIB
WA_ID, BSUID = wp.WA_ID, wp.BSUID
OTHER_WA = "6281299990000"


def jpeg(size: tuple[int, int] = (64, 48), color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def choices(n: int, label: str = "Pilihan") -> list[Choice]:
    return [Choice(label=f"{label} {i}", value=f"v:{i}") for i in range(1, n + 1)]


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph() as server:
        yield server


@pytest.fixture
def wa_settings(settings: Settings, fake: FakeGraph) -> Settings:
    wa = WhatsAppConfig(
        phone_id=wp.PHONE_ID,
        token=SecretStr(TOKEN),
        app_secret=SecretStr(wp.APP_SECRET),
        verify_token=SecretStr(wp.VERIFY_TOKEN),
        base_url=fake.base_url,
        media_attempts=3,
    )
    return settings.model_copy(update={"whatsapp": wa})


@pytest.fixture
async def wa(wa_settings: Settings) -> AsyncIterator[Any]:
    client = build_client(wa_settings)  # our BaseURLTransport carries graph.facebook.com to the fake
    yield client
    await close_client(client)


@pytest.fixture
async def program(db: Database, vault: NikVault) -> Program:
    program = await build_program(db, vault, NOW.date())
    async with db.transaction() as s:
        s.add(
            ChannelIdentity(
                person_id=program["ketua-a"], channel=Channel.WHATSAPP, external_id=BSUID, chat_id=WA_ID
            )
        )
    return program


@pytest.fixture
def renderer(wa: Any) -> Renderer:
    return Renderer(wa)


@pytest.fixture
def channel(
    wa_settings: Settings, db: Database, wa: Any, renderer: Renderer, program: Program
) -> WhatsAppChannel:
    kotaku = bootstrap(db.settings, db=db, now=lambda: NOW)
    return WhatsAppChannel(
        settings=wa_settings,
        db=db,
        engine=kotaku.engine,
        wa=wa,
        renderer=renderer,
        now=lambda: NOW,
        media_retry_delay=0,
    )


async def feed(channel: WhatsAppChannel, payload: dict[str, Any]) -> None:
    """Hand a webhook's items to the channel as the inbox worker would (bodies through JSON, like the
    database keeps them)."""
    for item in split_update(json.loads(wp.dumps(payload))):
        row = InboxMessage(
            channel=Channel.WHATSAPP,
            external_id=item.external_id,
            conversation=item.conversation,
            kind=item.kind,
            body=json.loads(json.dumps(item.body)),
        )
        await channel.handle(row)


def message_body(payload: dict[str, Any]) -> dict[str, Any]:
    [item] = split_update(payload)
    assert item.kind == MESSAGE
    return item.body


# --- the transport ---------------------------------------------------------------------------------------


def test_base_url_transport_rewrites_meta_hosts_only() -> None:
    t = BaseURLTransport("http://127.0.0.1:8089/graph")
    url = t.rewrite(httpx.URL("https://graph.facebook.com/v26.0/123/messages?x=1"))
    assert str(url) == "http://127.0.0.1:8089/graph/v26.0/123/messages?x=1"
    media = t.rewrite(httpx.URL("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=9"))
    assert str(media) == "http://127.0.0.1:8089/graph/whatsapp_business/attachments/?mid=9"
    assert str(t.rewrite(httpx.URL("https://example.org/a"))) == "https://example.org/a"


# --- conversion ----------------------------------------------------------------------------------------


async def test_text_in_both_formats_and_a_username_only_user(wa: Any, wa_settings: Settings) -> None:
    new = await to_inbound(
        message_body(wp.text_message(WA_ID, "/rekap", bsuid=BSUID, ts=NOW)), wa, wa_settings
    )
    assert new.inbound is not None and new.notice is None
    inbound = new.inbound
    assert (inbound.kind, inbound.text, inbound.user_id, inbound.chat_id) == (
        InboundKind.TEXT,
        "/rekap",
        BSUID,
        WA_ID,
    )
    assert (
        inbound.display_name == wp.NAME and inbound.sent_at == NOW and inbound.message_id.startswith("wamid.")
    )
    assert inbound.channel == Channel.WHATSAPP and not inbound.is_group

    old = (
        await to_inbound(message_body(wp.text_message(WA_ID, "halo", old_format=True)), wa, wa_settings)
    ).inbound
    assert old is not None and (old.user_id, old.chat_id) == (WA_ID, WA_ID)

    nameless = wp.text_message(None, "halo", bsuid=BSUID, username="pakdarto")
    only = (await to_inbound(message_body(nameless), wa, wa_settings)).inbound
    assert only is not None and (only.user_id, only.chat_id) == (BSUID, BSUID)
    assert e164(WA_ID) == "+6281234567890" and e164(None) is None and e164("12") is None


async def test_choices_location_and_unsupported(wa: Any, wa_settings: Settings) -> None:
    for payload, expected in (
        (wp.button_reply(WA_ID, "hadir:hari_ini", "Hari ini"), "hadir:hari_ini"),
        (wp.list_reply(WA_ID, "kegiatan:12", "Drainase", old_format=True), "kegiatan:12"),
        (wp.template_button_reply(WA_ID, "laporan:buka", "Buka laporan"), "laporan:buka"),
    ):
        got = (await to_inbound(message_body(payload), wa, wa_settings)).inbound
        assert got is not None and got.kind == InboundKind.CHOICE and got.choice == expected
    loc = (await to_inbound(message_body(wp.location_message(WA_ID, -7.26, 110.4)), wa, wa_settings)).inbound
    assert (
        loc is not None
        and loc.kind == InboundKind.LOCATION
        and (loc.latitude, loc.longitude) == (-7.26, 110.4)
    )
    odd = await to_inbound(message_body(wp.unsupported_message(WA_ID)), wa, wa_settings)
    assert odd.inbound is None and odd.notice is not None and odd.notice.key == "whatsapp.unsupported"
    reaction = wp.text_message(WA_ID, "x")
    msg = wp.value_of(reaction)["messages"][0]
    msg.pop("text")
    msg.update(type="reaction", reaction={"message_id": "wamid.X", "emoji": "👍"})
    ignored = await to_inbound(message_body(reaction), wa, wa_settings)
    assert ignored.inbound is None and ignored.notice is None


async def test_media_is_downloaded_by_id(fake: FakeGraph, wa: Any, wa_settings: Settings) -> None:
    photo = jpeg()
    image_id = fake.add_media(None, photo, "image/jpeg")
    got = await to_inbound(
        message_body(wp.image_message(WA_ID, image_id, caption="#50 saluran", content=photo)), wa, wa_settings
    )
    assert got.inbound is not None and got.inbound.kind == InboundKind.PHOTO
    assert got.inbound.file_bytes == photo and got.inbound.text == "#50 saluran"
    assert got.inbound.mime_type == "image/jpeg" and got.inbound.file_size == len(photo)
    doc_id = fake.add_media(None, b"%PDF-1.4 rekap", "application/pdf", filename="rekap.pdf")
    doc = (
        await to_inbound(
            message_body(wp.document_message(WA_ID, doc_id, filename="rekap.pdf")), wa, wa_settings
        )
    ).inbound
    assert doc is not None and doc.kind == InboundKind.DOCUMENT and doc.file_name == "rekap.pdf"
    assert doc.file_bytes == b"%PDF-1.4 rekap"
    voice_id = fake.add_media(None, b"OggS-voice", "audio/ogg")
    voice = (await to_inbound(message_body(wp.voice_message(WA_ID, voice_id)), wa, wa_settings)).inbound
    assert voice is not None and voice.kind == InboundKind.VOICE and voice.file_bytes == b"OggS-voice"
    assert voice.mime_type == "audio/ogg"
    urls = fake.requests_of("media_url")
    assert [r.path.rsplit("/", 1)[-1] for r in urls] == [image_id, doc_id, voice_id]
    assert all(r.authorization == f"Bearer {TOKEN}" for r in fake.requests_of("media_download"))


async def test_a_file_over_the_limit_is_refused_without_download(
    fake: FakeGraph, wa: Any, wa_settings: Settings
) -> None:
    small = wa_settings.model_copy(update={"media": wa_settings.media.model_copy(update={"max_bytes": 1024})})
    media_id = fake.add_media(None, b"x" * 5000, "image/jpeg")
    got = await to_inbound(message_body(wp.image_message(WA_ID, media_id)), wa, small)
    assert got.inbound is None and got.notice is not None and got.notice.key == "whatsapp.file_too_large"
    assert got.notice.params == {"size": 5000, "limit": 1024}
    assert not fake.requests_of("media_download")


def test_split_update_cuts_a_webhook_into_items() -> None:
    payload = wp.text_message(WA_ID, "satu", bsuid=BSUID)
    value = wp.value_of(payload)
    second = wp.value_of(wp.text_message(OTHER_WA, "dua"))
    value["contacts"] += second["contacts"]
    value["messages"] += second["messages"]
    value["statuses"] = wp.value_of(wp.status("wamid.OUT1", "read", tracker="outbox:5"))["statuses"]
    value["errors"] = [wp.webhook_error(131000)]
    items = split_update(payload)
    assert [i.kind for i in items] == ["message", "message", "status", "error"]
    first, other, status, error = items
    assert first.conversation == BSUID and first.body["contact"]["wa_id"] == WA_ID
    assert other.body["contact"]["wa_id"] == OTHER_WA and other.conversation == wp.bsuid_for(OTHER_WA)
    assert status.external_id == "status:wamid.OUT1:read"
    assert error.external_id.startswith("error:") and first.body["metadata"]["phone_number_id"] == wp.PHONE_ID
    with pytest.raises(ValueError):
        split_update({"object": "whatsapp_business_account"})


def test_statuses_in_both_formats() -> None:
    failed = wp.status("wamid.OUT2", "failed", tracker="outbox:41", errors=131047, contacts=False)
    [item] = split_update(failed)
    delivery = to_delivery(item.body)
    assert (delivery.outbox_id, delivery.status, delivery.codes) == (41, "failed", (131047,))
    assert delivery.recipients == (WA_ID,) and "131047" in (delivery.error or "")
    [old] = split_update(wp.status("wamid.OUT3", "delivered", old_format=True))
    assert old.kind == STATUS and old.conversation == WA_ID and to_delivery(old.body).outbox_id is None


# --- rendering -----------------------------------------------------------------------------------------


def test_three_choices_are_buttons_with_short_titles() -> None:
    planner = Planner(ChoiceMemory())
    cut: list[str] = []
    planner.on_cut = cut.append
    [piece] = planner.plan(
        WA_ID,
        Outbound(
            text="Untuk tanggal berapa?",
            choices=[*choices(2), Choice(label="Hari ini (Kamis, 26 Nov)", value="t")],
        ),
        "id",
    )
    assert isinstance(piece, ButtonsPiece) and len(piece.buttons) == 3
    assert all(len(title) <= 20 for _, title in piece.buttons)
    assert piece.buttons[2] == ("t", "Hari ini (Kamis, 26…")
    assert cut == ["button title"]


def test_ten_choices_are_one_list_and_long_labels_keep_their_text_in_the_description() -> None:
    planner = Planner(ChoiceMemory())
    labels = [*choices(9), Choice(label="Pembangunan saluran drainase RT 03 RW 05 Bejalen", value="d")]
    [piece] = planner.plan(WA_ID, Outbound(text="Kegiatan mana?", choices=labels), "id")
    assert isinstance(piece, ListPiece) and len(piece.rows) == 10 and piece.body == "Kegiatan mana?"
    assert len(piece.button) <= 20 and len(piece.section) <= 24
    last = piece.rows[-1]
    assert len(last.title) <= 24 and last.title.endswith("…") and last.id == "d"
    assert last.description == "Pembangunan saluran drainase RT 03 RW 05 Bejalen"


def test_long_texts_are_split_and_the_buttons_go_with_the_last_piece() -> None:
    planner = Planner(ChoiceMemory())
    text = "\n".join(f"baris {i} " + "x" * 50 for i in range(200))  # ~11,600 characters
    pieces = planner.plan(WA_ID, Outbound(text=text), "id")
    assert len(pieces) == 3 and all(isinstance(p, TextPiece) and len(p.text) <= 4096 for p in pieces)
    with_buttons = planner.plan(WA_ID, Outbound(text=text, choices=choices(2)), "id")
    *head, last = with_buttons
    assert all(isinstance(p, TextPiece) for p in head) and isinstance(last, ButtonsPiece)
    assert len(last.body) <= MAX_BODY and last.body.startswith("baris")  # cut at a line break
    joined = "\n".join([*(p.text for p in head if isinstance(p, TextPiece)), last.body])
    assert joined.replace("\n", "") == text.replace("\n", "")
    assert interactive_split("") == ([], "…")


def test_long_values_are_mapped_and_forgotten_by_another_process() -> None:
    memory = ChoiceMemory()
    value = "/kurva kota 33.22.05 " + "x" * 300
    [piece] = Planner(memory).plan(
        WA_ID, Outbound(text="Pilih", choices=[Choice(label="Kurva", value=value)]), "id"
    )
    assert isinstance(piece, ButtonsPiece)
    token = piece.buttons[0][0]
    assert token != value and len(token) <= 256
    assert memory.pressed(WA_ID, token).value == value
    assert ChoiceMemory().pressed(WA_ID, token).expired
    assert memory.pressed(WA_ID, "v:1").value == "v:1"


def test_images_and_files_go_by_upload_with_captions_within_1024() -> None:
    planner = Planner(ChoiceMemory())
    short = planner.plan(WA_ID, Outbound(kind=OutboundKind.IMAGE, text="Kurva S", content=b"png"), "id")
    assert len(short) == 1 and isinstance(short[0], MediaPiece) and short[0].caption == "Kurva S"
    long = planner.plan(
        WA_ID, Outbound(kind=OutboundKind.FILE, text="z" * 1500, content=b"PK", file_name="rekap.xlsx"), "id"
    )
    assert isinstance(long[0], MediaPiece) and long[0].caption is None and long[0].kind == "document"
    assert isinstance(long[1], TextPiece) and long[1].text == "z" * 1500


async def test_rendering_through_the_fake_stays_within_metas_limits(
    fake: FakeGraph, renderer: Renderer
) -> None:
    png = io.BytesIO()
    Image.new("RGB", (10, 10)).save(png, "PNG")
    sent = await renderer.render(
        WA_ID,
        [
            Outbound(text="y" * 9000, choices=choices(3, label="Tombol dengan label panjang")),
            Outbound(text="Kegiatan?", choices=choices(7, label="Kegiatan rehabilitasi drainase lingkungan")),
            Outbound(kind=OutboundKind.IMAGE, text="Kurva S", content=png.getvalue(), file_name="kurva.png"),
            Outbound(text="Daftar hadir", choices=choices(4), edit_key="hadir"),
        ],
    )
    bodies = fake.sent_to(WA_ID)
    assert [b["type"] for b in bodies] == [
        "text",
        "text",
        "interactive",
        "interactive",
        "image",
        "interactive",
    ]
    assert len(sent.wamids) == 6 and sent.last == fake.sent(WA_ID)[-1].wamid
    assert len(bodies[0]["text"]["body"]) == 4096 and len(bodies[1]["text"]["body"]) == 4096
    assert bodies[2]["interactive"]["type"] == "button" and bodies[3]["interactive"]["type"] == "list"
    assert bodies[2]["interactive"]["body"]["text"] == "y" * 808
    [upload] = fake.uploads()
    assert upload.content == png.getvalue() and bodies[4]["image"]["caption"] == "Kurva S"
    assert "id" in bodies[4]["image"] and "link" not in bodies[4]["image"]


async def test_twenty_five_choices_come_in_pages(fake: FakeGraph, channel: WhatsAppChannel) -> None:
    assert page_starts(25) == [0, 9, 18] and page_starts(10) == [0] and page_starts(11) == [0, 9]
    await channel.renderer.render(WA_ID, [Outbound(text="Pekerja mana?", choices=choices(25))])
    first = fake.last_rows(WA_ID)
    assert len(first) == 10 and [r["id"] for r in first[:9]] == [f"v:{i}" for i in range(1, 10)]
    assert "whatsapp.next_page" in keys_in(first[9]["title"])
    next_id, title, wamid = fake.row(WA_ID, first[9]["title"])
    await feed(channel, wp.list_reply(WA_ID, next_id, title, context_wamid=wamid, bsuid=BSUID))
    second = fake.last_rows(WA_ID)
    assert [r["id"] for r in second[:9]] == [f"v:{i}" for i in range(10, 19)]
    assert "whatsapp.page_body" in keys_in(fake.texts_to(WA_ID)[-1])
    next_id, title, wamid = fake.row(WA_ID, second[9]["title"])
    await feed(channel, wp.list_reply(WA_ID, next_id, title, context_wamid=wamid, bsuid=BSUID))
    third = fake.last_rows(WA_ID)
    assert [r["id"] for r in third] == [f"v:{i}" for i in range(19, 26)]
    # A page this process no longer knows: the user is told to send the command again.
    await feed(channel, wp.list_reply(WA_ID, "~p1.zz", title, bsuid=BSUID))
    assert "whatsapp.choices_expired" in keys_in(fake.texts_to(WA_ID)[-1])


# --- the outbox sender ---------------------------------------------------------------------------------


def context(outbox_id: int, last_inbound_at: datetime | None, kind: str = "reminder") -> DeliveryContext:
    return DeliveryContext(
        outbox_id=outbox_id,
        kind=kind,
        payload={"text": "Laporan KSM Bejalen Maju hari ini belum masuk."},
        last_inbound_at=last_inbound_at,
        language="id",
    )


MESSAGES = [Outbound(text="Laporan KSM Bejalen Maju hari ini belum masuk.", choices=choices(2))]


async def test_sender_window_template_and_held(fake: FakeGraph, wa: Any, wa_settings: Settings) -> None:
    sender = WhatsAppSender(wa, wa_settings.whatsapp, now=lambda: NOW)
    inside = await sender.send(WA_ID, MESSAGES, context(7, NOW - timedelta(hours=2)))
    assert inside.status == SendStatus.SENT and inside.external_id == fake.sent(WA_ID)[-1].wamid
    assert fake.sent(WA_ID)[-1].tracker == "outbox:7" and fake.sent_to(WA_ID)[-1]["type"] == "interactive"

    outside = await sender.send(WA_ID, MESSAGES, context(8, NOW - timedelta(hours=30)))
    assert outside.status == SendStatus.SENT
    [template] = fake.templates_to(WA_ID)
    assert template["name"] == "kotaku_pemberitahuan" and template["language"]["code"] == "id"
    assert template["components"][0]["parameters"][0]["text"].startswith("Laporan KSM Bejalen")
    assert fake.sent(WA_ID)[-1].tracker == "outbox:8" and outside.external_id == fake.sent(WA_ID)[-1].wamid

    never = await sender.send(WA_ID, MESSAGES, context(9, None))
    assert never.status == SendStatus.SENT and len(fake.templates_to(WA_ID)) == 2

    bare = WhatsAppSender(wa, wa_settings.whatsapp.model_copy(update={"templates": {}}), now=lambda: NOW)
    held = await bare.send(WA_ID, MESSAGES, context(10, NOW - timedelta(days=3), kind="digest"))
    assert held.status == SendStatus.HELD and "digest" in (held.reason or "")
    assert len(fake.sent(WA_ID)) == 3  # nothing went out for the held one


@pytest.mark.parametrize(
    ("code", "http", "status", "flags"),
    [
        (131047, 400, SendStatus.HELD, {}),
        (131026, 400, SendStatus.PERMANENT, {"unreachable": True}),
        (130429, 400, SendStatus.RATE_LIMITED, {}),
        (131056, 400, SendStatus.RATE_LIMITED, {}),
        (368, 403, SendStatus.RATE_LIMITED, {"account_restricted": True}),
        (131000, 500, SendStatus.RETRY, {}),
        (2, 503, SendStatus.RETRY, {}),
        (131009, 400, SendStatus.PERMANENT, {}),
        (190, 401, SendStatus.PERMANENT, {}),
    ],
)
async def test_sender_maps_metas_errors(
    fake: FakeGraph,
    wa: Any,
    wa_settings: Settings,
    code: int,
    http: int,
    status: SendStatus,
    flags: dict[str, bool],
) -> None:
    sender = WhatsAppSender(wa, wa_settings.whatsapp, now=lambda: NOW)
    fake.fail_next(code, http)
    result = await sender.send(WA_ID, MESSAGES, context(3, NOW - timedelta(hours=1)))
    assert result.status == status, result
    assert result.unreachable == flags.get("unreachable", False)
    assert result.account_restricted == flags.get("account_restricted", False)
    assert str(code) in (result.reason or "")
    if status == SendStatus.RATE_LIMITED:
        assert (result.retry_after or 0) > 0
    if code == 131009:
        assert "Parameter value is not valid" in (result.reason or "")


async def test_sender_retries_on_a_proxy_page_and_on_the_network(
    fake: FakeGraph, wa: Any, wa_settings: Settings
) -> None:
    sender = WhatsAppSender(wa, wa_settings.whatsapp, now=lambda: NOW)
    fake.fail_next(502, 502, body="<html>502 Bad Gateway</html>")
    assert (await sender.send(WA_ID, MESSAGES, context(4, NOW))).status == SendStatus.RETRY
    down = wa_settings.whatsapp.model_copy(update={"base_url": "http://127.0.0.1:9"})
    client = build_client(wa_settings.model_copy(update={"whatsapp": down}))
    try:
        result = await WhatsAppSender(client, down, now=lambda: NOW).send(WA_ID, MESSAGES, context(4, NOW))
    finally:
        await close_client(client)
    assert result.status == SendStatus.RETRY and "Connect" in (result.reason or "")


# --- the webhook route ---------------------------------------------------------------------------------


@pytest.fixture
async def web(
    wa_settings: Settings, db: Database, wa: Any, channel: WhatsAppChannel
) -> AsyncIterator[tuple[httpx.AsyncClient, InboxWorker, Metrics]]:
    settings = wa_settings.model_copy(
        update={"server": wa_settings.server.model_copy(update={"max_body_bytes": 4096})}
    )
    worker = InboxWorker(db, Channel.WHATSAPP, channel.handle, now=lambda: NOW)
    metrics = channel.metrics  # one Metrics for the routes and the handler, as bot.serve wires them
    app = create_app(settings, metrics=metrics, whatsapp=WhatsAppHook(wa, db, worker, lambda: NOW))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client, worker, metrics


async def inbox_count(db: Database) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(InboxMessage)) or 0)


async def test_webhook_challenge(web: tuple[httpx.AsyncClient, InboxWorker, Metrics]) -> None:
    client, _, _ = web
    path = "/whatsapp/webhook"
    ok = await client.get(path, params=wp.challenge_params(challenge="1158201444"))
    assert ok.status_code == 200 and ok.text == "1158201444"
    wrong = await client.get(path, params=wp.challenge_params(verify_token="salah", challenge="1"))
    assert wrong.status_code == 403 and "1" not in wrong.text
    assert (await client.get(path, params={"hub.challenge": "1"})).status_code == 403


async def test_webhook_refuses_unsigned_forged_malformed_and_large_bodies(
    web: tuple[httpx.AsyncClient, InboxWorker, Metrics], db: Database
) -> None:
    client, _, metrics = web
    path = "/whatsapp/webhook"
    body = wp.dumps(wp.text_message(WA_ID, "/rekap", bsuid=BSUID))
    assert (await client.post(path, content=body)).status_code == 401
    forged = {"X-Hub-Signature-256": wp.sign(body, "bukan-rahasia")}
    assert (await client.post(path, content=body, headers=forged)).status_code == 403
    junk = b"{not json"
    assert (
        await client.post(path, content=junk, headers={"X-Hub-Signature-256": wp.sign(junk)})
    ).status_code == 400
    big = wp.text_message(WA_ID, "x" * 5000, bsuid=BSUID)
    assert (await wp.apost(client, path, big)).status_code == 413
    assert await inbox_count(db) == 0
    requests = "kotaku_webhook_requests_total"
    assert metrics.value(requests, channel="whatsapp", result="rejected") == 2
    assert metrics.value(requests, channel="whatsapp", result="bad") == 1
    assert metrics.value(requests, channel="whatsapp", result="too_large") == 1


async def test_webhook_stores_a_message_once_and_the_worker_answers_it(
    web: tuple[httpx.AsyncClient, InboxWorker, Metrics], db: Database, fake: FakeGraph
) -> None:
    client, worker, metrics = web
    payload = wp.text_message(WA_ID, "/bantuan", bsuid=BSUID)
    assert (await wp.apost(client, "/whatsapp/webhook", payload)).status_code == 200
    assert (await wp.apost(client, "/whatsapp/webhook", payload)).status_code == 200  # Meta retried
    assert await inbox_count(db) == 1
    assert metrics.value("kotaku_webhook_requests_total", channel="whatsapp", result="duplicate") == 1
    assert await worker.drain() == 1
    assert fake.texts_to(WA_ID) and "engine.help" in keys_in("\n".join(fake.texts_to(WA_ID)))
    async with db.session() as s:
        wamid = wp.value_of(payload)["messages"][0]["id"]
        assert await s.get(ProcessedInbound, (Channel.WHATSAPP, wamid)) is not None
        ident = (
            await s.execute(select(ChannelIdentity).where(ChannelIdentity.external_id == BSUID))
        ).scalar_one()
        assert ident.phone == "+6281234567890" and ident.last_seen_at is not None
    scraped = (await client.get("/metrics")).text
    assert 'kotaku_webhook_requests_total{channel="whatsapp",result="received"} 1.0' in scraped
    assert 'kotaku_updates_total{channel="whatsapp",kind="message",outcome="ok"} 1.0' in scraped


async def test_status_webhooks_are_recorded_on_the_outbox_row(
    web: tuple[httpx.AsyncClient, InboxWorker, Metrics], db: Database, program: Program
) -> None:
    client, worker, _ = web
    async with db.transaction() as s:
        rows = [
            OutboxMessage(
                dedup_key=f"t:{i}",
                channel=Channel.WHATSAPP,
                recipient=WA_ID,
                kind="reminder",
                payload={"text": "x"},
                status=OutboxStatus.SENT,
            )
            for i in range(2)
        ]
        s.add_all(rows)
        await s.flush()
        first, second = rows[0].id, rows[1].id
    for st in ("sent", "delivered", "read"):
        await wp.apost(client, "/whatsapp/webhook", wp.status("wamid.OUT-A", st, tracker=f"outbox:{first}"))
    await wp.apost(
        client, "/whatsapp/webhook", wp.status("wamid.OUT-A", "delivered", tracker=f"outbox:{first}")
    )
    held = wp.status("wamid.OUT-B", "failed", tracker=f"outbox:{second}", errors=131047, contacts=False)
    await wp.apost(client, "/whatsapp/webhook", held)
    assert await inbox_count(db) == 4  # the repeated "delivered" is stored once
    await worker.drain()
    async with db.session() as s:
        a, b = await s.get(OutboxMessage, first), await s.get(OutboxMessage, second)
        assert a is not None and b is not None
        assert (a.delivery_status, a.external_id, a.status) == ("read", "wamid.OUT-A", OutboxStatus.SENT)
        assert (
            b.delivery_status == "failed"
            and b.status == OutboxStatus.HELD
            and "131047" in (b.delivery_error or "")
        )

    gone = wp.status("wamid.OUT-C", "failed", recipient=WA_ID, errors=131026, contacts=False)
    await wp.apost(client, "/whatsapp/webhook", gone)
    await worker.drain()
    async with db.session() as s:
        ident = (
            await s.execute(select(ChannelIdentity).where(ChannelIdentity.external_id == BSUID))
        ).scalar_one()
        assert ident.unreachable_at is not None and "131026" in (ident.unreachable_reason or "")


# --- media, identities, onboarding ----------------------------------------------------------------------


async def test_media_download_is_retried_then_given_up_and_the_user_told(
    fake: FakeGraph, channel: WhatsAppChannel, db: Database
) -> None:
    photo = jpeg()
    media_id = fake.add_media(None, photo)
    fake.fail_media_download(times=2)
    retried = await to_inbound(
        message_body(wp.image_message(WA_ID, media_id)), channel.wa, channel.settings, retry_delay=0
    )
    assert retried.inbound is not None and retried.inbound.file_bytes == photo and retried.notice is None
    assert len(fake.requests_of("media_download")) == 3

    fake.reset()
    fake.fail_media_download(times=3)
    payload = wp.image_message(WA_ID, media_id, bsuid=BSUID)
    await feed(channel, payload)
    assert len(fake.requests_of("media_download")) == 3  # whatsapp.media_attempts
    texts = fake.texts_to(WA_ID)
    assert "whatsapp.media_failed" in keys_in(texts[0])
    async with db.session() as s:  # the engine still got the message (the report in progress is kept)
        wamid = wp.value_of(payload)["messages"][0]["id"]
        assert await s.get(ProcessedInbound, (Channel.WHATSAPP, wamid)) is not None


async def test_an_identity_registered_by_phone_moves_to_the_bsuid(
    fake: FakeGraph, channel: WhatsAppChannel, db: Database, program: Program
) -> None:
    async with db.transaction() as s:
        s.add(
            ChannelIdentity(
                person_id=program["fasil"], channel=Channel.WHATSAPP, external_id=OTHER_WA, chat_id=OTHER_WA
            )
        )
        s.add(
            ConversationState(
                channel=Channel.WHATSAPP,
                chat_id=OTHER_WA,
                user_id=OTHER_WA,
                flow=None,
                data={},
                updated_at=NOW,
            )
        )
    other_bsuid = wp.bsuid_for(OTHER_WA)
    await feed(channel, wp.text_message(OTHER_WA, "/bantuan", old_format=True))
    async with db.session() as s:
        ident = (
            await s.execute(select(ChannelIdentity).where(ChannelIdentity.chat_id == OTHER_WA))
        ).scalar_one()
        assert ident.external_id == OTHER_WA and ident.phone == "+6281299990000"
    await feed(channel, wp.text_message(OTHER_WA, "/bantuan", bsuid=other_bsuid))
    async with db.session() as s:
        ident = (
            await s.execute(select(ChannelIdentity).where(ChannelIdentity.chat_id == OTHER_WA))
        ).scalar_one()
        assert ident.external_id == other_bsuid
        users = (
            await s.execute(select(ConversationState.user_id).where(ConversationState.chat_id == OTHER_WA))
        ).scalars()
        assert set(users) == {other_bsuid}
    # An old-format message after the move still reaches the same person.
    await feed(channel, wp.text_message(OTHER_WA, "/bantuan", old_format=True))
    helps = [t for t in fake.texts_to(OTHER_WA) if "engine.help" in keys_in(t)]
    assert len(helps) == 3


async def test_onboarding_by_daftar_code_stores_the_bsuid_and_the_phone(
    fake: FakeGraph, channel: WhatsAppChannel, db: Database
) -> None:
    async with db.transaction() as s:
        scope = await resolve_scope(s, "ksm:KSM-BJL-02")
        created = await invite_service.create_invite(
            s, role=invite_service.Role.KETUA_KSM, scope=scope, valid_days=14, name="Bu Baru", at=NOW
        )
    newcomer = "6285711112222"
    await feed(channel, wp.text_message(newcomer, f"DAFTAR {created.code}", name="Bu Baru"))
    assert "engine.welcome" in keys_in("\n".join(fake.texts_to(newcomer)))
    async with db.session() as s:
        ident = (
            await s.execute(select(ChannelIdentity).where(ChannelIdentity.chat_id == newcomer))
        ).scalar_one()
        assert ident.external_id == wp.bsuid_for(newcomer) and ident.phone == "+6285711112222"
        assert ident.display_name == "Bu Baru"


async def test_unsupported_message_gets_a_polite_answer(fake: FakeGraph, channel: WhatsAppChannel) -> None:
    await feed(channel, wp.unsupported_message(WA_ID, bsuid=BSUID))
    assert "whatsapp.unsupported" in keys_in(fake.texts_to(WA_ID)[-1])


# --- the one-message report ------------------------------------------------------------------------


async def test_daily_report_in_one_message_on_whatsapp(
    fake: FakeGraph, channel: WhatsAppChannel, db: Database, program: Program
) -> None:
    """A photo captioned with the whole report, then one reply button: saved, the photo with it."""
    async with db.transaction() as s:  # yesterday's progress: no milestone photo is due today
        s.add(
            ProgressReport(
                activity_id=program["road"],
                report_date=NOW.date() - timedelta(days=1),
                percent=10.0,
                entered_at=NOW,
                revision=1,
            )
        )
    photo = jpeg()
    image_id = fake.add_media(None, photo, "image/jpeg")
    caption = "hadir semua kecuali Agus progres rabat 25 kendala semen telat"
    await feed(channel, wp.image_message(WA_ID, image_id, caption=caption, content=photo))
    to = BSUID if fake.sent(BSUID) else WA_ID
    assert "Hadir 14 orang" in fake.texts_to(to)[-1]
    buttons = fake.last_buttons(to)
    assert len(buttons) <= 3 and "Simpan" in buttons[0]["title"]  # reply buttons, no list to open
    button_id, title, wamid = fake.button(to, "Simpan")
    await feed(channel, wp.button_reply(WA_ID, button_id, title, context_wamid=wamid))
    assert any("Laporan tersimpan" in t for t in fake.texts_to(to))
    async with db.session() as s:
        records = (await s.execute(select(func.count(AttendanceRecord.id)))).scalar_one()
        media = (await s.execute(select(Media))).scalar_one()
        obstacles = (await s.execute(select(func.count(Obstacle.id)))).scalar_one()
    assert records == 14 and media.activity_id == program["road"] and obstacles == 1
