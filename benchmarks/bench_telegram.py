"""`kotaku bench telegram`: N updates from many KSMs through the real python-telegram-bot Application
(our handler, the engine, a temporary SQLite database) with an in-process request object answering the
Bot API in memory. The mix per KSM coordinator, in turn: `/kendala material semen belum datang k`
(quick command), a tap on the severity button, a tap on "Simpan" (an obstacle persisted), `/rekap`.

The floor is PTB itself: the same updates through a bare Application whose handler only replies. The
ratio kotaku / floor says how much of PTB's own rate the bot keeps.

    .venv/bin/kotaku bench telegram [--updates 20000] [--ksms 500] [--json]
    .venv/bin/python -m benchmarks.bench_telegram --updates 20000 --ksms 500
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from telegram import Update
from telegram.ext import Application, ContextTypes, TypeHandler
from telegram.request import BaseRequest, RequestData

from bot.telegram import build_application, handlers_of
from kotaku.bootstrap import bootstrap
from kotaku.config import load_settings
from kotaku.db import Database
from kotaku.models import (
    Base,
    Bkm,
    Channel,
    ChannelIdentity,
    Ksm,
    Obstacle,
    Person,
    Region,
    RegionLevel,
    Role,
)

TOKEN = "123456:BENCH"
BOT = {"id": 123456, "is_bot": True, "first_name": "Kotaku", "username": "kotaku_bench_bot"}
FIRST_USER = 500_000


class MemoryRequest(BaseRequest):
    """Answers Bot API calls in memory and keeps the last inline keyboard sent to each chat."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.calls = 0
        self.keyboards: dict[int, tuple[int, list[dict[str, Any]]]] = {}

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, **kw: Any
    ) -> tuple[int, bytes]:  # type: ignore[override]
        self.calls += 1
        name = url.rsplit("/", 1)[-1].lower()
        params = request_data.parameters if request_data else {}
        result: Any = True
        if name == "getme":
            result = BOT
        elif name in ("sendmessage", "editmessagetext"):
            chat = int(params["chat_id"])
            mid = int(params.get("message_id") or next(self.ids))
            result = {
                "message_id": mid,
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private"},
                "from": BOT,
                "text": params.get("text", ""),
            }
            markup = params.get("reply_markup")
            if isinstance(markup, str):
                markup = json.loads(markup)
            if markup:
                self.keyboards[chat] = (mid, [b for row in markup["inline_keyboard"] for b in row])
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def button(self, chat: int, label: str) -> tuple[int, str]:
        mid, buttons = self.keyboards[chat]
        for b in buttons:
            if label.lower() in b["text"].lower():
                return mid, b["callback_data"]
        raise KeyError(f"no button {label!r} for chat {chat}: {[b['text'] for b in buttons]}")


async def seed(db: Database, ksms: int) -> list[int]:
    """One province, one kota, one kecamatan, a kelurahan + BKM per 10 KSMs; a coordinator per KSM with
    a Telegram identity. Returns the coordinators' Telegram user ids."""
    users = []
    async with db.transaction() as s:
        prov = Region(
            code="91", name="Prov Bench", level=RegionLevel.PROVINSI, timezone="Asia/Jakarta", path="91"
        )
        s.add(prov)
        await s.flush()
        kab = Region(
            code="91.01",
            name="Kota Bench",
            level=RegionLevel.KABKOTA,
            parent_id=prov.id,
            timezone="Asia/Jakarta",
            path="91/91.01",
        )
        s.add(kab)
        await s.flush()
        kec = Region(
            code="91.01.01",
            name="Kec Bench",
            level=RegionLevel.KECAMATAN,
            parent_id=kab.id,
            timezone="Asia/Jakarta",
            path="91/91.01/91.01.01",
        )
        s.add(kec)
        await s.flush()
        bkm = None
        for i in range(ksms):
            if i % 10 == 0:
                code = f"91.01.01.{2000 + i // 10}"
                kel = Region(
                    code=code,
                    name=f"Kel {i // 10}",
                    level=RegionLevel.KELURAHAN,
                    parent_id=kec.id,
                    timezone="Asia/Jakarta",
                    path=f"91/91.01/91.01.01/{code}",
                )
                s.add(kel)
                await s.flush()
                bkm = Bkm(code=f"BKM-B{i // 10:04d}", name=f"BKM {i // 10}", kelurahan_id=kel.id)
                s.add(bkm)
                await s.flush()
            assert bkm is not None
            ksm = Ksm(code=f"KSM-B{i:04d}", name=f"KSM Bench {i}", bkm_id=bkm.id, keeps_roster=False)
            s.add(ksm)
            await s.flush()
            person = Person(
                code=f"ketua-b{i}", name=f"Ketua {i}", role=Role.KETUA_KSM, language="id", scope_ksm_id=ksm.id
            )
            s.add(person)
            await s.flush()
            uid = FIRST_USER + i
            s.add(
                ChannelIdentity(
                    person_id=person.id, channel=Channel.TELEGRAM, external_id=str(uid), chat_id=str(uid)
                )
            )
            users.append(uid)
    return users


