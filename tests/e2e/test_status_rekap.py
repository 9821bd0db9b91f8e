"""/status and /rekap: who reported today, progress against plan, workers, HOK, wages, scope limits, time zones.

Reports are inserted with the ORM (the reporting flows are separate modules), then read through the chat
and through the service the reminders and the CLI reuse.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from kotaku import catalogue
from kotaku.domain.plan import Status
from kotaku.models import (
    AttendanceDay,
    AttendanceMode,
    AttendanceRecord,
    ConversationState,
    Obstacle,
    ObstacleCategory,
    ObstacleStatus,
    Person,
    ProgressReport,
    Severity,
    Worker,
)
from kotaku.services.scope import NATIONAL, Scope, scope_of
from kotaku.services.summary import reporting_status, scope_summary
from tests.catalogue_keys import fills, keys_in, says
from tests.e2e.conftest import World

WIB = ZoneInfo("Asia/Jakarta")


def today(world: World) -> date:
    return world.clock().astimezone(WIB).date()


async def seed(world: World) -> None:
    """ksm_a reported today (1 of 2 activities, 3 workers, an obstacle); ksm_b only yesterday; ksm_c never."""
    p = world.program
    d0 = today(world)
    d1 = d0 - timedelta(days=1)
    async with world.db.transaction() as s:
        workers = {
            w.name: w for w in (await s.execute(select(Worker).where(Worker.ksm_id == p["ksm_a"]))).scalars()
        }
        s.add_all(
            [
                ProgressReport(
                    activity_id=p["road"], report_date=d1, percent=25.0, entered_by_id=p["ketua-a"]
                ),
                ProgressReport(
                    activity_id=p["road"], report_date=d0, percent=30.0, entered_by_id=p["ketua-a"]
                ),
                ProgressReport(
                    activity_id=p["drain"], report_date=d1, percent=10.0, entered_by_id=p["ketua-a"]
                ),
                ProgressReport(
                    activity_id=p["mck"], report_date=d1, percent=25.0, entered_by_id=p["ketua-b"]
                ),
                # Mariso (WITA) is outside Kabupaten Semarang: must never count there.
                ProgressReport(
                    activity_id=p["cart"], report_date=d0, percent=50.0, entered_by_id=p["ketua-m"]
                ),
            ]
        )
        for day, names in [
            (d0, ["Budi Santoso", "Sari Wulandari", "Joko Susilo"]),
            (d1, ["Budi Santoso", "Sari Wulandari"]),
        ]:
            sheet = AttendanceDay(ksm_id=p["ksm_a"], work_date=day, mode=AttendanceMode.ROSTER)
            for name in names:
                w = workers[name]
                sheet.records.append(
                    AttendanceRecord(
                        worker_id=w.id,
                        ksm_id=p["ksm_a"],
                        work_date=day,
                        nik_hash=w.nik_hash,
                        hok=1.0,
                        wage=w.daily_rate,
                    )
                )
            s.add(sheet)
        s.add(
            AttendanceDay(
                ksm_id=p["ksm_b"],
                work_date=d1,
                mode=AttendanceMode.COUNT,
                count_male=4,
                count_female=2,
                hok=6.0,
                total_wages=510_000,
                wages_paid=True,
            )
        )
        s.add_all(
            [
                Obstacle(
                    short_id="K-0001",
                    ksm_id=p["ksm_a"],
                    report_date=d0,
                    category=ObstacleCategory.MATERIAL,
                    severity=Severity.SEDANG,
                    description="Semen terlambat datang",
                    reported_by_id=p["ketua-a"],
                ),
                Obstacle(
                    short_id="K-0002",
                    ksm_id=p["ksm_c"],
                    report_date=d0 - timedelta(days=3),
                    category=ObstacleCategory.CUACA,
                    severity=Severity.RENDAH,
                    description="Hujan deras",
                    status=ObstacleStatus.CLOSED,
                ),
                Obstacle(
                    short_id="K-0003",
                    ksm_id=p["ksm_m"],
                    report_date=d1,
                    category=ObstacleCategory.DANA,
                    severity=Severity.TINGGI,
                    description="Dana belum cair",
                ),
            ]
        )


async def person(world: World, code: str) -> Person:
    async with world.db.session() as s:
        found = (await s.execute(select(Person).where(Person.code == code))).scalar_one()
    return found


async def conversation(world: World, user: str) -> ConversationState | None:
    async with world.db.session() as s:
        return (
            await s.execute(select(ConversationState).where(ConversationState.user_id == user))
        ).scalar_one_or_none()


# --- the service ----------------------------------------------------------------------------------


async def test_service_figures_for_kabupaten(world: World) -> None:
    await seed(world)
    askot = await person(world, "askot")
    async with world.db.session() as s:
        rows = await reporting_status(s, scope_of(askot), world.clock())
        summary = await scope_summary(s, world.db.settings, scope_of(askot), world.clock())
    assert [r.code for r in rows] == ["KSM-BJL-02", "KSM-TMB-01", "KSM-BJL-01"]  # not reported first
    a = rows[-1]
    assert (a.reported, a.progress_reported, a.activities, a.workers, a.obstacles) == (True, 1, 2, 3, 1)
    assert not rows[0].reported and not rows[0].attendance_reported

    assert (summary.ksm_total, summary.ksm_active, summary.ksm_reported) == (3, 3, 1)
    by_code = {x.code: x for x in summary.activities}
    assert set(by_code) == {"ACT-BJL-01", "ACT-BJL-02", "ACT-BJL-03", "ACT-TMB-01"}
    assert by_code["ACT-BJL-01"].actual == 30.0 and by_code["ACT-BJL-01"].status == Status.AHEAD
    assert by_code["ACT-BJL-02"].actual == 10.0 and by_code["ACT-BJL-02"].status == Status.CRITICAL
    assert by_code["ACT-BJL-02"].last_report == today(world) - timedelta(days=1)
    assert 20 < by_code["ACT-BJL-02"].planned < 30
    assert by_code["ACT-TMB-01"].actual is None
    assert {x.code for x in summary.critical} == {"ACT-BJL-02", "ACT-TMB-01"}
    assert (summary.today_work.male, summary.today_work.female, summary.today_work.hok) == (2, 1, 3.0)
    assert (summary.to_date_work.male, summary.to_date_work.female) == (7, 4)
    assert summary.to_date_work.hok == 11.0
    assert summary.distinct_workers == 3
    assert summary.wages_recorded == 120_000 + 85_000 + 85_000 + 120_000 + 85_000 + 510_000
    assert summary.wages_paid == 510_000
    assert summary.wage_budget == 4 * 90_000_000
    assert summary.open_obstacles == 1  # the closed one and Mariso's are not counted


async def test_summary_query_count_does_not_grow_with_scope(world: World) -> None:
    """Set-based: the national summary issues as many statements as one KSM's."""
    await seed(world)
    counts = []
    for scope in (Scope(ksm_id=world.program["ksm_a"]), NATIONAL):
        statements: list[str] = []

        def on_execute(*args: object, _sink: list[str] = statements) -> None:
            _sink.append(str(args[2]))

        event.listen(world.db.engine.sync_engine, "before_cursor_execute", on_execute)
        try:
            async with world.db.session() as s:
                summary = await scope_summary(s, world.db.settings, scope, world.clock())
        finally:
            event.remove(world.db.engine.sync_engine, "before_cursor_execute", on_execute)
        counts.append(len([q for q in statements if q.lstrip().upper().startswith("SELECT")]))
        assert summary.ksm_total == (1 if scope.ksm_id else 4)
    assert counts[0] == counts[1] <= 15


