"""`kotaku bench telegram`: how many updates a second the Telegram bot handles, how long each takes, and how
many SQL statements each kind of step costs, on a pilot or a national program.

The program is bench_monitoring's synthetic one (`generate`, loaded with executemany or COPY): `--scale pilot`
(100 KSMs, 300 activities) or `national` (11,000 KSMs, 33,000 activities, 66,000 photos), 14 work days of
history up to 2026-11-26; every third KSM keeps no roster (attendance by count). Added for chatting: a
ketua KSM per KSM and a fasilitator per kecamatan, each with a Telegram identity. The database is a
temporary SQLite file, or `--database-url` (a new SQLite file, or a fresh PostgreSQL schema dropped after).

Each KSM coordinator in turn reports a work day through the real python-telegram-bot Application (our
handler, the engine, the database; an in-memory Bot API): attendance (roster: all present; or by count:
crew, all men, Rp85.000), progress of one activity with the photo skipped, an obstacle (quick command,
severity, Simpan), then `/rekap`; about 3% of the updates are delivered twice (same update_id: the engine's
processed-id mark must drop the second). Each coordinator's day is on its own date after 2026-11-26, so
every report is a new one. At most `--concurrency` conversations are in flight in a process; with
`--processes N` (PostgreSQL) the chats are sharded by `chat_id % N` over N processes, one Application and
engine each. Every reply is checked against the catalogue key the step expects; button taps use the
callback data of the keyboard the bot last sent.

Measured per run (a warm-up, then `--repeat` runs): updates/s (all updates ÷ wall time from the first
start to the last one done), latency of each update (`process_update` start to end) p50/p95/p99 overall
and per step type, SQL statements per step type (a `before_cursor_execute` listener), and two floors on
the same updates: `floor_ptb` (a bare PTB Application whose handler only replies) and `floor_step` (the
minimal step on the same database: mark the update processed, read and write one conversation state
row, commit). The monitoring worker runs beside the updates as in a bot process; after each run, outside
the measured window, it evaluates what the run marked (`monitoring_drain_s`), so no evaluation competes
with the floors. Settings other than the database, media folder and Telegram come from the configuration
as usual. Targets are printed as pass/FAIL words; the exit status never depends on them.

    .venv/bin/kotaku bench telegram [--scale pilot|national] [--database-url URL] [--processes N]
                                    [--updates 3000] [--repeat 3] [--concurrency 32] [--json]
    .venv/bin/python -m benchmarks.bench_telegram --help
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, insert, select, text, update
from sqlalchemy.engine import make_url
from telegram import Update
from telegram.ext import Application, ContextTypes, TypeHandler
from telegram.request import BaseRequest, RequestData

from benchmarks.bench_monitoring import (
    AT,
    LOAD_ORDER,
    TODAY,
    Size,
    drop_postgres,
    generate,
    load_postgres,
    load_sqlite,
)
from bot.telegram import build_application, handlers_of
from kotaku.bootstrap import bootstrap
from kotaku.config import Settings, load_settings
from kotaku.db import Database, insert_if_absent
from kotaku.logs import configure_logging
from kotaku.models import (
    Channel,
    ChannelIdentity,
    ConversationState,
    Obstacle,
    Person,
    ProcessedInbound,
    Role,
)
from tests.catalogue_keys import says

SCALES = {
    "pilot": Size(activities=300, kelurahan=100, days=14, workers_per_day=600),
    "national": Size(activities=33_000, kelurahan=11_000, days=14, workers_per_day=60_000),
}
COUNT_EVERY = 3  # every third KSM keeps no roster: its attendance is a head count
REDELIVERED = 0.03  # share of updates Telegram delivers twice
PROGRESS_STEP = 0.05  # percentage points a day: reports stay below the activity's next photo milestone
TARGET_SQLITE_PER_S = 300  # one SQLite process
TARGET_POSTGRESQL_PER_S = 1_000  # PostgreSQL with 2-4 processes
TARGET_POSTGRESQL_PROCESSES = (2, 4)
TARGET_P99_MS = 250

TOKEN = "123456:BENCH"
BOT = {"id": 123456, "is_bot": True, "first_name": "Kotaku", "username": "kotaku_bench_bot"}
FIRST_USER = 500_000  # a coordinator's Telegram id is FIRST_USER + its KSM id
FIRST_FACILITATOR = 900_000
SKIPPED_STATEMENTS = {"BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE"}


# --- the program ---------------------------------------------------------------------------------


@dataclass
class Chat:
    """One KSM coordinator's private chat, and where they are in their reporting."""

    user: int  # Telegram user id, also the chat id
    ksm_id: int
    roster: bool
    activity_id: int | None  # the activity whose progress they report (None: no headroom below a milestone)
    percent: float  # its last progress before the bench
    ceiling: float  # its next photo milestone: a report reaching it would need a photo
    day: int = 1  # the work day (after TODAY) being reported
    script: list[Step] = field(default_factory=list)
    cursor: int = 0


@dataclass(frozen=True)
class Target:
    """The database the bench runs on."""

    backend: str  # "sqlite" or "postgresql"
    url: str
    schema: str | None = None  # PostgreSQL: the fresh schema holding the program
    path: Path | None = None  # SQLite: the file

    @property
    def connect_args(self) -> dict[str, Any] | None:
        return {"server_settings": {"search_path": self.schema}} if self.schema else None


