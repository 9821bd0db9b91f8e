"""/rekap, deepened: worker-days by PHK status (roster sheets), wages recorded and the estimated value of the
work done against the budget, kritis list."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from kotaku import catalogue
from kotaku.models import AttendanceDay, AttendanceMode, AttendanceRecord, ProgressReport, Worker
from kotaku.services.scope import Scope
from kotaku.services.summary import scope_summary
from tests.catalogue_keys import says
from tests.e2e.conftest import World

WIB = ZoneInfo("Asia/Jakarta")


async def seed(world: World) -> None:
    p = world.program
    today = world.clock().astimezone(WIB).date()
    async with world.db.transaction() as s:
        workers = {
            w.name: w for w in (await s.execute(select(Worker).where(Worker.ksm_id == p["ksm_a"]))).scalars()
        }
        # is_phk in the factory: every third worker (Budi, Slamet) lost their job.
        for day, names in [
            (today, ["Budi Santoso", "Sari Wulandari", "Slamet Riyadi"]),
            (today - timedelta(days=1), ["Budi Santoso", "Joko Susilo"]),
        ]:
            sheet = AttendanceDay(ksm_id=p["ksm_a"], work_date=day, mode=AttendanceMode.ROSTER)
            for name in names:
                w = workers[name]
                sheet.records.append(
                    AttendanceRecord(
                        worker_id=w.id, ksm_id=p["ksm_a"], work_date=day, nik_hash=w.nik_hash, wage=100_000
                    )
                )
            s.add(sheet)
        s.add(ProgressReport(activity_id=p["road"], report_date=today, percent=1.0))


async def test_phk_split_wages_recorded_and_work_value(world: World) -> None:
    await seed(world)
    async with world.db.session() as s:
        summary = await scope_summary(
            s, world.engine.settings, Scope(ksm_id=world.program["ksm_a"]), world.clock()
        )
    assert (summary.phk_to_date.phk, summary.phk_to_date.not_phk) == (3, 2)
    assert (summary.phk_today.phk, summary.phk_today.not_phk) == (2, 1)
    assert summary.wages_recorded == 500_000
    assert summary.budget == 300_000_000  # two activities of Rp150.000.000
    # Budget × actual %: the road (Rp150.000.000) at 1%, the drain not reported.
    assert summary.work_value == 1_500_000
    assert summary.wage_share == 500_000 / 1_500_000
    # Most behind first: the drain has no report at all, the road reported 1%.
    assert [a.code for a in summary.critical] == ["ACT-BJL-02", "ACT-BJL-01"]

    ch = world.channel("ketua-a")
    await ch.text("/rekap")
    text = ch.last_text()
    parts = " · ".join([catalogue.t("rekap.phk.phk", n=3), catalogue.t("rekap.phk.other", n=2)])
    assert says(text, "rekap.phk", parts=parts)
    today = " · ".join([catalogue.t("rekap.phk.phk", n=2), catalogue.t("rekap.phk.other", n=1)])
    assert says(text, "rekap.phk_today", parts=today)
    assert says(text, "rekap.wages", wages="Rp500.000")
    assert says(text, "rekap.work_value", value="Rp1.500.000", budget="Rp300.000.000", share="0,5%")
    assert says(text, "rekap.wage_share", share="33,33%")
    assert says(text, "rekap.critical_title", n=2)
