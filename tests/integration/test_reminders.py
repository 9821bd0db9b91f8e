"""Reminders by time travel (time-machine): three zones (WIB/WITA/WIT), holidays, second reminder, group
binding, own times and pauses, digest, escalation, weekly summary, a restart mid fan-out, and two
scheduler instances on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select, text

from kotaku import catalogue
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.models import (
    Activity,
    Bkm,
    Channel,
    ChannelIdentity,
    GroupBinding,
    Indicator,
    Ksm,
    OutboxMessage,
    OutboxStatus,
    Person,
    ProgressReport,
    Region,
    RegionLevel,
    Role,
)
from kotaku.notify.dispatcher import Dispatcher
from kotaku.notify.ports import SendResult
from kotaku.reminders.scheduler import ReminderScheduler, build_jobs
from kotaku.reminders.service import plan_day, run_due
from kotaku.security import NikVault
from tests.catalogue_keys import keys_in, says
from tests.factories import Program, build_program
from tests.fakes import FakeSender

TUESDAY = date(2026, 12, 22)


def utc(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


async def add_wit_site(db: Database, start: date) -> None:
    """A KSM in Jayapura (WIT, UTC+9) with its coordinator."""
    async with db.transaction() as s:
        prov = Region(
            code="91", name="Papua", level=RegionLevel.PROVINSI, timezone="Asia/Jayapura", path="91"
        )
        s.add(prov)
        await s.flush()
        kel = Region(
            code="91.71.01.1001",
            name="Hamadi",
            level=RegionLevel.KELURAHAN,
            parent_id=prov.id,
            timezone="Asia/Jayapura",
            path="91/91.71.01.1001",
        )
        s.add(kel)
        await s.flush()
        bkm = Bkm(code="BKM-HMD", name="BKM Hamadi", kelurahan_id=kel.id)
        s.add(bkm)
        await s.flush()
        ksm = Ksm(code="KSM-HMD-01", name="KSM Hamadi Indah", bkm_id=bkm.id)
        s.add(ksm)
        await s.flush()
        s.add(
            Activity(
                code="ACT-HMD-01",
                ksm_id=ksm.id,
                name="Jalan setapak",
                indicator=Indicator.JALAN_LINGKUNGAN,
                unit="m",
                target_volume=100,
                budget=100_000_000,
                wage_budget=60_000_000,
                start_date=start,
                end_date=start + timedelta(days=60),
            )
        )
        person = Person(code="ketua-w", name="Pak Yohanes", role=Role.KETUA_KSM, scope_ksm_id=ksm.id)
        s.add(person)
        await s.flush()
        s.add(
            ChannelIdentity(
                person_id=person.id, channel=Channel.TEST, external_id="ketua-w", chat_id="ketua-w"
            )
        )


@pytest.fixture
async def program(db: Database, vault: NikVault) -> Program:
    p = await build_program(db, vault, TUESDAY)
    await add_wit_site(db, TUESDAY - timedelta(days=20))
    return p


async def outbox(db: Database, kind: str | None = None) -> list[OutboxMessage]:
    async with db.session() as s:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            stmt = stmt.where(OutboxMessage.kind == kind)
        return list((await s.execute(stmt)).scalars())


async def tick(db: Database, settings: Settings, at: datetime) -> dict[str, int]:
    """What the scheduler's job does at `at`, with the clock moved there."""
    with time_machine.travel(at, tick=False):
        scheduler = ReminderScheduler(db, settings)
        await scheduler.try_lead()
        report = await scheduler.tick()
        await scheduler.resign()
    assert report is not None
    return {k: v for k, v in report.queued.items() if v}


async def sent_at(db: Database, settings: Settings, at: datetime) -> list[str]:
    """Run the job at `at` and list the new outbox rows as `kind:recipient` (reminder kinds by key)."""
    before = {r.id for r in await outbox(db)}
    await tick(db, settings, at)
    new = [r for r in await outbox(db) if r.id not in before]
    return sorted(
        f"{r.dedup_key.split(':')[1] if r.kind == 'reminder' else r.kind}:{r.recipient}" for r in new
    )


async def report_progress(db: Database, activity_id: int, day: date) -> None:
    async with db.transaction() as s:
        s.add(ProgressReport(activity_id=activity_id, report_date=day, percent=30.0))


