"""Attendance (daftar hadir): one sheet per KSM and local date, by roster or by head count.

Rules kept here so the chat flow, the CLI, the importer and the scheduler agree:

- A sheet is `AttendanceDay` (unique per KSM + date). In roster mode it has one `AttendanceRecord` per
  worker present (KSM, date and NIK hash copied on the record for cross-site checks); in count mode only
  the counts by gender on the day.
- One worker present for the day is 1 HOK (a full day of `monitoring.hok_hours` hours).
- Wages: roster mode uses each worker's `daily_rate`; count mode takes either a rate per worker
  (`rate`, default `DEFAULT_COUNT_RATE`) or the day's total (`total_wages`).
- Count mode with only a total (gender not given): the total is stored in `count_male` and
  `count_female` is 0 — the table has no "unknown gender" column; the flow says so before saving.
- Dates: not in the future (local to the KSM); older than yesterday needs a reason (`late_reason`, at
  least `REASON_MIN_LETTERS` letters); older than `MAX_BACK_DAYS` is refused (ask the facilitator).
- Names on the roster: `NAME_MIN_CHARS` to `NAME_MAX_CHARS` characters, letters and no digits.
- Saving again for the same KSM and date is a correction: the old figures go to the audit log and
  `revision` is bumped; the records are replaced.
- Workers entered with a sheet (`Sheet.new_workers`) go on the roster only when the sheet is saved, in the
  same transaction: a sheet that is never saved leaves the roster as it was.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.config import MonitoringConfig
from kotaku.db import insert_if_absent
from kotaku.events import ReportKind, ReportSaved, WorkerAdded
from kotaku.models import (
    AttendanceDay,
    AttendanceMode,
    AttendanceRecord,
    AuditLog,
    Channel,
    Gender,
    Skill,
    Worker,
)
from kotaku.security import hide_personal_numbers
from kotaku.uow import UnitOfWork

# Sanity cap on workers in one sheet (KOTAKU sites have tens of workers, not hundreds).
MAX_WORKERS_PER_DAY = 500
# Dates before "yesterday" need a reason; more than this many days back cannot be entered in chat.
LATE_AFTER_DAYS = 1
MAX_BACK_DAYS = 60
# Wage per worker in count mode when nobody says otherwise, and the plausible range of a daily rate.
DEFAULT_COUNT_RATE = 85_000
MAX_DAILY_RATE = 1_000_000
# Usual daily rates offered as buttons (DOMAIN: Rp80-90 rb labourer, Rp100-125 rb tukang).
USUAL_RATES = {
    Skill.PEKERJA: (80_000, 85_000, 90_000),
    Skill.TUKANG: (100_000, 110_000, 120_000, 125_000),
    Skill.MANDOR: (120_000, 135_000, 150_000),
}
DEFAULT_RATES = {Skill.PEKERJA: 85_000, Skill.TUKANG: 120_000, Skill.MANDOR: 135_000}
HOK_PER_DAY = 1.0
# A typed amount in count mode up to this is a rate per worker; above it, the day's total wages.
MAX_RATE_GUESS = 500_000
# A worker's name (spaces collapsed): this many characters, at least NAME_MIN_LETTERS letters, no digit.
NAME_MIN_CHARS, NAME_MAX_CHARS, NAME_MIN_LETTERS = 2, 80, 2
# The reason for a late sheet: at least this many letters; longer reasons are cut to REASON_MAX_CHARS.
REASON_MIN_LETTERS = 3
REASON_MAX_CHARS = 500


class AttendanceError(ValueError):
    """A sheet that breaks a rule; `code` says which (the flow turns it into a sentence)."""

    def __init__(self, code: str, **detail: object) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


class DuplicateNik(AttendanceError):
    def __init__(self, worker_name: str) -> None:
        super().__init__("duplicate_nik", name=worker_name)
        self.worker_name = worker_name


class DateCheck(StrEnum):
    OK = "ok"
    FUTURE = "future"
    NEEDS_REASON = "needs_reason"
    TOO_OLD = "too_old"


def check_work_date(work_date: date, today: date) -> DateCheck:
    if work_date > today:
        return DateCheck.FUTURE
    if work_date < today - timedelta(days=MAX_BACK_DAYS):
        return DateCheck.TOO_OLD
    if work_date < today - timedelta(days=LATE_AFTER_DAYS):
        return DateCheck.NEEDS_REASON
    return DateCheck.OK


@dataclass(frozen=True)
class PendingWorker:
    """A worker entered with a sheet, put on the roster when the sheet is saved; until then `key` (below
    zero) stands for the worker in `Sheet.worker_ids`."""

    key: int
    name: str
    gender: Gender
    skill: Skill
    nik_encrypted: bytes
    nik_hash: str
    daily_rate: int


@dataclass(frozen=True)
class Sheet:
    """What was entered for one day, before it is saved."""

    work_date: date
    mode: AttendanceMode
    worker_ids: tuple[int, ...] = ()
    count_male: int = 0
    count_female: int = 0
    rate: int | None = None
    total_wages: int | None = None
    wages_paid: bool = False
    late_reason: str | None = None
    new_workers: tuple[PendingWorker, ...] = ()  # roster mode: saved onto the roster with the sheet


@dataclass
class AttendanceSummary:
    """Figures of one sheet (or several days summed): what the confirmation, /rekap and /status show."""

    ksm_id: int
    start: date
    end: date
    mode: AttendanceMode | None
    days: int = 0
    workers: int = 0
    male: int = 0
    female: int = 0
    skills: dict[str, int] = field(default_factory=dict)
    hok: float = 0.0
    total_wages: int = 0
    paid_wages: int = 0
    wages_paid: bool = False
    revision: int = 0
    late_reason: str | None = None
    entered_by_id: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "workers": self.workers,
            "male": self.male,
            "female": self.female,
            "hok": self.hok,
            "total_wages": self.total_wages,
            "wages_paid": self.wages_paid,
        }


@dataclass(frozen=True)
class SaveResult:
    day_id: int
    created: bool
    revision: int
    summary: AttendanceSummary


def valid_daily_rate(amount: int) -> bool:
    return 0 < amount <= MAX_DAILY_RATE


def interpret_amount(amount: int, workers: int, *, total: bool = False) -> tuple[int | None, int | None]:
    """(rate, total_wages) for an amount typed in count mode: a rate per worker unless it is larger
    than `MAX_RATE_GUESS` (or `total` says so), then the day's total. A rate must be a valid daily rate;
    a total at most `MAX_DAILY_RATE` per worker."""
    if amount < 0:
        raise AttendanceError("negative")
    if total or (amount > MAX_RATE_GUESS and workers > 1):
        if amount > MAX_DAILY_RATE * max(workers, 1):  # more than each worker at the highest daily rate
            raise AttendanceError("bad_total", limit=MAX_DAILY_RATE * max(workers, 1))
        return None, amount
    if not valid_daily_rate(amount):
        raise AttendanceError("bad_rate")
    return amount, None


def offered_rates(first: int, skill: Skill) -> list[int]:
    """The daily rates offered as buttons: `first` (the suggestion), then the usual rates of the skill."""
    return [first, *(r for r in USUAL_RATES[skill] if r != first)]


def count_rates() -> list[int]:
    """The rates per worker offered in count mode: the default rate first, then a labourer's usual ones."""
    return offered_rates(DEFAULT_COUNT_RATE, Skill.PEKERJA)


