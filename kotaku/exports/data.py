"""The rows of each export table as plain dataclasses, read set-based one batch of KSMs at a time.

`ExportData.load()` reads the KSMs of the scope once (with their BKM, kelurahan and the regions above, their
activities and the people who sign: ketua KSM, BKM, fasilitator); each table is then an async iterator that
reads `BATCH_KSMS` KSMs per round of queries and yields its rows, so a national export never holds more
than one batch of attendance, reports or photos in memory.

Every figure follows the one definition of the services and domain:
- HOK: the attendance records' `hok` (roster; `HOK_PER_DAY` each) or the day's HOK of a count-mode sheet
  (its head count when the sheet has none), as `kotaku.services.summary` counts them;
- wages: the records' `wage` (roster) or the sheet's `total_wages` (count mode), paid or not as entered;
- planned %, deviation and status: `kotaku.domain.plan` (`planned_percents`, `project_finish`, `assess`;
  `assess_without_trend`: the trend projected only when it can change the status) with
  the trend window of `/rekap` (`kotaku.services.summary.TREND_DAYS`);
- distance of a photo to its site: `kotaku.domain.geo.distance_m` to the activity's point, else the KSM's
  (the rule of `kotaku.services.media.site_distance`);
- Ringkasan: the figures of `kotaku.services.summary.scope_summary` of each KSM (`/rekap`), read per batch of
  KSMs and time zone: its own activity query (`activity_statuses`) and its workforce sums grouped by KSM;
  upah tercatat and perkiraan nilai pekerjaan as `kotaku.domain.figures` defines them.

Dates are local to each KSM (its kelurahan's zone). NIKs are masked (`3322********0001`) unless the request
unmasks them.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVarTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, case, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import clock
from kotaku.config import Settings
from kotaku.domain import figures
from kotaku.domain.calendar import WorkCalendar
from kotaku.domain.geo import distance_m
from kotaku.domain.plan import (
    Assessment,
    Status,
    assess,
    assess_without_trend,
    planned_percents,
    project_finish,
)
from kotaku.domain.regions import path_codes, within
from kotaku.exports import ExportRequest
from kotaku.models import (
    Activity,
    Alert,
    AlertStatus,
    AttendanceDay,
    AttendanceMode,
    AttendanceRecord,
    Bkm,
    Gender,
    Ksm,
    Media,
    MediaKind,
    Obstacle,
    ObstacleStatus,
    Person,
    PlanPoint,
    ProgressReport,
    Region,
    RegionLevel,
    Role,
    Skill,
    Worker,
)
from kotaku.security import NikVault, mask_nik, vault_from_settings
from kotaku.services.obstacles import days_open
from kotaku.services.scope import (
    Scope,
    join_kelurahan,
    region_path_within,
    scope_contains_ksm,
    scope_of,
)
from kotaku.services.summary import TREND_DAYS, ActivityStatus, ScopeKsms, activity_statuses

Ts = TypeVarTuple("Ts")

# KSMs read per round of queries (each round: a handful of set-based queries for these KSMs).
BATCH_KSMS = 200
# Progres verdicts kept (emptied at this size), and the mark of one not made yet.
VERDICTS_KEPT = 100_000
MISSING: Any = object()
# KSMs per round of the Ringkasan queries: its rows are small (figures per KSM and activity, all kept
# for the ordering anyway), so bigger rounds, fewer queries.
RINGKASAN_BATCH_KSMS = 2_000
# NIKs decrypted once per export and kept (masked or whole, as shown); the cache is emptied at this size.
NIK_CACHE = 200_000
# How an export masks a NIK: the first 4 and last 4 digits (ASCII, so it survives any spreadsheet or CSV).
MASK_CHAR = "*"
# The last moment of a local date in the easternmost zone (WIT, UTC+9): every Indonesian site is still on
# that date, so one `now` measures every site on it.
EASTERNMOST = ZoneInfo("Asia/Jayapura")
# Worst first (Ringkasan): critical, behind, not started, on plan, ahead, done.
STATUS_RANK = {
    Status.CRITICAL: 0,
    Status.BEHIND: 1,
    Status.NOT_STARTED: 2,
    Status.ON_PLAN: 3,
    Status.AHEAD: 4,
    Status.DONE: 5,
}


def export_mask(nik: str) -> str:
    """`3322********0001`: `kotaku.security.mask_nik` with ASCII stars."""
    return mask_nik(nik).replace("•", MASK_CHAR)


class DayCache(dict[Any, date]):
    """Dates of the big reads (attendance records, progress reports) as the driver gives them, parsed once
    per distinct value: text on SQLite (where SQLAlchemy's date type parses every row with a regular
    expression, about 1.6 s per million values), a date already on PostgreSQL. `cache[value]` is the date."""

    def __missing__(self, value: Any) -> date:
        day = value if isinstance(value, date) else date.fromisoformat(value)
        self[value] = day
        return day


def raw(column: Any) -> Any:
    """A column read as the driver gives it, without SQLAlchemy's conversion of every value: a date as its
    text on SQLite (see `DayCache`), a code (a StrEnum's) as its text, equal to the member
    (`"roster" == AttendanceMode.ROSTER`)."""
    return type_coerce(column, String).label(column.key)


# --- the places -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityInfo:
    id: int
    code: str
    name: str
    indicator: str
    unit: str
    target_volume: float
    budget: int
    wage_budget: int
    start_date: date
    end_date: date
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True)
class KsmInfo:
    """A KSM with where it lies and who signs its papers."""

    id: int
    code: str
    name: str
    keeps_roster: bool
    latitude: float | None
    longitude: float | None
    timezone: str
    bkm_id: int
    bkm_code: str
    bkm_name: str
    kelurahan_id: int
    kelurahan_code: str
    kelurahan_name: str
    kelurahan_path: str
    kecamatan: str | None = None
    kabkota: str | None = None
    provinsi: str | None = None
    activities: tuple[ActivityInfo, ...] = ()
    ketua: str | None = None
    bkm_person: str | None = None
    fasilitator: str | None = None

    @property
    def kegiatan(self) -> str:
        """`Rabat beton jalan (KEG-BJL-01); Drainase (KEG-BJL-02)`."""
        return "; ".join(f"{a.name} ({a.code})" for a in self.activities)


# --- the tables -----------------------------------------------------------------------------------


@dataclass
class HadirWorker:
    worker_id: int
    code: str | None
    name: str
    nik: str  # masked unless unmasked
    gender: str  # "L" or "P"
    skill: str
    present: dict[date, float] = field(default_factory=dict)  # date -> HOK that day

    @property
    def hok(self) -> float:
        return sum(self.present.values())

    @property
    def days(self) -> int:
        return len(self.present)


@dataclass
class HadirCountDay:
    """A count-mode sheet (no roster): heads by gender, HOK and wages of one day."""

    work_date: date
    male: int
    female: int
    hok: float
    wages: int
    paid: bool

    @property
    def workers(self) -> int:
        return self.male + self.female


@dataclass
class HadirBlock:
    """One Daftar Hadir paper: a KSM over one payment period."""

    ksm: KsmInfo
    start: date
    end: date
    days: list[date]  # the grid's columns: every day of the period
    off_days: frozenset[date] = frozenset()  # the days of `days` that are no work days (shaded)
    today: date = date.max  # the KSM's local today: later days are still to come
    workers: list[HadirWorker] = field(default_factory=list)  # roster sheets
    counts: list[HadirCountDay] = field(default_factory=list)  # count-mode sheets

    def hok_on(self, day: date) -> float:
        return sum(w.present.get(day, 0.0) for w in self.workers)

    @property
    def roster_hok(self) -> float:
        return sum(w.hok for w in self.workers)

    @property
    def count_hok(self) -> float:
        return sum(c.hok for c in self.counts)

    @property
    def total_hok(self) -> float:
        return self.roster_hok + self.count_hok

    @property
    def rows(self) -> int:
        return len(self.workers) + len(self.counts)


@dataclass
class UpahLine:
    """A line of the wage list: a worker over the period (roster), or one count-mode day."""

    name: str
    skill: str | None
    days: int
    hok: float
    rate: int
    total: int
    paid_amount: int
    worker_id: int | None = None
    code: str | None = None
    nik: str = ""
    gender: str | None = None
    work_date: date | None = None  # count mode: the day
    male: int = 0
    female: int = 0

    @property
    def status(self) -> str:
        """`paid` (nothing left to pay), `unpaid` (nothing paid) or `partial`."""
        if self.paid_amount >= self.total:
            return "paid"
        return "unpaid" if self.paid_amount == 0 else "partial"

    @property
    def workers(self) -> int:
        """Count mode: the heads of the day."""
        return self.male + self.female


@dataclass
class UpahBlock:
    """One Daftar Pembayaran Upah paper: a KSM over one payment period."""

    ksm: KsmInfo
    start: date
    end: date
    lines: list[UpahLine] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(line.total for line in self.lines)

    @property
    def paid(self) -> int:
        return sum(line.paid_amount for line in self.lines)

    @property
    def unpaid(self) -> int:
        return self.total - self.paid

    @property
    def hok(self) -> float:
        return sum(line.hok for line in self.lines)


@dataclass
class ProgresRow:
    ksm: KsmInfo
    activity: ActivityInfo
    report_date: date
    planned: float
    actual: float
    deviation: float | None
    status: Status
    volume: float | None
    photos: int
    note: str | None = None


@dataclass
class KendalaRow:
    short_id: str
    ksm: KsmInfo
    activity: ActivityInfo | None
    report_date: date
    category: str
    severity: str
    description: str
    status: str  # "open" or "closed"
    closed_date: date | None
    reported_by: str | None
    closed_by: str | None
    close_note: str | None
    days_open: int


@dataclass
class FotoRow:
    media_id: int
    ksm: KsmInfo
    activity: ActivityInfo | None
    report_date: date
    milestone: int | None
    latitude: float | None
    longitude: float | None
    distance_m: float | None
    file_name: str  # the name in the photo zip: foto/<file_name>
    stored_path: str | None  # relative to media.dir
    sha256: str | None
    mime_type: str | None
    size_bytes: int | None
    taken_at: datetime | None  # local to the site
    caption: str | None


@dataclass
class RingkasanActivity:
    activity: ActivityInfo
    planned: float
    actual: float | None
    deviation: float | None
    status: Status
    last_report: date | None
    open_obstacles: int
    open_alerts: int

    @property
    def rank(self) -> tuple[int, float]:
        return STATUS_RANK.get(self.status, 9), self.deviation if self.deviation is not None else 0.0

    @property
    def work_value(self) -> float:
        """Perkiraan nilai pekerjaan: the activity's budget × its actual % (`kotaku.domain.figures`)."""
        return figures.work_value(self.activity.budget, self.actual)


@dataclass
class RingkasanKsm:
    """One KSM of the summary (figures to date, as `/rekap` gives them) and its activities, worst first."""

    ksm: KsmInfo
    as_of: date
    hok: float
    workers: int  # worker-days to date
    wages: int  # upah tercatat to date (`kotaku.domain.figures`), paid or not
    wages_paid: int
    wage_budget: int
    budget: int
    open_obstacles: int
    open_alerts: int
    activities: list[RingkasanActivity] = field(default_factory=list)

    @property
    def work_value(self) -> float:
        """Perkiraan nilai pekerjaan: Σ budget × actual % of its activities (as `/rekap` and the alert)."""
        return sum(a.work_value for a in self.activities)

    @property
    def rank(self) -> tuple[int, float, int, int, str]:
        worst = min((a.rank for a in self.activities), default=(9, 0.0))
        return (*worst, -self.open_alerts, -self.open_obstacles, self.ksm.name)

    @property
    def worst_status(self) -> Status | None:
        return min(self.activities, key=lambda a: a.rank).status if self.activities else None


# --- scope ----------------------------------------------------------------------------------------


def _scope_filter(stmt: Select[*Ts], scope: Scope, region_path: str | None) -> Select[*Ts]:
    """Restrict a statement joined to Ksm, Bkm and the kelurahan (`Region`) to a scope."""
    if scope.ksm_id is not None:
        return stmt.where(Ksm.id == scope.ksm_id)
    if scope.bkm_id is not None:
        return stmt.where(Ksm.bkm_id == scope.bkm_id)
    if scope.region_id is not None:
        assert region_path is not None
        return stmt.where(region_path_within(region_path))
    return stmt


async def _region_path(session: AsyncSession, region_id: int | None) -> str | None:
    if region_id is None:
        return None
    region = await session.get(Region, region_id)
    if region is None:
        raise LookupError(f"region {region_id} not found")
    return region.path


async def _bkm_path(session: AsyncSession, bkm_id: int) -> str | None:
    stmt = select(Region.path).join(Bkm, Bkm.kelurahan_id == Region.id).where(Bkm.id == bkm_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def scope_within(session: AsyncSession, person: Person, wanted: Scope) -> bool:
    """Whether `wanted` lies inside the person's own scope (national contains everything; a KSM scope
    contains only that KSM; a BKM its KSMs; a region everything below it)."""
    own = scope_of(person)
    if own.is_national:
        return True
    if wanted.is_national:
        return False
    if wanted.ksm_id is not None:
        return await scope_contains_ksm(session, own, wanted.ksm_id)
    if own.ksm_id is not None:
        return False
    if wanted.bkm_id is not None:
        if own.bkm_id is not None:
            return own.bkm_id == wanted.bkm_id
        own_path = await _region_path(session, own.region_id)
        kel_path = await _bkm_path(session, wanted.bkm_id)
        return own_path is not None and kel_path is not None and within(kel_path, own_path)
    if own.bkm_id is not None:
        return False
    own_path = await _region_path(session, own.region_id)
    wanted_path = await _region_path(session, wanted.region_id)
    return own_path is not None and wanted_path is not None and within(wanted_path, own_path)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- the export's data ----------------------------------------------------------------------------


@dataclass
class ExportData:
    """What one export reads: the KSMs of the scope (loaded once) and, per table, its rows batch by batch."""

    session: AsyncSession
    settings: Settings
    request: ExportRequest
    ksms: list[KsmInfo]
    periods: list[tuple[date, date]]
    vault: NikVault | None = None
    now: datetime = field(default_factory=clock.now)
    batch_size: int = BATCH_KSMS
    # The NIK as shown, by ciphertext: a worker's NIK is decrypted once, not once per record or block.
    _niks: dict[bytes, str] = field(default_factory=dict, init=False, repr=False)
    _work_day_cache: dict[tuple[date, date], frozenset[date]] = field(
        default_factory=dict, init=False, repr=False
    )
    _workers_shown: dict[int, tuple[str | None, str, str, str, str]] = field(
        default_factory=dict, init=False, repr=False
    )
    # Progres: `assess_without_trend` by (planned, actual, end date).
    _verdicts: dict[tuple[float, float, date], Assessment | None] = field(
        default_factory=dict, init=False, repr=False
    )
    # The dates of the records and reports, by their raw value (`DayCache`).
    day: DayCache = field(default_factory=DayCache, init=False, repr=False)

    @classmethod
    async def load(
        cls,
        session: AsyncSession,
        settings: Settings,
        request: ExportRequest,
        *,
        now: datetime | None = None,
        batch_size: int | None = None,
        ksms: list[KsmInfo] | None = None,
    ) -> ExportData:
        from kotaku.exports import payment_periods

        if ksms is None:
            ksms = await load_ksms(session, request.scope)
        return cls(
            session=session,
            settings=settings,
            request=request,
            ksms=ksms,
            periods=payment_periods(request.start, request.end, settings),
            now=now or clock.now(),
            batch_size=batch_size or BATCH_KSMS,
        )

    # --- helpers ----------------------------------------------------------------------------------

    def batches(self) -> Iterator[Sequence[KsmInfo]]:
        return _chunks(self.ksms, self.batch_size)

    @property
    def ksm_count(self) -> int:
        return len(self.ksms)

    def nik(self, encrypted: bytes | None) -> str:
        """The NIK as the export shows it: masked (`3322********0001`), or whole when unmasked."""
        if not encrypted:
            return ""
        shown = self._niks.get(encrypted)
        if shown is not None:
            return shown
        if self.vault is None:
            self.vault = vault_from_settings(self.settings)
        try:
            nik = self.vault.decrypt(encrypted)
        except ValueError:
            shown = "?"
        else:
            shown = nik if self.request.unmask_nik else export_mask(nik)
        if len(self._niks) >= NIK_CACHE:
            self._niks.clear()
        self._niks[encrypted] = shown
        return shown

    def shown_worker(self, w: Any) -> tuple[str | None, str, str, str, str]:
        """A worker row's (code, name, NIK as shown, gender, skill) as the papers and files show them: made
        once per worker, not once per block or line."""
        shown = self._workers_shown.get(w.id)
        if shown is None:
            if len(self._workers_shown) >= NIK_CACHE:
                self._workers_shown.clear()
            shown = self._workers_shown[w.id] = (
                w.code,
                w.name,
                self.nik(w.nik_encrypted),
                Gender(w.gender).value,
                Skill(w.skill).value,
            )
        return shown

    async def _rows(self, stmt: Select[*Ts]) -> list[Any]:
        """The rows of a column query, run on the session's connection (Core rows: the ORM's per-row
        loading is skipped; the values are the same)."""
        connection = await self.session.connection()
        return list((await connection.execute(stmt)).all())

    async def _tuples(self, stmt: Select[*Ts]) -> list[Any]:
        """The rows of a column query as plain tuples, for the largest reads (a million attendance
        records). On SQLite the statement's SQL (its values inlined: ids, dates and codes of this
        export's own making) runs on the driver's connection in the same transaction: SQLAlchemy's
        making of each row is skipped, about half the time of the read. Values are then as the driver
        gives them: dates as text (read them through `self.day`), true/false as 1/0. Other backends:
        `_rows` (their rows unpack alike)."""
        connection = await self.session.connection()
        if connection.dialect.name != "sqlite":
            return await self._rows(stmt)
        sql = str(stmt.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
        driver = (await connection.get_raw_connection()).driver_connection  # aiosqlite's connection
        assert driver is not None
        cursor = await driver.execute(sql)
        try:
            return list(await cursor.fetchall())
        finally:
            await cursor.close()

    def _by_ksm_period(self, rows: Iterable[Any]) -> dict[tuple[int, int], list[Any]]:
        """Rows (with `ksm_id` and `work_date`, inside the export's period) by KSM and payment period
        (the index in `periods`), each list in the rows' order."""
        starts = [p[0] for p in self.periods]
        out: dict[tuple[int, int], list[Any]] = defaultdict(list)
        for row in rows:
            out[(row.ksm_id, bisect_right(starts, row.work_date) - 1)].append(row)
        return out

    def record_spans(self, records: Sequence[Any]) -> dict[tuple[int, int], tuple[int, int]]:
        """(KSM id, payment period) -> the slice `records[first:end]` of its roster records: the records
        (`ksm_id, work_date, ...` tuples ordered by KSM and date, as `_attendance` reads them, the date raw:
        `self.day[work_date]`) of a KSM and period follow each other, so one pass finds where each run
        starts and ends."""
        starts = [p[0] for p in self.periods]
        out: dict[tuple[int, int], tuple[int, int]] = {}
        key: tuple[int, int] | None = None
        ksm_id: Any = None
        raw: Any = None
        first = 0
        for i, r in enumerate(records):
            if r[0] == ksm_id and r[1] == raw:
                continue
            # A new sheet: the same run unless the KSM or the payment period changes.
            ksm_id, raw = r[0], r[1]
            new_key = (ksm_id, bisect_right(starts, self.day[raw]) - 1)
            if new_key != key:
                if key is not None:
                    out[key] = (first, i)
                key, first = new_key, i
        if key is not None:
            out[key] = (first, len(records))
        return out

    def _local_date(self, at: datetime | None, tz: str) -> date | None:
        return at.astimezone(ZoneInfo(tz)).date() if at is not None else None

    async def _names(self, person_ids: Iterable[int | None]) -> dict[int, str]:
        ids = sorted({i for i in person_ids if i is not None})
        if not ids:
            return {}
        stmt = select(Person.id, Person.name).where(Person.id.in_(ids))
        return {pid: name for pid, name in (await self.session.execute(stmt)).all()}

    def _work_days(self, start: date, end: date) -> frozenset[date]:
        """The work days of a period (the same for every KSM: computed once per period)."""
        days = self._work_day_cache.get((start, end))
        if days is None:
            days = frozenset(WorkCalendar(self.settings.reminders).days_between(start, end))
            self._work_day_cache[(start, end)] = days
        return days

    # --- Daftar Hadir -----------------------------------------------------------------------------

    async def _attendance(self, ksm_ids: Sequence[int]) -> tuple[list[Any], list[Any], dict[int, Any]]:
        """(sheets, roster records, workers by id) of these KSMs in the period."""
        start, end = self.request.start, self.request.end
        days = await self._rows(
            select(
                AttendanceDay.ksm_id,
                AttendanceDay.work_date,
                raw(AttendanceDay.mode),  # the code, equal to its AttendanceMode (a StrEnum)
                AttendanceDay.count_male,
                AttendanceDay.count_female,
                AttendanceDay.hok,
                AttendanceDay.total_wages,
                AttendanceDay.wages_paid,
            )
            .where(
                AttendanceDay.ksm_id.in_(ksm_ids),
                AttendanceDay.work_date >= start,
                AttendanceDay.work_date <= end,
            )
            .order_by(AttendanceDay.ksm_id, AttendanceDay.work_date)
        )
        records = await self._tuples(
            select(
                AttendanceDay.ksm_id,
                raw(AttendanceDay.work_date),  # `self.day[...]`: parsed once per distinct date
                AttendanceRecord.worker_id,
                AttendanceRecord.hok,
                AttendanceRecord.wage,
                AttendanceRecord.paid,
            )
            .join(AttendanceDay, AttendanceDay.id == AttendanceRecord.attendance_day_id)
            .where(
                AttendanceDay.ksm_id.in_(ksm_ids),
                AttendanceDay.work_date >= start,
                AttendanceDay.work_date <= end,
                AttendanceDay.mode == AttendanceMode.ROSTER,
            )
            .order_by(AttendanceDay.ksm_id, AttendanceDay.work_date, AttendanceRecord.id)
        )
        worker_ids = sorted({r[2] for r in records})  # worker_id
        workers: dict[int, Any] = {}
        for chunk in _chunks(worker_ids, 500):
            for w in await self._rows(
                select(
                    Worker.id,
                    Worker.code,
                    Worker.name,
                    Worker.gender,
                    Worker.skill,
                    Worker.nik_encrypted,
                    Worker.daily_rate,
                    Worker.is_phk,
                ).where(Worker.id.in_(chunk))
            ):
                workers[w.id] = w
        return days, records, workers

    async def attendance_batches(
        self,
    ) -> AsyncIterator[tuple[Sequence[KsmInfo], list[Any], list[Any], dict[int, Any]]]:
        """(KSMs, sheets, roster records, workers by id) per batch of KSMs: the raw rows of the CSV files.
        A record is `(ksm_id, work_date, worker_id, hok, wage, paid)`, ordered by KSM and date, its date as
        the driver gives it (`self.day[work_date]` is the date)."""
        for batch in self.batches():
            # A worker belongs to one KSM, so the workers shown for the last batch are not shown again:
            # kept, they grew to every worker of the program (66,000 at a national scope: ~50 MB).
            self._niks.clear()
            self._workers_shown.clear()
            days, records, workers = await self._attendance([k.id for k in batch])
            yield batch, days, records, workers

    async def hadir_blocks(self) -> AsyncIterator[HadirBlock]:
        """One block per KSM and payment period that has at least one sheet, KSM by KSM, oldest first."""
        async for batch, days, records, workers in self.attendance_batches():
            for block in self.hadir_blocks_of(batch, days, records, workers):
                yield block

    def _periods_with_sheets(
        self, batch: Sequence[KsmInfo], days: list[Any], records: list[Any]
    ) -> Iterator[tuple[KsmInfo, date, date, list[Any], list[Any]]]:
        """(KSM, period start, period end, its sheets, its roster records) for each KSM of the batch and
        payment period that has at least one sheet, in KSM then period order."""
        days_by = self._by_ksm_period(days)
        spans = self.record_spans(records)
        for ksm in batch:
            for period, (p_start, p_end) in enumerate(self.periods):
                sheets = days_by.get((ksm.id, period))
                if sheets:
                    first, end = spans.get((ksm.id, period), (0, 0))
                    yield ksm, p_start, p_end, sheets, records[first:end]

    def hadir_blocks_of(
        self, batch: Sequence[KsmInfo], days: list[Any], records: list[Any], workers: dict[int, Any]
    ) -> Iterator[HadirBlock]:
        """The Daftar Hadir blocks of one batch of KSMs from its attendance rows (`attendance_batches`)."""
        for ksm, p_start, p_end, sheets, rows in self._periods_with_sheets(batch, days, records):
            columns = [p_start + timedelta(days=i) for i in range((p_end - p_start).days + 1)]
            work = self._work_days(p_start, p_end)
            block = HadirBlock(
                ksm=ksm,
                start=p_start,
                end=p_end,
                days=columns,
                off_days=frozenset(d for d in columns if d not in work),
                today=clock.local_today(ksm.timezone, self.now),
            )
            by_worker: dict[int, HadirWorker] = {}
            day = self.day
            for _ksm_id, raw, worker_id, hok, _wage, _paid in rows:
                on = day[raw]
                hw = by_worker.get(worker_id)
                if hw is None:
                    code, name, nik, gender, skill = self.shown_worker(workers[worker_id])
                    hw = by_worker[worker_id] = HadirWorker(
                        worker_id=worker_id, code=code, name=name, nik=nik, gender=gender, skill=skill
                    )
                hw.present[on] = hw.present.get(on, 0.0) + float(hok)
            block.workers = sorted(
                by_worker.values(),
                key=lambda hw: (_skill_rank(hw.skill), hw.name.lower(), hw.worker_id),
            )
            block.counts = [
                HadirCountDay(
                    work_date=d.work_date,
                    male=int(d.count_male),
                    female=int(d.count_female),
                    hok=count_hok(d.hok, d.count_male, d.count_female),
                    wages=int(d.total_wages),
                    paid=bool(d.wages_paid),
                )
                for d in sheets
                if d.mode == AttendanceMode.COUNT
            ]
            yield block

    # --- Daftar Pembayaran Upah -------------------------------------------------------------------

    async def upah_blocks(self) -> AsyncIterator[UpahBlock]:
        """One wage list per KSM and payment period with sheets: a line per worker (roster) or per
        count-mode day."""
        async for batch, days, records, workers in self.attendance_batches():
            for block in self.upah_blocks_of(batch, days, records, workers):
                yield block

    def upah_blocks_of(
        self, batch: Sequence[KsmInfo], days: list[Any], records: list[Any], workers: dict[int, Any]
    ) -> Iterator[UpahBlock]:
        """The wage lists of one batch of KSMs from its attendance rows (`attendance_batches`)."""
        for ksm, p_start, p_end, sheets, rows in self._periods_with_sheets(batch, days, records):
            block = UpahBlock(ksm=ksm, start=p_start, end=p_end)
            # Per worker, in one pass over the records (in their order, so the sums are the same):
            # days, total wage, HOK, paid wage, the first wage and whether every wage equals it.
            per_worker: dict[int, list[Any]] = {}
            for _ksm_id, _on, worker_id, hok, wage, paid in rows:
                wage = int(wage)
                acc = per_worker.get(worker_id)
                if acc is None:
                    acc = per_worker[worker_id] = [0, 0, 0, 0, wage, True]
                acc[0] += 1
                acc[1] += wage
                acc[2] += float(hok)
                if paid:
                    acc[3] += wage
                if wage != acc[4]:
                    acc[5] = False
            lines = []
            for worker_id, (n, total, hok, paid, first_wage, one_rate) in per_worker.items():
                code, name, nik, gender, skill = self.shown_worker(workers[worker_id])
                lines.append(
                    UpahLine(
                        worker_id=worker_id,
                        code=code,
                        name=name,
                        nik=nik,
                        gender=gender,
                        skill=skill,
                        days=n,
                        hok=hok,
                        rate=first_wage if one_rate else round(total / n),
                        total=total,
                        paid_amount=paid,
                    )
                )
            lines.sort(key=lambda ln: (_skill_rank(ln.skill or ""), ln.name.lower(), ln.worker_id or 0))
            for d in sheets:
                if d.mode != AttendanceMode.COUNT:
                    continue
                heads = int(d.count_male) + int(d.count_female)
                lines.append(
                    UpahLine(
                        name="",
                        skill=None,
                        days=1,
                        hok=count_hok(d.hok, d.count_male, d.count_female),
                        rate=round(int(d.total_wages) / heads) if heads else 0,
                        total=int(d.total_wages),
                        paid_amount=int(d.total_wages) if d.wages_paid else 0,
                        work_date=d.work_date,
                        male=int(d.count_male),
                        female=int(d.count_female),
                    )
                )
            block.lines = lines
            yield block

    # --- Progres ----------------------------------------------------------------------------------

    async def progres_rows(self) -> AsyncIterator[ProgresRow]:
        """Every progress report of the period, by KSM, activity and date, with plan, deviation and status."""
        start = self.request.start
        cfg = self.settings.monitoring
        batches = [b for b in self.batches() if any(k.activities for k in b)]
        for batch in batches:
            points, history, photos = await self._progres_inputs(batch)
            window = timedelta(days=TREND_DAYS)
            day = self.day
            verdicts = self._verdicts
            for ksm in batch:
                for a in ksm.activities:
                    reports = history.get(a.id, [])
                    # The trend of each report: the reports of the TREND_DAYS before it, up to it (a
                    # window sliding over the reports, oldest first: linear, not quadratic, in them).
                    pts = [(day[r[1]], float(r[2])) for r in reports]  # (activity, date, %, volume, note)
                    # The plan on every report date at once (`planned_percents`: the points sorted once).
                    plans = planned_percents(
                        points.get(a.id, []), a.start_date, a.end_date, [on for on, _ in pts], cfg.curve
                    )
                    first = 0
                    for i, rep in enumerate(reports):
                        on, actual = pts[i]
                        if on < start:
                            continue
                        since = on - window
                        while pts[first][0] < since:
                            first += 1
                        planned = plans[i]
                        # The trend of the window projected only when it can change the status; the
                        # verdicts that need no trend kept by (planned, actual, end): they repeat.
                        key = (planned, actual, a.end_date)
                        result = verdicts.get(key, MISSING)
                        if result is MISSING:
                            if len(verdicts) >= VERDICTS_KEPT:
                                verdicts.clear()
                            result = verdicts[key] = assess_without_trend(
                                planned=planned, actual=actual, cfg=cfg, end=a.end_date
                            )
                        if result is None:
                            result = assess(
                                planned=planned,
                                actual=actual,
                                cfg=cfg,
                                end=a.end_date,
                                projected_finish=project_finish(pts[first : i + 1]),
                            )
                        volume = rep[3]
                        volume = (
                            float(volume) if volume is not None else round(a.target_volume * actual / 100, 2)
                        )
                        yield ProgresRow(
                            ksm=ksm,
                            activity=a,
                            report_date=on,
                            planned=planned,
                            actual=actual,
                            deviation=result.deviation,
                            status=result.status,
                            volume=volume,
                            photos=photos.get((a.id, on), 0),
                            note=rep[4],
                        )

    async def _progres_inputs(
        self, batch: Sequence[KsmInfo]
    ) -> tuple[dict[int, list[tuple[date, float]]], dict[int, list[Any]], dict[tuple[int | None, date], int]]:
        """What Progres reads for a batch of KSMs: plan points and reports (with the trend window before the
        period) by activity, photo counts by activity and day."""
        start, end = self.request.start, self.request.end
        act_ids = [a.id for k in batch for a in k.activities]
        points: dict[int, list[tuple[date, float]]] = defaultdict(list)
        for activity_id, plan_date, pct in await self._rows(
            select(PlanPoint.activity_id, PlanPoint.plan_date, PlanPoint.planned_percent).where(
                PlanPoint.activity_id.in_(act_ids)
            )
        ):
            points[activity_id].append((plan_date, float(pct)))
        history: dict[int, list[Any]] = defaultdict(list)
        for row in await self._tuples(
            select(
                ProgressReport.activity_id,
                raw(ProgressReport.report_date),  # `self.day[...]`: parsed once per distinct date
                ProgressReport.percent,
                ProgressReport.volume,
                ProgressReport.note,
            )
            .where(
                ProgressReport.activity_id.in_(act_ids),
                ProgressReport.report_date >= start - timedelta(days=TREND_DAYS),
                ProgressReport.report_date <= end,
            )
            .order_by(ProgressReport.activity_id, ProgressReport.report_date)
        ):
            history[row[0]].append(row)
        photos = {
            (activity_id, day): int(n)
            for activity_id, day, n in await self._rows(
                select(Media.activity_id, Media.report_date, func.count(Media.id))
                .where(
                    Media.activity_id.in_(act_ids),
                    Media.kind == MediaKind.PHOTO,
                    Media.report_date >= start,
                    Media.report_date <= end,
                )
                .group_by(Media.activity_id, Media.report_date)
            )
        }
        return points, history, photos

    # --- Kendala ----------------------------------------------------------------------------------

    async def kendala_rows(self) -> AsyncIterator[KendalaRow]:
        """Obstacles open at some time in the period: reported by its end and not closed before its start."""
        start, end = self.request.start, self.request.end
        # Closed before the start in every zone (UTC+7..+9) is surely out; the exact local date is checked below.
        closed_after = datetime.combine(start, time(0, 0), tzinfo=UTC) - timedelta(days=1)
        for batch in self.batches():
            by_id = {k.id: k for k in batch}
            obstacles = list(
                (
                    await self.session.execute(
                        select(Obstacle)
                        .where(
                            Obstacle.ksm_id.in_(list(by_id)),
                            Obstacle.report_date <= end,
                            (Obstacle.status == ObstacleStatus.OPEN) | (Obstacle.closed_at >= closed_after),
                        )
                        .order_by(Obstacle.ksm_id, Obstacle.report_date, Obstacle.id)
                    )
                ).scalars()
            )
            names = await self._names(p for o in obstacles for p in (o.reported_by_id, o.closed_by_id))
            for o in obstacles:
                ksm = by_id[o.ksm_id]
                closed = o.status == ObstacleStatus.CLOSED
                closed_date = self._local_date(o.closed_at, ksm.timezone) if closed else None
                if closed_date is not None and closed_date < start:
                    continue
                until = closed_date or min(end, clock.local_today(ksm.timezone, self.now))
                yield KendalaRow(
                    short_id=o.short_id,
                    ksm=ksm,
                    activity=_activity_of(ksm, o.activity_id),
                    report_date=o.report_date,
                    category=o.category.value,
                    severity=o.severity.value,
                    description=o.description,
                    status=o.status.value,
                    closed_date=closed_date,
                    reported_by=names.get(o.reported_by_id) if o.reported_by_id else None,
                    closed_by=names.get(o.closed_by_id) if o.closed_by_id else None,
                    close_note=o.close_note,
                    days_open=days_open(o, until),
                )

    # --- Foto -------------------------------------------------------------------------------------

    async def foto_rows(self) -> AsyncIterator[FotoRow]:
        """Every photo of the period, by KSM and date, with its distance to the site."""
        start, end = self.request.start, self.request.end
        for batch in self.batches():
            by_id = {k.id: k for k in batch}
            media = await self._rows(
                select(
                    Media.id,
                    Media.ksm_id,
                    Media.activity_id,
                    Media.report_date,
                    Media.milestone,
                    Media.latitude,
                    Media.longitude,
                    Media.path,
                    Media.sha256,
                    Media.mime_type,
                    Media.size_bytes,
                    Media.taken_at,
                    Media.caption,
                )
                .where(
                    Media.ksm_id.in_(list(by_id)),
                    Media.kind == MediaKind.PHOTO,
                    Media.report_date >= start,
                    Media.report_date <= end,
                )
                .order_by(Media.ksm_id, Media.report_date, Media.id)
            )
            for m in media:
                ksm = by_id[m.ksm_id]
                activity = _activity_of(ksm, m.activity_id)
                yield FotoRow(
                    media_id=m.id,
                    ksm=ksm,
                    activity=activity,
                    report_date=m.report_date,
                    milestone=m.milestone,
                    latitude=m.latitude,
                    longitude=m.longitude,
                    distance_m=_site_distance(ksm, activity, m.latitude, m.longitude),
                    file_name=photo_file_name(m.report_date, ksm.code, activity, m.id, m.path, m.mime_type),
                    stored_path=m.path,
                    sha256=m.sha256,
                    mime_type=m.mime_type,
                    size_bytes=m.size_bytes,
                    taken_at=m.taken_at.astimezone(ZoneInfo(ksm.timezone)) if m.taken_at else None,
                    caption=m.caption,
                )

    # --- Ringkasan --------------------------------------------------------------------------------

    def as_of(self) -> datetime:
        """The moment the summary is taken: now, or the end of the period's last day when it is over
        (the last moment every Indonesian zone is still on that day)."""
        end_of_period = datetime.combine(self.request.end, time(23, 59, 59), tzinfo=EASTERNMOST)
        return min(self.now, end_of_period.astimezone(UTC))

    async def ringkasan(self, on_ksm: Callable[[int, int], None] | None = None) -> list[RingkasanKsm]:
        """One entry per KSM with its activities, worst first: the figures of `/rekap` (`scope_summary`
        of the KSM) as of the period's end, plus open obstacles and alerts. Read per batch of KSMs and
        time zone with `scope_summary`'s own activity query (`activity_statuses`) and its workforce
        sums grouped by KSM: a handful of queries per batch, not a `scope_summary` per KSM."""
        at = self.as_of()
        out: list[RingkasanKsm] = []
        done = 0
        for batch in _chunks(self.ksms, RINGKASAN_BATCH_KSMS):
            ids = [k.id for k in batch]
            obstacles_by_ksm: dict[int, int] = defaultdict(int)
            obstacles_by_act: dict[int, int] = defaultdict(int)
            for obstacle_ksm, activity_id, n in (
                await self.session.execute(
                    select(Obstacle.ksm_id, Obstacle.activity_id, func.count(Obstacle.id))
                    .where(Obstacle.ksm_id.in_(ids), Obstacle.status == ObstacleStatus.OPEN)
                    .group_by(Obstacle.ksm_id, Obstacle.activity_id)
                )
            ).all():
                obstacles_by_ksm[obstacle_ksm] += int(n)
                if activity_id is not None:
                    obstacles_by_act[activity_id] += int(n)
            alerts_by_ksm: dict[int, int] = defaultdict(int)
            alerts_by_act: dict[int, int] = defaultdict(int)
            for ksm_id, subject_type, subject_id, n in (
                await self.session.execute(
                    select(Alert.ksm_id, Alert.subject_type, Alert.subject_id, func.count(Alert.id))
                    .where(Alert.ksm_id.in_(ids), Alert.status != AlertStatus.RESOLVED)
                    .group_by(Alert.ksm_id, Alert.subject_type, Alert.subject_id)
                )
            ).all():
                if ksm_id is None:
                    continue
                alerts_by_ksm[ksm_id] += int(n)
                if subject_type == "activity":
                    alerts_by_act[subject_id] += int(n)
            by_zone: dict[str, list[KsmInfo]] = defaultdict(list)
            for ksm in batch:
                by_zone[ksm.timezone].append(ksm)
            statuses: dict[int, ActivityStatus] = {}
            work: dict[int, _ToDate] = {}
            for tz, ksms in by_zone.items():
                today = clock.local_today(tz, at)
                sk = ScopeKsms(
                    rows=[(k.id, k.code, k.name, k.timezone) for k in ksms],
                    today_by_tz={tz: today},
                    scope_ids=[k.id for k in ksms],
                )
                for status in await activity_statuses(self.session, self.settings, sk):
                    statuses[status.activity_id] = status
                work.update(await self._work_to_date([k.id for k in ksms], today))
            for ksm in batch:
                w = work.get(ksm.id) or _ToDate()
                entry = RingkasanKsm(
                    ksm=ksm,
                    as_of=clock.local_today(ksm.timezone, at),
                    hok=w.hok,
                    workers=w.workers,
                    wages=w.wages,
                    wages_paid=w.paid,
                    wage_budget=sum(a.wage_budget for a in ksm.activities),
                    budget=sum(a.budget for a in ksm.activities),
                    open_obstacles=obstacles_by_ksm.get(ksm.id, 0),
                    open_alerts=alerts_by_ksm.get(ksm.id, 0),
                )
                for a in ksm.activities:
                    st = statuses.get(a.id)
                    if st is None:
                        continue
                    entry.activities.append(
                        RingkasanActivity(
                            activity=a,
                            planned=st.planned,
                            actual=st.actual,
                            deviation=st.deviation,
                            status=st.status,
                            last_report=st.last_report,
                            open_obstacles=obstacles_by_act.get(a.id, 0),
                            open_alerts=alerts_by_act.get(a.id, 0),
                        )
                    )
                entry.activities.sort(key=lambda r: (*r.rank, r.activity.code))
                out.append(entry)
                done += 1
                if on_ksm is not None:
                    on_ksm(done, self.ksm_count)
        out.sort(key=lambda e: e.rank)
        return out

    async def _work_to_date(self, ksm_ids: Sequence[int], today: date) -> dict[int, _ToDate]:
        """Worker-days, HOK and wages (all, paid) up to `today` per KSM, as `scope_summary` counts them
        (`to_date_work`, `wages_recorded`, `wages_paid`): roster sheets by their records, count-mode
        sheets by their L/P counts, HOK (else the head count) and day totals."""
        out: dict[int, _ToDate] = defaultdict(_ToDate)
        roster = (
            select(
                AttendanceDay.ksm_id,
                func.count(AttendanceRecord.id),
                func.coalesce(func.sum(AttendanceRecord.hok), 0.0),
                func.coalesce(func.sum(AttendanceRecord.wage), 0),
                func.coalesce(
                    func.sum(case((AttendanceRecord.paid.is_(True), AttendanceRecord.wage), else_=0)), 0
                ),
            )
            .select_from(AttendanceRecord)
            .join(AttendanceDay, AttendanceDay.id == AttendanceRecord.attendance_day_id)
            .join(Worker, Worker.id == AttendanceRecord.worker_id)
            .where(
                AttendanceDay.ksm_id.in_(ksm_ids),
                AttendanceDay.work_date <= today,
                AttendanceDay.mode == AttendanceMode.ROSTER,
            )
            .group_by(AttendanceDay.ksm_id)
        )
        for ksm_id, n, hok, wages, paid in (await self.session.execute(roster)).all():
            w = out[ksm_id]
            w.workers += int(n)
            w.hok += float(hok)
            w.wages += int(wages)
            w.paid += int(paid)
        # Count-mode sheets day by day, oldest first, added up as `scope_summary` adds them.
        counted = (
            select(
                AttendanceDay.ksm_id,
                AttendanceDay.count_male,
                AttendanceDay.count_female,
                case(
                    (AttendanceDay.hok > 0, AttendanceDay.hok),
                    else_=AttendanceDay.count_male + AttendanceDay.count_female,
                ),
                AttendanceDay.total_wages,
                AttendanceDay.wages_paid,
            )
            .where(
                AttendanceDay.ksm_id.in_(ksm_ids),
                AttendanceDay.work_date <= today,
                AttendanceDay.mode == AttendanceMode.COUNT,
            )
            .order_by(AttendanceDay.ksm_id, AttendanceDay.work_date)
        )
        for ksm_id, male, female, hok, wages, paid in (await self.session.execute(counted)).all():
            w = out[ksm_id]
            w.workers += int(male or 0) + int(female or 0)
            w.hok += float(hok or 0.0)
            w.wages += int(wages or 0)
            w.paid += int(wages or 0) if paid else 0
        return out


@dataclass
class _ToDate:
    """One KSM's work to date: worker-days, HOK, wages recorded and wages paid."""

    workers: int = 0
    hok: float = 0.0
    wages: int = 0
    paid: int = 0


# --- loading the KSMs -----------------------------------------------------------------------------


async def load_ksms(session: AsyncSession, scope: Scope) -> list[KsmInfo]:
    """The KSMs of a scope by kelurahan code and KSM code, with the regions above, activities and signers."""
    path = await _region_path(session, scope.region_id)
    columns = select(
        Ksm.id,
        Ksm.code,
        Ksm.name,
        Ksm.keeps_roster,
        Ksm.latitude,
        Ksm.longitude,
        Ksm.bkm_id,
        Bkm.code.label("bkm_code"),
        Bkm.name.label("bkm_name"),
        Region.id.label("kel_id"),
        Region.code.label("kel_code"),
        Region.name.label("kel_name"),
        Region.path.label("kel_path"),
        Region.timezone,
    )
    stmt = _scope_filter(join_kelurahan(columns), scope, path).order_by(Region.code, Ksm.code)
    rows = (await session.execute(stmt)).all()
    if not rows:
        return []
    # The regions above each kelurahan, by code (one query per 500 codes).
    codes = sorted({c for r in rows for c in path_codes(r.kel_path)})
    regions: dict[str, tuple[str, RegionLevel]] = {}
    for chunk in _chunks(codes, 500):
        for code, name, level in (
            await session.execute(
                select(Region.code, Region.name, Region.level).where(Region.code.in_(chunk))
            )
        ).all():
            regions[code] = (name, RegionLevel(level))
    ksm_ids = [r.id for r in rows]
    activities: dict[int, list[ActivityInfo]] = defaultdict(list)
    signers = await _signers(session, rows)
    for chunk in _chunks(ksm_ids, 500):
        for a in (
            await session.execute(
                select(
                    Activity.id,
                    Activity.ksm_id,
                    Activity.code,
                    Activity.name,
                    Activity.indicator,
                    Activity.unit,
                    Activity.target_volume,
                    Activity.budget,
                    Activity.wage_budget,
                    Activity.start_date,
                    Activity.end_date,
                    Activity.latitude,
                    Activity.longitude,
                )
                .where(Activity.ksm_id.in_(chunk))
                .order_by(Activity.ksm_id, Activity.code)
            )
        ).all():
            activities[a.ksm_id].append(
                ActivityInfo(
                    id=a.id,
                    code=a.code,
                    name=a.name,
                    indicator=a.indicator.value,
                    unit=a.unit,
                    target_volume=float(a.target_volume),
                    budget=int(a.budget),
                    wage_budget=int(a.wage_budget),
                    start_date=a.start_date,
                    end_date=a.end_date,
                    latitude=a.latitude,
                    longitude=a.longitude,
                )
            )
    out = []
    for r in rows:
        above = {regions[c][1]: regions[c][0] for c in path_codes(r.kel_path) if c in regions}
        ketua, bkm_person, fasil = signers.get(r.id, (None, None, None))
        out.append(
            KsmInfo(
                id=r.id,
                code=r.code,
                name=r.name,
                keeps_roster=bool(r.keeps_roster),
                latitude=r.latitude,
                longitude=r.longitude,
                timezone=r.timezone,
                bkm_id=r.bkm_id,
                bkm_code=r.bkm_code,
                bkm_name=r.bkm_name,
                kelurahan_id=r.kel_id,
                kelurahan_code=r.kel_code,
                kelurahan_name=r.kel_name,
                kelurahan_path=r.kel_path,
                kecamatan=above.get(RegionLevel.KECAMATAN),
                kabkota=above.get(RegionLevel.KABKOTA),
                provinsi=above.get(RegionLevel.PROVINSI),
                activities=tuple(activities.get(r.id, [])),
                ketua=ketua,
                bkm_person=bkm_person,
                fasilitator=fasil,
            )
        )
    return out


async def _signers(
    session: AsyncSession, rows: Sequence[Any]
) -> dict[int, tuple[str | None, str | None, str | None]]:
    """KSM id -> (ketua KSM, BKM, fasilitator) names: the active people who sign its papers. The
    facilitator is the one whose scope is closest to the KSM (its BKM, then the smallest region)."""
    ksm_ids = [r.id for r in rows]
    bkm_ids = sorted({r.bkm_id for r in rows})
    ketua: dict[int, str] = {}
    for chunk in _chunks(ksm_ids, 500):
        for ksm_id, name in (
            await session.execute(
                select(Person.scope_ksm_id, Person.name)
                .where(Person.role == Role.KETUA_KSM, Person.active.is_(True), Person.scope_ksm_id.in_(chunk))
                .order_by(Person.id.desc())
            )
        ).all():
            if ksm_id is not None:
                ketua[ksm_id] = name
    bkm_people: dict[int, str] = {}
    fasil_bkm: dict[int, str] = {}
    for chunk in _chunks(bkm_ids, 500):
        for bkm_id, role, name in (
            await session.execute(
                select(Person.scope_bkm_id, Person.role, Person.name)
                .where(
                    Person.role.in_([Role.BKM, Role.FASILITATOR]),
                    Person.active.is_(True),
                    Person.scope_bkm_id.in_(chunk),
                )
                .order_by(Person.id.desc())
            )
        ).all():
            if bkm_id is not None:
                (bkm_people if role == Role.BKM else fasil_bkm)[bkm_id] = name
    # Facilitators with a region scope: few (one per kelurahan at most), read once.
    fasil_region = [
        (path, name)
        for path, name in (
            await session.execute(
                select(Region.path, Person.name)
                .join(Region, Region.id == Person.scope_region_id)
                .where(Person.role == Role.FASILITATOR, Person.active.is_(True))
                .order_by(Person.id)
            )
        ).all()
    ]
    out = {}
    for r in rows:
        fasil = fasil_bkm.get(r.bkm_id)
        if fasil is None:
            matches = [(len(path), name) for path, name in fasil_region if within(r.kel_path, path)]
            fasil = max(matches, key=lambda m: m[0])[1] if matches else None
        out[r.id] = (ketua.get(r.id), bkm_people.get(r.bkm_id), fasil)
    return out


# --- small rules ----------------------------------------------------------------------------------


# Mandor, tukang, then pekerja: the order a paper form lists them.
_SKILL_RANK = {Skill.MANDOR.value: 0, Skill.TUKANG.value: 1, Skill.PEKERJA.value: 2}


def _skill_rank(skill: str) -> int:
    """Mandor, tukang, then pekerja: the order a paper form lists them."""
    return _SKILL_RANK.get(skill, 3)


def count_hok(hok: float | None, male: int, female: int) -> float:
    """A count-mode sheet's HOK: its own, or its head count when it has none (`/rekap`'s rule)."""
    return float(hok) if hok and hok > 0 else float(int(male) + int(female))


def _activity_of(ksm: KsmInfo, activity_id: int | None) -> ActivityInfo | None:
    if activity_id is None:
        return None
    return next((a for a in ksm.activities if a.id == activity_id), None)


def _site_distance(
    ksm: KsmInfo, activity: ActivityInfo | None, lat: float | None, lon: float | None
) -> float | None:
    """Meters from a photo's point to the activity's point, else the KSM's (None when a point is missing)."""
    if lat is None or lon is None:
        return None
    for site_lat, site_lon in (
        (activity.latitude, activity.longitude) if activity else (None, None),
        (ksm.latitude, ksm.longitude),
    ):
        if site_lat is not None and site_lon is not None:
            return round(distance_m(lat, lon, site_lat, site_lon), 1)
    return None


_MIME_SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


def photo_file_name(
    day: date, ksm_code: str, activity: ActivityInfo | None, media_id: int, path: str | None, mime: str | None
) -> str:
    """`20261125_KSM-BJL-01_KEG-BJL-01_42.jpg`: sorts by date, says where, unique by the media id."""
    suffix = _suffix(path) if path else ""
    if not suffix and mime:
        suffix = _MIME_SUFFIX.get(mime, "")
    # The date, KSM code and activity code repeat over many photos: each made safe once.
    where = f"{_safe(ksm_code)}_{_safe(activity.code) if activity else 'umum'}"
    return f"{day:%Y%m%d}_{where}_{media_id}{suffix or '.jpg'}"


def _suffix(path: str) -> str:
    """`PurePosixPath(path).suffix` of a stored file's path, without building the path object."""
    parts = [p for p in path.split("/") if p and p != "."]  # as the path object drops them
    name = parts[-1] if parts else ""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


# What `_safe` replaces: anything but a letter or digit (any script, as `str.isalnum`), "-" and ".";
# `\w` is `isalnum()` plus "_", so "_" is listed apart.
_UNSAFE = re.compile(r"[^\w.-]|_")


@functools.lru_cache(maxsize=4096)
def _safe(text: str) -> str:
    return _UNSAFE.sub("-", text)
