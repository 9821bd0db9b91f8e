"""`kotaku bench load`: the Telegram webhook of a real `kotaku run` process (webhook mode, uvicorn on
127.0.0.1, a temporary migrated SQLite database, the tests' fake Bot API) driven by an open-loop client at
fixed rates, one after another.

At each rate R (`--rates`) request i goes out at i/R s for `--seconds`, whether or not the earlier ones were
answered: at most R × seconds requests, at most `MAX_IN_FLIGHT` in flight (a send that would pass it is not
made and counts as an error), each with a `CLIENT_TIMEOUT` s timeout. The updates, with distinct update
ids, come from `--chats` KSM coordinators known to the program (each its own chat), who report in rounds:
`/kendala ...` (a quick command), a tap on the severity, a tap on "Simpan" (an obstacle saved), `/rekap`.
About R × 2 s of them are in a round at once and send in turn (the same mix at every rate); the next
update of a chat waits until the bot answered its last one (a tap needs the keyboard), the others go on.

The webhook answers 200 once the update is stored in the inbox and the inbox worker handles it after, so
two times are measured: the ack (the HTTP round trip, p50/p95/p99) and the time from the send until the
update's inbox row is marked processed (the reply went to the fake Bot API, the report is saved; p50/p99),
after a drain of at most `DRAIN_S` s. Also: errors (non-200, timeouts, connection errors, sends over the
in-flight cap), the achieved send rate, updates the worker failed or had not handled after the drain.

A rate is *sustained* (the webhook takes it) when the acks' p99 is under 250 ms, no request (nor the
handling of one) failed and at least 95% of the rate went out: `max_sustained_rate` is the highest such
rate. It is *kept up* (the bot handles it as it comes) when besides no backlog was left from the rate
before, every update was handled within the drain and 99% of them within 1 s of the send:
`max_kept_up_rate`. Bounded: at most R × seconds requests a rate plus `WARMUP_CHATS` unmeasured ones at
the start, and the whole run stops at `hard_cap_s`. The client and the fake Bot API share this process (and its GIL) and the machine with the
bot: their own work is in the figures.

    .venv/bin/kotaku bench load [--rates 50,100,200,400] [--seconds 10] [--chats 500]
                                [--database-url URL] [--json]
    .venv/bin/python -m benchmarks.bench_load --rates 50,100 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import functools
import itertools
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.web import SECRET_HEADER
from kotaku import migrate
from kotaku.config import load_settings
from kotaku.db import Database
from kotaku.models import Bkm, Channel, ChannelIdentity, Ksm, Person, Region, RegionLevel, Role
from tests.fake_botapi import BOT_ID, FakeBotApi
from tests.webhook_bot import PATH, SECRET, WebhookBot, plain_url, query

RATES = (50, 100, 200, 400)
P99_TARGET_MS = 250.0
DONE_P99_MS = 1000.0  # the handling keeps pace: 99% of the updates handled within a second of the send
MIN_ACHIEVED = 0.95  # of the rate
MAX_IN_FLIGHT = 256
CLIENT_TIMEOUT = 5.0
DRAIN_S = 15.0
WARMUP_CHATS = 10
CHAT_GAP_S = 2.0  # about how often a chat in a round sends its next update
START_S, STOP_S = 45.0, 40.0  # the bot's start (migrations, seeding, process start) and stop
MAX_RATE, MAX_SECONDS, MAX_RATES = 5000, 120.0, 10


def parse_rates(text: str) -> list[int]:
    """`50,100,200` → [50, 100, 200]: whole requests per second, 1 to MAX_RATE, at most MAX_RATES."""
    try:
        rates = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"rates must be whole numbers separated by commas, not {text!r}") from None
    if not rates or len(rates) > MAX_RATES or any(not 1 <= r <= MAX_RATE for r in rates):
        raise ValueError(f"1 to {MAX_RATES} rates, each from 1 to {MAX_RATE} per second")
    return rates


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values (so p50 ≤ p95 ≤ p99 ≤ max)."""
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def hard_cap_s(rates: list[int], seconds: float) -> float:
    """The longest the whole run may take: start, each rate with its last timeouts and its drain, stop."""
    return START_S + len(rates) * (seconds + CLIENT_TIMEOUT + 1.0 + DRAIN_S) + STOP_S