class Updates:
    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.mids = itertools.count(10_000_000)

    def text(self, user: int, text: str) -> dict[str, Any]:
        return {
            "update_id": next(self.ids),
            "message": {
                "message_id": next(self.mids),
                "date": int(time.time()),
                "chat": {"id": user, "type": "private", "first_name": "K"},
                "from": {"id": user, "is_bot": False, "first_name": "K"},
                "text": text,
                "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
            },
        }

    def tap(self, user: int, message_id: int, data: str) -> dict[str, Any]:
        return {
            "update_id": next(self.ids),
            "callback_query": {
                "id": f"q{next(self.mids)}",
                "from": {"id": user, "is_bot": False, "first_name": "K"},
                "chat_instance": "1",
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": user, "type": "private"},
                    "from": BOT,
                    "text": "…",
                },
            },
        }


async def _drain(application: Application, done: dict[str, int], target: int) -> None:
    while done["n"] < target:  # noqa: ASYNC110 (a counter bumped by handlers; polled briefly)
        await asyncio.sleep(0.002)


async def run_kotaku(n: int, ksms: int, db_path: Path) -> tuple[float, list[dict[str, Any]], int]:
    settings = load_settings(
        database={"url": f"sqlite+aiosqlite:///{db_path}"},
        media={"dir": str(db_path.parent / "media")},
        telegram={"token": TOKEN, "base_url": "http://memory/bot", "base_file_url": "http://memory/file/bot"},
        monitoring={"evaluate_after_report": True},
    )
    db = Database(settings)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    users = await seed(db, ksms)
    request = MemoryRequest()
    application = build_application(
        settings, bootstrap(settings, db=db).engine, request=request, rate_limiter=False, polling=False
    )
    done = {"n": 0}

    async def count(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        done["n"] += 1

    application.add_handler(TypeHandler(Update, count), group=1)
    make = Updates()
    log: list[dict[str, Any]] = []
    step = dict.fromkeys(users, 0)
    async with application:
        await application.start()
        t0 = time.perf_counter()
        while len(log) < n:
            batch = []
            for u in users:
                if len(log) + len(batch) >= n:
                    break
                k = step[u]
                phase = k % 4
                if phase == 0:
                    upd = make.text(u, f"/kendala material semen belum datang {k // 4}")
                elif phase == 1:
                    mid, data = request.button(u, "Sedang")
                    upd = make.tap(u, mid, data)
                elif phase == 2:
                    mid, data = request.button(u, "Simpan")
                    upd = make.tap(u, mid, data)
                else:
                    upd = make.text(u, "/rekap")
                step[u] = k + 1
                batch.append(upd)
            for upd in batch:
                await application.update_queue.put(Update.de_json(upd, application.bot))
            log.extend(batch)
            await _drain(application, done, len(log))
        elapsed = time.perf_counter() - t0
        await application.stop()
    errors = handlers_of(application).metrics.value(
        "kotaku_updates_total", channel="telegram", kind="message", outcome="error"
    )
    async with db.session() as s:
        obstacles = int(await s.scalar(select(func.count()).select_from(Obstacle)) or 0)
    await db.dispose()
    expected = sum(1 for k in step.values() for j in range(k) if j % 4 == 2)
    if obstacles != expected or errors:
        raise RuntimeError(
            f"reports lost: {obstacles} obstacles saved of {expected}, {errors} handler errors"
        )
    return elapsed, log, obstacles


async def run_floor(log: list[dict[str, Any]], batch: int) -> float:
    request = MemoryRequest()
    application = (
        Application.builder().token(TOKEN).request(request).updater(None).concurrent_updates(256).build()
    )
    done = {"n": 0}

    async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.callback_query is not None:
            await update.callback_query.answer()
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, "ok")
        done["n"] += 1

    application.add_handler(TypeHandler(Update, reply))
    async with application:
        await application.start()
        t0 = time.perf_counter()
        for i in range(0, len(log), batch):
            for upd in log[i : i + batch]:
                await application.update_queue.put(Update.de_json(upd, application.bot))
            await _drain(application, done, min(i + batch, len(log)))
        elapsed = time.perf_counter() - t0
        await application.stop()
    return elapsed


async def run_bench(updates: int = 20_000, ksms: int = 500) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        elapsed, log, obstacles = await run_kotaku(updates, ksms, Path(tmp) / "bench.db")
    floor = await run_floor(log, ksms)
    rate, floor_rate = len(log) / elapsed, len(log) / floor
    return {
        "updates": len(log),
        "ksms": ksms,
        "reports_saved": obstacles,
        "seconds": round(elapsed, 2),
        "updates_per_second": round(rate, 1),
        "floor_seconds": round(floor, 2),
        "floor_updates_per_second": round(floor_rate, 1),
        "ratio_to_floor": round(rate / floor_rate, 3),
    }


def render(r: dict[str, Any]) -> str:
    return (
        f"kotaku bench telegram: {r['updates']:,} updates from {r['ksms']} KSMs, "
        f"{r['reports_saved']:,} reports saved\n"
        f"  kotaku (PTB + engine + SQLite): {r['seconds']} s, {r['updates_per_second']:,} updates/s\n"
        f"  PTB floor (handler only replies): {r['floor_seconds']} s, "
        f"{r['floor_updates_per_second']:,} updates/s\n"
        f"  ratio kotaku / floor: {r['ratio_to_floor']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--ksms", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run_bench(args.updates, args.ksms))
    print(json.dumps(result) if args.json else render(result))


if __name__ == "__main__":
    main()
