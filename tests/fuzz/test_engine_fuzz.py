"""The engine under random input: random texts, real commands mutated, and button data forged from the
prefixes the flows use (with unicode digits, huge numbers, nothing), sent by people of every role through
the test channel, a few messages per run, some of them taps of buttons really offered so runs get deep
into the flows.

After every run: nothing raised (the engine's apology `engine.error`, or `engine.state_lost`, was never
what came back), no stored figure is out of range, and nothing was stored for a KSM outside the scope
of the person who sent it. Each Hypothesis example starts from a copy of the same freshly built database,
so a failing example replays exactly.

A bounded run in CI (`ENGINE_RUNS` runs a property, each up to `MAX_STEPS + 3` messages: about 40 s);
`HYPOTHESIS_PROFILE=long` (`make fuzz`) runs 2,000 a property and shrinks what fails.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import select

from kotaku import catalogue
from kotaku.bootstrap import Kotaku, bootstrap
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.dialog.flows import default_flows
from kotaku.dialog.flows.download.delivery import drain
from kotaku.models import (
    Activity,
    Alert,
    AlertSeverity,
    AlertStatus,
    AttendanceDay,
    AttendanceRecord,
    Base,
    Media,
    Obstacle,
    ObstacleCategory,
    ObstacleStatus,
    Person,
    ProgressReport,
    Severity,
    Worker,
)
from kotaku.models.base import MAX_ID
from kotaku.schemas import Outbound
from kotaku.security import NikVault
from kotaku.services.attendance import MAX_DAILY_RATE, MAX_WORKERS_PER_DAY
from kotaku.services.scope import ksm_ids_in_scope, scope_of
from tests.channel import TestChannel
from tests.e2e.conftest import DEFAULT_NOW, Clock
from tests.factories import Program, build_program

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
ENGINE_RUNS = 2_000 if LONG else 75  # per property (four): 300 runs, ~1,500 messages in CI
MAX_STEPS = 6
FUZZ = settings(
    max_examples=ENGINE_RUNS,
    deadline=None,  # one run is several database transactions
    database=None,  # nothing written to the working tree; a failure prints its reproduction
    print_blob=True,
    # The fixture's world is reset by each example itself (`FuzzWorld.fresh`).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    # Shrinking replays engine runs for minutes; in CI the first failing run is reported as found (the
    # assertion names the message that failed), the long run shrinks it.
    phases=list(Phase) if LONG else [Phase.explicit, Phase.reuse, Phase.generate],
)

# Everyone who may chat (those who report most, more often), a worker, and someone the bot does not know.
USERS = [
    *["ketua-a", "ketua-b", "fasil"] * 2,
    *["ketua-m", "pekerja-a", "bkm-b", "askot", "prov", "admin", "stranger"],
]
COMMANDS = sorted(
    {f"/{c}" for f in default_flows() for c in f.commands} | {"/batal", "/bantuan", "/bahasa", "/menu"}
)
# Commands as people really send them (quick forms that go straight to a confirmation); runs start from
# these, mutated, so they get to the steps that save.
REAL = [
    "/hadir", "/hadir semua", "/hadir 18L 5P", "/hadir 23", "/hadir Budi, Sari, Joko", "/hadir kemarin",
    "/progres", "/progres 45", "/progres ACT-BJL-01 60%", "/progres jalan 50", "hadir 15 progres 45",
    "/hadir 15 progres 45", "/laporan hadir 12 progres 30 upah dibayar", "hadir 10L 2P upah 85000",
    "/kendala", "/kendala material semen belum datang", "/kendala cuaca hujan deras tinggi", "/ubah",
    "/selesai", "/selesai K-7F3Q sudah beres", "/peringatan", "/peringatan ack:1 dicek", "/peringatan hal:2",
    "/peringatan tutup 1 beres", "/kurva", "/kurva ACT-BJL-01", "/kurva kota", "/status", "/rekap kota",
    "/unduh", "/unduh hadir minggu ini", "/pengingat jam 4 sore", "/bahasa en", "/batal", "/bantuan",
]  # fmt: skip
# Words that flows read at their steps.
WORDS = [
    "semua", "hari ini", "kemarin", "Budi, Sari", "18L 5P", "23", "12 orang", "45%", "100", "101", "-5",
    "ack:1", "tutup 1 beres", "hal:2", "K-7F3Q", "material semen belum datang", "tinggi", "jam 4 sore",
    "kota", "33.22", "KSM-BJL-01", "minggu ini", "upah dibayar", "total 2.000.000", "en", "id", "simpan",
    "ya", "selesai", "lewati", "1", "2", "1-5", "semua kecuali 3", "Rp 90.000", "L", "P",
]  # fmt: skip
REPORT_PARTS = ["hadir", "progres", "kendala", "upah", "absen", "laporan"]
# Every prefix of button data the flows use (`kotaku/dialog/flows/*`), and a few that none do.
PREFIXES = [
    "t:", "pg:", "n:", "r:", "d:", "g:", "s:", "c:", "a:", "p:", "o:", "k:", "ksm:", "ack:", "hal:",
    "paid:", "save:", "split:", "simpan:", "ubah:", "/peringatan ack:", "/kurva a:", "x:", "",
]  # fmt: skip
NINES = "9" * 5_000
# Digits that `str.isdigit` accepts and `int` chokes on or reads: superscripts, Arabic-Indic, fullwidth.
ODD_DIGITS = "²¹٣３߃१𝟗⑨"


def numbers() -> st.SearchStrategy[str]:
    """Numbers as they may arrive: small, negative, past 2^31 and 2^63, thousands of digits, odd digits."""
    return st.one_of(
        st.integers(min_value=-10, max_value=200).map(str),
        st.sampled_from(
            [str(MAX_ID), str(MAX_ID + 1), str(2**63), "9" * 20, "9" * 400, NINES, "0", "-0", ""]
        ),
        st.text(alphabet="0123456789" + ODD_DIGITS, min_size=1, max_size=12),
        st.sampled_from(ODD_DIGITS),
        st.sampled_from(["1e3", "inf", "nan", "1.5", "1,5", "1.000.000", " 7"]),
    )


def suffixes() -> st.SearchStrategy[str]:
    return st.one_of(numbers(), st.text(max_size=20), st.sampled_from(["L", "P", "pekerja", "1", "-1"]))


def forged_taps() -> st.SearchStrategy[tuple[str, str]]:
    """Button data forged: a prefix the flows use, or the prefix of a button offered right now (`t:` of
    `t:12`, so the data reaches the step that reads it), with another ending."""
    anywhere = st.tuples(st.sampled_from(PREFIXES), suffixes()).map(lambda p: ("press", p[0] + p[1]))
    offered = st.tuples(st.integers(min_value=0, max_value=20), suffixes()).map(
        lambda p: ("forge", f"{p[0]}|{p[1]}")
    )
    return st.one_of(anywhere, offered, offered)


@st.composite
def mutated_commands(draw: st.DrawFn) -> tuple[str, str]:
    """A real command, a command with random words, or a one-message report, with words replaced by
    odd numbers and random text, or more appended."""
    word = st.one_of(st.sampled_from(WORDS), numbers(), st.text(max_size=12))
    parts = draw(
        st.one_of(
            st.sampled_from(REAL).map(str.split),
            st.tuples(st.sampled_from(COMMANDS), st.lists(word, max_size=3)).map(lambda c: [c[0], *c[1]]),
            st.lists(st.tuples(st.sampled_from(REPORT_PARTS), numbers()), min_size=1, max_size=3).map(
                lambda ps: [w for p in ps for w in p]
            ),
        )
    )
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        at = draw(st.integers(min_value=0, max_value=len(parts)))
        if at < len(parts) and draw(st.booleans()):
            parts[at] = draw(word)
        else:
            parts.insert(at, draw(word))
    return "text", " ".join(parts)


def random_texts() -> st.SearchStrategy[tuple[str, str]]:
    return st.one_of(st.text(max_size=200), st.sampled_from(WORDS), numbers()).map(lambda t: ("text", t))


def offered_taps() -> st.SearchStrategy[tuple[str, str]]:
    """A tap on the n-th button of the last reply that had buttons (n taken modulo their number)."""
    first = st.integers(min_value=0, max_value=2)  # save, confirm, the first of a list: where flows go on
    return st.one_of(first, first, st.integers(min_value=0, max_value=20)).map(lambda n: ("tap", str(n)))


def photos() -> st.SearchStrategy[tuple[str, str]]:
    """A small photo (milestones of /progres ask for one), of one of a few colours."""
    return st.integers(min_value=0, max_value=3).map(lambda n: ("photo", str(n)))


@st.composite
def runs(draw: st.DrawFn, message: st.SearchStrategy[tuple[str, str]]) -> list[tuple[str, tuple[str, str]]]:
    """A run: a command (real, or mutated) by one person, then a few messages of `message` or taps of
    the buttons offered (which lead into the flows' deeper states), now and then from someone else."""
    user = draw(st.sampled_from(USERS))
    lead = st.one_of(st.sampled_from(REAL).map(lambda c: ("text", c)), mutated_commands())
    steps = [(user, draw(lead))]
    for _ in range(draw(st.integers(min_value=1, max_value=MAX_STEPS - 1))):
        other = draw(st.integers(min_value=0, max_value=9)) == 0
        said = draw(st.one_of(message, offered_taps(), offered_taps(), photos()))
        steps.append((draw(st.sampled_from(USERS)) if other else user, said))
    return steps


REPORTERS = ["ketua-a", "ketua-b", "ketua-m", "bkm-b", "fasil"]
REPORTS = [c for c in REAL if c.split()[0].lstrip("/") in {"hadir", "progres", "kendala", "laporan", "ubah"}]


@st.composite
def report_runs(draw: st.DrawFn) -> list[tuple[str, tuple[str, str]]]:
    """A report (real or mutated) by someone who reports, then mostly the first buttons offered (which go
    on towards saving), numbers of every kind typed at the steps, and photos where asked."""
    user = draw(st.sampled_from(REPORTERS))
    steps = [(user, draw(st.one_of(st.sampled_from(REPORTS).map(lambda c: ("text", c)), mutated_commands())))]
    typed = st.one_of(numbers(), st.sampled_from(WORDS)).map(lambda t: ("text", t))
    first = st.integers(min_value=0, max_value=1).map(lambda n: ("tap", str(n)))
    for _ in range(draw(st.integers(min_value=2, max_value=MAX_STEPS + 2))):
        steps.append((user, draw(st.one_of(first, first, first, first, typed, photos(), forged_taps()))))
    return steps


# --- the world: one program, copied afresh for every example -----------------------------------------


@dataclass
class FuzzWorld:
    db: Database
    kotaku: Kotaku
    clock: Clock
    path: Path
    template: Path
    channels: dict[str, TestChannel] = field(default_factory=dict)

    async def fresh(self) -> None:
        """The database as built, a new engine, no conversations: each example replays alone."""
        await self.db.dispose()
        self._restore()
        self.clock.current = DEFAULT_NOW
        self.kotaku.new_engine()
        self.channels = {}

    def _restore(self) -> None:
        for extra in ("-wal", "-shm", "-journal"):
            Path(f"{self.path}{extra}").unlink(missing_ok=True)
        shutil.copyfile(self.template, self.path)

    def channel(self, user: str) -> TestChannel:
        if user not in self.channels:
            self.channels[user] = TestChannel(self.kotaku.engine).as_user(user)
        return self.channels[user]


async def _seed_open_items(db: Database, program: Program, today: date) -> None:
    """Something for /peringatan and /selesai to list: an open alert and obstacle in two kota."""
    async with db.transaction() as s:
        for n, ksm in enumerate(("ksm_a", "ksm_m"), start=1):
            s.add(
                Alert(
                    kind="behind_streak",
                    subject_type="ksm",
                    subject_id=program[ksm],
                    ksm_id=program[ksm],
                    severity=AlertSeverity.WARNING,
                    status=AlertStatus.OPEN,
                    dedup_key=f"behind_streak:ksm:{program[ksm]}",
                    figures={},
                    message="Progres tertinggal dari rencana.",
                    opened_at=DEFAULT_NOW,
                    updated_at=DEFAULT_NOW,
                )
            )
            s.add(
                Obstacle(
                    short_id=f"K-7F3{'QR'[n - 1]}",
                    ksm_id=program[ksm],
                    report_date=today,
                    category=ObstacleCategory.MATERIAL,
                    severity=Severity.SEDANG,
                    description="Semen belum datang",
                    status=ObstacleStatus.OPEN,
                    reported_at=DEFAULT_NOW,
                )
            )


@pytest.fixture
async def fuzz_world(settings: Settings, vault: NikVault) -> AsyncIterator[FuzzWorld]:
    """SQLite only: copying the database file is what makes a fresh world per example cheap."""
    db = Database(settings)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    clock = Clock(DEFAULT_NOW)
    today = DEFAULT_NOW.astimezone(ZoneInfo("Asia/Jakarta")).date()
    program = await build_program(db, vault, today)
    await _seed_open_items(db, program, today)
    await db.dispose()
    path = Path(db.engine.url.database or "")
    template = path.with_name("template.db")
    shutil.copyfile(path, template)
    world = FuzzWorld(
        db=db, kotaku=bootstrap(settings, db=db, now=clock), clock=clock, path=path, template=template
    )
    yield world
    await db.dispose()


# --- running and checking ----------------------------------------------------------------------------

FAILED = {
    catalogue.t(key, lang) for key in ("engine.error", "engine.state_lost") for lang in catalogue.LANGUAGES
}


@cache
def _jpeg(shade: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (40 * shade, 90, 60)).save(buf, "JPEG")
    return buf.getvalue()


async def _send(world: FuzzWorld, user: str, kind: str, payload: str) -> list[Outbound]:
    ch = world.channel(user)
    if kind == "text":
        return await ch.text(payload)
    if kind == "press":
        return await ch.press(payload)
    if kind == "photo":
        return await ch.photo(_jpeg(int(payload)))
    index, _, ending = payload.partition("|")
    try:
        offered = ch.last_choices()
    except AssertionError:  # nothing offered yet: a tap is a typed number then
        return await ch.text(index)
    value = offered[int(index) % len(offered)].value
    if kind == "forge":
        head, colon, _ = value.rpartition(":")
        value = f"{head}{colon}{ending}" if colon else value + ending
    return await ch.press(value)


async def _run(world: FuzzWorld, steps: list[tuple[str, tuple[str, str]]]) -> None:
    await world.fresh()
    for user, (kind, payload) in steps:
        replies = await _send(world, user, kind, payload)
        said = [r.text for r in replies if r.text in FAILED]
        assert not said, f"{user} sent {kind} {payload[:80]!r}: {said[0]}"
        world.clock.advance(minutes=1)
    await drain()  # exports asked for are built (and nothing writes to the file the next example replaces)
    await _check_stored(world)


def _problems(rows: Iterable[Any], check: Any) -> list[str]:
    return [f"{type(r).__name__} {r.id}" for r in rows if not check(r)]


async def _check_stored(world: FuzzWorld) -> None:
    """Every stored figure in range; every report for a KSM inside its sender's scope."""
    async with world.db.session() as s:
        activities = {a.id: a for a in (await s.execute(select(Activity))).scalars()}
        people = {p.id: p for p in (await s.execute(select(Person))).scalars()}
        scopes = {pid: set(await ksm_ids_in_scope(s, scope_of(p))) for pid, p in people.items()}
        progress = list((await s.execute(select(ProgressReport))).scalars())
        days = list((await s.execute(select(AttendanceDay))).scalars())
        records = list((await s.execute(select(AttendanceRecord))).scalars())
        workers = {w.id: w for w in (await s.execute(select(Worker))).scalars()}
        obstacles = list((await s.execute(select(Obstacle))).scalars())
        media = list((await s.execute(select(Media))).scalars())

    def in_scope(person_id: int | None, ksm_id: int) -> bool:
        return person_id is None or ksm_id in scopes.get(person_id, set())

    day_ksm = {d.id: d.ksm_id for d in days}
    listed = {d.id: sum(r.attendance_day_id == d.id for r in records) for d in days}
    bad = [
        *_problems(progress, lambda r: 0 <= r.percent <= 100 and (r.volume is None or r.volume >= 0)),
        *_problems(progress, lambda r: in_scope(r.entered_by_id, activities[r.activity_id].ksm_id)),
        *_problems(
            days,
            lambda d: (
                d.count_male >= 0
                and d.count_female >= 0
                and d.count_male + d.count_female <= MAX_WORKERS_PER_DAY
                and d.hok >= 0
                and 0 <= d.total_wages <= MAX_DAILY_RATE * max(d.count_male + d.count_female, listed[d.id])
            ),
        ),
        *_problems(days, lambda d: in_scope(d.entered_by_id, d.ksm_id)),
        *_problems(
            records,
            lambda r: (
                0 <= r.wage <= MAX_DAILY_RATE
                and r.hok >= 0
                and r.ksm_id == day_ksm[r.attendance_day_id] == workers[r.worker_id].ksm_id
            ),
        ),
        *_problems(workers.values(), lambda w: 0 < w.daily_rate <= MAX_DAILY_RATE),
        *_problems(obstacles, lambda o: in_scope(o.reported_by_id, o.ksm_id)),
        *_problems(obstacles, lambda o: o.closed_by_id is None or in_scope(o.closed_by_id, o.ksm_id)),
        *_problems(media, lambda m: in_scope(m.entered_by_id, m.ksm_id)),
    ]
    assert not bad, f"stored out of range or outside the sender's scope: {bad}"


# --- the properties ----------------------------------------------------------------------------------


@FUZZ
@given(steps=runs(random_texts()))
async def test_random_texts(fuzz_world: FuzzWorld, steps: list[tuple[str, tuple[str, str]]]) -> None:
    await _run(fuzz_world, steps)


@FUZZ
@given(steps=runs(mutated_commands()))
async def test_mutated_commands(fuzz_world: FuzzWorld, steps: list[tuple[str, tuple[str, str]]]) -> None:
    await _run(fuzz_world, steps)


@FUZZ
@given(steps=runs(forged_taps()))
async def test_forged_button_data(fuzz_world: FuzzWorld, steps: list[tuple[str, tuple[str, str]]]) -> None:
    await _run(fuzz_world, steps)


@FUZZ
@given(steps=report_runs())
async def test_reports_with_odd_numbers(
    fuzz_world: FuzzWorld, steps: list[tuple[str, tuple[str, str]]]
) -> None:
    await _run(fuzz_world, steps)
