"""NIKs and phone numbers typed in free text are masked before they are stored (obstacle descriptions and
closing notes, late reasons, photo captions, alert notes, progress notes, and the notices built from
them), on every channel and in the CLI, and the person is told in one line. Ordinary numbers are kept."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import ColumnElement, select

from kotaku import catalogue
from kotaku.bootstrap import bootstrap
from kotaku.config import load_settings
from kotaku.db import Database
from kotaku.models import (
    Alert,
    AlertSeverity,
    AlertStatus,
    AttendanceDay,
    AuditLog,
    Base,
    Channel,
    ConversationState,
    Media,
    Obstacle,
    OutboxMessage,
    ProgressReport,
)
from kotaku.security import NikVault, generate_key, mask_personal_numbers
from kotaku.services.progress import save_progress
from tests.catalogue_keys import keys_in
from tests.cli import clean_env, run
from tests.e2e.conftest import DEFAULT_NOW, Clock, World
from tests.factories import build_program

NIK = "3322051208850099"
PHONE = "081234567890"
TYPED = f"NIK {NIK} hilang, HP {PHONE}"
STORED = "NIK 3322••••••••0099 hilang, HP 0812••••••90"
NOTICE = "privacy.numbers_hidden"
WORDS = st.sampled_from(["semen", "hilang", "hubungi", "Pak", "Darto", "NIK", "HP", "wa", "no", "KTP", "di"])
M = TypeVar("M", bound=Base)
GAPS = st.sampled_from([" ", ", ", ": ", " (", ") ", "\n", " - ", " / "])


@pytest.fixture
async def world(db: Database, vault: NikVault) -> AsyncIterator[World]:
    clock = Clock(DEFAULT_NOW)
    program = await build_program(db, vault, DEFAULT_NOW.astimezone(ZoneInfo("Asia/Jakarta")).date())
    yield World(
        db=db, kotaku=bootstrap(db.settings, db=db, now=clock), clock=clock, program=program, vault=vault
    )


def _personal(text: str) -> bool:
    digits = re.sub(r"[\s.\-]", "", text)
    return NIK in digits or PHONE[1:] in digits


# --- the masker: properties --------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789 .-+•a\n", max_size=300))
def test_no_sixteen_digit_run_survives(text: str) -> None:
    masked, changed = mask_personal_numbers(text)
    assert not re.search(r"\d{16}", masked)
    assert changed == (masked != text)


def _spelled_nik(nik: str, style: int) -> str:
    return [
        nik,
        " ".join(nik[i : i + 4] for i in range(0, 16, 4)),
        ".".join(nik[i : i + 4] for i in range(0, 16, 4)),
        "-".join(nik[i : i + 4] for i in range(0, 16, 4)),
        f"{nik[:6]} {nik[6:12]} {nik[12:]}",
        f"{nik[:2]}.{nik[2:4]}.{nik[4:6]}.{nik[6:12]}.{nik[12:]}",
    ][style]


@settings(max_examples=400, deadline=None)
@given(
    nik=st.text(alphabet="0123456789", min_size=16, max_size=16),
    style=st.integers(0, 5),
    before=st.lists(WORDS, max_size=3),
    after=st.lists(WORDS, max_size=3),
    gap=GAPS,
)
def test_every_spelling_of_a_nik_is_hidden(
    nik: str, style: int, before: list[str], after: list[str], gap: str
) -> None:
    text = gap.join([*before, _spelled_nik(nik, style), *after])
    masked, changed = mask_personal_numbers(text)
    assert changed
    assert re.sub(r"\D", "", masked) == nik[:4] + nik[-4:], masked
    assert masked.count("•") == 8


@settings(max_examples=400, deadline=None)
@given(
    operator=st.text(alphabet="0123456789", min_size=2, max_size=2),
    rest=st.text(alphabet="0123456789", min_size=6, max_size=9),
    spelling=st.sampled_from(["0{n}", "62{n}", "+62{n}", "+62 {n}", "62 {n}"]),
    grouped=st.sampled_from(["", " ", "-", "."]),
    before=st.lists(WORDS, max_size=3),
    after=st.lists(WORDS, max_size=3),
    gap=GAPS,
)
def test_every_spelling_of_a_mobile_number_is_hidden(
    operator: str, rest: str, spelling: str, grouped: str, before: list[str], after: list[str], gap: str
) -> None:
    national = "8" + operator + rest  # after the 0: 9 to 12 digits, 10 to 13 with it
    if grouped == "." and spelling.startswith("62"):
        grouped = "-"  # 62.812.345.678 is how an amount is written: only +62 is read with dots
    groups = [national[:3], *(national[i : i + 4] for i in range(3, len(national), 4))]
    if len(groups[-1]) < 3:  # people group a number in threes and fours, never a short tail
        groups[-2:] = [groups[-2] + groups[-1]]
    number = grouped.join(groups)
    typed = spelling.format(n=number)
    text = gap.join([*before, typed, *after])
    masked, changed = mask_personal_numbers(text)
    assert changed, text
    prefix = "0" if typed.startswith("0") else "62"
    assert re.sub(r"\D", "", masked) == prefix + national[:3] + national[-2:], (text, masked)


def _rupiah(n: int) -> str:
    return f"Rp{n:,}".replace(",", ".")


ORDINARY = st.one_of(
    st.integers(0, 99_999).map(str),
    st.integers(1, 999).map(lambda n: f"{n} m"),
    st.integers(0, 100).map(lambda n: f"{n}%"),
    st.tuples(st.integers(0, 999), st.integers(1, 9)).map(lambda t: f"{t[0]},{t[1]}"),
    st.integers(1, 10**12).map(_rupiah),
    st.dates(date(2000, 1, 1), date(2099, 12, 31)).map(lambda d: d.strftime("%d-%m-%Y")),
    st.dates(date(2000, 1, 1), date(2099, 12, 31)).map(lambda d: d.strftime("%d/%m/%Y")),
    st.dates(date(2000, 1, 1), date(2099, 12, 31)).map(lambda d: d.strftime("%d.%m.%Y")),
    st.dates(date(2000, 1, 1), date(2099, 12, 31)).map(lambda d: d.isoformat()),
    st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"{t[0]:02d}.{t[1]:02d}"),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(WORDS, ORDINARY), min_size=1, max_size=8), GAPS)
def test_ordinary_numbers_are_kept(parts: list[tuple[str, str]], gap: str) -> None:
    text = gap.join(f"{word} {number}" for word, number in parts)
    assert mask_personal_numbers(text) == (text, False)


@pytest.mark.parametrize(
    "text",
    [
        "hadir 45 orang",
        "drainase 120 m, rabat 36,5 m",
        "upah Rp1.500.000 dibayar, dana Rp 300.000.000, pagu Rp62.812.345.678",
        "hujan 26-11-2026 sampai 28/11/2026, mulai lagi 2026-12-01 jam 08.00",
        "tahun 2021 sampai 2022, 12 orang, 15 sak semen",
        "tanggal 08-12-2024 10 orang",
        "kode kegiatan 33.22.05.2001",
    ],
)
def test_ordinary_sentences_are_kept(text: str) -> None:
    assert mask_personal_numbers(text) == (text, False)


def test_masking_stays_fast_on_long_hostile_input() -> None:
    """Channel limit 4,096 characters: the worst of a few shapes that could make a regex backtrack."""
    shapes = [
        "9" * 4096,
        "0812 " * 819,
        "1 " * 2048,
        "3322.0512." * 409,
        "+62-8" * 819,
        "08" * 2048,
        "1.2-" * 1024,
    ]
    worst = 0.0
    for text in shapes:
        started = time.perf_counter()
        masked, _ = mask_personal_numbers(text)
        worst = max(worst, time.perf_counter() - started)
        assert not re.search(r"\d{16}", masked)
    print(f"\nmask_personal_numbers: worst {worst * 1000:.1f} ms on 4,096 characters")
    assert worst < 1.0  # catastrophic backtracking would take far longer; the real figure is printed


# --- what the chat stores ------------------------------------------------------------------------------


async def _rows(world: World, model: type[M], *where: ColumnElement[bool]) -> list[M]:
    async with world.db.session() as s:
        stmt = select(model).where(*where).order_by(model.id)  # type: ignore[attr-defined]
        return list((await s.execute(stmt)).scalars())


async def test_quick_obstacle_stores_and_notifies_masked_and_says_so(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text(f"/kendala material {TYPED}")
    await ch.tap("Sedang")
    replies = await ch.tap("Simpan")
    [o] = await _rows(world, Obstacle)
    assert o.description == STORED
    notices = await _rows(world, OutboxMessage, OutboxMessage.kind == "obstacle")
    assert notices and all(
        not _personal(str(n.payload)) and "3322••••••••0099" in n.payload["text"] for n in notices
    )
    assert NOTICE in keys_in("\n".join(r.text for r in replies))
    assert "kendala.saved" in keys_in(ch.all_text())
    [state] = await _rows(world, ConversationState, ConversationState.user_id == "ketua-a")
    assert not _personal(str(state.data))


async def test_ordinary_obstacle_is_kept_and_nothing_is_said(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/kendala material semen 120 sak belum datang sejak 24-11-2026")
    await ch.tap("Sedang")
    await ch.tap("Simpan")
    [o] = await _rows(world, Obstacle)
    assert o.description == "semen 120 sak belum datang sejak 24-11-2026"
    assert NOTICE not in keys_in(ch.all_text())


async def test_one_message_report_obstacle_text_is_masked(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text(f"hadir semua kendala semen telat {TYPED}")
    await ch.tap("✅ Simpan")
    [o] = await _rows(world, Obstacle)
    assert not _personal(o.description) and "3322••••••••0099" in o.description, o.description
    assert NOTICE in keys_in(ch.last_text()) or NOTICE in keys_in(ch.all_text())


async def test_closing_note_is_masked_in_the_row_the_audit_and_the_notice(world: World) -> None:
    reporter = world.channel("ketua-a")
    await reporter.text("/kendala material semen belum datang")
    await reporter.tap("Sedang")
    await reporter.tap("Simpan")
    [o] = await _rows(world, Obstacle)
    fasil = world.channel("fasil")
    await fasil.text(f"/selesai {o.short_id} semen dikirim, toko {PHONE}")
    assert NOTICE in keys_in(fasil.all_text())
    [closed] = await _rows(world, Obstacle)
    assert closed.close_note == "semen dikirim, toko 0812••••••90"
    [audit] = await _rows(world, AuditLog, AuditLog.action == "obstacle_closed")
    assert audit.new is not None and audit.new["close_note"] == closed.close_note
    [told] = await _rows(world, OutboxMessage, OutboxMessage.kind == "obstacle_closed")
    assert not _personal(told.payload["text"]) and "0812••••••90" in told.payload["text"]


async def test_late_reason_is_masked(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir")
    await ch.text("19/11")
    assert "hadir.ask_reason" in keys_in(ch.last_text())
    await ch.text(f"Sinyal hilang, lapor lewat HP {PHONE}")
    await ch.tap("Semua hadir")
    await ch.tap("Selesai")
    await ch.tap("Simpan · belum")
    [day] = await _rows(world, AttendanceDay, AttendanceDay.ksm_id == world.program["ksm_a"])
    assert day.work_date == date(2026, 11, 19)
    assert day.late_reason == "Sinyal hilang, lapor lewat HP 0812••••••90"
    assert NOTICE in keys_in(ch.last_text()) or NOTICE in keys_in(ch.all_text())


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 90, 60)).save(buf, "JPEG")
    return buf.getvalue()


async def test_photo_caption_is_masked(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.photo(_jpeg(), caption=f"#50 dinding MCK, tukang NIK {NIK}")
    [m] = await _rows(world, Media)
    assert m.caption == "#50 dinding MCK, tukang NIK 3322••••••••0099"
    assert NOTICE in keys_in(ch.all_text())


async def _alert(db: Database, ksm_id: int, subject: int, now: datetime) -> int:
    at = now - timedelta(hours=1)
    async with db.transaction() as s:
        a = Alert(
            kind="behind_streak",
            subject_type="activity",
            subject_id=subject,
            ksm_id=ksm_id,
            severity=AlertSeverity.WARNING,
            status=AlertStatus.OPEN,
            dedup_key=f"behind_streak:activity:{subject}",
            figures={"gap": 12.5},
            message="Progres tertinggal 12,5 poin.",
            opened_at=at,
            updated_at=at,
        )
        s.add(a)
        await s.flush()
        return a.id


async def test_alert_notes_are_masked(world: World) -> None:
    ksm_a = world.program["ksm_a"]
    acked, resolved = (
        await _alert(world.db, ksm_a, 1, world.clock()),
        await _alert(world.db, ksm_a, 2, world.clock()),
    )
    ch = world.channel("fasil")
    await ch.text(f"/peringatan ack:{acked} sudah ditelepon ke 0812-3456-7890")
    assert NOTICE in keys_in(ch.last_text()) or NOTICE in keys_in(ch.all_text())
    await ch.text(f"/peringatan tutup {resolved} pekerja baru NIK {NIK}, progres normal")
    async with world.db.session() as s:
        a1, a2 = await s.get(Alert, acked), await s.get(Alert, resolved)
        assert a1 is not None and a2 is not None
        assert a1.ack_note == "sudah ditelepon ke 0812••••••90"
        assert a2.status == AlertStatus.RESOLVED
        assert a2.resolve_note == "pekerja baru NIK 3322••••••••0099, progres normal"
    audits = await _rows(world, AuditLog, AuditLog.entity == "alert")
    assert audits and not any(_personal(a.note or "") for a in audits)


async def test_progress_note_is_masked(world: World) -> None:
    async with world.kotaku.uow() as uow:
        report = await save_progress(
            uow,
            activity_id=world.program["road"],
            report_date=date(2026, 11, 26),
            percent=45,
            volume=None,
            note=f"diukur mandor, HP +62 812 3456 7890, NIK {NIK}",
            entered_by_id=None,
            channel=Channel.TEST,
            now=world.clock(),
        )
        assert uow.session.info  # the mark the engine and the CLI read to tell the person
    [stored] = await _rows(world, ProgressReport, ProgressReport.id == report.id)
    assert stored.note == "diukur mandor, HP +62812••••••90, NIK 3322••••••••0099"


# --- the CLI -------------------------------------------------------------------------------------------


def test_cli_alert_note_is_masked_and_the_operator_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = next(clean_env(tmp_path, monkeypatch))
    url = env["KOTAKU_DATABASE__URL"]

    async def seed() -> int:
        db = Database(load_settings(database={"url": url}))
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        program = await build_program(db, NikVault(generate_key()), date(2026, 11, 26))
        alert_id = await _alert(db, program["ksm_a"], 1, DEFAULT_NOW)
        await db.dispose()
        return alert_id

    async def stored(alert_id: int) -> str | None:
        db = Database(load_settings(database={"url": url}))
        async with db.session() as s:
            found = await s.get(Alert, alert_id)
        await db.dispose()
        return found.ack_note if found else None

    alert_id = asyncio.run(seed())
    result = run(env, "alerts", "ack", str(alert_id), "--as", "admin", "--note", f"cek NIK {NIK} dan {PHONE}")
    assert result.exit_code == 0, result.output
    assert NIK not in result.output and PHONE not in result.output
    assert catalogue.t(NOTICE) in result.output
    assert asyncio.run(stored(alert_id)) == "cek NIK 3322••••••••0099 dan 0812••••••90"