def program(
    size: Size, sqlite: bool, milestones: list[int]
) -> tuple[dict[str, tuple[list[str], list[tuple[Any, ...]]]], list[Chat]]:
    """bench_monitoring's tables with every third KSM counting heads, and a coordinator's chat per KSM
    with the activity it reports on: the one with most room below its next photo milestone
    (`dialog.photo_milestones`), so that no report needs a photo."""
    tables = generate(size, sqlite=sqlite)
    cols, rows = tables["ksm"]
    flag = cols.index("keeps_roster")
    no = 0 if sqlite else False
    tables["ksm"] = (cols, [(*r[:flag], no, *r[flag + 1 :]) if r[0] % COUNT_EVERY == 0 else r for r in rows])

    latest: dict[int, float] = {}
    for row in tables["progress_report"][1]:  # ordered by activity, then day: the last one is the latest
        latest[row[1]] = row[3]
    # KSM -> (room below the next milestone, activity, its percent, the milestone). An activity without a
    # report has none: its first report would need the milestone-0 photo.
    best: dict[int, tuple[float, int, float, float]] = {}
    for act in tables["activity"][1]:
        aid, ksm, pct = act[0], act[2], latest.get(act[0])
        ceiling = next((m for m in sorted(milestones) if pct is not None and m > pct), None)
        if pct is not None and ceiling is not None and ceiling - pct > best.get(ksm, (0.0,))[0]:
            best[ksm] = (ceiling - pct, aid, pct, ceiling)
    chats = []
    for k, *_ in tables["ksm"][1]:
        _room, activity, percent, milestone = best.get(k, (0.0, 0, 0.0, 0.0))
        chats.append(Chat(FIRST_USER + k, k, k % COUNT_EVERY != 0, activity or None, percent, milestone))
    return tables, chats


async def add_people(db: Database, ksm_ids: list[int], kecamatan_ids: list[int]) -> None:
    """A ketua KSM per KSM and a fasilitator per kecamatan (told of obstacles), each with a Telegram
    identity: three bulk statements."""
    people = [(f"ketua-{k}", Role.KETUA_KSM, k, None, FIRST_USER + k) for k in ksm_ids] + [
        (f"fasil-{r}", Role.FASILITATOR, None, r, FIRST_FACILITATOR + i) for i, r in enumerate(kecamatan_ids)
    ]
    async with db.transaction() as s:
        await s.execute(
            insert(Person),
            [
                {"code": code, "name": code.replace("-", " ").title(), "role": role, "language": "id",
                 "active": True, "scope_ksm_id": ksm, "scope_region_id": region}
                for code, role, ksm, region, _user in people
            ],
        )  # fmt: skip
        ids = {code: pid for code, pid in await s.execute(select(Person.code, Person.id))}
        await s.execute(
            insert(ChannelIdentity),
            [
                {"person_id": ids[code], "channel": Channel.TELEGRAM, "external_id": str(user),
                 "chat_id": str(user)}
                for code, _role, _ksm, _region, user in people
            ],
        )  # fmt: skip


async def _reset_sequences(target: Target) -> None:
    """COPY wrote the ids itself: move each table's id sequence past them, or the bot's first insert fails."""
    db = _database(target, load_settings(database={"url": target.url}))
    try:
        async with db.transaction() as s:
            for name in LOAD_ORDER:
                table = f'"{target.schema}"."{name}"'
                await s.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                         f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
                )  # fmt: skip
    finally:
        await db.dispose()


def make_target(database_url: str | None, workdir: Path) -> Target:
    """Where the bench builds its program: a fresh PostgreSQL schema, or a new SQLite file (an existing
    one is refused: the bench never writes into a database it did not create)."""
    url = database_url or f"sqlite+aiosqlite:///{workdir / 'bench_telegram.db'}"
    if url.startswith("postgresql"):
        return Target("postgresql", url, schema=f"bench_tg_{uuid.uuid4().hex[:8]}")
    path = Path(make_url(url).database or "")
    if not path.name or path.exists():
        raise ValueError(f"{path} exists or is no file: the bench builds its own database in a new file")
    return Target("sqlite", url, path=path)


def load(target: Target, scale: str) -> tuple[list[Chat], dict[str, int]]:
    """Generate the program and load it (COPY or executemany), then add the people; the chats and the
    rows of each table."""
    settings = load_settings(database={"url": target.url})
    tables, chats = program(SCALES[scale], target.backend == "sqlite", settings.dialog.photo_milestones)
    rows = {name: len(r) for name, (_c, r) in tables.items()}
    kecamatan = [r[0] for r in tables["region"][1] if r[3] == "kecamatan"]
    if target.schema:
        asyncio.run(load_postgres(target.url, target.schema, tables))
        asyncio.run(_reset_sequences(target))
    else:
        assert target.path is not None
        load_sqlite(target.path, tables)
    del tables

    async def people() -> None:
        db = _database(target, load_settings(database={"url": target.url}))
        try:
            await add_people(db, [c.ksm_id for c in chats], kecamatan)
        finally:
            await db.dispose()

    asyncio.run(people())
    return chats, rows


