"""The real `kotaku run` process in Telegram webhook mode against the fake Bot API server: updates answered
200 and then hit by SIGKILL before they were handled are handled exactly once by the next start (they
were in the inbox), a redelivery after it changes nothing, and a body declared over
`server.max_body_bytes` gets its 413 before the rest is sent; SIGTERM drains (503, the update in hand
finished, exit 0). Bounded: every wait has a timeout."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kotaku import migrate
from kotaku.config import Settings
from tests.fake_botapi import FakeBotApi
from tests.webhook_bot import PATH, SECRET, WebhookBot

SLOW, QUICK = 7101, 7102  # the first one's photo download is held until after the kill


@pytest.fixture
def bot(tmp_path: Path, settings: Settings) -> Iterator[WebhookBot]:
    migrate.upgrade(settings, url=f"sqlite+aiosqlite:///{tmp_path / 'kotaku.db'}")
    with FakeBotApi() as fake:
        b = WebhookBot(tmp_path, fake)
        try:
            yield b
        finally:
            fake.release("getFile")
            b.stop()


@pytest.mark.timeout(60)
def test_updates_answered_200_then_killed_are_handled_once_after_the_restart(bot: WebhookBot) -> None:
    fake = bot.fake
    bot.start()

    fake.hold("getFile")
    fake.photo(SLOW, b"\xff\xd8not-really-a-jpeg")
    fake.message(SLOW, "/bantuan")
    fake.message(SLOW, "/batal")
    fake.message(QUICK, "/bantuan")
    updates = fake.take_updates()
    assert [bot.post(u) for u in updates] == [200] * 4
    quick_done = (
        f"SELECT 1 FROM inbox_message WHERE conversation = '{QUICK}:{QUICK}' AND processed_at IS NOT NULL"
    )
    bot.wait(lambda: bot.query(quick_done) and fake.held_calls, 15)  # the photo's download is under way
    quick_replies = len(fake.sent(QUICK))
    bot.kill()

    pending = bot.query("SELECT conversation FROM inbox_message WHERE processed_at IS NULL")
    assert pending == [(f"{SLOW}:{SLOW}",)] * 3 and not fake.sent(SLOW)

    fake.release("getFile")
    bot.start()
    bot.wait(lambda: not bot.query("SELECT 1 FROM inbox_message WHERE processed_at IS NULL"), 15)
    bot.wait(lambda: len(fake.sent(SLOW)) >= 3, 10)
    assert bot.post(updates[0]) == 200  # Telegram redelivers one: stored once already, nothing new
    handled = bot.query("SELECT message_id FROM processed_inbound ORDER BY message_id")
    assert handled == sorted((f"u{u['update_id']}",) for u in updates)
    assert bot.query("SELECT count(*), sum(attempts) FROM inbox_message") == [(4, 0)]

    # A body declared over the limit is answered 413 before the rest of it is sent.
    with socket.create_connection(("127.0.0.1", bot.port), timeout=5) as conn:
        conn.sendall(
            f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {50 * 1024 * 1024}\r\n\r\n".encode()
            + b'{"update_id": 1, "message": {"text": "'
        )
        assert conn.recv(200).startswith(b"HTTP/1.1 413")

    assert bot.stop() == 0
    assert len(fake.sent(QUICK)) == quick_replies  # the one handled before the kill was not handled again
    assert len(fake.sent(SLOW)) == 3, fake.texts_to(SLOW)


@pytest.mark.timeout(60)
def test_sigterm_answers_503_finishes_the_update_in_hand_and_exits_0(bot: WebhookBot) -> None:
    """Graceful shutdown: from SIGTERM on the webhook answers 503 (Telegram sends the update again
    later, to whichever process answers then), the update in hand is finished and answered, the
    process exits 0 within `server.shutdown_s`."""
    fake = bot.fake
    bot.env["KOTAKU_SERVER__SHUTDOWN_S"] = "12"
    bot.start()
    code, answer = bot.ready(wait=10)  # what the systemd unit waits on after start
    assert code == 0 and answer["ok"] is True and answer["checks"]["channels"]["ok"] is True
    fake.hold("getFile")
    fake.photo(SLOW, b"\xff\xd8not-really-a-jpeg")
    assert [bot.post(u) for u in fake.take_updates()] == [200]
    bot.wait(lambda: fake.held_calls, 15)  # the photo is in hand

    started = time.monotonic()
    bot.terminate()
    fake.message(QUICK, "/bantuan")
    (late,) = fake.take_updates()
    statuses: list[int] = []
    bot.wait(lambda: statuses.append(bot.post(late)) or statuses[-1] == 503, 5)
    assert set(statuses) <= {200, 503} and statuses[-1] == 503
    fake.release("getFile")
    assert bot.proc is not None
    assert bot.proc.wait(15) == 0, bot.log()
    code, answer = bot.ready()
    assert code == 1 and answer["ok"] is False and answer["error"] == "ConnectError"
    assert time.monotonic() - started < 12 + 3  # shutdown_s, and the interpreter's exit
    done = bot.query(f"SELECT processed_at FROM inbox_message WHERE conversation = '{SLOW}:{SLOW}'")
    assert len(done) == 1 and done[0][0] is not None  # finished, not left for the next start
    assert fake.sent(SLOW)  # and answered
    if statuses == [503]:  # refused at once: not stored, so nothing was half taken
        assert bot.query(f"SELECT 1 FROM inbox_message WHERE conversation = '{QUICK}:{QUICK}'") == []