def recipients(rows: list[OutboxMessage]) -> list[str]:
    return sorted(r.recipient for r in rows)


async def test_first_reminder_goes_out_in_three_waves(
    db: Database, settings: Settings, program: Program
) -> None:
    # 14:59 WIT: nothing yet anywhere.
    assert await tick(db, settings, utc(2026, 12, 22, 5, 59)) == {}
    # 15:00 WIT (06:00 UTC): only Jayapura.
    assert await tick(db, settings, utc(2026, 12, 22, 6, 0)) == {"first": 1}
    assert recipients(await outbox(db)) == ["ketua-w"]
    # 15:00 WITA (07:00 UTC): Makassar.
    assert await tick(db, settings, utc(2026, 12, 22, 7, 0)) == {"first": 1}
    # 15:00 WIB (08:00 UTC): the three Javanese KSMs; it is 17:00 in Jayapura, the second reminder.
    assert await tick(db, settings, utc(2026, 12, 22, 8, 0)) == {"first": 3, "second": 1}
    rows = await outbox(db, "reminder")
    assert recipients(rows) == ["ketua-a", "ketua-b", "ketua-c", "ketua-m", "ketua-w", "ketua-w"]
    assert rows[0].payload["choices"][0]["value"] == "/progres"
    assert says(rows[0].payload["text"], "pengingat.first", date="22 Desember 2026")
    # Run again (a replay, a second job firing): nothing new.
    assert await tick(db, settings, utc(2026, 12, 22, 8, 10)) == {}
    assert len(await outbox(db, "reminder")) == 6


async def test_ksm_that_reported_gets_no_reminder(db: Database, settings: Settings, program: Program) -> None:
    await report_progress(db, program["road"], TUESDAY)
    new = await sent_at(db, settings, utc(2026, 12, 22, 8, 0))
    assert [n for n in new if n.startswith("first:") and n != "first:ketua-m"] == [
        "first:ketua-b",
        "first:ketua-c",
    ]


async def test_second_reminder_only_when_still_missing(
    db: Database, settings: Settings, program: Program
) -> None:
    await tick(db, settings, utc(2026, 12, 22, 8, 0))  # 15:00 WIB
    await report_progress(db, program["road"], TUESDAY)
    new = await sent_at(db, settings, utc(2026, 12, 22, 10, 0))  # 17:00 WIB
    java = [n for n in new if n.startswith("second:") and n != "second:ketua-m"]
    assert java == ["second:ketua-b", "second:ketua-c"]
    second = [r for r in await outbox(db) if r.dedup_key.startswith("reminder:second")]
    assert "pengingat.second" in keys_in(second[0].payload["text"])


async def test_after_downtime_the_first_is_dropped_once_the_second_is_due(
    db: Database, settings: Settings, program: Program
) -> None:
    # The process was down from 14:00 to 17:05 WIB: the sweep sends the second reminder, not both.
    new = await sent_at(db, settings, utc(2026, 12, 22, 10, 5))
    java = [n for n in new if n.split(":")[1] in {"ketua-a", "ketua-b", "ketua-c"}]
    assert java == ["second:ketua-a", "second:ketua-b", "second:ketua-c"]
    # Without a second reminder, a missed first one still goes out within the grace window (16:10 WIB).
    settings.reminders.second_time = None
    new = await sent_at(db, settings, utc(2026, 12, 23, 9, 10))
    assert [n for n in new if n.startswith("first:ketua-")] == [
        "first:ketua-a",
        "first:ketua-b",
        "first:ketua-c",
    ]
    # ... but not after it (17:01 WIB).
    assert [n for n in await sent_at(db, settings, utc(2026, 12, 24, 10, 1)) if n.startswith("first:")] == []


@pytest.mark.parametrize(
    ("day", "why"),
    [(date(2026, 12, 25), "Christmas"), (date(2026, 12, 27), "Sunday"), (date(2026, 12, 24), "extra day")],
)
async def test_no_reminders_on_holidays_sundays_and_extra_days(
    db: Database, settings: Settings, program: Program, day: date, why: str
) -> None:
    settings.reminders.extra_non_working_days = [date(2026, 12, 24)]
    for hour in (6, 7, 8, 10, 11):  # every wave's 15:00/17:00/17:30
        assert await tick(db, settings, datetime.combine(day, time(hour), UTC)) == {}, why
    slots, skipped = await _plan(db, settings, day)
    assert slots == [] or all(s.kind == "weekly" for s in slots)
    assert skipped and all(reason for _, _, reason in skipped)