def drop(target: Target) -> None:
    if target.schema:
        asyncio.run(drop_postgres(target.url, target.schema))
    elif target.path is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target.path}{suffix}").unlink(missing_ok=True)


def _database(target: Target, settings: Settings) -> Database:
    return Database(settings, url=target.url, connect_args=target.connect_args)


# --- the Bot API in memory and the updates -------------------------------------------------------


class MemoryRequest(BaseRequest):
    """Answers Bot API calls in memory; keeps, per chat, the texts sent or edited since last taken and the
    last inline keyboard."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.said: dict[int, list[str]] = collections.defaultdict(list)
        self.keyboards: dict[int, tuple[int, list[dict[str, Any]]]] = {}

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def do_request(  # type: ignore[override]
        self, url: str, method: str, request_data: RequestData | None = None, **kw: Any
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1].lower()
        params: dict[str, Any] = dict(request_data.parameters) if request_data else {}
        result: Any = True
        if name == "getme":
            result = BOT
        elif name in ("sendmessage", "editmessagetext"):
            chat = int(params["chat_id"])
            mid = int(params.get("message_id") or next(self.ids))
            said = str(params.get("text", ""))
            self.said[chat].append(said)
            result = {
                "message_id": mid,
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private"},
                "from": BOT,
                "text": said,
            }
            markup = params.get("reply_markup")
            if isinstance(markup, str):
                markup = json.loads(markup)
            if markup:
                self.keyboards[chat] = (mid, [b for row in markup["inline_keyboard"] for b in row])
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def take(self, chat: int) -> list[str]:
        return self.said.pop(chat, [])

    def button(self, chat: int, data: str) -> tuple[int, str] | None:
        """The message carrying the button whose callback data is `data`, in the chat's last keyboard."""
        mid, buttons = self.keyboards.get(chat, (0, []))
        return (mid, data) if any(b.get("callback_data") == data for b in buttons) else None

    def labels(self, chat: int) -> list[str]:
        return [b["text"] for b in self.keyboards.get(chat, (0, []))[1]]


class Updates:
    """Telegram update payloads; ids unique over the processes (`first` + k × `step`)."""

    def __init__(self, first: int, step: int) -> None:
        self.ids = itertools.count(first, step)
        self.mids = itertools.count(10_000_000 + first, step)

    def text(self, user: int, said: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self.mids),
            "date": int(time.time()),
            "chat": {"id": user, "type": "private", "first_name": "K"},
            "from": {"id": user, "is_bot": False, "first_name": "K"},
            "text": said,
        }
        if said.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(said.split()[0])}]
        return {"update_id": next(self.ids), "message": message}

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


# --- a coordinator's day -------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    kind: str  # command | text | tap | save | rekap: the step types reported
    send: str  # the text typed, or a button's callback data (tap, save)
    expect: str  # the catalogue key the reply must say


@cache
def work_date(day: int) -> date:
    """The `day`-th work day (Monday to Saturday) after TODAY."""
    d, n = TODAY, 0
    while n < day:
        d += timedelta(days=1)
        n += d.weekday() != 6
    return d


def day_script(chat: Chat) -> list[Step]:
    """What a coordinator sends for one work day; see the module docstring."""
    today = f"d:{work_date(chat.day).isoformat()}"
    steps = [Step("command", "/hadir", "hadir.ask_date")]
    if chat.roster:
        steps += [
            Step("tap", today, "hadir.checklist"),
            Step("tap", "all", "hadir.checklist"),
            Step("tap", "done", "hadir.confirm_title"),
        ]
    else:
        steps += [
            Step("tap", today, "hadir.ask_count"),
            Step("text", str(5 + chat.day % 4), "hadir.ask_split"),
            Step("tap", "split:l", "hadir.ask_wages"),
            Step("tap", "r:85000", "hadir.confirm_title"),
        ]
    steps.append(Step("save", "save:1", "hadir.saved"))
    percent = round(chat.percent + PROGRESS_STEP * chat.day, 2)
    if chat.activity_id is not None and percent < chat.ceiling:
        steps += [
            Step("command", "/progres", "progres.ask_activity"),
            Step("tap", f"a:{chat.activity_id}", "progres.ask_amount"),
            Step("text", f"{percent:.2f}%".replace(".", ","), "progres.ask_photo_optional"),
            Step("tap", "lewati", "progres.summary_title"),
            Step("save", "simpan", "progres.saved"),
        ]
    steps += [
        Step("command", f"/kendala material semen belum datang hari ke-{chat.day}", "kendala.ask_severity"),
        Step("tap", "s:sedang", "kendala.review"),
        Step("save", "simpan", "kendala.saved"),
        Step("rekap", "/rekap", "rekap.title"),
    ]
    return steps


# Each chat's day, for the clock; and the statements of the update being handled, for the listener.
_DAY: ContextVar[int | None] = ContextVar("bench_day", default=None)
_STATEMENTS: ContextVar[list[int] | None] = ContextVar("bench_statements", default=None)


