"""/peringatan (paging, acknowledge with a note, scope refusals, English) and /kurva (PNG S-curves)."""

from __future__ import annotations

import io
from datetime import timedelta
from zoneinfo import ZoneInfo

from PIL import Image
from sqlalchemy import select

from kotaku import catalogue
from kotaku.models import Alert, AlertSeverity, AlertStatus, AuditLog, ProgressReport
from kotaku.monitoring.lifecycle import MESSAGE_FIELD
from kotaku.schemas import OutboundKind
from tests.catalogue_keys import fills, keys_in, says
from tests.e2e.conftest import World

WIB = ZoneInfo("Asia/Jakarta")

catalogue.register(
    {
        "test.alert.behind": {
            "id": "Progres {actual}% tertinggal {gap} poin dari rencana.",
            "en": "Progress {actual}% is {gap} points behind plan.",
        }
    }
)


async def add_alert(
    world: World, ksm: str, subject: int, *, severity=AlertSeverity.WARNING, age_h: int = 1
) -> int:
    at = world.clock() - timedelta(hours=age_h)
    async with world.db.transaction() as s:
        a = Alert(
            kind="behind_streak",
            subject_type="activity",
            subject_id=subject,
            ksm_id=world.program[ksm],
            severity=severity,
            status=AlertStatus.OPEN,
            dedup_key=f"behind_streak:activity:{subject}",
            figures={
                "gap": 12.5,
                MESSAGE_FIELD: {"key": "test.alert.behind", "params": {"actual": 20, "gap": 12.5}},
            },
            message="Progres 20% tertinggal 12.5 poin dari rencana.",
            opened_at=at,
            updated_at=at,
        )
        s.add(a)
        await s.flush()
        return a.id


async def alert(world: World, alert_id: int) -> Alert:
    async with world.db.session() as s:
        found = await s.get(Alert, alert_id)
        assert found is not None
        return found


async def test_paging_and_acknowledge_with_note(world: World) -> None:
    ids = [await add_alert(world, "ksm_a" if i % 2 else "ksm_b", 1000 + i, age_h=i + 1) for i in range(7)]
    critical = await add_alert(world, "ksm_a", 2000, severity=AlertSeverity.CRITICAL, age_h=30)
    await add_alert(world, "ksm_m", 3000)  # Mariso: outside the facilitator's kecamatan

    ch = world.channel("fasil")
    await ch.text("/peringatan")
    first = ch.last()
    assert says(first.text, "peringatan.title", n=8, page=1, pages=2)
    kritis = catalogue.t("alert.severity.critical")
    first_alert = first.text.split("\n\n")[1]  # critical first
    assert says(first_alert, "peringatan.line", id=critical, severity=kritis)
    assert says(first.text, "test.alert.behind", actual=20, gap=12.5)
    assert [c.value for c in first.choices][:5] == [f"ack:{critical}", *[f"ack:{i}" for i in ids[:4]]]
    assert first.choices[-1].value == "hal:2"

    await ch.tap("hal:2")
    second = ch.last()
    assert says(second.text, "peringatan.title", page=2, pages=2)
    assert [c.value for c in second.choices] == [f"ack:{i}" for i in ids[4:]] + ["hal:1"]

    await ch.tap(f"ack:{ids[5]}")
    assert says(ch.last_text(), "peringatan.ask_note", id=ids[5])
    await ch.text("Sudah ditelepon, tukang ditambah besok")
    assert says(ch.last_text(), "peringatan.acknowledged", id=ids[5], name="Mbak Wulan")

    a = await alert(world, ids[5])
    assert a.status == AlertStatus.ACKNOWLEDGED
    assert a.acknowledged_by_id == world.program["fasil"]
    assert a.acknowledged_at == world.clock()
    assert a.ack_note == "Sudah ditelepon, tukang ditambah besok"
    async with world.db.session() as s:
        audit = (await s.execute(select(AuditLog).where(AuditLog.entity == "alert"))).scalars().all()
    assert [(x.action, x.entity_id, x.actor_id) for x in audit] == [
        ("acknowledge", ids[5], world.program["fasil"])
    ]

    # Still listed (not resolved) but marked, and without a button.
    await ch.text("/peringatan hal:2")
    note = ": Sudah ditelepon, tukang ditambah besok"
    assert says(ch.last_text(), "peringatan.acked_by", name="Mbak Wulan", note=note)
    assert f"ack:{ids[5]}" not in [c.value for c in ch.last().choices]