async def _plan(db: Database, settings: Settings, day: date):  # type: ignore[no-untyped-def]
    async with db.session() as s:
        return await plan_day(s, settings, day)


async def test_plan_lists_each_zone_at_its_local_time(
    db: Database, settings: Settings, program: Program
) -> None:
    slots, skipped = await _plan(db, settings, TUESDAY)
    firsts = [(s.timezone, s.at) for s in slots if s.kind == "first"]
    assert ("Asia/Jayapura", utc(2026, 12, 22, 6)) in firsts
    assert ("Asia/Makassar", utc(2026, 12, 22, 7)) in firsts
    assert ("Asia/Jakarta", utc(2026, 12, 22, 8)) in firsts
    assert [s.at for s in slots] == sorted(s.at for s in slots)
    assert skipped == []
    _, skipped = await _plan(db, settings, date(2026, 12, 25))
    assert {reason for _, _, reason in skipped} == {"holiday: Christmas Day"}


async def test_group_binding_gets_the_reminder_instead_of_the_coordinator(
    db: Database, settings: Settings, program: Program
) -> None:
    async with db.transaction() as s:
        s.add(GroupBinding(channel=Channel.TEST, chat_id="-100777", ksm_id=program["ksm_a"]))
        ksm_b = await s.get(Ksm, program["ksm_b"])
        assert ksm_b is not None
        ksm_b.reminder_time = time(16, 0)  # per-KSM override
    new = await sent_at(db, settings, utc(2026, 12, 22, 8, 0))
    assert "first:-100777" in new and "first:ketua-c" in new
    assert "first:ketua-a" not in new and "first:ketua-b" not in new
    assert "first:ketua-b" in await sent_at(db, settings, utc(2026, 12, 22, 9, 0))  # 16:00 WIB
    group = next(r for r in await outbox(db) if r.recipient == "-100777")
    assert [c["value"] for c in group.payload["choices"]] == ["/progres", "/hadir"]  # no personal pause


async def test_own_time_and_pause_for_today(db: Database, settings: Settings, program: Program) -> None:
    async with db.transaction() as s:
        a = await s.get(Person, program["ketua-a"])
        b = await s.get(Person, program["ketua-b"])
        assert a is not None and b is not None
        a.reminder_time = time(16, 30)
        b.reminder_paused_on = TUESDAY

    def java(new: list[str]) -> list[str]:
        return [n for n in new if n.split(":")[1] in {"ketua-a", "ketua-b", "ketua-c"}]

    assert java(await sent_at(db, settings, utc(2026, 12, 22, 8, 0))) == ["first:ketua-c"]
    assert java(await sent_at(db, settings, utc(2026, 12, 22, 9, 30))) == ["first:ketua-a"]  # 16:30 WIB
    # 17:00 WIB: b is paused all day.
    assert java(await sent_at(db, settings, utc(2026, 12, 22, 10, 0))) == ["second:ketua-a", "second:ketua-c"]
    # The pause is for that date only.
    assert java(await sent_at(db, settings, utc(2026, 12, 23, 8, 0))) == ["first:ketua-b", "first:ketua-c"]


async def test_digest_to_each_facilitator_at_their_local_time(
    db: Database, settings: Settings, program: Program
) -> None:
    await report_progress(db, program["road"], TUESDAY)
    queued = await tick(db, settings, utc(2026, 12, 22, 9, 30))  # 17:30 WITA
    assert queued.get("digest") == 1
    queued = await tick(db, settings, utc(2026, 12, 22, 10, 30))  # 17:30 WIB
    assert queued.get("digest") == 1
    digests = {r.recipient: r.payload for r in await outbox(db, "digest")}
    assert set(digests) == {"fasil", "fasil-m"}
    assert digests["fasil"]["reported"] == 1 and digests["fasil"]["missing"] == 2
    done = catalogue.t("pengingat.digest_done", n=1)
    assert "KSM Bejalen Makmur" in digests["fasil"]["text"].split(done)[1]
    assert digests["fasil-m"]["missing"] == 1