class Clock:
    """The engine's clock: 17:00 WIB (AT) on the work day of the chat being handled, plus the time elapsed;
    outside an update (the monitoring worker) on the latest day a chat has reached."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.latest = 1

    def enter(self, day: int) -> None:
        """The chat being handled in this task reports for `day`."""
        _DAY.set(day)
        self.latest = max(self.latest, day)

    def __call__(self) -> datetime:
        days = (work_date(_DAY.get() or self.latest) - TODAY).days
        return AT + timedelta(days=days, seconds=time.monotonic() - self.start)


def _count_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    box = _STATEMENTS.get()
    if box is None:
        return
    head = statement.split(None, 1)
    if head and head[0].upper() not in SKIPPED_STATEMENTS:
        box[0] += 1


# --- one process's share of the chats ------------------------------------------------------------


@dataclass(frozen=True)
class ShardSpec:
    target: Target
    index: int
    processes: int
    chats: list[Chat]
    concurrency: int
    media_dir: str


@dataclass
class Outcome:
    """What a step gave, kept for the checks after the clock stops."""

    kind: str
    send: str
    expect: str
    said: list[str]


class Shard:
    """The Application, engine and database of one process, driving its chats."""

    def __init__(self, spec: ShardSpec) -> None:
        self.spec = spec
        self.chats = collections.deque(spec.chats)
        self.updates = Updates(spec.index + 1, spec.processes)
        self.rng = random.Random(spec.index)
        for chat in self.chats:  # the first day starts at a flow drawn at random: the chats are out of step
            chat.script = day_script(chat)
            chat.cursor = self.rng.choice([i for i, s in enumerate(chat.script) if s.send.startswith("/")])
        self.log: dict[int, list[dict[str, Any]]] = {}
        self.remaining = 0

    async def open(self) -> None:
        # Errors are counted, not logged; the monitoring worker's lag warnings would only say that chats
        # report for different days (each its own).
        configure_logging("ERROR")
        self.settings = load_settings(
            database={"url": self.spec.target.url},
            media={"dir": self.spec.media_dir},
            telegram={
                "token": TOKEN,
                "base_url": "http://memory/bot",
                "base_file_url": "http://memory/file/bot",
            },
        )
        self.db = _database(self.spec.target, self.settings)
        event.listen(self.db.engine.sync_engine, "before_cursor_execute", _count_statement)
        self.request = MemoryRequest()
        self.clock = Clock()
        self.kotaku = bootstrap(self.settings, db=self.db, now=self.clock)
        self.app = build_application(
            self.settings, self.kotaku.engine, request=self.request, rate_limiter=False, polling=False
        )
        await self.app.initialize()
        if self.kotaku.monitoring is not None:  # a bot process evaluates the reports beside the updates
            self.kotaku.monitoring.start()
        self.floor_request = MemoryRequest()
        self.floor_app = (
            Application.builder()
            .token(TOKEN)
            .request(self.floor_request)
            .updater(None)
            .concurrent_updates(256)
            .build()
        )

        async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            if update.callback_query is not None:
                await update.callback_query.answer()
            assert update.effective_chat is not None
            await context.bot.send_message(update.effective_chat.id, "ok")

        self.floor_app.add_handler(TypeHandler(Update, reply))
        await self.floor_app.initialize()

    async def close(self) -> None:
        if self.kotaku.monitoring is not None:
            await self.kotaku.monitoring.stop(grace=30)
        await self.app.shutdown()
        await self.floor_app.shutdown()
        await self.db.dispose()

    def _errors(self) -> float:
        metrics = handlers_of(self.app).metrics
        return sum(
            metrics.value("kotaku_updates_total", channel="telegram", kind=kind, outcome="error")
            for kind in ("message", "callback")
        )

    # -- the measured run

    async def run(self, quota: int, start_at: float) -> dict[str, Any]:
        """Up to `quota` updates from this shard's chats, `concurrency` conversations at a time."""
        self.remaining, self.log = quota, {}
        self.steps: dict[str, list[tuple[float, int]]] = collections.defaultdict(list)
        self.outcomes: list[Outcome] = []
        self.problems: list[str] = []
        self.redelivered = self.answered_twice = self.obstacle_saves = 0
        errors_before = self._errors()
        await _sleep_until(start_at)
        t0 = time.monotonic()
        await _in_parallel(self.spec.concurrency, self.chats, self._turn, cycle=True)
        t1 = time.monotonic()
        worker = self.kotaku.monitoring
        if worker is not None:  # evaluate what the run marked, so that no evaluation runs during the floors
            await worker.stop(grace=300)
            worker.start()
        drained = time.monotonic()
        for o in self.outcomes:  # checked after the clock stopped
            if not says("\n".join(o.said), o.expect):
                shown = " | ".join(o.said)[:300] or "(no reply)"
                self.problems.append(f"{o.kind} {o.send!r}: expected {o.expect}, got: {shown}")
        return {
            "t0": t0,
            "t1": t1,
            "drained": drained,
            "updates": quota - self.remaining,
            "steps": dict(self.steps),
            "errors": int(self._errors() - errors_before),
            "unexpected": self.problems,
            "redelivered": self.redelivered,
            "answered_twice": self.answered_twice,
            "obstacle_saves": self.obstacle_saves,
        }

    async def _turn(self, chat: Chat) -> bool:
        """One flow of the chat's day, from its command to the next one (a coordinator reports one thing,
        then the chat waits for its next turn); False once the quota is used up."""
        while self.remaining > 0:
            if chat.cursor >= len(chat.script):
                chat.day += 1
                chat.script, chat.cursor = day_script(chat), 0
            self.clock.enter(chat.day)
            step = chat.script[chat.cursor]
            chat.cursor += 1
            if not await self._step(chat, step):
                chat.cursor = len(chat.script)  # the day is spoiled: the next turn starts the next one
                return True
            if chat.cursor >= len(chat.script) or chat.script[chat.cursor].send.startswith("/"):
                return True
        return False

    async def _step(self, chat: Chat, step: Step) -> bool:
        if step.kind in ("tap", "save"):
            button = self.request.button(chat.user, step.send)
            if button is None:
                self.problems.append(
                    f"{step.kind} {step.send!r}: no such button for {chat.user}; had {self.request.labels(chat.user)}"
                )
                return False
            payload = self.updates.tap(chat.user, *button)
        else:
            payload = self.updates.text(chat.user, step.send)
        await self._send(chat, step.kind, payload)
        self.outcomes.append(Outcome(step.kind, step.send, step.expect, self.request.take(chat.user)))
        if step.expect == "kendala.saved":
            self.obstacle_saves += 1
        if self.remaining > 0 and self.rng.random() < REDELIVERED:
            self.redelivered += 1
            await self._send(chat, "redelivered", payload)
            self.answered_twice += bool(self.request.take(chat.user))
        return True

    async def _send(self, chat: Chat, kind: str, payload: dict[str, Any]) -> None:
        self.remaining -= 1
        self.log.setdefault(chat.user, []).append(payload)
        box = [0]
        token = _STATEMENTS.set(box)
        try:
            seconds = await _through(self.app, payload)
        finally:
            _STATEMENTS.reset(token)
        self.steps[kind].append((seconds * 1000, box[0]))

    # -- the floors, on the updates of the last run

    async def floor_ptb(self, start_at: float) -> dict[str, float]:
        """The same updates through a bare Application whose handler only replies."""

        async def reply_only(user: int, payload: dict[str, Any]) -> None:
            await _through(self.floor_app, payload)

        return await self._replay(reply_only, start_at)

    async def floor_step(self, run: int, start_at: float) -> dict[str, float]:
        """The same updates as the minimal step on this database: processed-id mark, one conversation
        state row read (FOR UPDATE) and written, commit; one transaction each (channel `test`, apart)."""
        now = Clock()

        async def minimal(user: int, payload: dict[str, Any]) -> None:
            await self._minimal_step(f"floor{run}-{payload['update_id']}", str(user), now())

        return await self._replay(minimal, start_at)

    async def _replay(
        self, one: Callable[[int, dict[str, Any]], Awaitable[None]], start_at: float
    ) -> dict[str, float]:
        """The last run's updates again, each chat's in order, as many chats at a time as it had."""

        async def chat(user: int) -> bool:
            for payload in self.log[user]:
                await one(user, payload)
            return True

        await _sleep_until(start_at)
        t0 = time.monotonic()
        await _in_parallel(self.spec.concurrency, collections.deque(self.log), chat, cycle=False)
        return {"t0": t0, "t1": time.monotonic()}

    async def _minimal_step(self, message_id: str, chat: str, now: datetime) -> None:
        async with self.db.transaction() as s:
            fresh = await insert_if_absent(
                s, ProcessedInbound, ("channel", "message_id"), channel=Channel.TEST, message_id=message_id,
                processed_at=now,
            )  # fmt: skip
            if not fresh:
                return
            where = (
                ConversationState.channel == Channel.TEST,
                ConversationState.chat_id == chat,
                ConversationState.user_id == chat,
            )
            stmt = select(ConversationState.id, ConversationState.data).where(*where).with_for_update()
            row = (await s.execute(stmt)).first()
            if row is None:
                values = {"channel": Channel.TEST, "chat_id": chat, "user_id": chat, "data": {"n": 1}}
                await s.execute(insert(ConversationState).values(**values, updated_at=now))
            else:
                data = {"n": int((row.data or {}).get("n", 0)) + 1}
                await s.execute(
                    update(ConversationState)
                    .where(ConversationState.id == row.id)
                    .values(data=data, updated_at=now)
                )