def fill_split(total: int, male: int, female: int) -> tuple[int, int]:
    """The men/women split of `total` workers from the figures typed: one gender alone (`5 P`) means the
    rest are the other. The caller checks that the result adds up to `total`."""
    if (male == 0) != (female == 0) and male + female <= total:
        return (total - female, female) if female else (male, total - male)
    return male, female


def usual_crew(counts: Iterable[int], min_days: int = 3) -> tuple[int, int] | None:
    """A KSM's usual crew, low to high, from the head counts of its recent days (days without workers
    left out): the range without the top and bottom tenth (a tenth of 10-19 days is one day), so one odd
    day does not widen it. None with fewer than `min_days` days to judge by.

    Monitoring's `crew_spike` check and the chat's "Biasanya 12–16" read the same range.
    """
    worked = sorted(c for c in counts if c > 0)
    if not worked or len(worked) < min_days:
        return None
    cut = len(worked) // 10
    return worked[cut], worked[len(worked) - 1 - cut]


def crew_far_above_usual(
    present: int, history: Sequence[int], cfg: MonitoringConfig
) -> tuple[int, int] | None:
    """The usual crew (low, high) when `present` is far above it: more than `crew_spike_ratio` × the usual
    median and at least `crew_spike_min_extra` above the usual high; None otherwise (or too few days).
    Monitoring's `crew_spike` and the chat's "Yakin 500 orang? Biasanya 12–16." use this one rule."""
    usual = usual_crew(history, cfg.crew_min_days)
    if usual is None:
        return None
    median = statistics.median(x for x in history if x > 0)
    if present > cfg.crew_spike_ratio * median and present >= usual[1] + cfg.crew_spike_min_extra:
        return usual
    return None