FIRST_USER = 700_000  # Telegram user ids of the coordinators (each its own private chat)


async def seed(db: Database, chats: int) -> list[int]:
    """One province, kota and kecamatan; a kelurahan with its BKM per ten KSMs; a KSM (attendance by count)
    per chat with its coordinator, who has a Telegram identity. Returns the coordinators' user ids."""
    tz = "Asia/Jakarta"
    users = []
    async with db.transaction() as s:
        parent: Region | None = None
        path = ""
        for code, name, level in (
            ("92", "Provinsi Beban", RegionLevel.PROVINSI),
            ("92.01", "Kota Beban", RegionLevel.KABKOTA),
            ("92.01.01", "Kecamatan Beban", RegionLevel.KECAMATAN),
        ):
            path = f"{path}/{code}" if path else code
            region = Region(code=code, name=name, level=level, timezone=tz, path=path,
                            parent_id=parent.id if parent else None)  # fmt: skip
            s.add(region)
            await s.flush()
            parent = region
        assert parent is not None
        bkm: Bkm | None = None
        for i in range(chats):
            if i % 10 == 0:
                code = f"92.01.01.{2001 + i // 10}"
                kel = Region(code=code, name=f"Kelurahan Beban {i // 10}", level=RegionLevel.KELURAHAN,
                             timezone=tz, path=f"{path}/{code}", parent_id=parent.id)  # fmt: skip
                s.add(kel)
                await s.flush()
                bkm = Bkm(code=f"BKM-L{i // 10:04d}", name=f"BKM Beban {i // 10}", kelurahan_id=kel.id)
                s.add(bkm)
                await s.flush()
            assert bkm is not None
            ksm = Ksm(code=f"KSM-L{i:04d}", name=f"KSM Beban {i}", bkm_id=bkm.id, keeps_roster=False)
            s.add(ksm)
            await s.flush()
            person = Person(code=f"ketua-l{i}", name=f"Ketua {i}", role=Role.KETUA_KSM, language="id",
                            scope_ksm_id=ksm.id)  # fmt: skip
            s.add(person)
            await s.flush()
            uid = FIRST_USER + i
            s.add(ChannelIdentity(person_id=person.id, channel=Channel.TELEGRAM, external_id=str(uid),
                                  chat_id=str(uid)))  # fmt: skip
            users.append(uid)
    return users


class Updates:
    """Telegram updates as the Bot API posts them to the webhook, with distinct update ids."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.message_ids = itertools.count(1_000_000)

    def text(self, user: int, text: str) -> dict[str, Any]:
        """A message with a command (`/kendala ...`) from a user in their private chat."""
        return {
            "update_id": next(self.ids),
            "message": {
                "message_id": next(self.message_ids),
                "date": int(time.time()),
                "chat": {"id": user, "type": "private", "first_name": "K"},
                "from": {"id": user, "is_bot": False, "first_name": "K"},
                "text": text,
                "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
            },
        }

    def tap(self, user: int, message_id: int, data: str) -> dict[str, Any]:
        """A tap on a button of the bot's message `message_id`."""
        return {
            "update_id": next(self.ids),
            "callback_query": {
                "id": f"q{next(self.message_ids)}",
                "from": {"id": user, "is_bot": False, "first_name": "K"},
                "chat_instance": str(user),
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": user, "type": "private"},
                    "from": {"id": BOT_ID, "is_bot": True, "first_name": "Kotaku"},
                    "text": "…",
                },
            },
        }


