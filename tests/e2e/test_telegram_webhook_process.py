"""The real `kotaku run` process in Telegram webhook mode against the fake Bot API server: updates answered
200 and then hit by SIGKILL before they were handled are handled exactly once by the next start (they
were in the inbox), a redelivery after it changes nothing, and a body declared over
`server.max_body_bytes` gets its 413 before the rest is sent. Bounded: every wait has a timeout."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kotaku import migrate
from kotaku.config import Settings
from kotaku.security import generate_key
from tests.fake_botapi import TOKEN, FakeBotApi, free_port

KOTAKU = [sys.executable, "-m", "bot.main"]
SECRET = "webhook-Secret_123"
PATH = "/telegram/webhook"
SLOW, QUICK = 7101, 7102  # the first one's photo download is held until after the kill


class WebhookBot:
    def __init__(self, tmp: Path, fake: FakeBotApi) -> None:
        self.tmp, self.fake = tmp, fake
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KOTAKU_")},
            "KOTAKU_DATABASE__URL": f"sqlite+aiosqlite:///{tmp / 'kotaku.db'}",
            "KOTAKU_SECURITY__NIK_KEY": generate_key(),
            "KOTAKU_MEDIA__DIR": str(tmp / "media"),
            "KOTAKU_APP__DATA_DIR": str(tmp / "var"),
            "KOTAKU_TELEGRAM__TOKEN": TOKEN,
            "KOTAKU_TELEGRAM__BASE_URL": fake.base_url,
            "KOTAKU_TELEGRAM__BASE_FILE_URL": fake.base_file_url,
            "KOTAKU_TELEGRAM__MODE": "webhook",
            "KOTAKU_TELEGRAM__WEBHOOK_URL": self.url + PATH,
            "KOTAKU_TELEGRAM__WEBHOOK_SECRET": SECRET,
            "KOTAKU_SERVER__PORT": str(self.port),
            "KOTAKU_REMINDERS__ENABLED": "false",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        return (self.tmp / "bot.log").read_text(errors="replace")[-3000:]

    def start(self) -> None:
        self.fake.webhook = {}
        with open(self.tmp / "bot.log", "ab") as log:
            self.proc = subprocess.Popen(
                [*KOTAKU, "run"], env=self.env, cwd=self.tmp, stdout=subprocess.DEVNULL, stderr=log
            )
        self.fake.wait_for(lambda: (self._healthy() and self.fake.webhook) or self._died(), 30)
        assert not self._died(), self.log()
        assert self.fake.webhook["secret_token"] == SECRET

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def _died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def wait(self, predicate: Any, timeout: float) -> Any:
        try:
            return self.fake.wait_for(lambda: predicate() or self._died(), timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.log()}") from None

    def post(self, update: dict[str, Any]) -> int:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        return httpx.post(self.url + PATH, json=update, headers=headers, timeout=5).status_code

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.tmp / "kotaku.db", timeout=30) as conn:
            return conn.execute(sql).fetchall()


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