async def recent_crew_counts(session: AsyncSession, ksm_id: int, before: date, days: int) -> list[int]:
    """The KSM's head count on each day with workers among the `days` days before `before` (for
    `usual_crew`), oldest first."""
    present = AttendanceDay.count_male + AttendanceDay.count_female
    rows = await session.execute(
        select(present)
        .where(
            AttendanceDay.ksm_id == ksm_id,
            AttendanceDay.work_date < before,
            AttendanceDay.work_date >= before - timedelta(days=days),
            present > 0,
        )
        .order_by(AttendanceDay.work_date)
    )
    return [int(n) for n in rows.scalars()]


def clean_worker_name(text: str) -> str | None:
    """A new worker's name with its spaces collapsed, or None when it is not a plausible name."""
    name = " ".join(text.split())
    if (
        not NAME_MIN_CHARS <= len(name) <= NAME_MAX_CHARS
        or sum(ch.isalpha() for ch in name) < NAME_MIN_LETTERS
        or any(ch.isdigit() for ch in name)
    ):
        return None
    return name


def clean_late_reason(text: str) -> str | None:
    """The reason given for a late sheet, cut to `REASON_MAX_CHARS`; None when it is too short."""
    reason = text.strip()
    if sum(ch.isalpha() for ch in reason) < REASON_MIN_LETTERS:
        return None
    return reason[:REASON_MAX_CHARS]


# --- roster ------------------------------------------------------------------------------------------


async def active_roster(session: AsyncSession, ksm_id: int) -> list[Worker]:
    """The KSM's active workers, by name."""
    stmt = (
        select(Worker)
        .where(Worker.ksm_id == ksm_id, Worker.active.is_(True))
        .order_by(Worker.name, Worker.id)
    )
    return list((await session.execute(stmt)).scalars())


async def uses_roster(session: AsyncSession, ksm_id: int, keeps_roster: bool) -> bool:
    """Roster mode when the KSM keeps a roster and has at least one active worker."""
    if not keeps_roster:
        return False
    stmt = select(func.count(Worker.id)).where(Worker.ksm_id == ksm_id, Worker.active.is_(True))
    return int((await session.execute(stmt)).scalar_one()) > 0


async def suggested_rate(session: AsyncSession, ksm_id: int, skill: Skill) -> int:
    """The median daily rate of this skill on the KSM's roster, else the program's usual rate."""
    stmt = select(Worker.daily_rate).where(
        Worker.ksm_id == ksm_id, Worker.skill == skill, Worker.active.is_(True)
    )
    rates = [int(r) for r in (await session.execute(stmt)).scalars()]
    return int(statistics.median(rates)) if rates else DEFAULT_RATES[skill]


