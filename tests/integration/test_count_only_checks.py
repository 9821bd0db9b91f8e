"""Issue 11: KSMs that count attendance without a roster are judged by monitoring too. A day's count far
above the KSM's usual crew or its activities' planned crew is a `crew_spike` finding (the `/hadir 500`
case); a count day's wage per person outside every skill's range is a `wage_range` finding. Through the
SQL of a sweep, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from kotaku import catalogue
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.models import AttendanceDay, AttendanceMode
from kotaku.monitoring.evaluate import evaluate, evaluate_and_apply
from kotaku.monitoring.lifecycle import alert_text, list_alerts
from kotaku.security import NikVault
from kotaku.services.scope import NATIONAL
from tests.catalogue_keys import says
from tests.factories import Program, build_program

TODAY = date(2026, 11, 26)  # Thursday
MORNING = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


@pytest.fixture
async def program(db: Database, vault: NikVault) -> Program:
    return await build_program(db, vault, TODAY)


async def count_day(db: Database, ksm_id: int, day: date, n: int, per_person: int = 85_000) -> None:
    async with db.transaction() as s:
        s.add(
            AttendanceDay(
                ksm_id=ksm_id,
                work_date=day,
                mode=AttendanceMode.COUNT,
                count_male=n - n // 3,
                count_female=n // 3,
                hok=float(n),
                total_wages=n * per_person,
                entered_at=MORNING - timedelta(days=(TODAY - day).days),
            )
        )


def of(findings: list, kind: str) -> dict[int, object]:
    return {f.subject_id: f for f in findings if f.kind == kind}


async def test_a_count_far_above_the_usual_crew(db: Database, settings: Settings, program: Program) -> None:
    ksm = program["ksm_b"]  # KSM Bejalen Guyub: no roster
    usual = [12, 14, 13, 15, 14, 16, 12, 13, 15, 14]
    for back, n in enumerate(usual, start=2):
        await count_day(db, ksm, TODAY - timedelta(days=back), n)
    await count_day(db, ksm, TODAY - timedelta(days=1), 15)
    async with db.session() as s:
        assert ksm not in of(await evaluate(s, settings, MORNING), "crew_spike")  # an ordinary day

    await count_day(db, ksm, TODAY, 500)
    async with db.session() as s:
        found = await evaluate(s, settings, MORNING)
    spike = of(found, "crew_spike")
    assert set(spike) == {ksm}
    figures = spike[ksm].figures
    assert figures["date"] == TODAY.isoformat() and figures["present"] == 500
    assert (figures["usual_low"], figures["usual_high"]) == (
        12,
        15,
    )  # of 11 days, the top and bottom one dropped
    assert figures["days"] == 11  # the days before it within crew_history_days (14)
    assert figures["planned"] > 0  # 500 is also far above its MCK's planned crew

    await evaluate_and_apply(db, settings, MORNING)
    async with db.session() as s:
        page = await list_alerts(s, NATIONAL)
    [alert] = [a for a in page.alerts if a.kind == "crew_spike"]
    assert says(alert_text(alert, "id"), "alert.crew_spike", "id", ksm="KSM Bejalen Guyub", present=500)
    assert catalogue.t("alert.kind.crew_spike", "en") == "crew spike"


async def test_far_above_the_planned_crew_with_little_history(
    db: Database, settings: Settings, program: Program
) -> None:
    ksm = program["ksm_m"]  # KSM Mariso Jaya (WITA): no roster, one activity
    await count_day(db, ksm, TODAY, 80)  # its only day: no usual crew yet
    async with db.session() as s:
        found = await evaluate(s, settings, MORNING)
    spike = of(found, "crew_spike")
    assert set(spike) == {ksm}
    planned = spike[ksm].figures["planned"]
    # Rp90,000,000 of wages over the activity's work days at Rp85,000 a day: about 20 people.
    assert 15 < planned < 25 and "usual_low" not in spike[ksm].figures
    assert settings.monitoring.crew_plan_ratio * planned < 80


async def test_thresholds_from_configuration(db: Database, settings: Settings, program: Program) -> None:
    ksm = program["ksm_m"]
    await count_day(db, ksm, TODAY, 80)
    lenient = settings.model_copy(
        update={"monitoring": settings.monitoring.model_copy(update={"crew_plan_ratio": 5.0})}
    )
    async with db.session() as s:
        assert ksm not in of(await evaluate(s, lenient, MORNING), "crew_spike")


async def test_the_wage_per_person_of_count_days(db: Database, settings: Settings, program: Program) -> None:
    ksm = program["ksm_b"]
    await count_day(db, ksm, TODAY - timedelta(days=1), 14, per_person=90_000)
    async with db.session() as s:
        assert ksm not in of(await evaluate(s, settings, MORNING), "wage_range")
    await count_day(db, ksm, TODAY, 15, per_person=20_000)  # Rp300,000 for 15 people
    async with db.session() as s:
        wage = of(await evaluate(s, settings, MORNING), "wage_range")
    assert set(wage) == {ksm}
    assert wage[ksm].message_key == "alert.wage_range.count"
    counted = wage[ksm].figures["skills"]["_count"]
    assert counted == {"min": 20_000, "max": 90_000, "records": 2, "low": 50_000, "high": 200_000}
