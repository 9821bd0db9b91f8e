"""`kotaku bench delivery`: N reminders through the outbox dispatcher to a fake Telegram Bot API on
127.0.0.1 that enforces a limit of R messages per second (and 1 per second per chat) and answers 429 when
it is broken.

Two runs on a temporary SQLite outbox:
1. clean: achieved rate ÷ R (target ≥ 0.95), number of 429s (target 0), time to drain;
2. with `--failures` (10%) of requests answered 500 or left hanging past the client timeout (and then not
   delivered): every message must still arrive exactly once.

The fake is the tests' `tests/fake_botapi.py` (Starlette + uvicorn in a thread with its own event loop);
the sender is a minimal keep-alive HTTP/1.1 client (`RawBotSender`, `--sender raw`: the dispatcher's
floor) or the production `TelegramSender` on python-telegram-bot (`--sender telegram`) over the HTTP client
`telegram.http` names (`KOTAKU_TELEGRAM__HTTP=httpx`, or `--http` below, for PTB's own).

    .venv/bin/kotaku bench delivery [--rate 1000] [--messages 10000] [--failures 0.1] [--sender raw|telegram]
    .venv/bin/python -m benchmarks.delivery --rate 1000 --messages 10000 --sender telegram --http aiohttp
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, insert, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kotaku.config import Settings, load_settings
from kotaku.db import Database
from kotaku.models import Base, Channel, OutboxMessage, OutboxStatus
from kotaku.notify.dispatcher import Dispatcher
from kotaku.notify.ports import DeliveryContext, Sender, SendResult, SendStatus
from kotaku.schemas import Outbound
from tests.fake_botapi import TOKEN, FakeBotApi, Limits

CLIENT_TIMEOUT = 1.0
CONNECTIONS = 32
HANG_SECONDS = 1.5


# --- the fake Bot API: tests/fake_botapi.py with random failures -----------------------------------


class FlakyBotApi(FakeBotApi):
    """The tests' fake Bot API, answering a random share of sendMessage calls with 500 or not at all
    (hanging past the client timeout; such a message counts as not delivered)."""

    def __init__(self, rate: float, failures: float, seed: int) -> None:
        super().__init__(limits=Limits(per_chat_per_second=1.0, global_per_second=rate))
        self.failures = failures
        self.rng = random.Random(seed)
        self.injected = {"500": 0, "hung": 0}

    async def _api(self, request: Request) -> Response:
        if request.path_params["method"].lower() == "sendmessage" and self.failures:
            roll = self.rng.random()
            if roll < self.failures / 2:
                self.injected["500"] += 1
                return JSONResponse(
                    {"ok": False, "error_code": 500, "description": "Internal Server Error"}, 500
                )
            if roll < self.failures:
                self.injected["hung"] += 1
                await asyncio.sleep(HANG_SECONDS)
                return JSONResponse({"ok": False, "error_code": 504, "description": "Gateway Timeout"}, 504)
        return await super()._api(request)

    def report(self) -> dict[str, Any]:
        sends = [c for c in self.calls if c.method == "sendmessage"]
        ok = [c for c in sends if c.status == 200]
        delivered = collections.Counter(str(c.params.get("text")) for c in ok)
        return {
            "requests": len(sends) + self.injected["500"] + self.injected["hung"],
            "ok": len(ok),
            "429": sum(1 for c in sends if c.status == 429),
            "500": self.injected["500"],
            "hung": self.injected["hung"],
            "first_ok": ok[0].at if ok else 0.0,
            "last_ok": ok[-1].at if ok else 0.0,
            "unique_delivered": len(delivered),
            "duplicates": sum(1 for n in delivered.values() if n > 1),
        }


# --- a minimal Bot API sender for the bench -----------------------------------------------------------


class RawBotSender:
    """sendMessage over a pool of keep-alive HTTP/1.1 connections, mapping answers to SendResult the way a
    Telegram sender does. Hand-written because httpx manages about 550 requests/s on one connection here,
    and less with more: the bench measures the dispatcher, not the HTTP client."""

    channel = Channel.TELEGRAM

    def __init__(self, base_url: str, connections: int) -> None:
        host_port = base_url.split("//", 1)[1]
        self.host, port = host_port.split(":")
        self.port = int(port)
        self.path = f"/bot{TOKEN}/sendMessage"
        self.pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = asyncio.Queue()
        for _ in range(connections):
            self.pool.put_nowait(None)

    async def _request(
        self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None, body: bytes
    ) -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter], int, dict[str, Any]]:
        if conn is None:
            conn = await asyncio.open_connection(self.host, self.port)
        reader, writer = conn
        writer.write(
            f"POST {self.path} HTTP/1.1\r\nhost: {self.host}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-length":
                length = int(value)
        payload = json.loads(await reader.readexactly(length) or b"{}")
        return conn, status, payload

    async def send(
        self, recipient: str, messages: list[Outbound], context: DeliveryContext | None = None
    ) -> SendResult:
        for out in messages:
            body = json.dumps({"chat_id": recipient, "text": out.text}).encode()
            conn = await self.pool.get()
            try:
                conn, status, payload = await asyncio.wait_for(self._request(conn, body), CLIENT_TIMEOUT)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                if conn is not None:
                    conn[1].close()
                self.pool.put_nowait(None)
                return SendResult(SendStatus.RETRY, reason=type(exc).__name__ or "timeout")
            self.pool.put_nowait(conn)
            if status == 200:
                continue
            if status == 429:
                retry = float(payload.get("parameters", {}).get("retry_after", 1))
                return SendResult(SendStatus.RATE_LIMITED, retry_after=retry, reason="429")
            if status >= 500:
                return SendResult(SendStatus.RETRY, reason=f"HTTP {status}")
            return SendResult(SendStatus.PERMANENT, reason=f"HTTP {status}")
        return SendResult.ok()

    async def close(self) -> None:
        while not self.pool.empty():
            conn = self.pool.get_nowait()
            if conn is not None:
                conn[1].close()


# --- the runs ----------------------------------------------------------------------------------------


async def _queue(db: Database, n: int) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "dedup_key": f"bench:{i}",
            "channel": Channel.TELEGRAM,
            "recipient": str(100_000 + i),
            "kind": "reminder",
            "payload": {"text": f"⏰ Pengingat #{i}", "choices": []},
            "priority": 5,
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for i in range(n)
    ]
    async with db.transaction() as s:
        for start in range(0, n, 2000):
            await s.execute(insert(OutboxMessage), rows[start : start + 2000])


async def _telegram_sender(
    server: FakeBotApi, settings: Settings
) -> tuple[Sender, Callable[[], Awaitable[None]]]:
    """The channel's own TelegramSender on the production Bot (`delivery_bot`, the HTTP client that
    `telegram.http` names, one connection per send in flight) pointed at the fake."""
    from bot.telegram.app import delivery_bot, delivery_request
    from bot.telegram.sender import TelegramSender

    settings = settings.model_copy(
        update={
            "telegram": settings.telegram.model_copy(
                update={
                    "token": SecretStr(TOKEN),
                    "base_url": server.base_url,
                    "base_file_url": server.base_file_url,
                }
            )
        }
    )
    request = delivery_request(
        settings,
        read_timeout=CLIENT_TIMEOUT,
        write_timeout=CLIENT_TIMEOUT,
        connect_timeout=CLIENT_TIMEOUT,
        pool_timeout=CLIENT_TIMEOUT * 5,
    )
    bot = delivery_bot(settings, request)
    await bot.initialize()
    return TelegramSender(bot), bot.shutdown


async def _raw_sender(server: FakeBotApi, settings: Settings) -> tuple[Sender, Callable[[], Awaitable[None]]]:
    sender = RawBotSender(server.root, settings.delivery.concurrency)
    return sender, sender.close


async def _run_once(
    rate: float, n: int, failures: float, seed: int, sender_kind: str, http: str | None
) -> dict[str, Any]:
    server = FlakyBotApi(rate, failures, seed).start()
    telegram: dict[str, Any] = {"http": http} if http else {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            telegram=telegram,
            database={"url": f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"},
            delivery={
                "telegram_per_second": rate,
                "concurrency": CONNECTIONS,
                "batch_size": 250,
                "poll_seconds": 0.05,
                "send_timeout_seconds": CLIENT_TIMEOUT * 2,
                "backoff_base_seconds": 0.2,
                "backoff_max_seconds": 2.0,
                "max_attempts": 20,
            },
        )
        db = Database(settings)
        close: Callable[[], Awaitable[None]] | None = None
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            await _queue(db, n)
            make = _telegram_sender if sender_kind == "telegram" else _raw_sender
            sender, close = await make(server, settings)
            dispatcher = Dispatcher(
                db, {Channel.TELEGRAM: sender}, settings.delivery, rng=random.Random(seed)
            )
            stop = asyncio.Event()
            started = time.monotonic()
            task = asyncio.create_task(dispatcher.run(stop))
            while True:
                await asyncio.sleep(0.1)
                async with db.session() as s:
                    open_rows = (
                        await s.execute(
                            select(func.count()).where(
                                OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
                            )
                        )
                    ).scalar_one()
                if open_rows == 0:
                    break
            drained = time.monotonic() - started
            stop.set()
            await task
            fake = server.report()
            async with db.session() as s:
                by_status = dict(
                    (
                        await s.execute(
                            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                        )
                    ).all()
                )
        finally:
            if close is not None:
                await close()
            await db.dispose()
            server.stop()
    window = fake["last_ok"] - fake["first_ok"]
    achieved = (fake["ok"] - 1) / window if window > 0 else 0.0
    return {
        "messages": n,
        "sender": sender_kind,
        "http": settings.telegram.http if sender_kind == "telegram" else "raw",
        "rate_limit": rate,
        "failures_injected": failures,
        "drain_seconds": round(drained, 3),
        "achieved_per_second": round(achieved, 1),
        "ratio": round(achieved / rate, 4),
        "http_429": fake["429"],
        "http_500": fake["500"],
        "hung": fake["hung"],
        "requests": fake["requests"],
        "unique_delivered": fake["unique_delivered"],
        "duplicates": fake["duplicates"],
        "outbox": {str(getattr(k, "value", k)): v for k, v in by_status.items()},
        "dispatcher": dispatcher.stats.as_dict(),
    }


async def run_bench(
    rate: float = 1000.0,
    messages: int = 10_000,
    failures: float = 0.1,
    seed: int = 7,
    sender: str = "raw",
    http: str | None = None,
) -> dict[str, Any]:
    clean = await _run_once(rate, messages, 0.0, seed, sender, http)
    faulty = await _run_once(rate, messages, failures, seed, sender, http) if failures > 0 else None
    return {"clean": clean, "with_failures": faulty}


def render(result: dict[str, Any]) -> str:
    c = result["clean"]
    lines = [
        f"clean run: {c['messages']:,} reminders, limit R = {c['rate_limit']:g}/s, sender {c['sender']}"
        + (f" over {c['http']}" if c["sender"] == "telegram" else ""),
        f"  achieved {c['achieved_per_second']:,.1f}/s = {c['ratio']:.3f} × R (target ≥ 0.95)",
        f"  429s: {c['http_429']} (target 0); drain time {c['drain_seconds']:.2f} s",
        f"  delivered once: {c['unique_delivered']:,}, duplicates {c['duplicates']}",
    ]
    f = result.get("with_failures")
    if f:
        lines += [
            f"with {f['failures_injected']:.0%} injected failures: {f['http_500']} × 500, {f['hung']} hung past the "
            f"{CLIENT_TIMEOUT:g} s client timeout",
            f"  delivered {f['unique_delivered']:,} of {f['messages']:,}, duplicates {f['duplicates']}, "
            f"429s {f['http_429']}, drain time {f['drain_seconds']:.2f} s",
            f"  exactly once: {'yes' if f['unique_delivered'] == f['messages'] and f['duplicates'] == 0 else 'NO'}",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--failures", type=float, default=0.1)
    parser.add_argument("--sender", choices=["raw", "telegram"], default="raw")
    parser.add_argument("--http", choices=["aiohttp", "httpx"], default=None, help="default: telegram.http")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(
        run_bench(args.rate, args.messages, args.failures, sender=args.sender, http=args.http)
    )
    print(json.dumps(result) if args.json else render(result))


if __name__ == "__main__":
    main()