async def test_acknowledge_without_note_and_from_a_pushed_button(world: World) -> None:
    a1 = await add_alert(world, "ksm_a", 1)
    a2 = await add_alert(world, "ksm_c", 2)
    ch = world.channel("askot")
    await ch.text("/peringatan")
    await ch.tap(f"ack:{a1}")
    await ch.tap("Tanpa catatan")
    assert (await alert(world, a1)).status == AlertStatus.ACKNOWLEDGED
    assert (await alert(world, a1)).ack_note is None
    # The button on an alert pushed through the outbox is a command: it works outside the flow.
    await ch.text(f"/peringatan ack:{a2} dicek besok pagi")
    found = await alert(world, a2)
    assert (found.status, found.ack_note, found.acknowledged_by_id) == (
        AlertStatus.ACKNOWLEDGED,
        "dicek besok pagi",
        world.program["askot"],
    )


async def test_refusals_say_why(world: World) -> None:
    mariso = await add_alert(world, "ksm_m", 10)
    own = await add_alert(world, "ksm_a", 11)

    fasil = world.channel("fasil")
    await fasil.text(f"/peringatan ack:{mariso}")
    assert says(fasil.last_text(), "peringatan.outside_scope", id=mariso, ksm="KSM Mariso Jaya")
    assert (await alert(world, mariso)).status == AlertStatus.OPEN

    await fasil.text("/peringatan ack:99999")
    assert says(fasil.last_text(), "peringatan.not_found", id=99999)

    ketua = world.channel("ketua-a")
    await ketua.text("/peringatan")
    assert says(ketua.last_text(), "engine.not_allowed", command="peringatan")
    assert "peringatan.title" not in keys_in(ketua.last_text())

    await world.channel("korkot").text(f"/peringatan ack:{own} sudah ditangani")
    await fasil.text("/peringatan")
    replies = await fasil.text(str(own))
    assert says(replies[0].text, "peringatan.already_acked", id=own, name="Bu Maya")
    assert "peringatan.title" in keys_in(replies[1].text)  # and the list again, to pick another

    await fasil.text(f"/peringatan tutup {own}")
    assert "peringatan.note_required" in keys_in(fasil.last_text())
    await fasil.text(f"/peringatan tutup {own} tukang sudah ditambah, progres kembali normal")
    closed = await alert(world, own)
    assert closed.status == AlertStatus.RESOLVED
    assert closed.resolved_by_id == world.program["fasil"]
    assert closed.resolved_at == world.clock()
    assert closed.resolve_note == "tukang sudah ditambah, progres kembali normal"
    await fasil.text(f"/peringatan ack:{own}")
    by = catalogue.t("peringatan.resolved_by", name="Mbak Wulan")
    assert says(fasil.last_text(), "peringatan.already_resolved", id=own, how=by)

    fasil_m = world.channel("fasil-m")
    await fasil_m.text("/peringatan")
    assert f"#{mariso}" in fasil_m.last_text() and f"#{own}" not in fasil_m.last_text()


async def test_english(world: World) -> None:
    a = await add_alert(world, "ksm_a", 5, severity=AlertSeverity.CRITICAL)
    ch = world.channel("fasil")
    await ch.text("/bahasa en")
    await ch.text("/alerts")
    text = ch.last_text()
    assert says(text, "peringatan.title", "en", n=1, page=1, pages=1)
    assert says(text, "peringatan.line", "en", id=a, severity=catalogue.t("alert.severity.critical", "en"))
    assert says(text, "test.alert.behind", "en", actual=20, gap=12.5)
    await ch.tap(f"ack:{a}")
    assert "peringatan.ask_note" in keys_in(ch.last_text(), "en")
    await ch.tap("No note")
    acked = {"id": a, "ksm": "KSM Bejalen Makmur", "name": "Mbak Wulan", "note": ""}
    assert says(ch.last_text(), "peringatan.acknowledged", "en", **acked)


