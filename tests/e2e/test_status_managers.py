"""/status for facilitators and managers: KSMs grouped by kecamatan / kabupaten / province, missed-day
streaks, and the 🔔 button that reminds a late KSM's coordinators now (outbox, once a day per KSM).

Thursday 26 November 2026, 16:00 WIB. In the test program (tests/factories.py) works started on
6 November; this module seeds:
- KSM Bejalen Makmur (ksm_a) reported today;
- KSM Bejalen Guyub (ksm_b) last reported on Monday 23 November: Tue, Wed, Thu missed (3);
- KSM Tambakboyo Rukun (ksm_c) reported yesterday: only today missed (1);
- KSM Bawen Sehat, in a second kecamatan (Bawen) of Kabupaten Semarang, reported today;
- KSM Mariso Jaya (Makassar, WITA) last reported on Friday 20 November: Mon-Thu and Saturday missed (5).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from kotaku import catalogue
from kotaku.domain.plan import default_plan_points
from kotaku.models import (
    Activity,
    AttendanceDay,
    AttendanceMode,
    AuditLog,
    Bkm,
    Channel,
    ChannelIdentity,
    Indicator,
    Ksm,
    Obstacle,
    ObstacleCategory,
    OutboxMessage,
    Person,
    PlanPoint,
    ProgressReport,
    Region,
    RegionLevel,
    Role,
    Severity,
)
from kotaku.services.scope import NATIONAL, Scope
from kotaku.services.summary import manager_status
from tests.catalogue_keys import fills, keys_in, says
from tests.e2e.conftest import World

WIB = ZoneInfo("Asia/Jakarta")
THU = date(2026, 11, 26)


async def seed(world: World) -> None:
    p = world.program
    async with world.db.transaction() as s:
        kab = await s.get(Region, p["kab"])
        assert kab is not None
        bawen = Region(
            code="33.22.06",
            name="Bawen",
            level=RegionLevel.KECAMATAN,
            parent_id=kab.id,
            timezone="Asia/Jakarta",
            path=f"{kab.path}/33.22.06",
        )
        s.add(bawen)
        await s.flush()
        kel = Region(
            code="33.22.06.1001",
            name="Harjosari",
            level=RegionLevel.KELURAHAN,
            parent_id=bawen.id,
            timezone="Asia/Jakarta",
            path=f"{bawen.path}/33.22.06.1001",
        )
        s.add(kel)
        await s.flush()
        bkm = Bkm(code="BKM-HJS", name="BKM Harjosari", kelurahan_id=kel.id)
        s.add(bkm)
        await s.flush()
        ksm = Ksm(code="KSM-HJS-01", name="KSM Bawen Sehat", bkm_id=bkm.id, keeps_roster=False)
        s.add(ksm)
        await s.flush()
        road = await s.get(Activity, p["road"])
        assert road is not None
        act = Activity(
            code="ACT-HJS-01",
            ksm_id=ksm.id,
            name="Jalan setapak",
            indicator=Indicator.JALAN_LINGKUNGAN,
            unit="m",
            target_volume=100.0,
            budget=100_000_000,
            wage_budget=60_000_000,
            start_date=road.start_date,
            end_date=road.end_date,
        )
        s.add(act)
        await s.flush()
        s.add_all(
            PlanPoint(activity_id=act.id, plan_date=d, planned_percent=v)
            for d, v in default_plan_points(road.start_date, road.end_date)
        )
        s.add_all(
            [
                ProgressReport(activity_id=p["road"], report_date=THU, percent=30.0),
                ProgressReport(activity_id=act.id, report_date=THU, percent=20.0),
                AttendanceDay(
                    ksm_id=p["ksm_b"],
                    work_date=date(2026, 11, 23),
                    mode=AttendanceMode.COUNT,
                    count_male=4,
                    count_female=2,
                    hok=6.0,
                    total_wages=510_000,
                ),
                Obstacle(
                    short_id="K-0001",
                    ksm_id=p["ksm_c"],
                    report_date=THU - timedelta(days=1),
                    category=ObstacleCategory.CUACA,
                    severity=Severity.RENDAH,
                    description="Hujan",
                ),
                ProgressReport(activity_id=p["cart"], report_date=date(2026, 11, 20), percent=12.0),
            ]
        )


async def outbox(world: World) -> list[OutboxMessage]:
    async with world.db.session() as s:
        stmt = select(OutboxMessage).where(OutboxMessage.dedup_key.startswith("manual_reminder:"))
        return list((await s.execute(stmt.order_by(OutboxMessage.id))).scalars())


async def person_id(world: World, code: str) -> int:
    async with world.db.session() as s:
        return (await s.execute(select(Person.id).where(Person.code == code))).scalar_one()


def group_titles(text: str) -> list[dict[str, str]]:
    return fills(text, "status.group_title")


# --- grouping ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "groups"),
    [
        # Askot (kabupaten): one group per kecamatan.
        ("askot", [("Kecamatan Ambarawa", "1", "3"), ("Kecamatan Bawen", "1", "1")]),
        # Province: one group per kabupaten/kota.
        ("prov", [("Kabupaten Semarang", "2", "4")]),
        # National: one group per province (Mariso sits straight under Kota Makassar).
        ("admin", [("Provinsi Jawa Tengah", "2", "4"), ("Provinsi Sulawesi Selatan", "0", "1")]),
    ],
)
async def test_managers_see_their_ksms_grouped_by_the_level_below_their_scope(
    world: World, code: str, groups: list[tuple[str, str, str]]
) -> None:
    await seed(world)
    ch = world.channel(code)
    await ch.text("/status")
    text = ch.last_text()
    assert [(g["group"], g["done"], g["total"]) for g in group_titles(text)] == groups
    done = sum(int(g[1]) for g in groups)
    total = sum(int(g[2]) for g in groups)
    assert says(text, "status.count", done=done, total=total)
    # Each KSM is listed under its own group's heading.
    headings = [text.index(catalogue.t("status.group_title", group=g, done=d, total=t)) for g, d, t in groups]
    assert headings == sorted(headings)
    if code == "askot":
        assert headings[0] < text.index("KSM Bejalen Guyub") < headings[1] < text.index("KSM Bawen Sehat")


async def test_a_kecamatan_is_one_group_without_heading(world: World) -> None:
    await seed(world)
    ch = world.channel("fasil")
    await ch.text("/status")
    text = ch.last_text()
    assert group_titles(text) == []
    assert says(text, "status.count", done=1, total=3)
    assert says(text, "status.missing_title", n=2) and says(text, "status.done_title", n=1)


# --- streaks ----------------------------------------------------------------------------------------


async def test_missed_day_streaks_longest_first(world: World) -> None:
    await seed(world)
    ch = world.channel("admin")
    await ch.text("/status")
    text = ch.last_text()
    lines = {x.split(" — ")[0].removeprefix("• "): x for x in text.splitlines() if x.startswith("• ")}
    with_streak = {name for name, line in lines.items() if "status.streak" in keys_in(line)}
    assert with_streak == {"KSM Bejalen Guyub", "KSM Mariso Jaya"}
    assert says(lines["KSM Bejalen Guyub"], "status.streak", n=3, since="24 Nov")
    assert "status.streak_today" in keys_in(lines["KSM Tambakboyo Rukun"])  # a streak of one: today
    assert says(lines["KSM Mariso Jaya"], "status.streak", n=5, since="21 Nov")
    assert text.index("KSM Bejalen Guyub") < text.index("KSM Tambakboyo Rukun")  # 3 before 1
    # The KSMs that reported have no streak, and the service says the same.
    async with world.db.session() as s:
        ms = await manager_status(s, world.db.settings, NATIONAL, world.clock())
    by_code = {k.code: ms.missed[k.ksm_id] for k in ms.rows}
    assert {c: (m.days, m.since) for c, m in by_code.items()} == {
        "KSM-BJL-01": (0, None),
        "KSM-HJS-01": (0, None),
        "KSM-BJL-02": (3, date(2026, 11, 24)),
        "KSM-TMB-01": (1, THU),
        "KSM-MRS-01": (5, date(2026, 11, 21)),
    }
    assert [k.code for k in ms.late()] == ["KSM-MRS-01", "KSM-BJL-02", "KSM-TMB-01"]


async def test_a_streak_grows_with_each_missed_work_day_and_skips_sunday(world: World) -> None:
    await seed(world)
    scope = Scope(region_id=world.program["kab"])
    seen = []
    for day in (27, 28, 30):  # Friday, Saturday, Monday (Sunday the 29th is no work day)
        world.clock.current = datetime(2026, 11, day, 9, 0, tzinfo=UTC)
        async with world.db.session() as s:
            ms = await manager_status(s, world.db.settings, scope, world.clock())
        seen.append({k.code: ms.missed[k.ksm_id].days for k in ms.rows}["KSM-BJL-02"])
    assert seen == [4, 5, 6]


async def test_a_ksm_without_running_works_is_not_late(world: World) -> None:
    await seed(world)
    async with world.db.transaction() as s:
        await s.execute(
            update(Activity)
            .where(Activity.id == world.program["well"])
            .values(end_date=THU - timedelta(days=1))
        )
    ch = world.channel("fasil")
    await ch.text("/status")
    text = ch.last_text()
    line = next(x for x in text.splitlines() if "KSM Tambakboyo Rukun" in x)
    assert "status.not_running" in keys_in(line) and "status.streak" not in keys_in(line)
    assert [c.value for c in ch.last_choices()] == ["/rekap", "/status ingatkan KSM-BJL-02"]


# --- the remind button ------------------------------------------------------------------------------


async def test_remind_button_sends_one_outbox_message_and_a_second_tap_is_refused(world: World) -> None:
    await seed(world)
    askot = world.channel("askot")
    await askot.text("/status")
    values = [c.value for c in askot.last_choices()]
    assert values == ["/rekap", "/status ingatkan KSM-BJL-02", "/status ingatkan KSM-TMB-01"]
    assert "status.remind_hint" in keys_in(askot.last_text())

    await askot.tap(catalogue.t("status.remind_button", ksm="KSM Bejalen Guyub"))
    assert says(askot.last_text(), "status.remind_sent", ksm="KSM Bejalen Guyub", names="Bu Ratna")
    sent = await outbox(world)
    assert len(sent) == 1
    msg = sent[0]
    assert msg.person_id == world.program["ketua-b"] and msg.kind == "reminder"
    assert msg.dedup_key.startswith(f"manual_reminder:ksm{world.program['ksm_b']}:2026-11-26:")
    assert says(
        msg.payload["text"],
        "status.remind_notice",
        name="Pak Hendra",
        role=catalogue.t("role.askot"),
        ksm="KSM Bejalen Guyub",
        date="26 November 2026",
    )
    assert [c["value"] for c in msg.payload["choices"]] == ["/progres", "/hadir"]

    # The same button again, and another manager's: refused, naming who sent it and when (local time).
    await askot.text("/status")
    await askot.tap(catalogue.t("status.remind_button", ksm="KSM Bejalen Guyub"))
    assert says(askot.last_text(), "status.remind_already", ksm="KSM Bejalen Guyub", name="Pak Hendra")
    korkot = world.channel("korkot")
    await korkot.text("/status ingatkan KSM-BJL-02")
    assert says(
        korkot.last_text(),
        "status.remind_already",
        ksm="KSM Bejalen Guyub",
        name="Pak Hendra",
        time="16.00 WIB",
    )
    assert len(await outbox(world)) == 1
    async with world.db.session() as s:
        audits = (
            await s.execute(select(func.count()).where(AuditLog.action == "manual_reminder"))
        ).scalar_one()
    assert audits == 1

    # The view says who reminded it; the next day the KSM can be reminded again.
    await korkot.text("/status")
    line = next(x for x in korkot.last_text().splitlines() if "KSM Bejalen Guyub" in x)
    assert says(line, "status.reminded", time="16.00 WIB", name="Pak Hendra")
    world.clock.advance(days=1)
    await korkot.text("/status ingatkan KSM-BJL-02")
    assert says(korkot.last_text(), "status.remind_sent", names="Bu Ratna")
    assert [m.dedup_key.split(":")[2] for m in await outbox(world)] == ["2026-11-26", "2026-11-27"]


async def test_every_reachable_coordinator_gets_the_reminder(world: World) -> None:
    await seed(world)
    async with world.db.transaction() as s:
        second = Person(
            code="ketua-b2",
            name="Pak Yusuf",
            role=Role.KETUA_KSM,
            language="en",
            scope_ksm_id=world.program["ksm_b"],
        )
        s.add(second)
        await s.flush()
        s.add(
            ChannelIdentity(
                person_id=second.id, channel=Channel.TEST, external_id="ketua-b2", chat_id="ketua-b2"
            )
        )
    ch = world.channel("fasil")
    await ch.text("/status ingatkan KSM-BJL-02")
    assert says(ch.last_text(), "status.remind_sent", names="Bu Ratna, Pak Yusuf")
    sent = await outbox(world)
    assert sorted(m.person_id for m in sent) == sorted(
        [world.program["ketua-b"], await person_id(world, "ketua-b2")]
    )
    english = next(m for m in sent if m.recipient == "ketua-b2")
    assert says(english.payload["text"], "status.remind_notice", "en", name="Mbak Wulan")


@pytest.mark.parametrize(
    ("user", "command", "key"),
    [
        ("askot", "/status ingatkan KSM-BJL-01", "status.remind_reported"),  # reported today
        ("fasil-m", "/status ingatkan KSM-BJL-02", "status.outside_scope"),
        ("askot", "/status ingatkan KSM-MRS-01", "status.outside_scope"),
        ("bkm-b", "/status ingatkan KSM-BJL-02", "status.remind_not_allowed"),
        ("askot", "/status ingatkan XYZ-9", "status.unknown_scope"),
        ("askot", "/status ingatkan 33.22.05", "status.remind_usage"),
        ("askot", "/status ingatkan", "status.remind_usage"),
    ],
)
async def test_what_cannot_be_reminded_sends_nothing(world: World, user: str, command: str, key: str) -> None:
    await seed(world)
    ch = world.channel(user)
    await ch.text(command)
    assert key in keys_in(ch.last_text())
    assert await outbox(world) == []


async def test_a_ksm_without_coordinator_is_not_counted_as_reminded(world: World) -> None:
    await seed(world)
    async with world.db.transaction() as s:
        await s.execute(update(Person).where(Person.code == "ketua-c").values(active=False))
    ch = world.channel("fasil")
    await ch.text("/status ingatkan KSM-TMB-01")
    assert says(ch.last_text(), "status.remind_no_coordinator", ksm="KSM Tambakboyo Rukun")
    assert await outbox(world) == []


# --- the KSM-level view stays ------------------------------------------------------------------------


@pytest.mark.parametrize(("user", "command"), [("bkm-b", "/status"), ("fasil", "/status KSM-BJL-02")])
async def test_ksm_and_bkm_views_keep_the_plain_list(world: World, user: str, command: str) -> None:
    await seed(world)
    ch = world.channel(user)
    await ch.text(command)
    text = ch.last_text()
    assert "status.title" in keys_in(text) and group_titles(text) == []
    assert "status.streak" not in keys_in(text) and "status.remind_hint" not in keys_in(text)
    assert [c.value for c in ch.last_choices()] == [command.replace("/status", "/rekap")]
