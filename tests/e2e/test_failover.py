"""Two real `kotaku run` processes on one PostgreSQL, Telegram webhook mode, against one fake Bot API: the
scheduler leader is SIGKILLed in the middle of a reminder wave, with updates it had answered 200 but not
handled yet. The other process takes the leader lock over within `scheduler.failover_s`, queues what the
dead one left due, delivers every reminder (once each, but for the at most `delivery.concurrency` sends
the dead one had in flight), and handles every stored update once, in order, after its lease expired.
Bounded: every wait has a timeout; PostgreSQL only (SQLite runs one process)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kotaku import migrate
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.models import (
    Activity,
    Bkm,
    Channel,
    ChannelIdentity,
    Indicator,
    Ksm,
    Person,
    Region,
    RegionLevel,
    Role,
)
from kotaku.reminders.scheduler import LEADER_LOCK_KEY
from tests.conftest import PG_URL
from tests.fake_botapi import FakeBotApi
from tests.webhook_bot import WebhookBot, plain_url, query

pytestmark = pytest.mark.skipif(not PG_URL, reason="several processes need PostgreSQL")

FIRST_WAVE, LATE = 45, 6  # KSMs due at the start; KSMs added before the kill, queued by the next leader
SLOW, QUICK = 7101, 7102
FAILOVER_S = 3.0


@dataclass
class Cluster:
    settings: Settings
    url: str
    zone: str
    a: WebhookBot
    b: WebhookBot
    fake: FakeBotApi


def _noon_zone() -> str:
    """A fixed-offset zone where it is about noon now: the reminder windows never cross midnight."""
    offset = (12 - datetime.now(UTC).hour + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(plain_url(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _seed(settings: Settings, url: str, zone: str, first: int, count: int) -> None:
    db = Database(settings, url=url)
    today = datetime.now(ZoneInfo(zone)).date()
    try:
        async with db.transaction() as s:
            kel = await s.get(Region, 1)
            if kel is None:
                kel = Region(
                    id=1, code="99.01.01.1001", name="Kelurahan Uji", level=RegionLevel.KELURAHAN,
                    timezone=zone, path="99.01.01.1001",
                )  # fmt: skip
                s.add(kel)
                s.add(Bkm(id=1, code="BKM-UJI", name="BKM Uji", kelurahan_id=1))
                await s.flush()
            for i in range(first, first + count):
                ksm = Ksm(code=f"KSM-UJI-{i:03d}", name=f"KSM Uji {i}", bkm_id=1, keeps_roster=False)
                s.add(ksm)
                await s.flush()
                s.add(
                    Activity(
                        code=f"ACT-UJI-{i:03d}", ksm_id=ksm.id, name="Rabat beton",
                        indicator=Indicator.JALAN_LINGKUNGAN, unit="m", target_volume=100.0,
                        budget=100_000_000, wage_budget=50_000_000,
                        start_date=today - timedelta(days=1), end_date=today + timedelta(days=40),
                    )
                )  # fmt: skip
                person = Person(
                    code=f"ketua-{i}",
                    name=f"Ketua {i}",
                    role=Role.KETUA_KSM,
                    language="id",
                    scope_ksm_id=ksm.id,
                )
                s.add(person)
                await s.flush()
                chat = str(9000 + i)
                s.add(
                    ChannelIdentity(
                        person_id=person.id, channel=Channel.TELEGRAM, external_id=chat, chat_id=chat
                    )
                )
    finally:
        await db.dispose()


@pytest.fixture
def cluster(tmp_path: Path, settings: Settings) -> Iterator[Cluster]:
    assert PG_URL
    name = f"kotaku_failover_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(PG_URL, f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    zone = _noon_zone()
    try:
        migrate.upgrade(settings, url=url)
        asyncio.run(_seed(settings, url, zone, 0, FIRST_WAVE))
        first = (datetime.now(ZoneInfo(zone)) - timedelta(minutes=5)).strftime("%H:%M")
        env = {
            "KOTAKU_APP__DEFAULT_TIMEZONE": zone,
            "KOTAKU_REMINDERS__ENABLED": "true",
            "KOTAKU_REMINDERS__FIRST_TIME": first,
            "KOTAKU_REMINDERS__WORK_DAYS": "[0, 1, 2, 3, 4, 5, 6]",
            "KOTAKU_REMINDERS__NATIONAL_HOLIDAYS": "false",
            "KOTAKU_SCHEDULER__FAILOVER_S": str(FAILOVER_S),
            "KOTAKU_SERVER__INBOX_LEASE_S": "3",
            "KOTAKU_DELIVERY__CLAIM_TIMEOUT_SECONDS": "3",
            "KOTAKU_DELIVERY__SEND_TIMEOUT_SECONDS": "2",
            "KOTAKU_DELIVERY__TELEGRAM_PER_SECOND": "4",
            "KOTAKU_DELIVERY__CONCURRENCY": "2",
            "KOTAKU_MONITORING__SWEEP_MINUTES": "60",
        }
        with FakeBotApi() as fake:
            a = WebhookBot(tmp_path, fake, database_url=url, name="a", env=env)
            b = WebhookBot(tmp_path, fake, database_url=url, name="b", env=env)
            try:
                yield Cluster(settings, url, zone, a, b, fake)
            finally:
                fake.release("getFile")
                for bot in (a, b):
                    bot.stop()
    finally:
        asyncio.run(_admin(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def reminders_received(fake: FakeBotApi) -> Counter[str]:
    return Counter(str(c.params["chat_id"]) for c in fake.sent() if int(c.params["chat_id"]) >= 9000)


@pytest.mark.timeout(120)
def test_the_leader_dies_mid_wave_and_nothing_is_lost_or_sent_twice(cluster: Cluster) -> None:
    a, b, fake, url = cluster.a, cluster.b, cluster.fake, cluster.url
    a.start()  # alone: the leader; its catch-up queues the first wave at once
    a.wait(lambda: query(url, "SELECT count(*) FROM outbox_message")[0][0] == FIRST_WAVE, 15)
    b.start()  # the standby
    asyncio.run(
        _seed(cluster.settings, url, cluster.zone, FIRST_WAVE, LATE)
    )  # due now; A would queue them later

    # Updates A answers 200 but is still handling when it dies: a photo whose download is held.
    fake.hold("getFile")
    fake.photo(SLOW, b"\xff\xd8not-really-a-jpeg")
    fake.message(SLOW, "/bantuan")
    fake.message(QUICK, "/bantuan")
    slow_photo, slow_text, quick = fake.take_updates()
    assert a.post(slow_photo) == 200 and a.post(slow_text) == 200
    a.wait(lambda: fake.held_by_method["getfile"], 10)
    assert b.post(quick) == 200

    mine = f"SELECT count(*) FROM outbox_message WHERE status = 'sending' AND claimed_by LIKE 'd-{a.pid}-%'"
    a.wait(lambda: len(reminders_received(fake)) >= 5 and query(url, mine)[0][0] > 0, 20)
    a.kill()  # holding claims of the wave
    killed = time.monotonic()
    assert len(reminders_received(fake)) < FIRST_WAVE  # the wave was under way, not over
    fake.release("getFile")

    # B takes the lock over and queues the KSMs A never got to.
    b.wait(lambda: query(url, "SELECT count(*) FROM outbox_message")[0][0] == FIRST_WAVE + LATE, 15)
    took_over = time.monotonic() - killed
    assert took_over < FAILOVER_S + 3, took_over
    b.wait(lambda: len(reminders_received(fake)) == FIRST_WAVE + LATE, 30)
    b.wait(lambda: not query(url, "SELECT 1 FROM inbox_message WHERE processed_at IS NULL"), 20)
    b.wait(lambda: len(fake.sent(SLOW)) >= 2, 10)

    got = reminders_received(fake)
    assert sorted(got) == sorted(str(9000 + i) for i in range(FIRST_WAVE + LATE))  # nobody missed
    twice = {chat: n for chat, n in got.items() if n > 1}
    assert len(twice) <= 2, twice  # at most the sends A had in flight (delivery.concurrency = 2)
    statuses = query(url, "SELECT status, count(*) FROM outbox_message GROUP BY status")
    assert statuses == [("sent", FIRST_WAVE + LATE)]
    # Every stored update handled once, the slow conversation in its order.
    handled = query(url, "SELECT message_id FROM processed_inbound ORDER BY message_id")
    assert handled == sorted((f"u{u['update_id']}",) for u in (slow_photo, slow_text, quick))
    assert query(url, "SELECT count(*) FROM inbox_message WHERE attempts > 0") == [(0,)]
    order = query(
        url,
        f"SELECT id FROM inbox_message WHERE conversation = '{SLOW}:{SLOW}' ORDER BY processed_at",
    )
    assert [r[0] for r in order] == sorted(r[0] for r in order)  # the photo first, then the text

    # B stops on SIGTERM: exit 0, and the leader lock is free again.
    assert b.stop() == 0, b.log()
    lock = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2"
        f" AND classid = {LEADER_LOCK_KEY}"
    )
    assert query(url, lock) == [(0,)]
