"""/unduh through the test channel: the request is answered at once, the file is built in the background
after commit and queued to the person's chat with the file attached; who may ask, and for which scope."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from kotaku import catalogue
from kotaku.dialog.flows.download import delivery
from kotaku.models import (
    AttendanceDay,
    AttendanceMode,
    AttendanceRecord,
    AuditLog,
    OutboxMessage,
    Worker,
)
from kotaku.notify.dispatcher import render_payload
from kotaku.schemas import OutboundKind
from tests.catalogue_keys import keys_in, keys_of, says
from tests.e2e.conftest import World
from tests.factories import nik_for

WIB = ZoneInfo("Asia/Jakarta")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _seed_attendance(world: World) -> None:
    """Two roster sheets of KSM Bejalen Makmur this week (Monday 23 - Sunday 29 November 2026)."""
    p = world.program
    today = world.clock().astimezone(WIB).date()
    async with world.db.transaction() as s:
        workers = list((await s.execute(select(Worker).where(Worker.ksm_id == p["ksm_a"]))).scalars())
        for day, present in [(today - timedelta(days=1), workers[:4]), (today, workers[2:8])]:
            sheet = AttendanceDay(
                ksm_id=p["ksm_a"], work_date=day, mode=AttendanceMode.ROSTER, hok=len(present)
            )
            for w in present:
                sheet.records.append(
                    AttendanceRecord(
                        worker_id=w.id,
                        ksm_id=p["ksm_a"],
                        work_date=day,
                        nik_hash=w.nik_hash,
                        wage=w.daily_rate,
                    )
                )
            s.add(sheet)


async def _exports(world: World, person: str) -> list[OutboxMessage]:
    async with world.db.session() as s:
        stmt = select(OutboxMessage).where(
            OutboxMessage.person_id == world.program[person], OutboxMessage.kind == delivery.OUTBOX_KIND
        )
        return list((await s.execute(stmt.order_by(OutboxMessage.id))).scalars())


async def test_a_facilitator_gets_the_wage_list_of_this_week(world: World) -> None:
    await _seed_attendance(world)
    ch = world.channel("fasil")
    replies = await ch.text("/unduh upah minggu ini")

    # At once: "being prepared", for the facilitator's kecamatan and this week.
    assert says(ch.last_text(), "unduh.preparing", period="23 Nov – 29 Nov 2026")
    assert "Kecamatan Ambarawa" in ch.last_text()
    assert all(r.kind == OutboundKind.TEXT for r in replies)

    # Built after commit in the background, then queued to the facilitator's chat.
    await delivery.drain()
    rows = await _exports(world, "fasil")
    assert len(rows) == 1
    row = rows[0]
    assert row.recipient == "fasil" and row.dedup_key.startswith("export:test:")
    payload = row.payload
    path = Path(payload["file_path"])
    assert path.parent == Path(world.kotaku.settings.app.data_dir) / "exports"
    assert payload["file_name"] == "upah-kecamatan-ambarawa-2026-11-23-2026-11-29.xlsx"
    assert payload["mime_type"] == XLSX
    assert "unduh.ready" in keys_in(payload["file_caption"])

    # What the dispatcher sends: one document, the workbook.
    (out,) = render_payload(payload)
    assert out.kind == OutboundKind.FILE and out.mime_type == XLSX and out.file_name == payload["file_name"]
    assert out.content is not None and out.content.startswith(b"PK")  # a zip container: the .xlsx

    workbook = load_workbook(path)
    assert workbook.sheetnames == [catalogue.t("export.sheet.upah", "id")]
    cells = [str(c) for ws in workbook for r in ws.iter_rows(values_only=True) for c in r if c is not None]
    assert any("Budi Santoso" in c for c in cells)
    assert not any(nik_for(i) in c for c in cells for i in range(1, 16))  # NIKs masked in a chat export

    async with world.db.session() as s:
        audit = (await s.execute(select(AuditLog).where(AuditLog.action == "export"))).scalar_one()
    assert audit.actor_id == world.program["fasil"]


@pytest.mark.parametrize("user", ["ketua-a", "pekerja-a"])
async def test_a_ksm_coordinator_or_a_worker_is_refused(world: World, user: str) -> None:
    ch = world.channel(user)
    await ch.text("/unduh upah minggu ini")
    assert "engine.not_allowed" in keys_in(ch.last_text())
    await delivery.drain()
    assert await _exports(world, user) == []


async def test_a_scope_outside_ones_own_is_refused(world: World) -> None:
    ch = world.channel("fasil-m")  # Kelurahan Mariso, Makassar
    await ch.text("/unduh upah minggu ini KSM-BJL-01")
    assert says(ch.last_text(), "unduh.outside_scope", scope="KSM Bejalen Makmur")
    ch = world.channel("bkm-b")
    await ch.text("/unduh laporan 33.22.05")
    assert says(ch.last_text(), "unduh.outside_scope", scope="Kecamatan Ambarawa")
    await ch.text("/unduh hadir minggu ini XYZ-999")
    assert "unduh.unknown_scope" in keys_in(ch.last_text())
    await delivery.drain()
    assert await _exports(world, "fasil-m") == [] and await _exports(world, "bkm-b") == []


async def test_the_buttons_ask_kind_then_period_and_the_pdf_arrives(world: World) -> None:
    ch = world.channel("bkm-b")
    await ch.text("/unduh")
    assert "unduh.ask_kind" in keys_in(ch.last_text())
    assert len(ch.last_choices()) == 8
    await ch.tap("k:laporan")
    assert "unduh.ask_period" in keys_in(ch.last_text())
    labels = keys_of(ch.last_choices())
    assert {"unduh.period.minggu_ini", "unduh.period.minggu_lalu", "unduh.period.bulan_ini"} <= labels
    await ch.tap("Minggu lalu")
    assert says(
        ch.last_text(), "unduh.preparing", period="16 Nov – 22 Nov 2026", scope="BKM Bejalen Sejahtera"
    )

    await delivery.drain()
    (row,) = await _exports(world, "bkm-b")
    assert row.payload["mime_type"] == "application/pdf"
    assert row.payload["file_name"].endswith("-2026-11-16-2026-11-22.pdf")
    reader = PdfReader(row.payload["file_path"])
    assert len(reader.pages) == 3  # the BKM's cover, then its two KSMs
    assert "BKM Bejalen Sejahtera" in reader.pages[0].extract_text()


async def test_typed_periods_and_wrong_answers(world: World) -> None:
    ch = world.channel("askot")
    await ch.text("/unduh kendala")
    assert "unduh.ask_period" in keys_in(ch.last_text())
    await ch.text("besok lusa")
    assert "unduh.period_error.unreadable" in keys_in(ch.all_text())
    await ch.text("20-10 Nov")
    assert "unduh.period_error.reversed" in keys_in(ch.all_text())
    await ch.text("1-7 Des")
    assert "unduh.period_error.future" in keys_in(ch.all_text())
    await ch.text("16 - 22 Nov")
    assert says(ch.last_text(), "unduh.preparing", period="16 Nov – 22 Nov 2026")

    await ch.text("/unduh rapor minggu ini")
    assert says(ch.all_text(), "unduh.unknown_kind", word="rapor")
    await ch.text("hadir")  # the period was understood, only the kind is asked again
    assert says(ch.last_text(), "unduh.preparing", period="23 Nov – 29 Nov 2026")
    await delivery.drain()
    rows = await _exports(world, "askot")
    assert [r.payload["file_name"].split("-")[0] for r in rows] == ["kendala", "hadir"]
    assert len({r.dedup_key for r in rows}) == 2


async def test_a_failed_export_is_told_to_the_person(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(delivery, "build_export", broken)
    ch = world.channel("fasil")
    await ch.text("/unduh ringkasan bulan ini")
    assert "unduh.preparing" in keys_in(ch.last_text())
    await delivery.drain()
    (row,) = await _exports(world, "fasil")
    assert "unduh.failed" in keys_in(row.payload["text"]) and "file_path" not in row.payload
    assert render_payload(row.payload)[0].kind == OutboundKind.TEXT


def test_the_period_of_the_report_is_a_payment_period() -> None:
    from kotaku.config import load_settings
    from kotaku.dialog.flows.download.periods import Period, parse_period

    settings = load_settings()
    today = date(2026, 12, 1)  # a Tuesday
    assert parse_period("minggu ini", today, settings) == Period(date(2026, 11, 30), date(2026, 12, 6))
    assert parse_period("minggu lalu", today, settings) == Period(date(2026, 11, 23), date(2026, 11, 29))
    assert parse_period("bulan ini", today, settings) == Period(date(2026, 12, 1), date(2026, 12, 31))
    assert parse_period("28 Nov - 4 Des", today, settings) == Period(date(2026, 11, 28), date(2026, 12, 4))
    assert parse_period("28 des - 3 jan", today, settings) == Period(date(2025, 12, 28), date(2026, 1, 3))
    assert parse_period("1/11 s/d 7/11", today, settings) == Period(date(2026, 11, 1), date(2026, 11, 7))
    assert parse_period("1 oktober sampai 5 oktober", today, settings) == Period(
        date(2026, 10, 1), date(2026, 10, 5)
    )