class LoadBotApi(FakeBotApi):
    """The tests' fake Bot API, noting per chat how many messages the bot sent or edited and the last inline
    keyboard it sent, so the client knows when a chat was answered and which buttons it can tap."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.replies: collections.Counter[str] = collections.Counter()
        self.keyboards: dict[str, tuple[int, list[dict[str, Any]]]] = {}

    def _note(self, params: dict[str, Any], message_id: int) -> None:
        chat = str(params.get("chat_id"))
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            self.keyboards[chat] = (message_id, [b for row in markup["inline_keyboard"] for b in row])
        self.replies[chat] += 1

    def _m_sendmessage(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        result = super()._m_sendmessage(params, files)
        self._note(params, int(result["message_id"]))
        return result

    def _m_editmessagetext(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        result = super()._m_editmessagetext(params, files)
        self._note(params, int(result["message_id"]))
        return result


class Mix:
    """The next update to send. Chats report in rounds: `/kendala ...`, a tap on the severity, a tap on
    "Simpan", `/rekap`. About rate × `CHAT_GAP_S` chats are in a round at once, taken in turn (so each sends
    every `CHAT_GAP_S` s or so and the mix is the same at every rate); a chat that finished its round makes
    room for the next one of the `--chats`. A chat whose last update the bot has not answered yet is passed
    over (a tap needs the keyboard of the answer); when all in a round wait, another chat begins one, and
    when none is left, one that waits gets `/bantuan` (a `fallback`)."""

    LABELS: ClassVar[dict[int, str]] = {1: "Sedang", 2: "Simpan"}  # the buttons tapped at steps 1 and 2

    def __init__(self, fake: LoadBotApi, users: list[int]) -> None:
        self.fake, self.users = fake, users
        self.make = Updates()
        self.idle = collections.deque(users)
        self.active: list[int] = []
        self.target = 1
        self.turn = 0
        self.step = dict.fromkeys(users, 0)
        self.seen = dict.fromkeys(users, -1)  # replies to the chat when its last update was sent
        self.counts: collections.Counter[str] = collections.Counter()

    def pace(self, rate: int) -> None:
        self.target = max(1, min(len(self.users), round(rate * CHAT_GAP_S)))

    def _ready(self, user: int) -> bool:
        return self.fake.replies[str(user)] > self.seen[user]

    def _pick(self) -> int | None:
        if len(self.active) < self.target and self.idle:
            self.active.append(self.idle.popleft())
            return self.active[-1]
        n = len(self.active)
        for k in range(n):
            i = (self.turn + k) % n
            if self._ready(self.active[i]):
                self.turn = i + 1
                return self.active[i]
        if self.idle:
            self.active.append(self.idle.popleft())
            return self.active[-1]
        return None

    def next(self) -> dict[str, Any]:
        user = self._pick()
        if user is None:
            user = self.active[self.turn % len(self.active)]
            self.turn += 1
            self.counts["fallback"] += 1
            return self._sent(user, self.make.text(user, "/bantuan"))
        k = self.step[user]
        self.step[user] = k + 1
        phase = k % 4
        if phase == 0:
            self.counts["command"] += 1
            return self._sent(user, self.make.text(user, f"/kendala material semen belum datang {k // 4}"))
        if phase == 3:
            self.active.remove(user)  # the round is done: room for the next chat
            self.idle.append(user)
            self.counts["command"] += 1
            return self._sent(user, self.make.text(user, "/rekap"))
        button = self._button(user, self.LABELS[phase])
        if button is None:  # not the keyboard expected: this round starts again
            self.step[user] = (k // 4) * 4 + 1
            self.counts["fallback"] += 1
            return self._sent(user, self.make.text(user, f"/kendala material semen belum datang {k // 4}"))
        self.counts["tap"] += 1
        return self._sent(user, self.make.tap(user, *button))

    def _button(self, user: int, label: str) -> tuple[int, str] | None:
        message_id, buttons = self.fake.keyboards.get(str(user), (0, []))
        for b in buttons:
            if label.lower() in str(b.get("text", "")).lower() and b.get("callback_data"):
                return message_id, str(b["callback_data"])
        return None

    def _sent(self, user: int, update: dict[str, Any]) -> dict[str, Any]:
        self.seen[user] = self.fake.replies[str(user)]
        return update


@dataclass
class RateRun:
    """What one rate's client saw."""

    rate: int
    seconds: float
    planned: int
    sent: int = 0
    window_s: float = 0.0
    acks_ms: list[float] = field(default_factory=list)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    timeouts: int = 0
    connection_errors: int = 0
    over_cap: int = 0
    sent_at: dict[int, float] = field(default_factory=dict)  # update id → wall time of the send, if 200
    started_wall: float = 0.0

    @property
    def errors(self) -> int:
        return sum(self.statuses.values()) + self.timeouts + self.connection_errors + self.over_cap


