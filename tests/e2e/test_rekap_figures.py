"""/rekap's worker figures: the worker-days by PHK status add up to the worker-days (count-only sheets have
their own labelled part), HOK and worker-days are said once when they are the same, twice only when half
days make them differ; and the missed-day streak of /status counts as the escalation of the reminders."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from kotaku import catalogue
from kotaku.config import RemindersConfig, Settings
from kotaku.db import Database
from kotaku.domain.calendar import WorkCalendar
from kotaku.models import AttendanceDay, AttendanceMode, AttendanceRecord, Base, Worker
from kotaku.reminders import service as reminders
from kotaku.security import NikVault
from kotaku.services import summary as summary_service
from kotaku.services.scope import Scope
from kotaku.services.summary import ScopeSummary, scope_summary
from tests.catalogue_keys import keys_in, says
from tests.e2e.conftest import DEFAULT_NOW, World
from tests.factories import Program, build_program

TODAY = date(2026, 11, 26)  # DEFAULT_NOW is 16:00 WIB on this Thursday


async def add_roster_day(
    db: Database, ksm_id: int, day: date, workers: list[Worker], hok: float = 1.0
) -> None:
    async with db.transaction() as s:
        sheet = AttendanceDay(ksm_id=ksm_id, work_date=day, mode=AttendanceMode.ROSTER)
        for w in workers:
            sheet.records.append(
                AttendanceRecord(
                    worker_id=w.id,
                    ksm_id=ksm_id,
                    work_date=day,
                    nik_hash=w.nik_hash,
                    hok=hok,
                    wage=w.daily_rate,
                )
            )
        s.add(sheet)


async def add_count_day(db: Database, ksm_id: int, day: date, male: int, female: int) -> None:
    async with db.transaction() as s:
        s.add(
            AttendanceDay(
                ksm_id=ksm_id,
                work_date=day,
                mode=AttendanceMode.COUNT,
                count_male=male,
                count_female=female,
                hok=float(male + female),
                total_wages=(male + female) * 90_000,
            )
        )


async def roster(db: Database, ksm_id: int) -> list[Worker]:
    async with db.session() as s:
        stmt = select(Worker).where(Worker.ksm_id == ksm_id).order_by(Worker.id)
        return list((await s.execute(stmt)).scalars())


def parts_total(split: summary_service.PhkSplit) -> int:
    return split.phk + split.not_phk + split.unknown + split.count_only


async def test_kabupaten_phk_parts_add_up_and_count_only_days_are_labelled(world: World) -> None:
    p = world.program
    a, c = await roster(world.db, p["ksm_a"]), await roster(world.db, p["ksm_c"])
    await add_roster_day(world.db, p["ksm_a"], TODAY, a[:4])  # Budi (PHK), Sari, Joko, Slamet (PHK)
    await add_roster_day(world.db, p["ksm_c"], TODAY - timedelta(days=1), c[:2])  # no PHK status given
    await add_count_day(world.db, p["ksm_b"], TODAY - timedelta(days=1), 4, 2)  # no names at all
    ch = world.channel("askot")
    await ch.text("/rekap")
    text = ch.last_text()
    parts = " · ".join(
        [
            catalogue.t("rekap.phk.phk", n=2),
            catalogue.t("rekap.phk.other", n=2),
            catalogue.t("rekap.phk.unknown", n=2),
            catalogue.t("rekap.phk.count_only", n=6),
        ]
    )
    assert says(text, "rekap.phk", parts=parts)
    assert says(text, "rekap.to_date_work", hok=12, genders=" (L 8, P 4)")
    today = " · ".join(
        [
            catalogue.t("rekap.phk.phk", n=2),
            catalogue.t("rekap.phk.other", n=2),
            catalogue.t("rekap.phk.unknown", n=0),
            catalogue.t("rekap.phk.count_only", n=0),
        ]
    )
    assert says(text, "rekap.phk_today", parts=today)
    async with world.db.session() as s:
        summary = await scope_summary(s, world.db.settings, Scope(region_id=p["kab"]), world.clock())
    assert parts_total(summary.phk_to_date) == summary.phk_to_date.total == summary.to_date_work.total == 12
    assert summary.phk_to_date.count_only == 6


async def test_hok_and_worker_days_are_one_figure_unless_half_days_differ(world: World) -> None:
    p = world.program
    a = await roster(world.db, p["ksm_a"])
    await add_roster_day(world.db, p["ksm_a"], TODAY - timedelta(days=1), a[:4])
    ch = world.channel("ketua-a")
    await ch.text("/rekap")
    text = ch.last_text()
    assert says(text, "rekap.to_date_work", hok=4) and "rekap.to_date_work_days" not in keys_in(text)
    await add_roster_day(world.db, p["ksm_a"], TODAY, a[:2], hok=0.5)  # two half days
    await ch.text("/rekap")
    text = ch.last_text()
    assert says(text, "rekap.to_date_work_days", hok=5, days=6)
    assert says(text, "rekap.today_work_hok", workers=2, hok=1)


# --- the sum property -------------------------------------------------------------------------------

# A day's sheet for a KSM: ksm_a and ksm_c keep rosters (ksm_a's workers have a PHK status, ksm_c's
# none), ksm_b counts heads. Roster sheets pick workers by index; count sheets give L and P.
SHEETS = st.dictionaries(
    keys=st.tuples(st.sampled_from(["ksm_a", "ksm_b", "ksm_c"]), st.integers(min_value=0, max_value=4)),
    values=st.tuples(
        st.sets(st.integers(min_value=0, max_value=14), max_size=8), st.integers(0, 30), st.integers(0, 30)
    ),
    max_size=8,
)


def _run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _fresh(settings: Settings, vault: NikVault) -> Program:
    db = Database(settings)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    program = await build_program(db, vault, TODAY)
    await db.dispose()
    return program


async def _summary_of(settings: Settings, program: Program, sheets: dict) -> ScopeSummary:
    db = Database(settings)
    try:
        async with db.transaction() as s:
            await s.execute(delete(AttendanceRecord))
            await s.execute(delete(AttendanceDay))
        rosters = {k: await roster(db, program[k]) for k in ("ksm_a", "ksm_c")}
        for (ksm, offset), (picked, male, female) in sheets.items():
            day = TODAY - timedelta(days=offset)
            if ksm == "ksm_b":
                await add_count_day(db, program[ksm], day, male, female)
            else:
                workers = rosters[ksm]
                await add_roster_day(
                    db, program[ksm], day, [workers[i] for i in sorted({i % len(workers) for i in picked})]
                )
        async with db.session() as s:
            return await scope_summary(s, settings, Scope(region_id=program["kab"]), DEFAULT_NOW)
    finally:
        await db.dispose()


def test_phk_parts_always_add_up_to_the_worker_days(
    settings: Settings, vault: NikVault, tmp_path: Path
) -> None:
    program = _run(_fresh(settings, vault))
    assert isinstance(program, Program)

    @hyp_settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(sheets=SHEETS)
    def check(sheets: dict) -> None:
        s = _run(_summary_of(settings, program, sheets))
        assert isinstance(s, ScopeSummary)
        assert parts_total(s.phk_to_date) == s.phk_to_date.total == s.to_date_work.total
        assert parts_total(s.phk_today) == s.phk_today.total == s.today_work.total
        counted = sum(m + f for (k, _), (_, m, f) in sheets.items() if k == "ksm_b")
        assert s.phk_to_date.count_only == counted

    check()


# --- streaks: one definition with the escalation -----------------------------------------------------

CAL = WorkCalendar(RemindersConfig())


@hyp_settings(max_examples=200, deadline=None)
@given(
    reported=st.sets(st.integers(min_value=0, max_value=60), max_size=20),
    start_ago=st.integers(min_value=0, max_value=70),
    today=st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)),
)
def test_status_streak_is_the_unreported_work_days_back_to_a_report(
    reported: set[int], start_ago: int, today: date
) -> None:
    """One streak for /status and the escalation (kotaku.reminders imports this one): work days only,
    none reported, none before the start, newest first, and it stops at the first reported work day."""
    days = {today - timedelta(days=n) for n in reported}
    start = today - timedelta(days=start_ago)
    streak = summary_service.missed_streak(days, today, CAL, start)
    assert reminders.missed_streak is summary_service.missed_streak
    assert all(CAL.is_work_day(d) and d not in days and start <= d <= today for d in streak)
    assert streak == sorted(streak, reverse=True)
    oldest = streak[-1] if streak else today + timedelta(days=1)
    between = [oldest + timedelta(days=n) for n in range((today - oldest).days + 1)]
    assert not [d for d in between if CAL.is_work_day(d) and d in days]  # no report inside the streak
    before = oldest - timedelta(days=1)
    while before >= start and not CAL.is_work_day(before):
        before -= timedelta(days=1)
    if before >= start and (today - before).days < summary_service.STREAK_LOOKBACK_DAYS:
        assert before in days  # it stopped at a reported work day (or the start)
