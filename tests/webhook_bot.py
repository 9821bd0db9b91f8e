"""A real `kotaku run` process in Telegram webhook mode against the fake Bot API, for the process tests
(crash recovery, graceful shutdown, two processes with failover). Bounded: every wait has a timeout."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from kotaku.security import generate_key
from tests.fake_botapi import TOKEN, FakeBotApi, free_port

KOTAKU = [sys.executable, "-m", "bot.main"]
SECRET = "webhook-Secret_123"
PATH = "/telegram/webhook"
NIK_KEY = generate_key()


def plain_url(url: str) -> str:
    """An asyncpg URL as asyncpg itself takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


class WebhookBot:
    """One `kotaku run` process: `start()` waits until it answers and registered its webhook."""

    def __init__(
        self,
        tmp: Path,
        fake: FakeBotApi,
        *,
        database_url: str | None = None,
        name: str = "bot",
        env: dict[str, str] | None = None,
    ) -> None:
        self.tmp, self.fake, self.name = tmp, fake, name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url or f"sqlite+aiosqlite:///{tmp / 'kotaku.db'}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KOTAKU_")},
            "KOTAKU_DATABASE__URL": self.database_url,
            "KOTAKU_SECURITY__NIK_KEY": NIK_KEY,
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
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def logfile(self) -> Path:
        return self.tmp / f"{self.name}.log"

    def log(self) -> str:
        return self.logfile.read_text(errors="replace")[-3000:]

    def start(self, *, wait_webhook: bool = True) -> None:
        self.fake.webhook = {}
        with open(self.logfile, "ab") as log:
            self.proc = subprocess.Popen(
                [*KOTAKU, "run"], env=self.env, cwd=self.tmp, stdout=subprocess.DEVNULL, stderr=log
            )
        self.wait(lambda: self.healthy() and (self.fake.webhook or not wait_webhook), 30)
        assert not self.died(), self.log()

    def ready(self, wait: float = 0) -> tuple[int, dict[str, Any]]:
        """`kotaku ready --json` against this process, as the systemd unit runs it: exit code, answer."""
        import json

        done = subprocess.run(
            [*KOTAKU, "ready", "--wait", str(wait), "--json"],
            env=self.env,
            cwd=self.tmp,
            capture_output=True,
            timeout=wait + 30,
        )
        return done.returncode, json.loads(done.stdout)

    def healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def wait(self, predicate: Any, timeout: float) -> Any:
        try:
            return self.fake.wait_for(lambda: predicate() or self.died(), timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.log()}") from None

    def post(self, update: dict[str, Any]) -> int:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        return httpx.post(self.url + PATH, json=update, headers=headers, timeout=5).status_code

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return query(self.database_url, sql)


def query(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of one SQL query on a SQLite file or a PostgreSQL database (each call its own connection)."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.split(":///", 1)[1], timeout=30) as conn:
            return conn.execute(sql).fetchall()
    import asyncpg

    async def run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(plain_url(database_url))
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()

    return asyncio.run(run())
