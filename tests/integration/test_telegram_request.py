"""The HTTP layer under python-telegram-bot (`telegram.http`): the real PTB `Bot` over each request class
against the fake Bot API on 127.0.0.1: sends, keyboards, edits, uploads and downloads arrive intact;
Bot API errors become PTB's exceptions; timeouts and refused connections become `TimedOut` and
`NetworkError` within their limits; shutdown closes the client. The same tests run on aiohttp (the
default) and on PTB's own httpx, so both keep one contract."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from bot.telegram.app import build_application, delivery_bot
from bot.telegram.request import AiohttpRequest, build_request, encode_multipart
from bot.telegram.sender import retry_seconds
from kotaku.config import Settings
from tests.fake_botapi import TOKEN, FakeBotApi, free_port

KINDS = ["aiohttp", "httpx"]


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi() as server:
        yield server


def make_bot(
    kind: str,
    base: str,
    *,
    pool: int = 4,
    read: float = 5.0,
    write: float = 5.0,
    connect: float = 2.0,
    pool_timeout: float = 1.0,
) -> Bot:
    request = build_request(
        kind,
        connection_pool_size=pool,
        read_timeout=read,
        write_timeout=write,
        connect_timeout=connect,
        pool_timeout=pool_timeout,
    )
    return Bot(TOKEN, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot", request=request)


@pytest.fixture(params=KINDS)
async def bot(request: pytest.FixtureRequest, fake: FakeBotApi) -> AsyncIterator[Bot]:
    async with make_bot(request.param, fake.root) as b:
        yield b


def test_build_request_picks_the_class() -> None:
    assert isinstance(build_request("aiohttp", connection_pool_size=2), AiohttpRequest)
    assert isinstance(build_request("httpx", connection_pool_size=2), HTTPXRequest)


def test_settings_choose_the_client(settings: Settings) -> None:
    tg = settings.telegram.model_copy(update={"token": SecretStr(TOKEN)})
    assert settings.telegram.http == "aiohttp"
    on_aiohttp = settings.model_copy(update={"telegram": tg})
    assert isinstance(delivery_bot(on_aiohttp).request, AiohttpRequest)
    on_httpx = settings.model_copy(update={"telegram": tg.model_copy(update={"http": "httpx"})})
    assert isinstance(delivery_bot(on_httpx).request, HTTPXRequest)


def test_the_application_uses_the_configured_client(settings: Settings) -> None:
    from kotaku.bootstrap import bootstrap

    tg = settings.telegram.model_copy(update={"token": SecretStr(TOKEN)})
    s = settings.model_copy(update={"telegram": tg})
    application = build_application(s, bootstrap(s).engine, rate_limiter=False)
    assert isinstance(application.bot.request, AiohttpRequest)


async def test_send_message_with_keyboard_and_edit(bot: Bot, fake: FakeBotApi) -> None:
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Hadir ✅", callback_data="a:1"),
                InlineKeyboardButton("Batal", callback_data="x"),
            ]
        ]
    )
    sent = await bot.send_message(chat_id=4242, text="Daftar hadir — Kamis 🇮🇩 & <b>", reply_markup=markup)
    assert sent.text == "Daftar hadir — Kamis 🇮🇩 & <b>"
    assert sent.chat.id == 4242
    assert [b["callback_data"] for b in fake.last_keyboard(4242)] == ["a:1", "x"]
    assert [b["text"] for b in fake.last_keyboard(4242)] == ["Hadir ✅", "Batal"]

    edited = await bot.edit_message_text(text="✅ 12 dari 16", chat_id=4242, message_id=sent.message_id)
    assert not isinstance(edited, bool)
    assert edited.message_id == sent.message_id
    call = fake.calls_to("editMessageText")[-1]
    assert call.params["text"] == "✅ 12 dari 16"
    assert int(call.params["message_id"]) == sent.message_id


async def test_document_upload_arrives_intact(bot: Bot, fake: FakeBotApi) -> None:
    content = os.urandom(300_000) + b'\r\n--boundary"\r\n' + bytes(range(256))
    document = InputFile(content, filename='Rekap KSM "Bejalen" Mei.xlsx')
    message = await bot.send_document(chat_id=77, document=document, caption="Unduhan — Mei 2026")
    assert message.document is not None
    call = fake.calls_to("sendDocument")[-1]
    assert call.files["document"] == content
    assert call.params["caption"] == "Unduhan — Mei 2026"
    assert int(call.params["chat_id"]) == 77


async def test_photo_upload_and_file_download(bot: Bot, fake: FakeBotApi) -> None:
    picture = os.urandom(50_000)
    await bot.send_photo(chat_id=78, photo=InputFile(picture, filename="grafik.png"))
    assert fake.calls_to("sendPhoto")[-1].files["photo"] == picture

    file_id = fake.add_file(picture, "photos/site.jpg")
    downloaded = await (await bot.get_file(file_id)).download_as_bytearray()
    assert bytes(downloaded) == picture


async def test_bot_api_errors_become_ptb_exceptions(bot: Bot, fake: FakeBotApi) -> None:
    fake.fail_next(429, retry_after=7)
    with pytest.raises(RetryAfter) as limited:
        await bot.send_message(chat_id=1, text="x")
    assert retry_seconds(limited.value) == 7

    fake.fail_next(400)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(chat_id=1, text="x")

    fake.fail_next(403)
    with pytest.raises(Forbidden, match=r"(?i)blocked"):
        await bot.send_message(chat_id=1, text="x")

    fake.fail_next(500)
    with pytest.raises(NetworkError) as server_error:
        await bot.send_message(chat_id=1, text="x")
    assert not isinstance(server_error.value, TimedOut)

    assert (await bot.send_message(chat_id=1, text="after")).text == "after"


@pytest.mark.parametrize("kind", KINDS)
async def test_a_hanging_server_times_out_within_the_read_timeout(kind: str, fake: FakeBotApi) -> None:
    async with make_bot(kind, fake.root, read=0.4) as bot:
        fake.hold("sendMessage")
        try:
            started = time.monotonic()
            with pytest.raises(TimedOut):
                await bot.send_message(chat_id=5, text="x")
            elapsed = time.monotonic() - started
        finally:
            fake.release("sendMessage")
        assert 0.35 <= elapsed < 1.5
        # A per-call read timeout overrides the default.
        fake.hold("sendMessage")
        try:
            started = time.monotonic()
            with pytest.raises(TimedOut):
                await bot.send_message(chat_id=5, text="x", read_timeout=0.1)
            assert time.monotonic() - started < 0.35
        finally:
            fake.release("sendMessage")
        assert (await bot.send_message(chat_id=5, text="again")).text == "again"


@pytest.mark.parametrize("kind", KINDS)
async def test_pool_timeout_when_every_connection_is_busy(kind: str, fake: FakeBotApi) -> None:
    async with make_bot(kind, fake.root, pool=1, pool_timeout=0.2) as bot:
        fake.hold("sendMessage")
        first = asyncio.create_task(bot.send_message(chat_id=6, text="first"))
        await fake.await_for(lambda: fake.held_calls >= 1, wait=3)
        started = time.monotonic()
        with pytest.raises(TimedOut, match="Pool timeout"):
            await bot.send_message(chat_id=6, text="second")
        assert time.monotonic() - started < 1.0
        fake.release("sendMessage")
        assert (await first).text == "first"
    assert [c.params["text"] for c in fake.calls_to("sendMessage")] == ["first"]


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A port that completes TCP handshakes but never reads nor answers (tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_an_upload_nobody_reads_times_out_on_write(kind: str) -> None:
    with silent_listener() as port:
        bot = make_bot(kind, f"http://127.0.0.1:{port}", read=10.0)
        await bot.request.initialize()  # no getMe: nothing answers here
        try:
            started = time.monotonic()
            with pytest.raises(TimedOut):
                await bot.send_document(
                    chat_id=1, document=InputFile(b"\0" * (32 << 20), filename="a.bin"), write_timeout=0.3
                )
            assert time.monotonic() - started < 4.0  # the write timeout, far before the read timeout
        finally:
            await bot.request.shutdown()


@pytest.mark.parametrize("kind", KINDS)
async def test_connection_refused_is_a_network_error(kind: str) -> None:
    port = free_port()  # nothing listens there
    bot = make_bot(kind, f"http://127.0.0.1:{port}")
    await bot.request.initialize()
    try:
        started = time.monotonic()
        with pytest.raises(NetworkError) as refused:
            await bot.send_message(chat_id=1, text="x")
        assert not isinstance(refused.value, TimedOut)
        assert time.monotonic() - started < 1.0
    finally:
        await bot.request.shutdown()


def open_connections_to(port: int) -> int:
    """Established TCP connections from this machine to 127.0.0.1:`port` (Linux /proc/net/tcp)."""
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return sum(1 for r in rows if r[2] == f"0100007F:{port:04X}" and r[3] == "01")


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="reads Linux's socket table")
async def test_aiohttp_shutdown_closes_the_session(fake: FakeBotApi) -> None:
    bot = make_bot("aiohttp", fake.root)
    request = bot.request
    assert isinstance(request, AiohttpRequest)
    async with bot:
        await asyncio.gather(*(bot.send_message(chat_id=9 + i, text="x") for i in range(3)))
        assert not request.closed
        assert open_connections_to(fake.port) >= 1  # kept alive between requests
    assert request.closed
    await fake.await_for(lambda: open_connections_to(fake.port) == 0, wait=3)
    with pytest.raises(NetworkError, match="not initialized"):  # PTB wraps the RuntimeError
        await request.post(f"{fake.base_url}{TOKEN}/getMe")
    await request.shutdown()  # a second shutdown is harmless
    async with bot:  # and it can start again, as HTTPXRequest can
        assert (await bot.send_message(chat_id=9, text="again")).text == "again"
    assert request.closed


@pytest.mark.parametrize("kind", KINDS)
async def test_requests_in_flight_stay_within_the_pool(kind: str, fake: FakeBotApi) -> None:
    async with make_bot(kind, fake.root, pool=3, pool_timeout=5.0) as bot:
        fake.hold("sendMessage")
        sends = [asyncio.create_task(bot.send_message(chat_id=100 + i, text=f"#{i}")) for i in range(8)]
        await fake.await_for(lambda: fake.held_calls >= 3, wait=3)
        await asyncio.sleep(0.2)
        assert fake.held_calls == 3  # the others wait for a connection, not on the wire
        fake.release("sendMessage")
        await asyncio.gather(*sends)
    assert sorted(c.params["text"] for c in fake.calls_to("sendMessage")) == sorted(f"#{i}" for i in range(8))


def test_multipart_encoding_quotes_names() -> None:
    body, ctype = encode_multipart(
        {"caption": "a\r\nb"}, {"document": ('x"y\r\n.txt', b"data", "text/plain")}
    )
    boundary = ctype.split("boundary=", 1)[1]
    assert ctype.startswith("multipart/form-data; ")
    assert body.startswith(f"--{boundary}\r\n".encode())
    assert body.endswith(f"--{boundary}--\r\n".encode())
    assert b'filename="x%22y%0D%0A.txt"' in body
    assert b"\r\n\r\na\r\nb\r\n" in body
