"""The real `kotaku run` process in polling mode against the fake Bot API server: onboarding by deep link,
attendance by buttons and by /hadir, progress with a photo, an obstacle that reaches the facilitator, a
group chat report, and a restart in the middle of a report. Bounded: every wait has a timeout."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from kotaku.security import generate_key
from tests.catalogue_keys import keys_in
from tests.fake_botapi import TOKEN, FakeBotApi, free_port

KETUA, FASIL, GROUP = 7001, 7002, -100555
KOTAKU = [sys.executable, "-m", "bot.main"]
REPO = Path(__file__).resolve().parents[2]


class Bot:
    """Drives one `kotaku run` process through the fake server."""

    def __init__(self, tmp: Path, fake: FakeBotApi) -> None:
        self.fake = fake
        self.tmp = tmp
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KOTAKU_")},
            "KOTAKU_DATABASE__URL": f"sqlite+aiosqlite:///{tmp / 'kotaku.db'}",
            "KOTAKU_SECURITY__NIK_KEY": generate_key(),
            "KOTAKU_MEDIA__DIR": str(tmp / "media"),
            "KOTAKU_APP__DATA_DIR": str(tmp / "var"),
            "KOTAKU_TELEGRAM__TOKEN": TOKEN,
            "KOTAKU_TELEGRAM__BASE_URL": fake.base_url,
            "KOTAKU_TELEGRAM__BASE_FILE_URL": fake.base_file_url,
            "KOTAKU_SERVER__PORT": str(free_port()),
            "KOTAKU_DELIVERY__POLL_SECONDS": "0.2",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> str:
        env = {k: v for k, v in self.env.items() if k != "KOTAKU_TELEGRAM__TOKEN"}
        done = subprocess.run(
            [*KOTAKU, *args], env=env, cwd=self.tmp, capture_output=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        return done.stdout.decode()

    def start(self) -> None:
        calls_before = self.fake.get_updates_calls
        with open(self.tmp / "bot.log", "ab") as log:
            self.proc = subprocess.Popen(
                [*KOTAKU, "run"], env=self.env, cwd=self.tmp, stdout=subprocess.DEVNULL, stderr=log
            )
        self.fake.wait_for(lambda: self.fake.get_updates_calls > calls_before or self._died(), 30)
        assert not self._died(), (self.tmp / "bot.log").read_text()[-3000:]

    def _died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
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

    def _await_reply(self, chat: int, before: int) -> str:
        self.fake.wait_for(lambda: len(self.fake.sent(chat)) > before or self._died(), 20)
        assert not self._died(), (self.tmp / "bot.log").read_text()[-3000:]
        # Let the rest of a multi-message reply arrive.
        self.fake.wait_for(lambda: self._quiet(chat), 5)
        return "\n".join(self.fake.texts_to(chat)[before:])

    def _quiet(self, chat: int) -> bool:
        import time

        n = len(self.fake.sent(chat))
        time.sleep(0.15)
        return len(self.fake.sent(chat)) == n

    def say(self, user: int, text: str, chat: int | None = None) -> str:
        target = chat or user
        before = len(self.fake.sent(target))
        self.fake.message(user, text, chat_id=chat)
        return self._await_reply(target, before)

    def tap(self, user: int, label: str, chat: int | None = None) -> str:
        target = chat or user
        data, message_id = self.fake.button(target, label)
        before = len(self.fake.sent(target))
        self.fake.callback(user, data, message_id, chat_id=chat)
        return self._await_reply(target, before)

    def photo(self, user: int, content: bytes) -> str:
        before = len(self.fake.sent(user))
        self.fake.photo(user, content)
        return self._await_reply(user, before)

    def query(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.tmp / "kotaku.db") as conn:
            return conn.execute(sql).fetchall()


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    with FakeBotApi() as fake:
        b = Bot(tmp_path, fake)
        try:
            yield b
        finally:
            b.stop()


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (120, 90), "green").save(buf, "JPEG")
    return buf.getvalue()


@pytest.mark.timeout(120)
def test_kotaku_run_polling_end_to_end(bot: Bot) -> None:
    bot.cli("db", "upgrade")
    bot.cli("demo")
    ketua_code = json.loads(bot.cli("invite", "--role", "ketua_ksm", "--scope", "ksm:KSM-BJL-01", "--json"))[
        "code"
    ]
    kec = bot.query(
        "SELECT r.code FROM ksm k JOIN bkm b ON b.id = k.bkm_id JOIN region r ON r.id = b.kelurahan_id "
        "WHERE k.code = 'KSM-BJL-01'"
    )[0][0]
    fasil_code = json.loads(bot.cli("invite", "--role", "fasilitator", "--scope", kec, "--json"))["code"]
    bot.start()
    assert bot.fake.commands.get("all_private_chats:") and bot.fake.commands.get("all_group_chats:en")

    # Onboarding by deep link.
    assert "engine.welcome" in keys_in(bot.say(KETUA, f"/start {ketua_code}"))
    assert "engine.welcome" in keys_in(bot.say(FASIL, f"/start {fasil_code}"))

    # Attendance by buttons.
    bot.say(KETUA, "/hadir")
    bot.tap(KETUA, "Hari ini")
    reply = bot.tap(KETUA, "Semua hadir")
    assert bot.fake.calls_to("editMessageText"), reply  # the checklist edits itself
    bot.tap(KETUA, "Selesai")
    assert "hadir.saved" in keys_in(bot.tap(KETUA, "Simpan · sudah"))
    assert bot.query("SELECT count(*) FROM attendance_day")[0][0] >= 1

    # Progress with a photo.
    reply = bot.say(KETUA, "/progres")
    if "Rabat" in str(bot.fake.last_keyboard(KETUA)):
        reply = bot.tap(KETUA, "Rabat")
    last = [float(x.replace(",", ".")) for x in re.findall(r"(\d+(?:[.,]\d+)?)\s?%", reply)]
    bot.say(KETUA, f"{min((max(last) if last else 0) + 5, 100):g}".replace(".", ","))
    bot.photo(KETUA, jpeg())
    bot.tap(KETUA, "Simpan")
    assert bot.query("SELECT count(*) FROM media")[0][0] >= 1

    # An obstacle, with a restart of the process in the middle of it.
    assert "kendala.ask_severity" in keys_in(bot.say(KETUA, "/kendala material semen belum datang"))
    bot.kill()
    bot.start()
    bot.tap(KETUA, "Sedang")
    bot.tap(KETUA, "Simpan")
    assert bot.query("SELECT count(*) FROM obstacle WHERE description = 'semen belum datang'")[0][0] == 1
    assert bot.query(f"SELECT count(*) FROM outbox_message WHERE recipient = '{FASIL}'")[0][0] >= 1
    bot.fake.wait_for(lambda: any("semen" in t for t in bot.fake.texts_to(FASIL)), 20)

    # A group chat report.
    assert "engine.group_bound" in keys_in(bot.say(KETUA, "/daftarkan_grup", chat=GROUP))
    bot.say(KETUA, "/kendala cuaca hujan deras", chat=GROUP)
    bot.tap(KETUA, "Sedang", chat=GROUP)
    bot.tap(KETUA, "Simpan", chat=GROUP)
    assert bot.query("SELECT count(*) FROM obstacle WHERE description = 'hujan deras'")[0][0] == 1
    assert bot.stop() == 0