def _more(counts: collections.Counter[str], key: str, than: int) -> bool:
    return counts[key] > than


def _utc_seconds(value: Any) -> float:
    """An inbox time as SQLite (naive UTC text) or PostgreSQL (aware datetime) gives it, as a timestamp."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.timestamp()


class Driver:
    """Sends the updates of each rate to the bot's webhook and reads back from the inbox when each was done."""

    def __init__(self, bot: WebhookBot, fake: LoadBotApi, users: list[int], deadline: float) -> None:
        self.bot, self.fake, self.deadline = bot, fake, deadline
        self.mix = Mix(fake, users)
        self.prefix = f"{BOT_ID}:"
        self.headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}

    async def _sql(self, sql: str) -> list[tuple[Any, ...]]:
        return await asyncio.to_thread(query, self.bot.database_url, sql)

    async def _post(self, client: httpx.AsyncClient, update: dict[str, Any], run: RateRun) -> None:
        body = json.dumps(update).encode()
        wall, t0 = time.time(), time.perf_counter()
        try:
            async with asyncio.timeout(CLIENT_TIMEOUT):  # the whole request (httpx's are per phase)
                response = await client.post(PATH, content=body, headers=self.headers)
        except (TimeoutError, httpx.TimeoutException):
            run.timeouts += 1
            return
        except httpx.HTTPError:
            run.connection_errors += 1
            return
        if response.status_code == 200:
            run.acks_ms.append(1000 * (time.perf_counter() - t0))
            run.sent_at[int(update["update_id"])] = wall
        else:
            run.statuses[response.status_code] += 1

    async def warm_up(self, client: httpx.AsyncClient, users: list[int]) -> None:
        """A `/rekap` from a few chats, one at a time, each handled before the next (not measured)."""
        make, replies = self.mix.make, self.fake.replies
        for user in users[:WARMUP_CHATS]:
            chat = str(user)
            before = replies[chat]
            body = json.dumps(make.text(user, "/rekap")).encode()
            response = await client.post(PATH, content=body, headers=self.headers)
            if response.status_code != 200:
                raise RuntimeError(f"the webhook answered {response.status_code} to the warm-up")
            await self.fake.await_for(functools.partial(_more, replies, chat, before), 15)
        loop = asyncio.get_running_loop()
        until = loop.time() + 15
        while await self._pending():  # the reply went out; the row is marked handled just after
            if loop.time() > until:
                raise RuntimeError("the warm-up updates were not handled within 15 s")
            await asyncio.sleep(0.05)

    async def send(self, client: httpx.AsyncClient, rate: int, seconds: float) -> RateRun:
        """The open loop: request i at i/rate s from the start, in flight or not."""
        loop = asyncio.get_running_loop()
        run = RateRun(rate, seconds, planned=max(1, round(rate * seconds)))
        tasks: set[asyncio.Task[None]] = set()
        start, run.started_wall = loop.time(), time.time()
        last = start
        for i in range(run.planned):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            last = loop.time()
            if len(tasks) >= MAX_IN_FLIGHT:
                run.over_cap += 1
                continue
            task = asyncio.create_task(self._post(client, self.mix.next(), run))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            run.sent += 1
        run.window_s = last - start + 1 / rate
        if tasks:
            await asyncio.wait(tasks, timeout=CLIENT_TIMEOUT + 1)
        return run

    async def _pending(self) -> int:
        [(left,)] = await self._sql("SELECT count(*) FROM inbox_message WHERE processed_at IS NULL")
        return int(left)

    async def drain(self, run: RateRun) -> dict[str, Any]:
        """Wait until the inbox has nothing left to handle: at most DRAIN_S (within the deadline), and no
        longer once the pace of the drain so far says it cannot empty in time. Then the time from each
        acknowledged update's send to its row's `processed_at`, and the pace of handling."""
        loop = asyncio.get_running_loop()
        until = min(loop.time() + DRAIN_S, self.deadline)
        first_t, first_left = loop.time(), await self._pending()
        left = first_left
        while left and loop.time() < until:
            await asyncio.sleep(0.2)
            left = await self._pending()
            now = loop.time()
            if now - first_t >= 1.0:
                pace = (first_left - left) / (now - first_t)
                if pace <= 0 or left / pace > until - now:
                    break
        rows = await self._sql("SELECT external_id, processed_at, attempts FROM inbox_message")
        done_ms, done_at, failed = [], [], 0
        for external_id, processed_at, attempts in rows:
            if not str(external_id).startswith(self.prefix):
                continue
            sent = run.sent_at.get(int(str(external_id)[len(self.prefix) :]))
            if sent is None:
                continue
            if attempts:
                failed += 1
            if processed_at is not None:
                done_at.append(_utc_seconds(processed_at))
                done_ms.append(1000 * (done_at[-1] - sent))
        done_ms.sort()
        span = max(done_at) - run.started_wall if done_at else 0.0
        return {
            "processed": len(done_ms),
            "unprocessed": len(run.sent_at) - len(done_ms),
            "handler_failures": failed,
            "processed_ms": _figures(done_ms, (50, 99)),
            "handled_rate": round(len(done_ms) / span, 1) if span > 0 else None,
            "backlog_after": left,
        }

    async def sweep(self, rates: list[int], seconds: float, say: Callable[[str], None]) -> dict[str, Any]:
        limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
        timeout = httpx.Timeout(CLIENT_TIMEOUT)
        results: list[dict[str, Any]] = []
        stopped: str | None = None
        async with httpx.AsyncClient(base_url=self.bot.url, limits=limits, timeout=timeout) as client:
            await self.warm_up(client, self.mix.users)
            loop = asyncio.get_running_loop()
            for rate in rates:
                if loop.time() + seconds + CLIENT_TIMEOUT + 1 > self.deadline:
                    stopped = f"hard cap: no time left for {rate}/s"
                    break
                say(f"rate {rate}/s: sending for {seconds:g} s ...")
                counts = collections.Counter(self.mix.counts)
                self.mix.pace(rate)
                backlog = await self._pending()
                run = await self.send(client, rate, seconds)
                after = await self.drain(run)
                result = _result(run, {"backlog_before": backlog, **after}, self.mix.counts - counts)
                results.append(result)
                say(f"rate {rate}/s: {_line(result)}")
        return {"results": results, "stopped": stopped}


