"""The real `kotaku run` process with WhatsApp configured, against the fake Graph API (tests/fake_graph.py,
reached through `KOTAKU_WHATSAPP__BASE_URL`), driven by signed webhooks posted to its HTTP server:
Meta's verification challenge, onboarding by `DAFTAR CODE`, a reminder outside the 24-hour window going
out as a template and its status webhooks stored on the outbox row, attendance through the list pages and
typed numbers, progress with a photo whose webhook is answered 200 just before the process is killed
(SIGKILL; the restarted process handles it), an obstacle that reaches the facilitator, /rekap, and a clean
exit on SIGTERM. Bounded: every wait has a timeout; ports are free ones."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from PIL import Image

from kotaku.security import generate_key
from tests import whatsapp_payloads as wp
from tests.catalogue_keys import keys_in, says
from tests.fake_graph import TOKEN, FakeGraph, free_port

KETUA, KETUA2, FASIL = "6281234500001", "6281234500002", "6281234500003"
NAMES = {KETUA: "Pak Darto", KETUA2: "Pak Joko", FASIL: "Bu Wulan"}
KOTAKU = [sys.executable, "-m", "bot.main"]
WEBHOOK = "/whatsapp/webhook"
WIB = ZoneInfo("Asia/Jakarta")


class WaBot:
    """Drives one `kotaku run` process through the fake Graph API and its webhook."""

    def __init__(self, tmp: Path, fake: FakeGraph) -> None:
        self.fake = fake
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        fake.webhook_url = self.url + WEBHOOK
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KOTAKU_")},
            "KOTAKU_DATABASE__URL": f"sqlite+aiosqlite:///{tmp / 'kotaku.db'}",
            "KOTAKU_SECURITY__NIK_KEY": generate_key(),
            "KOTAKU_MEDIA__DIR": str(tmp / "media"),
            "KOTAKU_APP__DATA_DIR": str(tmp / "var"),
            "KOTAKU_WHATSAPP__PHONE_ID": wp.PHONE_ID,
            "KOTAKU_WHATSAPP__TOKEN": TOKEN,
            "KOTAKU_WHATSAPP__APP_SECRET": wp.APP_SECRET,
            "KOTAKU_WHATSAPP__VERIFY_TOKEN": wp.VERIFY_TOKEN,
            "KOTAKU_WHATSAPP__BASE_URL": fake.base_url,
            "KOTAKU_WHATSAPP__PAIR_SECONDS": "0",
            "KOTAKU_SERVER__PORT": str(self.port),
            "KOTAKU_DELIVERY__POLL_SECONDS": "0.2",
            # The test queues the reminder itself (below), at a moment it chooses.
            "KOTAKU_REMINDERS__ENABLED": "false",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    # --- the processes ---------------------------------------------------------------------------------

    def cli(self, *args: str, **env: str) -> str:
        run_env = {
            **{k: v for k, v in self.env.items() if not k.startswith("KOTAKU_WHATSAPP__")},
            **env,
        }
        done = subprocess.run(
            [*KOTAKU, *args], env=run_env, cwd=self.tmp, capture_output=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        return done.stdout.decode()

    def start(self) -> None:
        with open(self.tmp / "bot.log", "ab") as log:
            self.proc = subprocess.Popen(
                [*KOTAKU, "run"], env=self.env, cwd=self.tmp, stdout=subprocess.DEVNULL, stderr=log
            )
        self.fake.wait_for(lambda: self._healthy() or self._died(), 30)
        assert not self._died(), self.log()

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def _died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def log(self) -> str:
        return (self.tmp / "bot.log").read_text(errors="replace")[-3000:]

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
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    # --- the conversation ------------------------------------------------------------------------------

    def post(self, payload: dict[str, Any]) -> None:
        assert self.fake.deliver(payload) == 200, self.log()

    def await_reply(self, wa_id: str, before: int) -> str:
        self.fake.wait_for(lambda: len(self.fake.sent(wa_id)) > before or self._died(), 20)
        assert not self._died(), self.log()
        self.fake.wait_for(lambda: self._quiet(wa_id), 5)  # the rest of a multi-message reply
        return "\n".join(self.fake.texts_to(wa_id)[before:])

    def _quiet(self, wa_id: str) -> bool:
        n = len(self.fake.sent(wa_id))
        time.sleep(0.2)
        return len(self.fake.sent(wa_id)) == n

    def say(self, wa_id: str, text: str) -> str:
        before = len(self.fake.sent(wa_id))
        self.post(wp.text_message(wa_id, text, name=NAMES[wa_id]))
        return self.await_reply(wa_id, before)

    def tap(self, wa_id: str, label: str) -> str:
        """Press the button or list row containing `label` in the last interactive message."""
        for req in reversed(self.fake.sent(wa_id)):
            inter = req.json.get("interactive") or {}
            if inter.get("type") == "button":
                payload = next(
                    (
                        wp.button_reply(wa_id, b["reply"]["id"], b["reply"]["title"], context_wamid=req.wamid)
                        for b in inter["action"]["buttons"]
                        if label.lower() in b["reply"]["title"].lower()
                    ),
                    None,
                )
            elif inter.get("type") == "list":
                rows = [row for s in inter["action"]["sections"] for row in s["rows"]]
                payload = next(
                    (
                        wp.list_reply(wa_id, row["id"], row["title"], context_wamid=req.wamid)
                        for row in rows
                        if label.lower() in row["title"].lower()
                    ),
                    None,
                )
            else:
                continue
            assert payload is not None, f"no {label!r} in {inter['action']}"
            before = len(self.fake.sent(wa_id))
            self.post(payload)
            return self.await_reply(wa_id, before)
        raise AssertionError(f"nothing interactive sent to {wa_id}")

    def labels(self, wa_id: str) -> list[str]:
        for req in reversed(self.fake.sent(wa_id)):
            inter = req.json.get("interactive") or {}
            if inter.get("type") == "button":
                return [b["reply"]["title"] for b in inter["action"]["buttons"]]
            if inter.get("type") == "list":
                return [row["title"] for s in inter["action"]["sections"] for row in s["rows"]]
        return []

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.tmp / "kotaku.db", timeout=30) as conn:
            return conn.execute(sql, args).fetchall()

    def wait_db(self, sql: str, *args: Any, timeout: float = 20) -> list[tuple[Any, ...]]:
        return self.fake.wait_for(lambda: self.query(sql, *args), timeout)  # type: ignore[no-any-return]


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[WaBot]:
    with FakeGraph() as fake:
        b = WaBot(tmp_path, fake)
        try:
            yield b
        finally:
            b.stop()


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (120, 90), "green").save(buf, "JPEG")
    return buf.getvalue()


def invite(bot: WaBot, role: str, scope: str) -> str:
    return str(json.loads(bot.cli("invite", "--role", role, "--scope", scope, "--json"))["code"])


@pytest.mark.timeout(180)
def test_kotaku_run_whatsapp_webhook_end_to_end(bot: WaBot) -> None:
    t0 = time.monotonic()
    bot.cli("db", "upgrade")
    bot.cli("demo")
    kec = bot.query(
        "SELECT r.code FROM ksm k JOIN bkm b ON b.id = k.bkm_id JOIN region r ON r.id = b.kelurahan_id "
        "WHERE k.code = 'KSM-BJL-01'"
    )[0][0]
    codes = {
        KETUA: invite(bot, "ketua_ksm", "ksm:KSM-BJL-01"),
        KETUA2: invite(bot, "ketua_ksm", "ksm:KSM-BJL-01"),
        FASIL: invite(bot, "fasilitator", kec),
    }
    bot.start()
    fake = bot.fake

    # Meta's verification of the callback URL.
    ok = httpx.get(bot.url + WEBHOOK, params=wp.challenge_params(challenge="4242"), timeout=5)
    assert ok.status_code == 200 and ok.text == "4242"
    bad = httpx.get(bot.url + WEBHOOK, params=wp.challenge_params(verify_token="x", challenge="1"), timeout=5)
    assert bad.status_code == 403
    unsigned = httpx.post(bot.url + WEBHOOK, content=wp.dumps(wp.text_message(KETUA, "/rekap")), timeout=5)
    assert unsigned.status_code == 401

    # Onboarding by DAFTAR CODE: the identity is the BSUID, the chat the phone number.
    for wa_id, code in codes.items():
        assert "engine.welcome" in keys_in(bot.say(wa_id, f"DAFTAR {code}"))
    [(external_id, phone)] = bot.query(
        "SELECT external_id, phone FROM channel_identity WHERE channel = 'whatsapp' AND chat_id = ?", KETUA
    )
    assert external_id == wp.bsuid_for(KETUA) and phone == "+" + KETUA

    # A reminder: KETUA2 last wrote two days ago (outside the window), so it goes out as a template.
    [(seen,)] = bot.query("SELECT last_seen_at FROM channel_identity WHERE chat_id = ?", KETUA2)
    aged = (datetime.fromisoformat(seen) - timedelta(days=2)).isoformat(sep=" ")
    bot.query("UPDATE channel_identity SET last_seen_at = ? WHERE chat_id = ?", aged, KETUA2)
    now = datetime.now(WIB)
    first = max(now - timedelta(minutes=5), now.replace(hour=0, minute=0, second=0, microsecond=0))
    bot.cli(
        "reminders",
        "run",
        "--at",
        now.strftime("%Y-%m-%dT%H:%M:%S"),
        KOTAKU_REMINDERS__FIRST_TIME=first.strftime("%H:%M"),
        KOTAKU_REMINDERS__SECOND_TIME="23:59",
        KOTAKU_REMINDERS__WORK_DAYS="[0,1,2,3,4,5,6]",
        KOTAKU_REMINDERS__NATIONAL_HOLIDAYS="false",
    )
    [template] = fake.wait_for(lambda: fake.templates_to(KETUA2), 20)
    assert template["name"] == "kotaku_pemberitahuan" and template["language"]["code"] == "id"
    sent = fake.sent(KETUA2)[-1]
    [(outbox_id, wamid)] = bot.wait_db(
        "SELECT id, external_id FROM outbox_message WHERE recipient = ? AND kind = 'reminder' "
        "AND status = 'sent'",
        KETUA2,
    )
    assert sent.tracker == f"outbox:{outbox_id}" and wamid == sent.wamid
    # Inside the window (KETUA just wrote) the same reminder goes out as it is, with its buttons.
    fake.wait_for(lambda: any("pengingat.first" in keys_in(t) for t in fake.texts_to(KETUA)), 20)

    # Status webhooks land on the outbox row; a late "delivered" does not overwrite "read".
    for st in ("delivered", "read", "delivered"):
        bot.post(wp.status(str(wamid), st, tracker=f"outbox:{outbox_id}", recipient=KETUA2))
    bot.wait_db(
        "SELECT 1 FROM outbox_message WHERE id = ? AND delivery_status = 'read'", outbox_id, timeout=20
    )

    # Attendance through the list pages and typed numbers.
    bot.say(KETUA, "/hadir")
    bot.tap(KETUA, "Hari ini")
    assert len(bot.labels(KETUA)) == 10  # 9 workers and "Berikutnya ▶️"
    ticked = bot.say(KETUA, "1-5 7")
    assert "hadir.names_ticked" in keys_in(ticked) and says(ticked, "hadir.checklist", n="6"), ticked
    bot.tap(KETUA, "Berikutnya")
    bot.tap(KETUA, "Selesai")
    assert "hadir.saved" in keys_in(bot.tap(KETUA, "Simpan · sudah"))
    [(workers,)] = bot.query(
        "SELECT count(*) FROM attendance_record r JOIN attendance_day d ON d.id = r.attendance_day_id "
        "JOIN ksm k ON k.id = d.ksm_id WHERE k.code = 'KSM-BJL-01' AND d.work_date = ?",
        now.date().isoformat(),
    )
    assert workers == 6

    # Progress with a photo; the photo's webhook gets its 200 and the process is killed at once. The
    # first download fails (the handler waits to retry), so nothing was handled before the kill.
    reply = bot.say(KETUA, "/progres")
    if any("Rabat" in label for label in bot.labels(KETUA)):
        reply = bot.tap(KETUA, "Rabat")
    last = [float(x.replace(",", ".")) for x in re.findall(r"(\d+(?:[.,]\d+)?)\s?%", reply)]
    value = f"{min((max(last) if last else 0) + 2, 100):g}".replace(".", ",")
    assert "progres.ask_photo" in " ".join(keys_in(bot.say(KETUA, value)))
    photo = jpeg()
    media_id = fake.add_media(None, photo)
    fake.fail_media_download(times=1)
    before = len(fake.sent(KETUA))
    image = wp.image_message(KETUA, media_id, content=photo, name=NAMES[KETUA])
    photo_wamid = wp.value_of(image)["messages"][0]["id"]
    bot.post(image)
    bot.kill()
    killed_at = time.monotonic()
    bot.start()
    summary = bot.await_reply(KETUA, before)
    restart_seconds = time.monotonic() - killed_at
    assert "progres.summary_title" in keys_in(summary), summary
    [(processed, attempts)] = bot.query(
        "SELECT processed_at, attempts FROM inbox_message WHERE external_id = ?", photo_wamid
    )
    assert processed is not None and attempts == 0
    assert "progres.saved" in keys_in(bot.tap(KETUA, "Simpan"))
    assert bot.query("SELECT count(*) FROM media WHERE sha256 IS NOT NULL")[0][0] >= 1

    # An obstacle; the facilitator hears of it through the outbox.
    assert "kendala.ask_severity" in keys_in(bot.say(KETUA, "/kendala material semen belum datang"))
    bot.tap(KETUA, "Sedang")
    saved = bot.tap(KETUA, "Simpan")
    assert {"kendala.saved", "kendala.saved_notified"} & keys_in(saved), saved
    assert bot.query("SELECT count(*) FROM obstacle WHERE description = 'semen belum datang'")[0][0] == 1
    fake.wait_for(lambda: any("semen" in t for t in fake.texts_to(FASIL)), 20)

    assert "rekap.title" in keys_in(bot.say(KETUA, "/rekap"))
    assert bot.stop() == 0
    print(f"\nwhatsapp e2e: {time.monotonic() - t0:.1f} s, restart to reply {restart_seconds:.1f} s")


TG_KETUA = 7001


@pytest.mark.timeout(120)
def test_kotaku_run_serves_telegram_and_whatsapp_together(tmp_path: Path) -> None:
    """One process, one web server, one outbox dispatcher for both channels: a KSM coordinator on Telegram
    saves an obstacle and the facilitator on WhatsApp is told."""
    from tests.fake_botapi import TOKEN as TG_TOKEN
    from tests.fake_botapi import FakeBotApi

    with FakeGraph() as graph, FakeBotApi() as tg:
        bot = WaBot(tmp_path, graph)
        bot.env.update(
            {
                "KOTAKU_TELEGRAM__TOKEN": TG_TOKEN,
                "KOTAKU_TELEGRAM__BASE_URL": tg.base_url,
                "KOTAKU_TELEGRAM__BASE_FILE_URL": tg.base_file_url,
            }
        )
        try:
            bot.cli("db", "upgrade")
            bot.cli("demo")
            kec = bot.query(
                "SELECT r.code FROM ksm k JOIN bkm b ON b.id = k.bkm_id JOIN region r ON r.id = b.kelurahan_id "
                "WHERE k.code = 'KSM-BJL-01'"
            )[0][0]
            tg_code = invite(bot, "ketua_ksm", "ksm:KSM-BJL-01")
            wa_code = invite(bot, "fasilitator", kec)
            bot.start()
            tg.wait_for(lambda: tg.get_updates_calls > 0, 30)

            def tg_say(text: str) -> str:
                before = len(tg.sent(TG_KETUA))
                tg.message(TG_KETUA, text)
                tg.wait_for(lambda: len(tg.sent(TG_KETUA)) > before, 20)
                time.sleep(0.3)
                return "\n".join(tg.texts_to(TG_KETUA)[before:])

            def tg_tap(label: str) -> str:
                data, message_id = tg.button(TG_KETUA, label)
                before = len(tg.sent(TG_KETUA))
                tg.callback(TG_KETUA, data, message_id)
                tg.wait_for(lambda: len(tg.sent(TG_KETUA)) > before, 20)
                time.sleep(0.3)
                return "\n".join(tg.texts_to(TG_KETUA)[before:])

            assert "engine.welcome" in keys_in(tg_say(f"/start {tg_code}"))
            assert "engine.welcome" in keys_in(bot.say(FASIL, f"DAFTAR {wa_code}"))
            tg_say("/kendala material semen belum datang")
            tg_tap("Sedang")
            tg_tap("Simpan")
            graph.wait_for(lambda: any("semen" in t for t in graph.texts_to(FASIL)), 20)
            [(tracker,)] = bot.query(
                "SELECT id FROM outbox_message WHERE channel = 'whatsapp' AND recipient = ? AND status = 'sent'",
                FASIL,
            )
            assert any(r.tracker == f"outbox:{tracker}" for r in graph.sent(FASIL))
            metrics = httpx.get(bot.url + "/metrics", timeout=5).text
            assert 'kotaku_updates_total{channel="telegram",kind="message",outcome="ok"}' in metrics
            assert 'kotaku_webhook_requests_total{channel="whatsapp",result="received"}' in metrics
            assert 'kotaku_sends_total{channel="whatsapp",outcome="ok"}' in metrics
            assert bot.stop() == 0
        finally:
            bot.stop()