async def test_escalation_after_two_missed_work_days_once_per_streak(
    db: Database, settings: Settings, program: Program
) -> None:
    for day in range(1, 22):  # every KSM in Java reported every day up to Monday 21 December
        for act in ("road", "mck", "well"):
            await report_progress(db, program[act], date(2026, 12, day))
    # Tuesday 17:30 WIB: one missed day, no escalation for the Javanese KSMs.
    await tick(db, settings, utc(2026, 12, 22, 10, 30))
    java = [r for r in await outbox(db, "escalation") if r.payload["ksm_id"] != program["ksm_m"]]
    assert java == []
    # Wednesday 17:30 WIB: two missed work days -> askot and korkot, for each of the three KSMs.
    await tick(db, settings, utc(2026, 12, 23, 10, 30))
    java = [r for r in await outbox(db, "escalation") if r.payload["ksm_id"] != program["ksm_m"]]
    assert recipients(java) == ["askot"] * 3 + ["korkot"] * 3
    assert all(r.priority == 1 and r.payload["missed_days"] == 2 for r in java)
    assert says(java[0].payload["text"], "pengingat.escalation", n=2, since="22 Desember 2026")
    # Thursday: same streak, no second escalation; Christmas Friday is skipped altogether.
    await tick(db, settings, utc(2026, 12, 24, 10, 30))
    await tick(db, settings, utc(2026, 12, 25, 10, 30))
    java = [r for r in await outbox(db, "escalation") if r.payload["ksm_id"] != program["ksm_m"]]
    assert len(java) == 6


async def test_weekly_summary_on_monday_morning_with_chart(
    db: Database, settings: Settings, program: Program
) -> None:
    await report_progress(db, program["road"], date(2026, 12, 18))
    assert await tick(db, settings, utc(2026, 12, 27, 1, 0)) == {}  # Sunday 08:00 WIB
    queued = await tick(db, settings, utc(2026, 12, 28, 1, 0))  # Monday 08:00 WIB
    assert queued["weekly"] == 2
    rows = await outbox(db, "weekly_summary")
    assert recipients(rows) == ["askot", "korkot"]
    assert rows[0].priority == 9
    assert says(rows[0].payload["text"], "pengingat.weekly_title", date="28 Desember 2026")
    image = rows[0].payload.get("image_path")
    assert image and (await asyncio.to_thread(Path(image).read_bytes))[:4] == b"\x89PNG"
    assert await tick(db, settings, utc(2026, 12, 28, 1, 30)) == {}


async def test_restart_mid_fan_out_neither_duplicates_nor_loses(
    db: Database, settings: Settings, program: Program
) -> None:
    at = utc(2026, 12, 22, 8, 0)
    # A crash while writing the fan-out: the transaction rolls back, nothing half-written stays.
    with pytest.raises(RuntimeError):
        async with db.transaction() as s:
            await run_due(s, settings, at)
            raise RuntimeError("killed")
    assert await outbox(db) == []
    # After the restart the sweep (still inside the grace window) writes it all, once.
    new = await sent_at(db, settings, at + timedelta(minutes=5))
    assert {"first:ketua-a", "first:ketua-b", "first:ketua-c"} <= set(new)
    assert await sent_at(db, settings, at + timedelta(minutes=10)) == []
    expected = sorted(n.split(":")[1] for n in new)
    # A dispatcher dies after one delivery is marked and a second is sent but not marked.
    cfg = settings.delivery.model_copy(update={"claim_timeout_seconds": 60})
    first_sender = FakeSender()
    crashed = Dispatcher(db, {Channel.TEST: first_sender}, cfg, now=lambda: at + timedelta(minutes=5))
    claimed = await crashed.claim(100)
    assert len(claimed) == len(expected)
    for msg in claimed[:2]:
        await first_sender.send(msg.recipient, [])
    await crashed.mark([(claimed[0], SendResult.ok())])
    # The next dispatcher takes over the stale claims.
    second_sender = FakeSender()
    later = at + timedelta(minutes=7)
    await Dispatcher(db, {Channel.TEST: second_sender}, cfg, now=lambda: later).drain()
    delivered = first_sender.recipients() + second_sender.recipients()
    assert sorted(set(delivered)) == expected  # nothing lost
    assert len(delivered) == len(expected) + 1  # only the one in flight at the crash went twice
    assert all(r.status == OutboxStatus.SENT for r in await outbox(db))