def _figures(ordered: list[float], qs: tuple[int, ...]) -> dict[str, float | None]:
    if not ordered:
        return {**{f"p{q}": None for q in qs}, "max": None}
    return {**{f"p{q}": round(percentile(ordered, q), 1) for q in qs}, "max": round(ordered[-1], 1)}


def _result(run: RateRun, after: dict[str, Any], mix: collections.Counter[str]) -> dict[str, Any]:
    acks = sorted(run.acks_ms)
    achieved = run.sent / run.window_s if run.window_s else 0.0
    ack = _figures(acks, (50, 95, 99))
    errors = {
        "total": run.errors,
        "status": {str(k): v for k, v in sorted(run.statuses.items())},
        "timeouts": run.timeouts,
        "connection": run.connection_errors,
        "over_cap": run.over_cap,
    }
    p99, done_p99 = ack["p99"], after["processed_ms"]["p99"]
    sustained = (
        run.errors == 0
        and p99 is not None
        and p99 < P99_TARGET_MS
        and achieved >= MIN_ACHIEVED * run.rate
        and after["handler_failures"] == 0
    )
    kept_up = (
        sustained
        and after["backlog_before"] == 0
        and after["unprocessed"] == 0
        and done_p99 is not None
        and done_p99 < DONE_P99_MS
    )
    return {
        "rate": run.rate,
        "seconds": run.seconds,
        "planned": run.planned,
        "sent": run.sent,
        "ok": len(acks),
        "achieved_rate": round(achieved, 1),
        "errors": errors,
        "ack_ms": ack,
        **after,
        "mix": {k: mix.get(k, 0) for k in ("command", "tap", "fallback")},
        "sustained": sustained,
        "kept_up": kept_up,
    }


