"""The summary a save returns (made from what it wrote, without reading the sheet back) equals what
`attendance_summary` reads back from the database: for sheets by roster and by count, paid or not, first
saves and corrections that change the mode."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from kotaku.bootstrap import bootstrap
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.models import AttendanceMode, Channel, Worker
from kotaku.security import NikVault
from kotaku.services.attendance import Sheet, attendance_summary, save_attendance
from tests.factories import build_program

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def a_sheet(rng: random.Random, day: date, roster: list[int]) -> Sheet:
    paid = rng.random() < 0.5
    late = rng.choice([None, "hujan deras, lapor terlambat"])
    if rng.random() < 0.5 and roster:
        present = tuple(rng.sample(roster, rng.randint(1, len(roster))))
        return Sheet(
            work_date=day, mode=AttendanceMode.ROSTER, worker_ids=present, wages_paid=paid, late_reason=late
        )
    male, female = rng.randint(0, 40), rng.randint(0, 40)
    rate = rng.choice([None, 75_000, 110_000])
    total = rng.choice([None, (male + female) * 95_000])
    return Sheet(
        work_date=day,
        mode=AttendanceMode.COUNT,
        count_male=male,
        count_female=female,
        rate=rate,
        total_wages=total,
        wages_paid=paid,
        late_reason=late,
    )


async def test_the_returned_summary_is_what_is_read_back(
    db: Database, vault: NikVault, settings: Settings
) -> None:
    program = await build_program(db, vault, TODAY)
    ksm = program["ksm_a"]
    kotaku = bootstrap(settings, db=db, now=lambda: NOW)
    async with db.session() as s:
        roster = list((await s.execute(select(Worker.id).where(Worker.ksm_id == ksm))).scalars())
    assert roster
    rng = random.Random(20261203)
    modes = set()
    for case in range(24):
        day = TODAY - timedelta(days=case)
        for attempt in range(2):  # the first save, then a correction (maybe of the other mode)
            sheet = a_sheet(rng, day, roster)
            modes.add(sheet.mode)
            async with kotaku.uow() as uow:
                result = await save_attendance(
                    uow, ksm_id=ksm, sheet=sheet, entered_by_id=None, channel=Channel.TEST, now=NOW
                )
            assert result.created == (attempt == 0)
            async with db.session() as s:
                stored = await attendance_summary(s, ksm, day)
            assert stored is not None
            assert result.summary == stored, (case, attempt, sheet)
            assert result.revision == stored.revision == attempt + 1
    assert modes == {AttendanceMode.ROSTER, AttendanceMode.COUNT}