async def _through(application: Application, payload: dict[str, Any]) -> float:
    """One update through the Application as its update fetcher hands it on (the update processor:
    concurrency limit, per-chat order); the seconds `process_update` took."""
    update = Update.de_json(payload, application.bot)
    took = [0.0]

    async def timed() -> None:
        t0 = time.perf_counter()
        await application.process_update(update)
        took[0] = time.perf_counter() - t0

    await application.update_processor.process_update(update, timed())
    return took[0]


async def _in_parallel(
    n: int, line: collections.deque[Any], work: Callable[[Any], Awaitable[bool]], *, cycle: bool
) -> None:
    """`n` workers taking the line's items in turn. With `cycle`, an item goes back to the end of the line
    after its turn and a worker stops when a turn says the work is done (False); else each item once."""

    async def worker() -> None:
        while line:
            item = line.popleft()
            more = await work(item)
            if cycle:
                line.append(item)
            if not more:
                return

    await asyncio.gather(*(worker() for _ in range(max(1, min(n, len(line))))))


async def _sleep_until(start_at: float) -> None:
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))


# --- the processes -------------------------------------------------------------------------------


class Local:
    """A shard in this process, on an event loop of its own."""

    def __init__(self, spec: ShardSpec) -> None:
        self.loop = asyncio.new_event_loop()
        self.shard = Shard(spec)
        self.pending: Callable[[], Awaitable[Any]] = self.shard.open  # the first `recv` opens it

    def send(self, method: str, *args: Any) -> None:
        self.pending = lambda: getattr(self.shard, method)(*args)

    def recv(self) -> Any:
        return self.loop.run_until_complete(self.pending())

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.shard.close())
        finally:
            self.loop.close()