def _line(r: dict[str, Any]) -> str:
    a, p = r["ack_ms"], r["processed_ms"]
    return (
        f"{r['sent']} sent ({r['achieved_rate']}/s), {r['errors']['total']} errors, ack p50/p95/p99 "
        f"{a['p50']}/{a['p95']}/{a['p99']} ms; handled {r['handled_rate']}/s, done p50/p99 "
        f"{p['p50']}/{p['p99']} ms, {r['unprocessed']} not yet"
    )


def check_database_url(database_url: str | None) -> None:
    """None (a temporary SQLite file) or a PostgreSQL URL; ValueError for anything else."""
    if database_url is None:
        return
    try:
        backend = make_url(database_url).get_backend_name()
    except ArgumentError as exc:
        raise ValueError(f"not a database URL: {exc}") from None
    if backend != "postgresql":
        raise ValueError(
            "a PostgreSQL URL (postgresql+asyncpg://...); the default is a temporary SQLite file"
        )


@contextlib.contextmanager
def _database(tmp: Path, database_url: str | None) -> Iterator[str]:
    """A temporary SQLite file, or a temporary database on the PostgreSQL server of `database_url`."""
    if database_url is None:
        yield f"sqlite+aiosqlite:///{tmp / 'kotaku.db'}"
        return
    check_database_url(database_url)
    url = make_url(database_url)
    name = f"kotaku_load_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(plain_url(database_url))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _seed(url: str, chats: int) -> list[int]:
    db = Database(load_settings(database={"url": url}), url=url)
    try:
        return await seed(db, chats)
    finally:
        await db.dispose()