# --- /status --------------------------------------------------------------------------------------


async def test_status_for_askot_lists_missing_first_with_counts(world: World) -> None:
    await seed(world)
    ch = world.channel("askot")
    await ch.text("/status")
    text = ch.last_text()
    assert "Kabupaten Semarang" in text
    assert "Kamis, 26 November 2026" in text
    assert says(text, "status.count", done=1, total=3)
    # Askot sees the kabupaten by kecamatan; the longest missed-day streak first (tests/e2e/test_status_managers.py).
    assert says(text, "status.group_title", group="Kecamatan Ambarawa", done=1, total=3)
    missing = text.index(catalogue.t("status.missing_title", n=2))
    done = text.index(catalogue.t("status.done_title", n=1))
    assert missing < text.index("KSM Tambakboyo Rukun") < text.index("KSM Bejalen Guyub") < done
    assert text.index("KSM Bejalen Makmur") > done
    details = [
        catalogue.t("status.progress_yes", done=1, total=2),
        catalogue.t("status.attendance_yes", n=3),
        catalogue.t("status.obstacles", n=1),
    ]
    assert " · ".join(details) in text
    assert "Mariso" not in text
    assert [c.value for c in ch.last_choices()] == [
        "/rekap",
        "/status ingatkan KSM-TMB-01",
        "/status ingatkan KSM-BJL-02",
    ]
    conv = await conversation(world, "askot")
    assert conv is not None and conv.flow is None  # one-shot: no draft left behind