async def test_no_alerts(world: World) -> None:
    ch = world.channel("prov")
    await ch.text("/peringatan")
    assert "peringatan.none" in keys_in(ch.last_text())


# --- /kurva --------------------------------------------------------------------------------------


async def add_reports(world: World) -> None:
    today = world.clock().astimezone(WIB).date()
    p = world.program
    async with world.db.transaction() as s:
        for days_ago, pct in [(15, 2.0), (10, 6.0), (5, 10.0), (1, 14.0)]:
            s.add(
                ProgressReport(
                    activity_id=p["road"], report_date=today - timedelta(days=days_ago), percent=pct
                )
            )
        s.add(ProgressReport(activity_id=p["drain"], report_date=today - timedelta(days=2), percent=30.0))


def image_of(ch) -> bytes:  # type: ignore[no-untyped-def]
    out = ch.last()
    assert out.kind == OutboundKind.IMAGE and out.mime_type == "image/png" and out.content
    assert Image.open(io.BytesIO(out.content)).size == (1080, 1350)
    return out.content


async def test_kurva_activity_by_code_and_by_button(world: World, tmp_path) -> None:
    await add_reports(world)
    ch = world.channel("ketua-a")
    await ch.text("/kurva ACT-BJL-01")
    png = image_of(ch)
    caption = ch.last().text
    [shown] = fills(caption, "kurva.caption")
    assert shown["title"] == "Rabat beton jalan lingkungan (ACT-BJL-01)"
    assert shown["actual"] == "14%" and shown["status"] and shown["deviation"].startswith("−")
    (tmp_path / "kurva-activity.png").write_bytes(png)

    await ch.text("/kurva")
    assert [c.value for c in ch.last().choices][:2] == [
        f"a:{world.program['road']}",
        f"a:{world.program['drain']}",
    ]
    await ch.tap(f"a:{world.program['drain']}")
    image_of(ch)
    assert says(ch.last().text, "kurva.caption", actual="30%")

    await ch.text("/kurva drainase")
    image_of(ch)
    assert "(ACT-BJL-02)" in ch.last().text


async def test_kurva_scope_refusals(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/kurva ACT-MRS-01")
    assert "kurva.outside_scope" in keys_in(ch.last_text())
    await ch.text("/kurva kelurahan 33.22.05.1001")
    assert "kurva.outside_scope" in keys_in(ch.last_text())
    await ch.text("/kurva jembatan")
    assert says(ch.last_text(), "kurva.not_found", text="jembatan")
    fasil_m = world.channel("fasil-m")
    await fasil_m.text("/kurva kota 33.22")
    assert "kurva.outside_scope" in keys_in(fasil_m.last_text())
    await fasil_m.text("/kurva kota 99.99")
    assert says(fasil_m.last_text(), "kurva.unknown_area", code="99.99")


async def test_kurva_area_is_budget_weighted(world: World, tmp_path) -> None:
    await add_reports(world)
    ch = world.channel("askot")
    await ch.text("/kurva kota 33.22")
    png = image_of(ch)
    caption = ch.last().text
    # 4 activities of equal budget in Kabupaten Semarang: (14 + 30 + 0 + 0) / 4 = 11%.
    assert says(caption, "kurva.area_note", n=4)
    assert says(caption, "kurva.caption", actual="11%")
    (tmp_path / "kurva-area.png").write_bytes(png)
    await ch.text("/bahasa en")
    await ch.text("/curve kelurahan 33.22.05.1001")
    image_of(ch)
    assert says(ch.last().text, "kurva.area_note", "en", n=3)
    assert says(ch.last().text, "kurva.caption", "en", actual="14.67%")
