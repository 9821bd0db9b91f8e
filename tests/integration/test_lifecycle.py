"""Alert lifecycle: findings applied again never duplicate, clearing resolves (with when), acknowledge and
manual resolve with refusals, escalation across WIB/WITA/WIT on a fixed clock, outbox delivery to the right
people once per key, quiet hours and the daily digest."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from kotaku import catalogue
from kotaku.config import MonitoringConfig, Settings
from kotaku.db import Database
from kotaku.models import (
    Activity,
    Alert,
    AlertSeverity,
    AlertStatus,
    Bkm,
    Channel,
    ChannelIdentity,
    Indicator,
    Ksm,
    OutboxMessage,
    Person,
    Region,
    RegionLevel,
    Role,
)
from kotaku.monitoring.findings import Finding
from kotaku.monitoring.lifecycle import (
    AlertAlreadyAcknowledged,
    AlertAlreadyResolved,
    AlertNotAllowed,
    AlertOutsideScope,
    NoteRequired,
    acknowledge,
    apply_findings,
    escalate_due,
    queue_digest,
    release_time,
    resolve_by_hand,
)
from kotaku.security import NikVault
from tests.catalogue_keys import says
from tests.factories import Program, build_program

catalogue.register(
    {
        "test.lifecycle.behind": {
            "id": "Tertinggal {gap} poin dari rencana.",
            "en": "{gap} points behind plan.",
        }
    }
)

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 10:00 WIB, 11:00 WITA, 12:00 WIT


def finding(
    kind: str,
    subject_id: int,
    ksm_id: int,
    severity: AlertSeverity = AlertSeverity.CRITICAL,
    gap: float = 12.5,
) -> Finding:
    return Finding(
        kind=kind,
        subject_type="activity",
        subject_id=subject_id,
        ksm_id=ksm_id,
        severity=severity,
        figures={"gap": gap},
        message_key="test.lifecycle.behind",
        params={"gap": gap},
    )


async def add_papua(db: Database, p: Program) -> None:
    """A WIT site (Jayapura) with its facilitator and a provincial manager, nobody at kota level."""
    async with db.transaction() as s:
        prov = Region(
            code="91", name="Papua", level=RegionLevel.PROVINSI, timezone="Asia/Jayapura", path="91"
        )
        s.add(prov)
        await s.flush()
        kota = Region(
            code="91.71",
            name="Kota Jayapura",
            level=RegionLevel.KABKOTA,
            parent_id=prov.id,
            timezone="Asia/Jayapura",
            path="91/91.71",
        )
        s.add(kota)
        await s.flush()
        kel = Region(
            code="91.71.01.1001",
            name="Hamadi",
            level=RegionLevel.KELURAHAN,
            parent_id=kota.id,
            timezone="Asia/Jayapura",
            path="91/91.71/91.71.01.1001",
        )
        s.add(kel)
        await s.flush()
        bkm = Bkm(code="BKM-HMD", name="BKM Hamadi", kelurahan_id=kel.id)
        s.add(bkm)
        await s.flush()
        ksm = Ksm(code="KSM-HMD-01", name="KSM Hamadi Indah", bkm_id=bkm.id)
        s.add(ksm)
        await s.flush()
        act = Activity(
            code="ACT-HMD-01",
            ksm_id=ksm.id,
            name="Jalan setapak",
            indicator=Indicator.JALAN_LINGKUNGAN,
            unit="m",
            target_volume=100,
            budget=100_000_000,
            wage_budget=60_000_000,
            start_date=date(2026, 11, 1),
            end_date=date(2026, 12, 31),
        )
        s.add(act)
        await s.flush()
        for code, name, role, region in [
            ("fasil-j", "Yohanes", Role.FASILITATOR, kel.id),
            ("prov-p", "Bu Maria", Role.PROVINSI, prov.id),
        ]:
            person = Person(code=code, name=name, role=role, language="id", scope_region_id=region)
            s.add(person)
            await s.flush()
            s.add(ChannelIdentity(person_id=person.id, channel=Channel.TEST, external_id=code, chat_id=code))
            p.ids[code] = person.id
        p.ids.update(ksm_j=ksm.id, path=act.id, hamadi=kel.id)


@pytest.fixture
async def program(db: Database, vault: NikVault) -> Program:
    p = await build_program(db, vault, date(2026, 11, 26))
    await add_papua(db, p)
    return p


@pytest.fixture
def cfg(settings: Settings) -> Settings:
    settings.monitoring = MonitoringConfig(quiet_start=None, quiet_end=None)
    return settings


async def alerts(db: Database) -> list[Alert]:
    async with db.session() as s:
        return list((await s.execute(select(Alert).order_by(Alert.id))).scalars())


async def outbox(db: Database) -> list[OutboxMessage]:
    async with db.session() as s:
        return list((await s.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


async def person(db: Database, code: str) -> Person:
    async with db.session() as s:
        return (await s.execute(select(Person).where(Person.code == code))).scalar_one()


# --- applying findings --------------------------------------------------------------------------------


async def test_reapplying_never_duplicates_and_updates_figures(
    db: Database, cfg: Settings, program: Program
) -> None:
    p = program
    found = [
        finding("critical", p["road"], p["ksm_a"]),
        finding("critical", p["mck"], p["ksm_b"], AlertSeverity.WARNING, gap=8.0),
    ]
    async with db.transaction() as s:
        first = await apply_findings(s, cfg, found, kinds={"critical"}, now=T0)
    assert (len(first.opened), first.updated, first.resolved, first.unchanged) == (2, [], [], 0)
    async with db.transaction() as s:
        again = await apply_findings(s, cfg, found, kinds={"critical"}, now=T0 + timedelta(hours=1))
    assert (again.opened, again.updated, again.resolved, again.unchanged, again.queued) == ([], [], [], 2, 0)

    rows = await alerts(db)
    assert len(rows) == 2
    road = rows[0]
    assert (road.kind, road.subject_type, road.subject_id, road.dedup_key) == (
        "critical",
        "activity",
        p["road"],
        f"critical:activity:{p['road']}",
    )
    assert road.region_id == p["bejalen"]  # the KSM's kelurahan
    assert road.figures["gap"] == 12.5 and road.message == "Tertinggal 12.5 poin dari rencana."
    assert road.opened_at == T0 and road.status == AlertStatus.OPEN

    # Still true, worse: the same alert is updated, not a second one.
    later = T0 + timedelta(hours=2)
    worse = [finding("critical", p["road"], p["ksm_a"], gap=15.0), found[1]]
    async with db.transaction() as s:
        third = await apply_findings(s, cfg, worse, kinds={"critical"}, now=later)
    assert third.updated == [road.id] and third.opened == [] and third.unchanged == 1
    rows = await alerts(db)
    assert len(rows) == 2
    assert rows[0].figures["gap"] == 15.0 and rows[0].updated_at == later and rows[0].opened_at == T0

    # Only the critical one was delivered at once, to the facilitator whose scope holds KSM Bejalen Makmur.
    msgs = await outbox(db)
    assert [(m.dedup_key, m.person_id, m.priority) for m in msgs] == [
        (f"alert:{road.id}:open:test:fasil", p["fasil"], 1)
    ]
    assert msgs[0].next_attempt_at == T0
    assert "KSM Bejalen Makmur" in msgs[0].payload["text"]
    assert msgs[0].payload["choices"] == [
        {"label": catalogue.t("alert.ack_button", id=road.id), "value": f"/peringatan ack:{road.id}"}
    ]

    # Raising the warning to critical delivers it then.
    raised = [worse[0], finding("critical", p["mck"], p["ksm_b"], AlertSeverity.CRITICAL, gap=11.0)]
    async with db.transaction() as s:
        fourth = await apply_findings(s, cfg, raised, kinds={"critical"}, now=later)
    assert fourth.updated == [rows[1].id] and fourth.queued == 1
    assert [m.dedup_key for m in await outbox(db)][-1] == f"alert:{rows[1].id}:open:test:fasil"


async def test_clearing_resolves_only_evaluated_kinds_and_ksms(
    db: Database, cfg: Settings, program: Program
) -> None:
    p = program
    found = [
        finding("critical", p["road"], p["ksm_a"]),
        finding("critical", p["cart"], p["ksm_m"]),
        finding("no_report", p["road"], p["ksm_a"], AlertSeverity.WARNING),
    ]
    async with db.transaction() as s:
        await apply_findings(s, cfg, found, kinds={"critical", "no_report"}, now=T0)
    cleared_at = T0 + timedelta(days=1)
    async with db.transaction() as s:
        result = await apply_findings(s, cfg, [], kinds={"critical"}, now=cleared_at, ksm_ids=[p["ksm_a"]])
    rows = await alerts(db)
    assert result.resolved == [rows[0].id]
    assert [(a.status, a.resolved_at) for a in rows] == [
        (AlertStatus.RESOLVED, cleared_at),  # critical at KSM a: cleared
        (AlertStatus.OPEN, None),  # critical at Mariso: not in the evaluated KSMs
        (AlertStatus.OPEN, None),  # no_report: kind not evaluated
    ]
    assert rows[0].resolved_by_id is None

    # The condition comes back: a new alert, the resolved one stays as history.
    async with db.transaction() as s:
        back = await apply_findings(
            s, cfg, found[:1], kinds={"critical"}, now=cleared_at + timedelta(hours=1)
        )
    rows = await alerts(db)
    assert len(rows) == 4 and back.opened == [rows[3].id]
    async with db.session() as s:
        open_road = (
            await s.execute(
                select(func.count()).where(
                    Alert.dedup_key == f"critical:activity:{p['road']}", Alert.status != "resolved"
                )
            )
        ).scalar_one()
    assert open_road == 1


async def test_acknowledged_alert_is_updated_then_resolved_when_cleared(
    db: Database, cfg: Settings, program: Program
) -> None:
    p = program
    async with db.transaction() as s:
        await apply_findings(s, cfg, [finding("critical", p["road"], p["ksm_a"])], kinds={"critical"}, now=T0)
    (a,) = await alerts(db)
    async with db.transaction() as s:
        await acknowledge(s, a.id, await person(db, "fasil"), "dicek besok", T0 + timedelta(hours=1))
    async with db.transaction() as s:
        r = await apply_findings(
            s,
            cfg,
            [finding("critical", p["road"], p["ksm_a"], gap=20)],
            kinds={"critical"},
            now=T0 + timedelta(hours=2),
        )
    (a,) = await alerts(db)
    assert r.updated == [a.id] and a.status == AlertStatus.ACKNOWLEDGED and a.figures["gap"] == 20
    async with db.transaction() as s:
        await apply_findings(s, cfg, [], kinds={"critical"}, now=T0 + timedelta(hours=3))
    (a,) = await alerts(db)
    assert (a.status, a.resolved_at, a.ack_note) == (
        AlertStatus.RESOLVED,
        T0 + timedelta(hours=3),
        "dicek besok",
    )


# --- acknowledge and resolve by hand --------------------------------------------------------------------


async def test_acknowledge_and_resolve_by_hand_with_refusals(
    db: Database, cfg: Settings, program: Program
) -> None:
    p = program
    async with db.transaction() as s:
        await apply_findings(s, cfg, [finding("critical", p["road"], p["ksm_a"])], kinds={"critical"}, now=T0)
    (a,) = await alerts(db)
    when = T0 + timedelta(hours=5)

    for code, error in [
        ("ketua-a", AlertNotAllowed),
        ("fasil-m", AlertOutsideScope),
        ("fasil-j", AlertOutsideScope),
    ]:
        async with db.transaction() as s:
            with pytest.raises(error):
                await acknowledge(s, a.id, await person(db, code), None, when)
    async with db.transaction() as s:
        await acknowledge(s, a.id, await person(db, "askot"), "tim ke lokasi", when)
    (a,) = await alerts(db)
    assert (a.status, a.acknowledged_by_id, a.acknowledged_at, a.ack_note) == (
        AlertStatus.ACKNOWLEDGED,
        p["askot"],
        when,
        "tim ke lokasi",
    )
    async with db.transaction() as s:
        with pytest.raises(AlertAlreadyAcknowledged) as exc:
            await acknowledge(s, a.id, await person(db, "korkot"), None, when)
    assert exc.value.by_name == "Pak Hendra"

    async with db.transaction() as s:
        with pytest.raises(NoteRequired):
            await resolve_by_hand(s, a.id, await person(db, "admin"), "  ", when)
    async with db.transaction() as s:
        await resolve_by_hand(s, a.id, await person(db, "admin"), "diperbaiki", when + timedelta(hours=1))
    (a,) = await alerts(db)
    assert (a.status, a.resolved_by_id, a.resolved_at, a.resolve_note) == (
        AlertStatus.RESOLVED,
        p["admin"],
        when + timedelta(hours=1),
        "diperbaiki",
    )
    async with db.transaction() as s:
        with pytest.raises(AlertAlreadyResolved):
            await acknowledge(s, a.id, await person(db, "fasil"), None, when)


# --- escalation ------------------------------------------------------------------------------------------


async def test_escalation_across_time_zones(db: Database, cfg: Settings, program: Program) -> None:
    """WIB (Bejalen), WITA (Mariso) and WIT (Hamadi) alerts opened at one instant escalate at the same
    instant, each to the next level that has somebody in scope."""
    p = program
    cfg.monitoring.escalate_after_hours = 24
    found = [
        finding("critical", p["road"], p["ksm_a"]),
        finding("critical", p["cart"], p["ksm_m"]),
        finding("critical", p["path"], p["ksm_j"]),
        finding("critical", p["well"], p["ksm_c"]),
    ]
    async with db.transaction() as s:
        await apply_findings(s, cfg, found, kinds={"critical"}, now=T0)
    road, cart, path, well = await alerts(db)
    assert [a.escalation_level for a in (road, cart, path)] == [0, 0, 0]
    async with db.transaction() as s:
        await acknowledge(s, well.id, await person(db, "fasil"), None, T0 + timedelta(hours=1))

    async with db.transaction() as s:
        assert await escalate_due(s, cfg, T0 + timedelta(hours=23, minutes=59)) == []
    async with db.transaction() as s:
        first = await escalate_due(s, cfg, T0 + timedelta(hours=24))
    assert sorted(a.id for a in first) == [road.id, cart.id, path.id]  # not the acknowledged one
    road, cart, path, well = await alerts(db)
    # Bejalen -> Askot/Korkot; Mariso has no kota or province manager -> national; Hamadi -> province.
    assert (road.escalation_level, cart.escalation_level, path.escalation_level, well.escalation_level) == (
        1,
        3,
        2,
        0,
    )
    assert road.escalated_at == cart.escalated_at == path.escalated_at == T0 + timedelta(hours=24)

    keys = {(m.dedup_key, m.person_id) for m in await outbox(db) if ":esc" in m.dedup_key}
    assert keys == {
        (f"alert:{road.id}:esc1:test:askot", p["askot"]),
        (f"alert:{road.id}:esc1:test:korkot", p["korkot"]),
        (f"alert:{cart.id}:esc3:test:admin", p["admin"]),
        (f"alert:{path.id}:esc2:test:prov-p", p["prov-p"]),
    }
    esc = next(m for m in await outbox(db) if m.dedup_key.startswith(f"alert:{road.id}:esc1"))
    assert says(esc.payload["text"], "alert.notice_escalated", hours=24)

    # Counted from the last escalation; the top level stays where it is.
    async with db.transaction() as s:
        assert await escalate_due(s, cfg, T0 + timedelta(hours=47)) == []
    async with db.transaction() as s:
        second = await escalate_due(s, cfg, T0 + timedelta(hours=48))
    assert sorted(a.id for a in second) == [road.id, path.id]
    road, cart, path, _ = await alerts(db)
    assert (road.escalation_level, cart.escalation_level, path.escalation_level) == (2, 3, 3)
    assert (await outbox(db))[-1].dedup_key.endswith(":test:admin")
    n = len(await outbox(db))
    async with db.transaction() as s:
        assert [a.id for a in await escalate_due(s, cfg, T0 + timedelta(hours=72))] == [road.id]
    async with db.transaction() as s:
        assert await escalate_due(s, cfg, T0 + timedelta(hours=72)) == []
    assert len(await outbox(db)) == n + 1  # Bejalen reached the national level: one message to the admin


# --- quiet hours --------------------------------------------------------------------------------------------


def test_release_time_boundaries() -> None:
    cfg = MonitoringConfig(quiet_start=time(21, 0), quiet_end=time(6, 0))
    wib = "Asia/Jakarta"
    at = lambda h, m=0: datetime(2026, 11, 26, h, m, tzinfo=UTC) - timedelta(hours=7)  # noqa: E731  (WIB clock)
    assert release_time(cfg, wib, at(20, 59)) == at(20, 59)
    assert release_time(cfg, wib, at(21, 0)) == at(6) + timedelta(days=1)
    assert release_time(cfg, wib, at(23, 30)) == at(6) + timedelta(days=1)
    assert release_time(cfg, wib, at(5, 59)) == at(6)
    assert release_time(cfg, wib, at(6, 0)) == at(6)
    # A daytime window works too, and no window means no wait.
    day = MonitoringConfig(quiet_start=time(12, 0), quiet_end=time(13, 0))
    assert release_time(day, wib, at(12, 30)) == at(13)
    assert release_time(MonitoringConfig(quiet_start=None), wib, at(23)) == at(23)


async def test_quiet_hours_per_recipient_zone(db: Database, settings: Settings, program: Program) -> None:
    p = program
    settings.monitoring = MonitoringConfig(quiet_start=time(21, 0), quiet_end=time(6, 0))
    night = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)  # 21:30 WIB, 22:30 WITA, 23:30 WIT
    found = [
        finding("critical", p["road"], p["ksm_a"]),
        finding("critical", p["cart"], p["ksm_m"]),
        finding("critical", p["path"], p["ksm_j"]),
    ]
    async with db.transaction() as s:
        await apply_findings(s, settings, found, kinds={"critical"}, now=night)
    due = {m.person_id: m.next_attempt_at for m in await outbox(db)}
    assert due == {
        p["fasil"]: datetime(2026, 11, 26, 23, 0, tzinfo=UTC),  # 06:00 WIB
        p["fasil-m"]: datetime(2026, 11, 26, 22, 0, tzinfo=UTC),  # 06:00 WITA
        p["fasil-j"]: datetime(2026, 11, 26, 21, 0, tzinfo=UTC),  # 06:00 WIT
    }
    assert all(m.created_at == night for m in await outbox(db))

    afternoon = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)  # 15:00 WIB
    async with db.transaction() as s:
        await apply_findings(
            s, settings, [finding("critical", p["mck"], p["ksm_b"])], kinds=set(), now=afternoon
        )
    assert (await outbox(db))[-1].next_attempt_at == afternoon


# --- the daily digest --------------------------------------------------------------------------------------


async def test_daily_digest_per_recipient_and_local_day(
    db: Database, cfg: Settings, program: Program
) -> None:
    p = program
    warn = AlertSeverity.WARNING
    found = [
        finding("no_report", p["road"], p["ksm_a"], warn),
        finding("no_report", p["well"], p["ksm_c"], warn),
        finding("no_report", p["cart"], p["ksm_m"], AlertSeverity.INFO),
        finding("critical", p["drain"], p["ksm_a"]),  # critical: delivered at once, never in a digest
    ]
    async with db.transaction() as s:
        await apply_findings(s, cfg, found, kinds={"no_report", "critical"}, now=T0)
    road, well, cart, drain = await alerts(db)
    before = len(await outbox(db))

    # 23:30 UTC: 06:30 WIB (before 07:00), 07:30 WITA (after): only Mariso's facilitator gets one.
    early = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)
    async with db.transaction() as s:
        assert await queue_digest(s, cfg, early) == 1
    msgs = (await outbox(db))[before:]
    assert [(m.dedup_key, m.kind) for m in msgs] == [
        (f"digest:{p['fasil-m']}:2026-11-27:test:fasil-m", "alert_digest")
    ]
    assert msgs[0].payload["alert_ids"] == [cart.id]

    later = datetime(2026, 11, 27, 0, 30, tzinfo=UTC)  # 07:30 WIB
    async with db.transaction() as s:
        assert (
            await queue_digest(s, cfg, later) == 3
        )  # fasil, askot, korkot (all cover Bejalen and Tambakboyo)
    msgs = (await outbox(db))[before + 1 :]
    assert {m.person_id for m in msgs} == {p["fasil"], p["askot"], p["korkot"]}
    for m in msgs:
        assert m.payload["alert_ids"] == [road.id, well.id]
        assert says(m.payload["text"], "alert.digest_title", n=2)
        assert "KSM Tambakboyo Rukun" in m.payload["text"]
        assert m.dedup_key == f"digest:{m.person_id}:2026-11-27:test:{m.recipient}"

    # Again the same day: nothing new. A new warning the next day: only that one is listed.
    async with db.transaction() as s:
        assert await queue_digest(s, cfg, later + timedelta(hours=3)) == 0
    async with db.transaction() as s:
        await apply_findings(
            s,
            cfg,
            [*found, finding("no_report", p["mck"], p["ksm_b"], warn)],
            kinds={"no_report"},
            now=later + timedelta(hours=4),
        )
    async with db.transaction() as s:
        assert await queue_digest(s, cfg, later + timedelta(hours=5)) == 0  # already sent today
    async with db.transaction() as s:
        assert await queue_digest(s, cfg, later + timedelta(days=1)) == 3
    mck = (await alerts(db))[-1]
    last = [m for m in await outbox(db) if m.dedup_key.startswith(f"digest:{p['fasil']}:2026-11-28")]
    assert len(last) == 1 and last[0].payload["alert_ids"] == [mck.id]
    assert drain.id not in {
        i for m in await outbox(db) if m.kind == "alert_digest" for i in m.payload["alert_ids"]
    }


async def test_unreachable_identities_get_nothing(db: Database, cfg: Settings, program: Program) -> None:
    p = program
    async with db.transaction() as s:
        ident = (
            await s.execute(select(ChannelIdentity).where(ChannelIdentity.external_id == "fasil"))
        ).scalar_one()
        ident.unreachable_at = T0
        s.add(ChannelIdentity(person_id=p["fasil"], channel=Channel.WHATSAPP, external_id="6281234567890"))
    async with db.transaction() as s:
        r = await apply_findings(
            s, cfg, [finding("critical", p["road"], p["ksm_a"])], kinds={"critical"}, now=T0
        )
    assert r.queued == 1
    (m,) = await outbox(db)
    assert (m.channel, m.recipient) == (Channel.WHATSAPP, "6281234567890")