async def test_two_scheduler_instances_only_the_leader_queues(
    db: Database, settings: Settings, program: Program
) -> None:
    if db.is_sqlite:
        pytest.skip("leader election is a PostgreSQL feature; SQLite runs a single instance")
    a, b = ReminderScheduler(db, settings), ReminderScheduler(db, settings)
    try:
        assert await a.try_lead() is True
        assert await b.try_lead() is False
        at = utc(2026, 12, 22, 8, 0)
        assert await b.tick(at) is None
        report = await a.tick(at)
        assert report is not None and report.queued["first"] == 4  # Java three, and Makassar at 16:00
        queued = len(await outbox(db))
        # When the leader goes away, the other takes over and finds nothing left to queue.
        await a.resign()
        assert await b.try_lead() is True
        report = await b.tick(at + timedelta(minutes=1))
        assert report is not None and not any(report.queued.values())
        assert len(await outbox(db)) == queued
    finally:
        await a.resign()
        await b.resign()


def test_jobs_fire_at_local_times_in_three_waves(settings: Settings) -> None:
    jobs = {
        j.id: j.trigger
        for j in build_jobs(settings, {"Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"}, {time(16, 30)})
    }
    now = utc(2026, 12, 22, 0, 0)
    fire = {k: t.get_next_fire_time(None, now).astimezone(UTC) for k, t in jobs.items()}
    assert fire["reminders:Asia/Jayapura:15:00"] == utc(2026, 12, 22, 6, 0)
    assert fire["reminders:Asia/Makassar:15:00"] == utc(2026, 12, 22, 7, 0)
    assert fire["reminders:Asia/Jakarta:15:00"] == utc(2026, 12, 22, 8, 0)
    assert fire["reminders:Asia/Jakarta:16:30"] == utc(2026, 12, 22, 9, 30)
    assert fire["reminders:Asia/Jakarta:17:30"] == utc(2026, 12, 22, 10, 30)
    assert fire["weekly:Asia/Jakarta"] == utc(2026, 12, 28, 1, 0)  # next Monday 08:00 WIB
    assert "reminders:sweep" in jobs


async def test_leader_runs_the_monitoring_sweep_and_alert_jobs(
    db: Database, settings: Settings, program: Program
) -> None:
    from kotaku.models import Alert

    at = utc(2026, 12, 22, 9)  # 16:00 WIB: plenty behind plan for a program started weeks ago
    with time_machine.travel(at, tick=False):
        scheduler = ReminderScheduler(db, settings)
        await scheduler._monitoring_job()  # not the leader: nothing
        async with db.session() as s:
            assert (await s.execute(select(Alert))).first() is None
        await scheduler.try_lead()
        await scheduler._monitoring_job()
        await scheduler._alert_job()
        await scheduler.resign()
    async with db.session() as s:
        alerts = list((await s.execute(select(Alert))).scalars())
    assert alerts, "the sweep found the program's activities without reports"
    assert {a.kind for a in alerts} & {"critical", "no_report"}


async def test_a_leader_whose_lock_connection_broke_resigns_and_frees_the_lock(
    db: Database, settings: Settings
) -> None:
    """Stopping while a lock check was cancelled leaves the lock's connection invalid: `resign()` must
    still end (no error from `stop()`) and the lock must be free for another instance at once."""
    if db.is_sqlite:
        pytest.skip("leader election is a PostgreSQL feature; SQLite runs a single instance")
    a, b = ReminderScheduler(db, settings), ReminderScheduler(db, settings)
    try:
        assert await a.try_lead() is True
        assert a._lock_conn is not None
        # A check cancelled mid-statement: its transaction begun, the connection invalidated.
        await a._lock_conn.execute(text("SELECT 1"))
        await a._lock_conn.invalidate()
        await a.resign()
        assert a.is_leader is False and a._lock_conn is None
        assert await b.try_lead() is True
    finally:
        await a.resign()
        await b.resign()