def run(
    rates: list[int] | None = None,
    seconds: float = 10.0,
    chats: int = 500,
    database_url: str | None = None,
    quiet: bool = False,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """The whole bench: a migrated, seeded database, the fake Bot API, `kotaku run` in webhook mode, the
    rates one after another, then everything stopped and removed. Returns the per-rate results and
    `max_sustained_rate` (None when no rate was sustained)."""
    rates = list(rates or RATES)
    if not 0 < seconds <= MAX_SECONDS or chats < 1:
        raise ValueError(f"seconds must lie in (0, {MAX_SECONDS:g}] and chats be at least 1")

    def say(line: str) -> None:
        if not quiet:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    cap = hard_cap_s(rates, seconds)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kotaku-load-", dir=workdir) as tmp_name:
        tmp = Path(tmp_name)
        with _database(tmp, database_url) as url:
            migrate.upgrade(load_settings(database={"url": url}), url=url)
            users = asyncio.run(_seed(url, chats))
            fake = LoadBotApi()
            with fake:
                bot = WebhookBot(tmp, fake, database_url=url, name="load")
                try:
                    bot.start()
                    driver = Driver(bot, fake, users, deadline=0.0)

                    async def go() -> dict[str, Any]:
                        loop = asyncio.get_running_loop()
                        driver.deadline = loop.time() + cap - STOP_S - (time.monotonic() - t0)
                        async with asyncio.timeout(driver.deadline - loop.time()):
                            return await driver.sweep(rates, seconds, say)

                    swept = asyncio.run(go())
                    [(obstacles,)] = query(url, "SELECT count(*) FROM obstacle")
                finally:
                    code = bot.stop()
                if code not in (0, None):
                    raise RuntimeError(f"kotaku run exited {code}:\n{bot.log()}")
    results = swept["results"]
    sustained = [r["rate"] for r in results if r["sustained"]]
    kept_up = [r["rate"] for r in results if r["kept_up"]]
    return {
        "backend": "postgresql" if database_url else "sqlite",
        "rates": rates,
        "seconds": seconds,
        "chats": chats,
        "criterion": {
            "sustained": {"ack_p99_ms_below": P99_TARGET_MS, "errors": 0, "achieved_at_least": MIN_ACHIEVED},
            "kept_up": {
                "no_backlog_before": True,
                "all_done_within_s": DRAIN_S,
                "done_p99_ms_below": DONE_P99_MS,
            },
        },
        "max_in_flight": MAX_IN_FLIGHT,
        "client_timeout_s": CLIENT_TIMEOUT,
        "results": results,
        "max_sustained_rate": max(sustained) if sustained else None,
        "max_kept_up_rate": max(kept_up) if kept_up else None,
        "stopped": swept["stopped"],
        "obstacles_saved": int(obstacles),
        "wall_s": round(time.monotonic() - t0, 1),
        "hard_cap_s": round(cap, 1),
    }


def render(r: dict[str, Any]) -> str:
    lines = [
        f"kotaku bench load: the Telegram webhook of `kotaku run` on 127.0.0.1 ({r['backend']}), "
        f"{r['chats']} chats, {r['seconds']:g} s a rate, open loop (≤ {r['max_in_flight']} in flight)",
        f"  {'rate/s':>6} {'sent':>6} {'sent/s':>7} {'errors':>6} {'ack p50':>8} {'p95':>7} {'p99 ms':>7}"
        f" {'handled/s':>9} {'done p50':>9} {'p99 ms':>8} {'backlog':>7}  sustained  kept up",
    ]
    for x in r["results"]:
        a, p = x["ack_ms"], x["processed_ms"]
        lines.append(
            f"  {x['rate']:>6} {x['sent']:>6} {x['achieved_rate']:>7} {x['errors']['total']:>6} "
            f"{_ms(a['p50']):>8} {_ms(a['p95']):>7} {_ms(a['p99']):>7} {_ms(x['handled_rate']):>9} "
            f"{_ms(p['p50']):>9} {_ms(p['p99']):>8} {x['backlog_after']:>7}  "
            f"{'yes' if x['sustained'] else 'no':<9}  {'yes' if x['kept_up'] else 'no'}"
        )
    best, kept = r["max_sustained_rate"], r["max_kept_up_rate"]
    lines += [
        f"  highest sustained rate with p99 < {P99_TARGET_MS:g} ms and no errors: "
        + (f"{best}/s" if best is not None else "none of the rates tried"),
        f"  highest rate handled as it came (no backlog, every update done, done p99 < {DONE_P99_MS:g} ms): "
        + (f"{kept}/s" if kept is not None else "none of the rates tried"),
        "  ack = the webhook's HTTP round trip (the update stored in the inbox); done = send → inbox row "
        "handled; backlog = updates not handled yet when the rate's drain ended",
        f"  {r['obstacles_saved']} obstacles saved; {r['wall_s']} s in all (hard cap {r['hard_cap_s']} s)",
    ]
    if r["stopped"]:
        lines.append(f"  stopped: {r['stopped']}")
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default=",".join(map(str, RATES)))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--chats", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(parse_rates(args.rates), args.seconds, args.chats, args.database_url, quiet=args.json)
    print(json.dumps(result) if args.json else render(result))


if __name__ == "__main__":
    main()