async def worker_with_nik(session: AsyncSession, ksm_id: int, nik_hash: str) -> Worker | None:
    stmt = select(Worker).where(Worker.ksm_id == ksm_id, Worker.nik_hash == nik_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def add_worker(
    uow: UnitOfWork,
    *,
    ksm_id: int,
    name: str,
    gender: Gender,
    skill: Skill,
    nik_encrypted: bytes,
    nik_hash: str,
    daily_rate: int,
    actor_id: int | None,
    now: datetime,
) -> Worker:
    """Put a worker on the KSM's roster; a NIK already on this roster raises DuplicateNik."""
    session = uow.session
    existing = await worker_with_nik(session, ksm_id, nik_hash)
    if existing is not None:
        raise DuplicateNik(existing.name)
    if not valid_daily_rate(daily_rate):
        raise AttendanceError("bad_rate")
    clean_name = clean_worker_name(name)
    if clean_name is None:
        raise AttendanceError("bad_name")
    worker = Worker(
        ksm_id=ksm_id,
        name=clean_name,
        gender=gender,
        skill=skill,
        nik_encrypted=nik_encrypted,
        nik_hash=nik_hash,
        daily_rate=daily_rate,
        active=True,
        created_at=now,
    )
    session.add(worker)
    await session.flush()
    session.add(
        AuditLog(
            at=now,
            actor_id=actor_id,
            action="worker_added",
            entity="worker",
            entity_id=worker.id,
            new={"ksm_id": ksm_id, "name": worker.name, "skill": skill.value, "daily_rate": daily_rate},
        )
    )
    uow.record(WorkerAdded(at=now, worker_id=worker.id, ksm_id=ksm_id))
    return worker


# --- reading -----------------------------------------------------------------------------------------


async def get_attendance(session: AsyncSession, ksm_id: int, work_date: date) -> AttendanceDay | None:
    """The sheet of one KSM and local date, if any."""
    stmt = select(AttendanceDay).where(AttendanceDay.ksm_id == ksm_id, AttendanceDay.work_date == work_date)
    return (await session.execute(stmt)).scalar_one_or_none()


async def attendance_worker_ids(session: AsyncSession, day_id: int) -> list[int]:
    stmt = select(AttendanceRecord.worker_id).where(AttendanceRecord.attendance_day_id == day_id)
    return list((await session.execute(stmt.order_by(AttendanceRecord.id))).scalars())


async def recent_sheets(session: AsyncSession, ksm_id: int, since: date) -> list[tuple[AttendanceDay, int]]:
    """The KSM's sheets from `since` on, newest first, each with its number of workers."""
    records = (
        select(AttendanceRecord.attendance_day_id, func.count(AttendanceRecord.id).label("n"))
        .group_by(AttendanceRecord.attendance_day_id)
        .subquery()
    )
    rows = await session.execute(
        select(AttendanceDay, func.coalesce(records.c.n, 0))
        .outerjoin(records, records.c.attendance_day_id == AttendanceDay.id)
        .where(AttendanceDay.ksm_id == ksm_id, AttendanceDay.work_date >= since)
        .order_by(AttendanceDay.work_date.desc())
    )
    return [(day, int(on_roster) or day.count_male + day.count_female) for day, on_roster in rows]


async def attendance_summary(
    session: AsyncSession, ksm_id: int, start: date, end: date | None = None
) -> AttendanceSummary | None:
    """Figures of the KSM's sheets from `start` to `end` (inclusive; one day when `end` is None).

    None when there is no sheet in that period. For one day `mode`, `revision`, `late_reason` and
    `entered_by_id` are that sheet's; over several days `mode` is None when modes differ.
    """
    end = end or start
    days = list(
        (
            await session.execute(
                select(AttendanceDay)
                .where(
                    AttendanceDay.ksm_id == ksm_id,
                    AttendanceDay.work_date >= start,
                    AttendanceDay.work_date <= end,
                )
                .order_by(AttendanceDay.work_date)
            )
        ).scalars()
    )
    if not days:
        return None
    out = AttendanceSummary(ksm_id=ksm_id, start=start, end=end, mode=days[0].mode, days=len(days))
    out.wages_paid = all(d.wages_paid for d in days)
    if len(days) == 1:
        d = days[0]
        out.revision, out.late_reason, out.entered_by_id = d.revision, d.late_reason, d.entered_by_id
    roster_days = [d.id for d in days if d.mode == AttendanceMode.ROSTER]
    for d in days:
        if d.mode != out.mode:
            out.mode = None
        out.hok += d.hok
        out.total_wages += int(d.total_wages)
        if d.mode == AttendanceMode.COUNT:
            out.male += d.count_male
            out.female += d.count_female
            out.workers += d.count_male + d.count_female
            out.paid_wages += int(d.total_wages) if d.wages_paid else 0
    if roster_days:
        rows = await session.execute(
            select(Worker.gender, Worker.skill, AttendanceRecord.wage, AttendanceRecord.paid)
            .join(Worker, Worker.id == AttendanceRecord.worker_id)
            .where(AttendanceRecord.attendance_day_id.in_(roster_days))
        )
        for gender, skill, wage, paid in rows:
            _count_worker(out, gender, skill)
            out.paid_wages += int(wage) if paid else 0
    return out


def _count_worker(out: AttendanceSummary, gender: Gender, skill: Skill) -> None:
    out.workers += 1
    if gender == Gender.P:
        out.female += 1
    else:
        out.male += 1
    out.skills[skill.value] = out.skills.get(skill.value, 0) + 1


# --- checking and saving -----------------------------------------------------------------------------


async def _roster_workers(session: AsyncSession, ksm_id: int, worker_ids: Sequence[int]) -> list[Worker]:
    ids = list(dict.fromkeys(worker_ids))
    if len(ids) > MAX_WORKERS_PER_DAY:
        raise AttendanceError("too_many", limit=MAX_WORKERS_PER_DAY)
    if not ids:
        return []
    rows = list((await session.execute(select(Worker).where(Worker.id.in_(ids)))).scalars())
    by_id = {w.id: w for w in rows}
    foreign = [i for i in ids if i not in by_id or by_id[i].ksm_id != ksm_id or not by_id[i].active]
    if foreign:
        raise AttendanceError("not_on_roster", worker_ids=foreign)
    return [by_id[i] for i in ids]


def _count_wages(sheet: Sheet) -> int:
    total = sheet.count_male + sheet.count_female
    if sheet.total_wages is not None:
        return sheet.total_wages
    return total * (sheet.rate if sheet.rate is not None else DEFAULT_COUNT_RATE)


def _check_counts(sheet: Sheet) -> None:
    if sheet.count_male < 0 or sheet.count_female < 0:
        raise AttendanceError("negative")
    if sheet.count_male + sheet.count_female > MAX_WORKERS_PER_DAY:
        raise AttendanceError("too_many", limit=MAX_WORKERS_PER_DAY)
    if (sheet.total_wages is not None and sheet.total_wages < 0) or (
        sheet.rate is not None and sheet.rate < 0
    ):
        raise AttendanceError("negative")


def _figures(ksm_id: int, sheet: Sheet, present: Iterable[tuple[Gender, Skill, int]]) -> AttendanceSummary:
    """The one definition of a sheet's figures (workers, HOK, wages, paid), as `attendance_summary` reads
    them back: by roster from the workers `present` (gender, skill, daily rate), else from the counts."""
    out = AttendanceSummary(
        ksm_id=ksm_id,
        start=sheet.work_date,
        end=sheet.work_date,
        mode=sheet.mode,
        days=1,
        wages_paid=sheet.wages_paid,
        late_reason=sheet.late_reason,
    )
    if sheet.mode == AttendanceMode.ROSTER:
        for gender, skill, rate in present:
            _count_worker(out, gender, skill)
            out.total_wages += rate
        out.hok = HOK_PER_DAY * out.workers
    else:
        out.male, out.female = sheet.count_male, sheet.count_female
        out.workers = sheet.count_male + sheet.count_female
        out.hok = HOK_PER_DAY * out.workers
        out.total_wages = _count_wages(sheet)
    out.paid_wages = out.total_wages if sheet.wages_paid else 0
    return out


async def preview(session: AsyncSession, ksm_id: int, sheet: Sheet) -> AttendanceSummary:
    """The figures `sheet` would save, checked against the rules, without writing anything."""
    if sheet.mode != AttendanceMode.ROSTER:
        _check_counts(sheet)
        return _figures(ksm_id, sheet, ())
    pending = _pending(sheet)
    listed = await _roster_workers(session, ksm_id, _listed_ids(sheet, pending))
    new = [pending[i] for i in dict.fromkeys(sheet.worker_ids) if i in pending]
    return _figures(
        ksm_id,
        sheet,
        [(w.gender, w.skill, int(w.daily_rate)) for w in listed]
        + [(p.gender, p.skill, p.daily_rate) for p in new],
    )


def _pending(sheet: Sheet) -> dict[int, PendingWorker]:
    return {p.key: p for p in sheet.new_workers}


def _listed_ids(sheet: Sheet, pending: dict[int, PendingWorker]) -> list[int]:
    """The workers of the sheet already on the roster; refuses more than `MAX_WORKERS_PER_DAY` in all."""
    ids = list(dict.fromkeys(sheet.worker_ids))
    if len(ids) > MAX_WORKERS_PER_DAY:
        raise AttendanceError("too_many", limit=MAX_WORKERS_PER_DAY)
    return [i for i in ids if i not in pending]


async def _add_new_workers(
    uow: UnitOfWork, ksm_id: int, sheet: Sheet, *, actor_id: int | None, now: datetime
) -> Sheet:
    """Put the sheet's new workers on the roster and return the sheet naming them by their ids. Everything
    is checked before anything is written, so a refused sheet adds no one."""
    session = uow.session
    pending = _pending(sheet)
    await _roster_workers(session, ksm_id, _listed_ids(sheet, pending))
    seen: set[str] = set()
    for p in pending.values():
        existing = await worker_with_nik(session, ksm_id, p.nik_hash)
        if existing is not None or p.nik_hash in seen:
            raise DuplicateNik(existing.name if existing is not None else p.name)
        seen.add(p.nik_hash)
        if not valid_daily_rate(p.daily_rate):
            raise AttendanceError("bad_rate")
        if clean_worker_name(p.name) is None:
            raise AttendanceError("bad_name")
    ids: dict[int, int] = {}
    for key, p in pending.items():
        worker = await add_worker(
            uow,
            ksm_id=ksm_id,
            name=p.name,
            gender=p.gender,
            skill=p.skill,
            nik_encrypted=p.nik_encrypted,
            nik_hash=p.nik_hash,
            daily_rate=p.daily_rate,
            actor_id=actor_id,
            now=now,
        )
        ids[key] = worker.id
    return replace(sheet, worker_ids=tuple(ids.get(i, i) for i in sheet.worker_ids), new_workers=())


async def save_attendance(
    uow: UnitOfWork,
    *,
    ksm_id: int,
    sheet: Sheet,
    entered_by_id: int | None,
    channel: Channel | None,
    now: datetime,
) -> SaveResult:
    """Create or replace the KSM's sheet for `sheet.work_date`; a replacement is audited and bumps revision.
    The sheet's new workers go on the roster first (DuplicateNik when a NIK is on the roster by now)."""
    session = uow.session
    workers: list[Worker] = []
    if sheet.mode == AttendanceMode.ROSTER:
        if sheet.new_workers:
            sheet = await _add_new_workers(uow, ksm_id, sheet, actor_id=entered_by_id, now=now)
        workers = await _roster_workers(session, ksm_id, sheet.worker_ids)
    else:
        _check_counts(sheet)
    summary = _figures(ksm_id, sheet, ((w.gender, w.skill, int(w.daily_rate)) for w in workers))
    summary.late_reason = hide_personal_numbers(sheet.late_reason, session.info)
    summary.entered_by_id = entered_by_id
    figures = {
        "mode": sheet.mode,
        "count_male": summary.male,
        "count_female": summary.female,
        "hok": summary.hok,
        "total_wages": summary.total_wages,
        "wages_paid": sheet.wages_paid,
        "late_reason": summary.late_reason,
        "entered_by_id": entered_by_id,
        "entered_at": now,
        "channel": channel,
    }
    # The first save of the day inserts the whole sheet in one statement; concurrent ones queue on it (no
    # unique-key error on PostgreSQL): each then finds the row, locked, and replaces what the one before
    # saved.
    day_id = await insert_if_absent(
        session,
        AttendanceDay,
        ("ksm_id", "work_date"),
        ksm_id=ksm_id,
        work_date=sheet.work_date,
        revision=1,
        **figures,
    )
    created = day_id is not None
    revision = 1
    if day_id is None:
        day = (
            await session.execute(
                select(AttendanceDay)
                .where(AttendanceDay.ksm_id == ksm_id, AttendanceDay.work_date == sheet.work_date)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        old = await attendance_summary(session, ksm_id, sheet.work_date)
        assert old is not None
        old_ids = await attendance_worker_ids(session, day.id)
        session.add(
            AuditLog(
                at=now,
                actor_id=entered_by_id,
                action="attendance_corrected",
                entity="attendance_day",
                entity_id=day.id,
                old={
                    **old.as_dict(),
                    "mode": day.mode.value,
                    "revision": day.revision,
                    "worker_ids": old_ids,
                    "entered_by_id": day.entered_by_id,
                    "late_reason": day.late_reason,
                },
                note=f"ksm={ksm_id} date={sheet.work_date.isoformat()}",
            )
        )
        await session.execute(delete(AttendanceRecord).where(AttendanceRecord.attendance_day_id == day.id))
        day.revision += 1
        for name, value in figures.items():
            setattr(day, name, value)
        await session.flush()
        day_id, revision = day.id, day.revision
    if workers:
        # One statement for the whole roster (executemany), not one INSERT per worker.
        await session.execute(
            insert(AttendanceRecord),
            [
                {
                    "attendance_day_id": day_id,
                    "worker_id": w.id,
                    "ksm_id": ksm_id,
                    "work_date": sheet.work_date,
                    "nik_hash": w.nik_hash,
                    "hok": HOK_PER_DAY,
                    "wage": int(w.daily_rate),
                    "paid": sheet.wages_paid,
                }
                for w in workers
            ],
        )
    summary.revision = revision  # what `attendance_summary` would read back now, without reading it
    uow.record(
        ReportSaved(
            at=now,
            ksm_id=ksm_id,
            kind=ReportKind.ATTENDANCE,
            report_date=sheet.work_date,
            corrected=not created,
        )
    )
    return SaveResult(day_id=day_id, created=created, revision=revision, summary=summary)
