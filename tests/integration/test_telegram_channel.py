"""The Telegram channel against the fake Bot API server: rendering (keyboards, callback data size, long
texts, captions, edits), conversion (photos within the limit, documents, locations, voice), redelivered
updates, handler errors, and the outbox sender's result mapping."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from PIL import Image
from pydantic import SecretStr
from sqlalchemy import select
from telegram import Update
from telegram.ext import Application

from bot.telegram import (
    CallbackData,
    Renderer,
    TelegramSender,
    build_application,
    delivery_bot,
    keyboard,
    split_text,
)
from bot.telegram.convert import pick_photo, to_inbound
from kotaku.bootstrap import bootstrap
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.models import Channel, ChannelIdentity, ProcessedInbound
from kotaku.notify.ports import SendStatus
from kotaku.schemas import Choice, InboundKind, Outbound, OutboundKind
from kotaku.security import NikVault
from kotaku.services import invites as invite_service
from kotaku.services.scope import resolve_scope
from tests.catalogue_keys import keys_in
from tests.factories import Program, build_program
from tests.fake_botapi import TOKEN, FakeBotApi

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # Thursday 16:00 WIB
KETUA, FASIL = 1001, 1002


def jpeg(size: tuple[int, int] = (64, 48), color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi() as server:
        yield server


@pytest.fixture
def tg_settings(settings: Settings, fake: FakeBotApi) -> Settings:
    tg = settings.telegram.model_copy(
        update={"token": SecretStr(TOKEN), "base_url": fake.base_url, "base_file_url": fake.base_file_url}
    )
    return settings.model_copy(update={"telegram": tg})


@pytest.fixture
async def program(db: Database, vault: NikVault) -> Program:
    program = await build_program(db, vault, NOW.date())
    async with db.transaction() as s:
        for code, tg_id in (("ketua-a", KETUA), ("fasil", FASIL)):
            s.add(
                ChannelIdentity(
                    person_id=program[code],
                    channel=Channel.TELEGRAM,
                    external_id=str(tg_id),
                    chat_id=str(tg_id),
                )
            )
    return program


@pytest.fixture
async def app(tg_settings: Settings, db: Database, program: Program) -> AsyncIterator[Application]:
    application = build_application(
        tg_settings.model_copy(update={"database": tg_settings.database}),
        bootstrap(db.settings, db=db, now=lambda: NOW).engine,
        rate_limiter=False,
        polling=False,
    )
    await application.initialize()
    yield application
    await application.shutdown()


async def feed(app: Application, fake: FakeBotApi) -> None:
    for data in fake.take_updates():
        await app.process_update(Update.de_json(data, app.bot))


# --- pure rendering ----------------------------------------------------------------------------------


def test_split_text_keeps_every_character_within_4096() -> None:
    text = "\n".join(f"baris {i} " + "x" * 50 for i in range(200))  # ~11,600 characters
    pieces = split_text(text)
    assert len(pieces) == 3 and all(len(p) <= 4096 for p in pieces)
    assert "\n".join(pieces) == text
    assert split_text("a" * 9000) == ["a" * 4096, "a" * 4096, "a" * 808]
    assert split_text("") == [""]


def test_callback_data_at_most_64_bytes_and_long_values_round_trip() -> None:
    cb = CallbackData()
    long_value = "/kurva kota 33.22.05 " + "é" * 40  # 101 bytes
    markup = keyboard(
        [
            Choice(label="A", value="t:12"),
            Choice(label="B", value=long_value),
            Choice(label="C", value="/progres"),
        ],
        2,
        cb,
    )
    assert markup is not None
    rows = markup.inline_keyboard
    assert [len(r) for r in rows] == [2, 1]
    datas = [b.callback_data for r in rows for b in r]
    assert datas[0] == "t:12" and datas[2] == "/progres"
    assert all(len(str(d).encode()) <= 64 for d in datas)
    assert datas[1] != long_value and cb.decode(str(datas[1])) == long_value
    assert CallbackData().decode(str(datas[1])) is None  # another process: expired


def test_pick_photo_takes_the_largest_size_within_the_limit() -> None:
    from telegram import PhotoSize

    sizes = [
        PhotoSize("a", "ua", 90, 90, file_size=2_000),
        PhotoSize("b", "ub", 800, 600, file_size=80_000),
        PhotoSize("c", "uc", 1280, 960, file_size=300_000),
    ]
    assert pick_photo(sizes, 20_000_000).file_id == "c"  # type: ignore[union-attr]
    assert pick_photo(sizes, 100_000).file_id == "b"  # type: ignore[union-attr]
    assert pick_photo(sizes, 1_000) is None


# --- against the fake server ---------------------------------------------------------------------------


async def test_onboarding_by_deep_link_then_duplicate_update_is_ignored(
    app: Application, fake: FakeBotApi, db: Database
) -> None:
    async with db.transaction() as s:
        scope = await resolve_scope(s, "ksm:KSM-BJL-02")
        created = await invite_service.create_invite(
            s, role=invite_service.Role.KETUA_KSM, scope=scope, valid_days=14, name="Bu Baru", at=NOW
        )
    fake.message(5005, f"/start {created.code}")
    [update] = fake.take_updates()
    await app.process_update(Update.de_json(update, app.bot))
    await app.process_update(Update.de_json(update, app.bot))  # redelivered: same update_id
    texts = fake.texts_to(5005)
    assert sum("engine.welcome" in keys_in(t) for t in texts) == 1
    async with db.session() as s:
        ident = (
            await s.execute(select(ChannelIdentity).where(ChannelIdentity.external_id == "5005"))
        ).scalar_one()
        assert ident.channel == Channel.TELEGRAM and ident.chat_id == "5005"
        assert await s.get(ProcessedInbound, (Channel.TELEGRAM, f"u{update['update_id']}")) is not None
    # The menu came as an inline keyboard with compact callback data.
    buttons = fake.last_keyboard(5005)
    assert buttons and all(len(b["callback_data"].encode()) <= 64 for b in buttons)


async def test_roster_checklist_edits_its_own_message_and_callbacks_are_answered(
    app: Application, fake: FakeBotApi
) -> None:
    fake.message(KETUA, "/hadir")
    await feed(app, fake)
    data, msg_id = fake.button(KETUA, "Hari ini")
    fake.callback(KETUA, data, msg_id)
    await feed(app, fake)
    data, checklist_id = fake.button(KETUA, "Budi")
    sent_before = len(fake.calls_to("sendMessage"))
    fake.callback(KETUA, data, checklist_id)
    await feed(app, fake)
    edits = fake.calls_to("editMessageText")
    assert len(edits) == 1 and int(edits[0].params["message_id"]) == checklist_id
    assert "✅ Budi" in str(edits[0].params["reply_markup"])
    assert len(fake.calls_to("sendMessage")) == sent_before  # edited, not a new message
    assert len(fake.calls_to("answerCallbackQuery")) == 2


async def test_photo_is_downloaded_and_reaches_the_core(
    app: Application, fake: FakeBotApi, tg_settings: Settings
) -> None:
    content = jpeg()
    fake.photo(KETUA, content, caption="#50 jalan")
    [data] = fake.take_updates()
    inbound = await to_inbound(Update.de_json(data, app.bot), app.bot, tg_settings)
    assert inbound is not None and inbound.kind == InboundKind.PHOTO
    assert inbound.file_bytes == content and inbound.text == "#50 jalan"
    assert inbound.message_id == f"u{data['update_id']}" and inbound.user_id == str(KETUA)
    fake.document(KETUA, content, "IMG_1.jpg", "image/jpeg", chat_id=-777)
    fake.location(KETUA, -7.26, 110.4)
    fake.voice(KETUA, b"OggS-fake")
    doc, loc, voice = [
        await to_inbound(Update.de_json(u, app.bot), app.bot, tg_settings) for u in fake.take_updates()
    ]
    assert doc and doc.kind == InboundKind.DOCUMENT and doc.file_bytes == content and doc.is_group
    assert doc.chat_id == "-777" and doc.user_id == str(KETUA)
    assert loc and loc.kind == InboundKind.LOCATION and loc.latitude == -7.26
    assert voice and voice.kind == InboundKind.VOICE and voice.file_bytes == b"OggS-fake"


async def test_file_over_the_limit_is_refused_without_download(
    app: Application, fake: FakeBotApi, tg_settings: Settings
) -> None:
    handlers = app.bot_data["handlers"]
    handlers.settings = tg_settings.model_copy(
        update={"media": tg_settings.media.model_copy(update={"max_bytes": 1024})}
    )
    fake.document(KETUA, b"x" * 5000, "besar.jpg", "image/jpeg")
    await feed(app, fake)
    assert not fake.calls_to("getFile")
    assert "telegram.file_too_large" in keys_in(fake.texts_to(KETUA)[-1])


async def test_handler_error_is_logged_and_the_user_gets_an_apology(
    app: Application, fake: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    handlers = app.bot_data["handlers"]

    async def boom(inbound: object) -> list[Outbound]:
        raise RuntimeError("rusak")

    handlers.engine.handle = boom
    fake.message(KETUA, "/rekap")
    await feed(app, fake)
    assert "engine.error" in keys_in(fake.texts_to(KETUA)[-1])
    assert any("telegram handler failed" in r.message and r.exc_info for r in caplog.records)
    errors = handlers.metrics.value(
        "kotaku_updates_total", channel="telegram", kind="message", outcome="error"
    )
    assert errors == 1


async def test_long_text_photo_and_document_rendering(app: Application, fake: FakeBotApi) -> None:
    renderer = Renderer(app.bot)
    png = io.BytesIO()
    Image.new("RGB", (10, 10)).save(png, "PNG")
    await renderer.render(
        "42",
        [
            Outbound(text="y" * 5000, choices=[Choice(label="OK", value="ok")]),
            Outbound(kind=OutboundKind.IMAGE, text="Kurva S", content=png.getvalue(), file_name="kurva.png"),
            Outbound(
                kind=OutboundKind.FILE,
                text="z" * 1500,
                content=b"PK\x03\x04",
                file_name="rekap.xlsx",
                mime_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
        ],
    )
    calls = [(c.method, c) for c in fake.sent("42")]
    assert [m for m, _ in calls] == ["sendmessage", "sendmessage", "sendphoto", "senddocument", "sendmessage"]
    first, second = calls[0][1], calls[1][1]
    assert len(first.params["text"]) == 4096 and "reply_markup" not in first.params
    assert len(second.params["text"]) == 904 and second.params["reply_markup"]["inline_keyboard"]
    assert calls[2][1].params["caption"] == "Kurva S" and calls[2][1].files["photo"] == png.getvalue()
    # A caption over 1024 characters goes as a text after the document.
    assert "caption" not in calls[3][1].params and calls[3][1].files["document"] == b"PK\x03\x04"
    assert calls[4][1].params["text"] == "z" * 1500


async def test_sender_maps_bot_api_answers(
    tg_settings: Settings, fake: FakeBotApi, db: Database, program: Program
) -> None:
    bot = delivery_bot(tg_settings)
    await bot.initialize()
    try:
        sender = TelegramSender(bot)
        msg = [Outbound(text="Pengingat: laporan hari ini belum masuk.")]
        assert (await sender.send(str(FASIL), msg)).status == SendStatus.SENT
        fake.fail_next(429, retry_after=7)
        result = await sender.send(str(FASIL), msg)
        assert result.status == SendStatus.RATE_LIMITED and result.retry_after == 7
        fake.fail_next(500)
        assert (await sender.send(str(FASIL), msg)).status == SendStatus.RETRY
        fake.fail_next(502)
        assert (await sender.send(str(FASIL), msg)).status == SendStatus.RETRY
        fake.fail_next(400)
        result = await sender.send("999", msg)
        assert result.status == SendStatus.PERMANENT and not result.unreachable
        fake.fail_next(403)
        result = await sender.send(str(KETUA), msg)
        assert result.status == SendStatus.PERMANENT and "blocked" in (result.reason or "")
        assert result.unreachable  # the dispatcher marks the identity (tests/integration/test_dispatcher.py)
        assert len(fake.texts_to(FASIL)) == 1
    finally:
        await bot.shutdown()