class Remote:
    """A shard in a child process (spawned: a fresh interpreter, no state of this one), over a pipe."""

    def __init__(self, spec: ShardSpec) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.conn, there = spawn.Pipe()
        self.process = spawn.Process(target=_child, args=(there, spec), daemon=True)
        self.process.start()  # the first `recv` waits for it to open its shard

    def send(self, method: str, *args: Any) -> None:
        self.conn.send((method, args))

    def recv(self) -> Any:
        status, value = self.conn.recv()
        if status != "ok":
            raise RuntimeError(f"bench process failed:\n{value}")
        return value

    def close(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            self.conn.send(("close", ()))
            self.conn.recv()
        self.process.join(timeout=30)


def _child(conn: Connection, spec: ShardSpec) -> None:
    asyncio.run(_serve(conn, spec))


async def _serve(conn: Connection, spec: ShardSpec) -> None:
    """Open the shard, then do what the parent asks until "close"; each answer is ("ok", result) or
    ("error", traceback)."""
    shard = Shard(spec)
    method, args = "open", ()
    try:
        while method != "close":
            try:
                conn.send(("ok", await getattr(shard, method)(*args)))
            except Exception:  # the parent raises it and stops the bench
                conn.send(("error", traceback.format_exc()))
            method, args = await asyncio.to_thread(conn.recv)
    finally:
        with contextlib.suppress(Exception):  # a shard that failed to open has less to close
            await shard.close()
    conn.send(("ok", None))


@contextlib.contextmanager
def shards(
    target: Target, chats: list[Chat], processes: int, concurrency: int, workdir: Path
) -> Iterator[list[Any]]:
    """A shard per process, each with the chats whose id is its index modulo `processes`, all opened."""
    handles: list[Any] = []
    try:
        for i in range(processes):
            mine = [c for c in chats if c.user % processes == i]
            spec = ShardSpec(target, i, processes, mine, concurrency, str(workdir / "media"))
            handles.append(Local(spec) if processes == 1 else Remote(spec))
        for h in handles:  # the processes open at the same time
            h.recv()
        yield handles
    finally:
        for h in handles:
            h.close()


def split(total: int, sizes: list[int]) -> list[int]:
    """`total` shared in proportion to `sizes` (the chats of each process), summing exactly."""
    whole = sum(sizes) or 1
    shares = [total * s // whole for s in sizes]
    for i in range(total - sum(shares)):
        shares[i % len(shares)] += 1
    return shares


def call_all(handles: list[Any], method: str, args: list[tuple[Any, ...]]) -> list[Any]:
    """`method` in every process at once (they start together, 0.2 s from now); their results."""
    start_at = time.monotonic() + (0.2 if len(handles) > 1 else 0.0)
    for h, a in zip(handles, args, strict=True):
        h.send(method, *a, start_at)
    return [h.recv() for h in handles]


# --- the bench -----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 100)) - 1))]


def latency(ms: list[float]) -> dict[str, float]:
    return {f"p{q}_ms": round(percentile(ms, q), 1) for q in (50, 95, 99)}


def one_run(
    kotaku: list[dict[str, Any]], ptb: list[dict[str, float]], step: list[dict[str, float]]
) -> dict[str, Any]:
    """The figures of one measured run over all processes."""

    def wall(parts: list[dict[str, Any]]) -> float:
        return max(p["t1"] for p in parts) - min(p["t0"] for p in parts)

    updates = sum(k["updates"] for k in kotaku)
    pooled: dict[str, list[tuple[float, int]]] = collections.defaultdict(list)
    for k in kotaku:
        for kind, values in k["steps"].items():
            pooled[kind] += values
    seconds, ptb_s, step_s = wall(kotaku), wall(ptb), wall(step)
    drain_s = max(k["drained"] for k in kotaku) - max(k["t1"] for k in kotaku)
    return {
        "updates": updates,
        "seconds": round(seconds, 3),
        "monitoring_drain_s": round(drain_s, 3),
        "updates_per_s": round(updates / seconds, 1),
        "floor_ptb_per_s": round(updates / ptb_s, 1),
        "floor_step_per_s": round(updates / step_s, 1),
        **latency([ms for values in pooled.values() for ms, _n in values]),
        "steps": {
            kind: {
                "updates": len(values),
                **latency([ms for ms, _n in values]),
                "statements": round(statistics.fmean(n for _ms, n in values), 2),
            }
            for kind, values in sorted(pooled.items())
        },
        "errors": sum(k["errors"] for k in kotaku),
        "unexpected": [u for k in kotaku for u in k["unexpected"]],
        "redelivered": sum(k["redelivered"] for k in kotaku),
        "answered_twice": sum(k["answered_twice"] for k in kotaku),
        "obstacle_saves": sum(k["obstacle_saves"] for k in kotaku),
    }


async def count_obstacles(target: Target) -> int:
    db = _database(target, load_settings(database={"url": target.url}))
    try:
        async with db.session() as s:
            return int(await s.scalar(select(func.count()).select_from(Obstacle)) or 0)
    finally:
        await db.dispose()


def check_arguments(
    scale: str, database_url: str | None, processes: int, updates: int, repeat: int, concurrency: int
) -> None:
    """ValueError (the message says what to change) for a run the bench cannot do."""
    if scale not in SCALES:
        raise ValueError(f"--scale must be one of {', '.join(SCALES)}, not {scale!r}")
    if min(processes, updates, repeat, concurrency) < 1:
        raise ValueError("--processes, --updates, --repeat and --concurrency must be at least 1")
    url = database_url or "sqlite"
    if not url.startswith(("sqlite", "postgresql")):
        raise ValueError(
            f"--database-url must be a sqlite+aiosqlite:/// or postgresql+asyncpg:// URL, not {url!r}"
        )
    if processes > 1 and not url.startswith("postgresql"):
        raise ValueError(
            f"--processes {processes} needs PostgreSQL (--database-url postgresql+asyncpg://...): SQLite has "
            "one writer, so several bot processes on it only queue behind each other"
        )


def run(
    scale: str = "pilot",
    database_url: str | None = None,
    processes: int = 1,
    updates: int = 3_000,
    repeat: int = 3,
    concurrency: int = 32,
    quiet: bool = False,
) -> dict[str, Any]:
    """The whole bench: build the program, a warm-up, `repeat` measured runs with their floors, the checks."""
    check_arguments(scale, database_url, processes, updates, repeat, concurrency)

    def say(line: str) -> None:
        if not quiet:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    warmup = min(updates, max(50, updates // 10))
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="kotaku-bench-telegram-") as tmp:
        workdir = Path(tmp)
        target = make_target(database_url, workdir)
        try:
            t0 = time.perf_counter()
            chats, rows = load(target, scale)
            load_s = time.perf_counter() - t0
            say(f"{scale} program on {target.backend} built in {load_s:.1f} s")
            before = asyncio.run(count_obstacles(target))
            sizes = [sum(1 for c in chats if c.user % processes == i) for i in range(processes)]
            with shards(target, chats, processes, concurrency, workdir) as handles:
                warm = measure(handles, split(warmup, sizes), 0)
                for r in range(1, repeat + 1):
                    runs.append(measure(handles, split(updates, sizes), r))
                    say(
                        f"  run {r}/{repeat}: {runs[-1]['updates_per_s']:,} updates/s, p99 {runs[-1]['p99_ms']} ms"
                    )
            stored = asyncio.run(count_obstacles(target)) - before
        finally:
            drop(target)
    about = {
        "scale": scale,
        "backend": target.backend,
        "database": describe(target, temporary=database_url is None),
        "processes": processes,
        "concurrency": concurrency,
        "ksms": len(chats),
        "count_ksms": sum(not c.roster for c in chats),
        "rows": rows,
        "load_s": round(load_s, 1),
    }
    return summarise(about, warm, runs, stored)


def measure(handles: list[Any], quotas: list[int], run: int) -> dict[str, Any]:
    """One run (`quotas`: the updates of each process), then both floors on its updates."""
    kotaku = call_all(handles, "run", [(q,) for q in quotas])
    ptb = call_all(handles, "floor_ptb", [()] * len(handles))
    step = call_all(handles, "floor_step", [(run,)] * len(handles))
    return one_run(kotaku, ptb, step)


def describe(target: Target, temporary: bool) -> str:
    """The database, as the report names it (no password)."""
    if target.schema:
        shown = make_url(target.url).render_as_string(hide_password=True)
        return f"PostgreSQL {shown}, schema {target.schema} (dropped after)"
    return "a temporary SQLite file" if temporary else f"SQLite {target.path} (removed after)"


def summarise(
    about: dict[str, Any], warm: dict[str, Any], runs: list[dict[str, Any]], stored: int
) -> dict[str, Any]:
    """The report: `about` the set-up, the median (and best) of the measured runs, the checks over all
    runs, the warm-up included."""

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 1)

    per_s, p99 = median([r["updates_per_s"] for r in runs]), median([r["p99_ms"] for r in runs])
    ptb, step = median([r["floor_ptb_per_s"] for r in runs]), median([r["floor_step_per_s"] for r in runs])
    steps = {}
    for kind in sorted({k for r in runs for k in r["steps"]}):
        of_kind = [r["steps"][kind] for r in runs if kind in r["steps"]]
        steps[kind] = {
            "updates": sum(s["updates"] for s in of_kind),
            **{f: median([s[f] for s in of_kind]) for f in ("p50_ms", "p95_ms", "p99_ms")},
            "statements": round(statistics.fmean(s["statements"] for s in of_kind), 2),
        }
    checked = [warm, *runs]
    unexpected = [u for r in checked for u in r["unexpected"]]
    return {
        **about,
        "updates": runs[0]["updates"],
        "repeat": len(runs),
        "warmup_updates": warm["updates"],
        "seconds": {"min": min(r["seconds"] for r in runs), "median": median([r["seconds"] for r in runs])},
        "monitoring_drain_s": median([r["monitoring_drain_s"] for r in runs]),
        "updates_per_s": per_s,
        "updates_per_s_best": max(r["updates_per_s"] for r in runs),
        "p50_ms": median([r["p50_ms"] for r in runs]),
        "p95_ms": median([r["p95_ms"] for r in runs]),
        "p99_ms": p99,
        "p99_ms_best": min(r["p99_ms"] for r in runs),
        "floor_ptb_per_s": ptb,
        "floor_step_per_s": step,
        "ratio_to_floor_ptb": round(per_s / ptb, 4),
        "ratio_to_floor_step": round(per_s / step, 4),
        "steps": steps,
        "statements": {kind: s["statements"] for kind, s in steps.items()},
        "errors": sum(r["errors"] for r in checked),
        "unexpected": len(unexpected),
        "unexpected_samples": unexpected[:10],
        "redelivered": sum(r["redelivered"] for r in checked),
        "redelivered_answered": sum(r["answered_twice"] for r in checked),
        "obstacle_saves": sum(r["obstacle_saves"] for r in checked),
        "obstacles_stored": stored,
        "targets": targets(about["backend"], about["processes"], per_s, p99),
        "runs": [{k: v for k, v in r.items() if k not in ("steps", "unexpected")} for r in runs],
    }


def targets(backend: str, processes: int, per_s: float, p99_ms: float) -> list[dict[str, Any]]:
    """The targets that apply to this set-up, each with its value and pass/fail."""
    out = []
    low, high = TARGET_POSTGRESQL_PROCESSES
    if backend == "sqlite" and processes == 1:
        what, goal = "one SQLite process", TARGET_SQLITE_PER_S
    elif backend == "postgresql" and low <= processes <= high:
        what, goal = f"PostgreSQL, {low}-{high} processes", TARGET_POSTGRESQL_PER_S
    else:
        what, goal = "", 0
    if goal:
        out.append({"what": f"updates/s >= {goal:,} ({what})", "value": per_s, "pass": per_s >= goal})
    out.append({"what": f"p99 < {TARGET_P99_MS} ms", "value": p99_ms, "pass": p99_ms < TARGET_P99_MS})
    return out


def render(r: dict[str, Any]) -> str:
    """The report as text."""
    rows = r["rows"]
    lines = [
        f"kotaku bench telegram: {r['scale']} program, {r['ksms']:,} KSMs ({r['count_ksms']:,} count heads), "
        f"{rows['activity']:,} activities, {rows['media']:,} photos, loaded in {r['load_s']} s",
        f"  on {r['database']}",
        f"  {r['processes']} process(es), {r['concurrency']} conversations at a time in each; "
        f"{r['updates']:,} updates a run, {r['repeat']} run(s) after a warm-up of {r['warmup_updates']:,}",
        f"  checks (all runs): {r['errors']} handler errors, {r['unexpected']} unexpected replies; "
        f"{r['redelivered']} updates redelivered, {r['redelivered_answered']} of them answered again; "
        f"{r['obstacles_stored']} obstacles stored for {r['obstacle_saves']} saves",
        *(f"    unexpected: {u}" for u in r["unexpected_samples"]),
        f"  kotaku:     {r['updates_per_s']:>9,.1f} updates/s (median; best {r['updates_per_s_best']:,.1f}); "
        f"wall {r['seconds']['min']:.2f} s min, {r['seconds']['median']:.2f} s median; then "
        f"{r['monitoring_drain_s']:.2f} s until monitoring evaluated what the run marked",
        f"  floor PTB:  {r['floor_ptb_per_s']:>9,.1f} updates/s (bare Application, handler only replies): "
        f"kotaku / floor = {r['ratio_to_floor_ptb']}",
        f"  floor step: {r['floor_step_per_s']:>9,.1f} updates/s (processed mark, one state row, commit): "
        f"kotaku / floor = {r['ratio_to_floor_step']}",
        f"  latency (median of runs): p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, p99 {r['p99_ms']} ms "
        f"(best p99 {r['p99_ms_best']} ms)",
        f"  {'step':<12} {'updates':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'statements':>11}",
    ]
    for kind, s in r["steps"].items():
        figures = f"{s['p50_ms']:>8} {s['p95_ms']:>8} {s['p99_ms']:>8} {s['statements']:>11}"
        lines.append(f"  {kind:<12} {s['updates']:>8,} {figures}")
    for t in r["targets"]:
        lines.append(f"  target {t['what']}: {'pass' if t['pass'] else 'FAIL'} ({t['value']:,})")
    if len(r["targets"]) == 1:
        lines.append(
            "  (the throughput targets are for one SQLite process and PostgreSQL with 2-4 processes)"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", choices=list(SCALES), default="pilot")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--updates", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        result = run(args.scale, args.database_url, args.processes, args.updates, args.repeat,
                     args.concurrency, quiet=args.json)  # fmt: skip
    except ValueError as exc:
        parser.error(str(exc))
    print(json.dumps(result) if args.json else render(result))


if __name__ == "__main__":
    main()