async def test_status_refused_for_ketua_with_reason(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/status")
    assert says(ch.last_text(), "engine.not_allowed", role=catalogue.t("role.ketua_ksm"))


async def test_status_for_one_kelurahan_and_scope_limits(world: World) -> None:
    await seed(world)
    ch = world.channel("fasil")
    await ch.text("/status 33.22.05.1001")
    text = ch.last_text()
    assert "Kelurahan Bejalen" in text and says(text, "status.count", done=1, total=2)
    assert "Tambakboyo" not in text
    assert ch.last_choices()[0].value == "/rekap 33.22.05.1001"
    await ch.text("/status KSM-MRS-01")
    assert "status.outside_scope" in keys_in(ch.all_text())
    conv = await conversation(world, "fasil")
    assert conv is not None and (conv.flow, conv.state) == ("status", "tanya_cakupan")


async def test_status_fasil_m_sees_only_mariso_on_wita_date(world: World) -> None:
    """23:30 WIB is 00:30 WITA the next day: Mariso's "today" has already turned."""
    p = world.program
    world.clock.current = datetime(2026, 11, 26, 16, 30, tzinfo=UTC)
    wita_today = date(2026, 11, 27)
    async with world.db.transaction() as s:
        s.add(
            AttendanceDay(
                ksm_id=p["ksm_m"], work_date=date(2026, 11, 26), mode=AttendanceMode.COUNT, count_male=3
            )
        )
        s.add(ProgressReport(activity_id=p["road"], report_date=date(2026, 11, 26), percent=30.0))
    ch = world.channel("fasil-m")
    await ch.text("/status")
    text = ch.last_text()
    assert "Jumat, 27 November 2026" in text
    assert says(text, "status.count", done=0, total=1)
    assert "KSM Mariso Jaya" in text and "Bejalen" not in text

    async with world.db.transaction() as s:
        s.add(ProgressReport(activity_id=p["cart"], report_date=wita_today, percent=40.0))
    await ch.text("/status")
    assert says(ch.last_text(), "status.count", done=1, total=1)
    details = [catalogue.t("status.progress_yes", done=1, total=1), catalogue.t("status.attendance_no")]
    assert " · ".join(details) in ch.last_text()

    admin = world.channel("admin")
    await admin.text("/status")
    text = admin.last_text()
    assert "Kamis, 26 November 2026" in text  # most sites are still on Thursday
    assert says(text, "status.count", done=2, total=4)  # ksm_a (WIB, 26th) and ksm_m (WITA, 27th)
    assert "KSM Mariso Jaya (27 Nov)" in text
    async with world.db.session() as s:
        rows = await reporting_status(s, NATIONAL, world.clock())
    assert {r.code: r.today for r in rows}["KSM-MRS-01"] == wita_today
    assert {r.code: r.today for r in rows}["KSM-BJL-01"] == date(2026, 11, 26)


# --- /rekap ---------------------------------------------------------------------------------------


async def test_rekap_for_askot(world: World) -> None:
    await seed(world)
    ch = world.channel("askot")
    await ch.text("/rekap")
    text = ch.last_text()
    assert text.startswith(catalogue.t("rekap.title", scope="Kabupaten Semarang"))
    assert says(text, "rekap.sites", total=3, active=3, reported=1)
    assert says(text, "rekap.activities", n=4)
    assert "• Rabat beton jalan lingkungan (KSM Bejalen Makmur)" in text
    assert says(text, "rekap.activity_line", actual="30%", status=catalogue.t("rekap.status.lebih_cepat"))
    crit = text.index(catalogue.t("rekap.critical_title", n=2))
    assert text.index("• Saluran drainase lingkungan (KSM Bejalen Makmur)", crit) > crit
    assert says(text[crit:], "rekap.critical_line", actual="10%")
    # Tambakboyo never reported
    assert says(text[crit:], "rekap.critical_line", actual=catalogue.t("rekap.no_report"))
    # Whole days: HOK and worker-days are one figure, said once.
    assert says(text, "rekap.today_work", workers=3, genders=" (L 2, P 1)")
    assert says(text, "rekap.to_date_work", hok=11, genders=" (L 7, P 4)")
    assert "rekap.to_date_work_days" not in keys_in(text)
    assert says(text, "rekap.wages", wages="Rp1.005.000", budget="Rp360.000.000")
    assert says(text, "rekap.wages_paid", paid="Rp510.000")
    assert says(text, "rekap.obstacles", n=1)
    assert "Mariso" not in text and "Gerobak" not in text
    assert ch.last_choices()[0].value == "/status"
    # Reading changes nothing.
    async with world.db.session() as s:
        assert (await s.execute(select(func.count(ProgressReport.id)))).scalar_one() == 5


async def test_rekap_in_english_and_alias(world: World) -> None:
    await seed(world)
    ch = world.channel("askot")
    await ch.text("/bahasa en")
    await ch.text("/summary")
    text = ch.last_text()
    assert text.startswith(catalogue.t("rekap.title", "en", scope="Kabupaten Semarang"))
    assert "Thursday, November 26, 2026" in text
    assert says(text, "rekap.critical_title", "en", n=2)
    assert says(text, "rekap.activity_line", "en", status=catalogue.t("rekap.status.lebih_cepat", "en"))
    # genders keep the L/P of the attendance sheets
    assert says(text, "rekap.today_work", "en", workers=3, genders=" (L 2, P 1)")
    assert says(text, "rekap.wages", "en", wages="Rp1.005.000", budget="Rp360.000.000")
    assert says(text, "rekap.obstacles", "en", n=1)
    await ch.text("/status")
    assert says(ch.last_text(), "status.count", "en", done=1, total=3)
    await ch.text("/rekap KSM-MRS-01")
    assert says(ch.all_text(), "rekap.outside_scope", "en", scope="KSM Mariso Jaya")
    assert "rekap.ask_scope" in keys_in(ch.last_text(), "en")


async def test_rekap_ketua_sees_only_own_ksm(world: World) -> None:
    await seed(world)
    ch = world.channel("ketua-a")
    await ch.text("/rekap")
    text = ch.last_text()
    assert text.startswith(catalogue.t("rekap.title", scope="KSM Bejalen Makmur"))
    assert says(text, "rekap.sites", total=1, active=1, reported=1)
    assert "• Rabat beton jalan lingkungan\n" in text  # one KSM: no KSM name repeated
    assert "Guyub" not in text and "Tambakboyo" not in text and "MCK" not in text
    assert "Rp495.000" in text  # only ksm_a's wages
    # not for a role without /status
    assert not any(c.value == "/status" for o in ch.outbox for c in o.choices)


async def test_rekap_outside_scope_then_bad_input_then_resume_after_restart(world: World) -> None:
    await seed(world)
    ch = world.channel("ketua-a")
    await ch.text("/rekap KSM-TMB-01")
    assert says(ch.all_text(), "rekap.outside_scope", scope="KSM Tambakboyo Rukun")
    await ch.photo(b"\xff\xd8not really a jpeg")
    assert says(ch.all_text(), "rekap.not_text", kind=catalogue.t("input.kind.photo"))
    await ch.text("XYZ-999")
    assert says(ch.all_text(), "rekap.unknown_scope", code="XYZ-999")
    conv = await conversation(world, "ketua-a")
    assert conv is not None and (conv.flow, conv.state) == ("rekap", "tanya_cakupan")
    world.restart()
    ch = world.channel("ketua-a")
    await ch.text("KSM-BJL-01")
    assert ch.last_text().startswith(catalogue.t("rekap.title", scope="KSM Bejalen Makmur"))
    conv = await conversation(world, "ketua-a")
    assert conv is not None and conv.flow is None


@pytest.mark.parametrize(
    ("code", "args", "seen", "unseen"),
    [
        ("askot", "73.71", None, None),
        ("fasil-m", "", "Kelurahan Mariso", "Bejalen"),
        ("prov", "KSM-BJL-02", "KSM Bejalen Guyub", "Makmur"),
        ("bkm-b", "", "BKM Bejalen Sejahtera", "Tambakboyo"),
        ("admin", "73", "Provinsi Sulawesi Selatan", "Bejalen"),
    ],
)
async def test_rekap_scope_limits(
    world: World, code: str, args: str, seen: str | None, unseen: str | None
) -> None:
    await seed(world)
    ch = world.channel(code)
    await ch.text(f"/rekap {args}".strip())
    text = ch.all_text()
    if seen is None:
        assert says(text, "rekap.outside_scope", scope="Kota Makassar") and fills(text, "rekap.title") == []
        return
    assert says(ch.last_text(), "rekap.title", scope=seen)
    assert unseen not in ch.last_text()
