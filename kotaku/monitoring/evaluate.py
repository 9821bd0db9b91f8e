"""The monitoring sweep: gather the facts every check needs with a fixed number of set-based queries
(aggregates and window functions, on SQLite and PostgreSQL alike), run the checks, hand the findings to
the alert lifecycle.

The number of queries does not grow with the number of activities: a national sweep and the incremental
evaluation of one KSM after a report run the same statements, the latter filtered to that KSM (and the
photo check reads only the photos that can pair with the KSM's own).
Every "today" is the site's local date (its kelurahan's time zone).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import re
import time as _time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import (
    Date,
    DateTime,
    Float,
    Integer,
    and_,
    case,
    cast,
    delete,
    func,
    or_,
    select,
    text,
    true,
    tuple_,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import ColumnElement

from kotaku import clock
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.domain import figures
from kotaku.domain.calendar import WorkCalendar
from kotaku.domain.geo import METERS_PER_DEGREE_LAT
from kotaku.domain.phash import PHASH_BITS, phash_int
from kotaku.models import (
    Activity,
    AttendanceDay,
    AttendanceMode,
    AttendanceRecord,
    Ksm,
    Media,
    MediaKind,
    MonitoringMark,
    Obstacle,
    ObstacleStatus,
    PlanPoint,
    ProgressReport,
    Region,
    Worker,
)
from kotaku.monitoring import checks, lifecycle
from kotaku.monitoring.checks import (
    ActivityFacts,
    CrewDay,
    DatedPhoto,
    DoublePresence,
    KsmRef,
    OpenObstacle,
    PhotoFacts,
    PlacedMedia,
    WorkDays,
)
from kotaku.monitoring.findings import Finding
from kotaku.services.scope import by_timezone, join_kelurahan, local_today_sql

log = structlog.get_logger(__name__)

_Rows = Sequence[Row[*tuple[Any, ...]]]  # rows of any columns


@dataclass
class _Ctx:
    session: AsyncSession
    settings: Settings
    at: datetime
    ksm_ids: list[int] | None
    dialect: str
    today_by_tz: dict[str, date]
    kinds: set[str]
    last_rise: dict[int, date] = field(default_factory=dict)  # per activity, filled with its facts
    budgets: dict[int, int] = field(default_factory=dict)  # per activity, filled with its facts

    @property
    def cfg(self) -> Any:
        return self.settings.monitoring

    @property
    def lo_today(self) -> date:
        return min(self.today_by_tz.values())

    @property
    def hi_today(self) -> date:
        return max(self.today_by_tz.values())

    @property
    def uniform(self) -> bool:
        """Every site has the same local date (in Indonesia, always except 22:00-24:00 WIB)."""
        return len(set(self.today_by_tz.values())) == 1

    def place(self, stmt: Any, ksm_col: Any) -> Any:
        """Join to the KSM's kelurahan when "today" depends on the time zone; skip the joins otherwise."""
        return stmt if self.uniform else join_kelurahan(stmt, ksm_col)

    def today_expr(self) -> ColumnElement[Any]:
        """The site's local date, as SQL: a CASE over its kelurahan's time zone (a constant when uniform)."""
        return local_today_sql(self.today_by_tz)

    async def rows(self, stmt: Executable) -> _Rows:
        """The statement's rows as Core rows, on the session's connection (its transaction).

        The gathering reads hundreds of thousands of plain column tuples; the ORM's result machinery
        (`Session.execute`) costs about a microsecond more per row for nothing here (no entities)."""
        conn = await self.session.connection()
        return (await conn.execute(stmt)).all()

    def ksm_filter(self, col: Any) -> list[ColumnElement[bool]]:
        return [col.in_(self.ksm_ids)] if self.ksm_ids is not None else []

    def days_after(self, later: Any, earlier: Any) -> ColumnElement[Any]:
        """Whole days from the date `earlier` to the date `later`."""
        if self.dialect == "sqlite":
            return cast(func.julianday(later) - func.julianday(earlier), Integer)
        return later - earlier

    def midnight_after(self, day: Any, days: int) -> ColumnElement[Any]:
        """Midnight (a UTC timestamp as stored) `days` days after the date column `day`.

        A cheap bound on a timestamp that a local date's condition implies whatever the zone (an
        offset is under a day either way), so that the rows the condition cannot hold for are left
        before their site is joined and their local date computed."""
        if self.dialect == "sqlite":
            return func.datetime(day, f"{days:+d} days")
        return func.timezone("UTC", cast(day + days, DateTime()))  # not the session's time zone

    def local_date_of(self, ts: Any) -> ColumnElement[Any]:
        """The local date (of the row's site) of a UTC timestamp column."""
        if self.dialect == "sqlite":
            offsets = {tz: _offset_modifier(tz, self.at) for tz in self.today_by_tz}
            return func.date(ts, by_timezone(offsets))
        return cast(func.timezone(Region.timezone, ts), Date)


def _offset_modifier(tz: str, at: datetime) -> str:
    offset = ZoneInfo(tz).utcoffset(at.replace(tzinfo=None)) or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    return f"{'+' if minutes >= 0 else '-'}{abs(minutes)} minutes"


# --- the facts --------------------------------------------------------------------------------------


async def _ksms(c: _Ctx) -> dict[int, KsmRef]:
    stmt = join_kelurahan(select(Ksm.id, Ksm.code, Ksm.name, Region.code, c.today_expr())).where(
        *c.ksm_filter(Ksm.id)
    )
    return {r[0]: KsmRef(r[0], r[1], r[2], r[4], r[3]) for r in await c.rows(stmt)}


def _keep_reports(cfg: Any) -> int:
    """How many of an activity's latest reports the activity rules need (one more to see the last rise)."""
    return max(cfg.behind_reports, cfg.trend_reports, cfg.idle_attendance_days + 1, 2) + 1


async def _activities(c: _Ctx, ksms: dict[int, KsmRef]) -> list[ActivityFacts]:
    cfg = c.cfg
    keep = _keep_reports(cfg)
    if c.dialect == "sqlite":
        rows, points, recent = await _activity_series_sqlite(c, keep)
    else:
        rows, points, recent = await _activity_series(c, keep)

    out = []
    for r in rows:
        k = ksms.get(r[1])
        if k is None:
            continue
        reports = tuple(sorted(x for x in recent.get(r[0], ()) if x[0] <= k.today))
        rise = next(
            (d1 for (_, p0), (d1, p1) in zip(reports[-2::-1], reports[::-1], strict=False) if p1 > p0),
            reports[0][0] if reports else None,
        )
        if rise is not None:
            c.last_rise[r[0]] = rise
        c.budgets[r[0]] = int(r[6])
        out.append(
            ActivityFacts(
                id=r[0],
                ksm_id=r[1],
                code=r[2],
                name=r[3],
                start=r[4],
                end=r[5],
                today=k.today,
                plan_points=tuple(points.get(r[0], ())),
                reports=reports,
                last_report=reports[-1] if reports else None,
            )
        )
    return out


_Series = dict[int, list[tuple[date, float]]]


def _activity_columns(c: _Ctx, *extra: Any) -> Any:
    """The activities of the evaluated KSMs (id, KSM, code, name, start, end, budget, then `extra`)."""
    return c.place(
        select(
            Activity.id,
            Activity.ksm_id,
            Activity.code,
            Activity.name,
            Activity.start_date,
            Activity.end_date,
            Activity.budget,
            *extra,
        ),
        Activity.ksm_id,
    ).where(*c.ksm_filter(Activity.ksm_id))


def _latest_reports(c: _Ctx, keep: int) -> Any:
    """The latest `keep` reports of the activity of the enclosing query on or before its site's today:
    one index seek on (activity_id, report_date) and `keep` steps back along it."""
    return (
        select(ProgressReport.report_date, ProgressReport.percent)
        .where(ProgressReport.activity_id == Activity.id, ProgressReport.report_date <= c.today_expr())
        .order_by(ProgressReport.report_date.desc())
        .limit(keep)
    )


async def _activity_series(c: _Ctx, keep: int) -> tuple[_Rows, _Series, _Series]:
    """PostgreSQL: the activities, their plan points, and their latest `keep` reports through a LATERAL
    join (per activity an index scan backwards that stops after `keep` rows; rows decode fast in asyncpg)."""
    rows = await c.rows(_activity_columns(c))
    if not rows:
        return rows, {}, {}
    points: _Series = defaultdict(list)
    pp_stmt = select(PlanPoint.activity_id, PlanPoint.plan_date, PlanPoint.planned_percent)
    if c.ksm_ids is not None:
        pp_stmt = pp_stmt.join(Activity, Activity.id == PlanPoint.activity_id).where(
            Activity.ksm_id.in_(c.ksm_ids)
        )
    for activity_id, plan_date, pct in await c.rows(pp_stmt):
        points[activity_id].append((plan_date, float(pct)))
    latest = _latest_reports(c, keep).correlate(Activity, Region).lateral("latest")
    stmt = (
        c.place(select(Activity.id, latest.c.report_date, latest.c.percent), Activity.ksm_id)
        .join(latest, true())
        .where(*c.ksm_filter(Activity.ksm_id))
    )
    recent: _Series = defaultdict(list)
    for activity_id, report_date, pct in await c.rows(stmt):
        recent[activity_id].append((report_date, float(pct)))
    return rows, points, recent


# A float as text that reads back as the very same float (17 significant digits; SQLite's own REAL to
# TEXT conversion keeps 15).
_EXACT_FLOAT = "%!.17g"


async def _activity_series_sqlite(c: _Ctx, keep: int) -> tuple[_Rows, _Series, _Series]:
    """SQLite: one row per activity with its plan points and its latest `keep` reports packed into a
    text each by correlated subqueries (an index seek per activity on (activity_id, date)).

    33,000 rows instead of some 250,000: on SQLite every row costs Python work (sqlite3 builds it,
    aiosqlite hands it over, SQLAlchemy converts its date), and the packed series are split with plain
    string methods. Dates are stored as ISO text; percents are written with 17 digits, so they read back
    exactly."""
    latest = _latest_reports(c, keep).correlate(Activity, Region).subquery("latest")
    reports = (
        select(
            func.group_concat(func.printf("%s=" + _EXACT_FLOAT, latest.c.report_date, latest.c.percent), ",")
        )
        .correlate(Activity, Region)
        .scalar_subquery()
    )
    plan = (
        select(
            func.group_concat(
                func.printf("%s=" + _EXACT_FLOAT, PlanPoint.plan_date, PlanPoint.planned_percent), ","
            )
        )
        .where(PlanPoint.activity_id == Activity.id)
        .correlate(Activity)
        .scalar_subquery()
    )
    rows = await c.rows(_activity_columns(c, plan, reports))
    points: _Series = {}
    recent: _Series = {}
    for r in rows:
        if r[7]:
            points[r[0]] = sorted(_unpack_series(r[7]))
        if r[8]:
            recent[r[0]] = _unpack_series(r[8])
    return rows, points, recent


def _unpack_series(packed: str) -> list[tuple[date, float]]:
    """`date=percent,...` (as `_activity_series_sqlite` packs them) as (date, percent) pairs."""
    return [(date.fromisoformat(d), float(p)) for d, p in (item.split("=") for item in packed.split(","))]


async def _wages_to_date(c: _Ctx) -> dict[int, tuple[int, int]]:
    """Per KSM up to its today: upah tercatat (the sheets' wages, paid or not) and the days with a sheet."""
    stmt = c.place(
        select(
            AttendanceDay.ksm_id,
            func.sum(AttendanceDay.total_wages),
            func.count(),  # one sheet a date per KSM (unique): the days with a sheet
        ),
        AttendanceDay.ksm_id,
    ).where(AttendanceDay.work_date <= c.today_expr(), *c.ksm_filter(AttendanceDay.ksm_id))
    rows = await c.rows(stmt.group_by(AttendanceDay.ksm_id))
    return {r[0]: (int(r[1] or 0), int(r[2] or 0)) for r in rows}


async def _rosters(c: _Ctx) -> dict[int, int]:
    stmt = (
        select(Worker.ksm_id, func.count())
        .where(Worker.active.is_(True), *c.ksm_filter(Worker.ksm_id))
        .group_by(Worker.ksm_id)
    )
    return {r[0]: int(r[1]) for r in await c.rows(stmt)}


def _present() -> ColumnElement[Any]:
    """Workers present on an attendance day (roster or count)."""
    return AttendanceDay.count_male + AttendanceDay.count_female


def _busiest_ranked(c: _Ctx) -> Any:
    """Per KSM, its recent days ranked by workers present (`rn` 1: the busiest, the latest of equals)."""
    present = _present()
    today = c.today_expr()
    return (
        c.place(
            select(
                AttendanceDay.ksm_id,
                AttendanceDay.work_date,
                present.label("present"),
                func.row_number()
                .over(
                    partition_by=AttendanceDay.ksm_id,
                    order_by=(present.desc(), AttendanceDay.work_date.desc()),
                )
                .label("rn"),
            ),
            AttendanceDay.ksm_id,
        )
        .where(
            AttendanceDay.work_date <= today,
            AttendanceDay.work_date > c.lo_today - timedelta(days=c.cfg.recent_days),
            c.days_after(today, AttendanceDay.work_date) < c.cfg.recent_days,
            *c.ksm_filter(AttendanceDay.ksm_id),
        )
        .subquery()
    )


async def _busiest_days(c: _Ctx) -> dict[int, tuple[date, int]]:
    """Per KSM, the recent day with the most workers present (the latest of equals)."""
    ranked = _busiest_ranked(c)
    stmt = select(ranked.c.ksm_id, ranked.c.work_date, ranked.c.present).where(ranked.c.rn == 1)
    return {r[0]: (r[1], int(r[2])) for r in await c.rows(stmt)}


async def _crew_days(c: _Ctx, busiest: dict[int, tuple[date, int]]) -> list[tuple[int, CrewDay]]:
    """Per KSM whose busiest recent day could be a `crew_spike`: that day, the head counts of the days
    before it that the usual crew is judged by, and the crew its running activities planned.

    One aggregate first keeps the history read small: the usual median can only be below
    present ÷ `crew_spike_ratio` when at least half of the earlier days are, so only those KSMs'
    days are read."""
    cfg = c.cfg
    possible = {k: v for k, v in busiest.items() if v[1] > cfg.crew_spike_min_extra}
    if not possible:
        return []
    ranked = _busiest_ranked(c)
    hist = aliased(AttendanceDay)
    hist_present = hist.count_male + hist.count_female
    since = c.lo_today - timedelta(days=cfg.recent_days + cfg.crew_history_days)
    low = case((hist_present * cfg.crew_spike_ratio < ranked.c.present, 1), else_=0)
    stmt = (
        select(ranked.c.ksm_id, func.count(), func.sum(low))
        .select_from(ranked)
        .join(hist, hist.ksm_id == ranked.c.ksm_id)
        .where(
            ranked.c.rn == 1,
            ranked.c.present > cfg.crew_spike_min_extra,
            hist.work_date < ranked.c.work_date,
            hist.work_date >= since,
            c.days_after(ranked.c.work_date, hist.work_date) <= cfg.crew_history_days,
            hist_present > 0,
        )
        .group_by(ranked.c.ksm_id)
    )
    judged = [
        ksm_id
        for ksm_id, n, n_low in await c.rows(stmt)
        if int(n) >= cfg.crew_min_days and 2 * int(n_low or 0) >= int(n)
    ]
    history: dict[int, list[int]] = defaultdict(list)
    for chunk in _chunks(sorted(judged), 5000):
        rows = await c.rows(
            select(AttendanceDay.ksm_id, AttendanceDay.work_date, _present())
            .where(AttendanceDay.ksm_id.in_(chunk), AttendanceDay.work_date >= since, _present() > 0)
            .order_by(AttendanceDay.ksm_id, AttendanceDay.work_date)
        )
        for ksm_id, work_date, present in rows:
            day = possible[ksm_id][0]
            if work_date < day and (day - work_date).days <= cfg.crew_history_days:
                history[ksm_id].append(int(present))
    planned = await _planned_crews(c, {k: d for k, (d, _) in possible.items()})
    return [
        (k, CrewDay(day, present, tuple(history.get(k, ())), planned.get(k, 0.0)))
        for k, (day, present) in possible.items()
    ]


async def _planned_crews(c: _Ctx, days: dict[int, date]) -> dict[int, float]:
    """Per KSM, the workers a day its activities running on `days[ksm]` planned: each one's wage budget ÷
    (`crew_plan_daily_wage` × its work days)."""
    rows = await c.rows(
        select(Activity.ksm_id, Activity.wage_budget, Activity.start_date, Activity.end_date).where(
            *c.ksm_filter(Activity.ksm_id)
        )
    )
    running = [r for r in rows if r[0] in days and r[2] <= days[r[0]] <= r[3] and r[1] > 0]
    if not running:
        return {}
    calendar = WorkCalendar(c.settings.reminders)
    span = WorkDays(
        min(r[2] for r in running) - timedelta(days=1),
        max(r[3] for r in running) + timedelta(days=1),
        calendar.is_work_day,
    )
    out: dict[int, float] = defaultdict(float)
    for ksm_id, wage_budget, start, end in running:
        work_days = span.between(start - timedelta(days=1), end + timedelta(days=1))
        if work_days > 0:
            out[ksm_id] += wage_budget / (c.cfg.crew_plan_daily_wage * work_days)
    return dict(out)


async def _idle_attendance(c: _Ctx, activities: list[ActivityFacts]) -> dict[int, tuple[int, date]]:
    """Per KSM: days with workers present after its progress last rose (within the history window).

    Only KSMs whose last rise is at least `idle_attendance_days` days old can qualify (one sheet a day), so
    only their attendance days are read."""
    window_start = c.lo_today - timedelta(days=c.cfg.history_days)
    since: dict[int, date] = {}
    for a in activities:
        rise = c.last_rise.get(a.id, window_start)
        if a.ksm_id not in since or rise > since[a.ksm_id]:
            since[a.ksm_id] = rise
    candidates = [k for k, d in since.items() if (c.hi_today - d).days >= c.cfg.idle_attendance_days]
    out: dict[int, tuple[int, date]] = {}
    today = c.today_expr()
    for chunk in _chunks(candidates, 5000):
        stmt = c.place(select(AttendanceDay.ksm_id, AttendanceDay.work_date), AttendanceDay.ksm_id).where(
            AttendanceDay.ksm_id.in_(chunk),
            AttendanceDay.work_date > window_start,
            AttendanceDay.work_date <= today,
            AttendanceDay.count_male + AttendanceDay.count_female > 0,
        )
        for ksm_id, work_date in await c.rows(stmt):
            if work_date > since[ksm_id]:
                n, _ = out.get(ksm_id, (0, since[ksm_id]))
                out[ksm_id] = (n + 1, since[ksm_id])
    return out


async def _wage_stats(c: _Ctx) -> dict[int, dict[str, tuple[int, int, int]]]:
    today = c.today_expr()
    stmt = (
        c.place(
            select(
                AttendanceRecord.ksm_id,
                Worker.skill,
                func.min(AttendanceRecord.wage),
                func.max(AttendanceRecord.wage),
                func.count(),
            )
            .select_from(AttendanceDay)
            .join(AttendanceRecord, AttendanceRecord.attendance_day_id == AttendanceDay.id)
            .join(Worker, Worker.id == AttendanceRecord.worker_id),
            AttendanceDay.ksm_id,
        )
        .where(
            AttendanceDay.work_date <= today,
            AttendanceDay.work_date > c.lo_today - timedelta(days=c.cfg.recent_days),
            c.days_after(today, AttendanceDay.work_date) < c.cfg.recent_days,
            *c.ksm_filter(AttendanceDay.ksm_id),
        )
        .group_by(AttendanceRecord.ksm_id, Worker.skill)
    )
    out: dict[int, dict[str, tuple[int, int, int]]] = defaultdict(dict)
    for ksm_id, skill, lo, hi, n in await c.rows(stmt):
        out[ksm_id][str(skill.value if hasattr(skill, "value") else skill)] = (int(lo), int(hi), int(n))
    # Days counted without a roster have no wage per worker: the wage per person of each day stands in.
    per_person = cast(AttendanceDay.total_wages, Float) / _present()
    counted = (
        c.place(
            select(AttendanceDay.ksm_id, func.min(per_person), func.max(per_person), func.count()),
            AttendanceDay.ksm_id,
        )
        .where(
            AttendanceDay.mode == AttendanceMode.COUNT,
            _present() > 0,
            AttendanceDay.total_wages > 0,
            AttendanceDay.work_date <= today,
            AttendanceDay.work_date > c.lo_today - timedelta(days=c.cfg.recent_days),
            c.days_after(today, AttendanceDay.work_date) < c.cfg.recent_days,
            *c.ksm_filter(AttendanceDay.ksm_id),
        )
        .group_by(AttendanceDay.ksm_id)
    )
    for ksm_id, lo, hi, n in await c.rows(counted):
        out[ksm_id][checks.COUNT_WAGES] = (round(lo), round(hi), int(n))
    return out


async def _late_entries(c: _Ctx) -> dict[int, tuple[int, int]]:
    """Per KSM: progress and attendance rows of the recent days entered more than `late_entry_days` days
    after their day (count, worst delay in days)."""
    limit = c.cfg.late_entry_days
    lo = c.lo_today - timedelta(days=c.cfg.recent_days)
    today = c.today_expr()
    out: dict[int, list[int]] = {}
    pr_delay = c.days_after(c.local_date_of(ProgressReport.entered_at), ProgressReport.report_date)
    ad_delay = c.days_after(c.local_date_of(AttendanceDay.entered_at), AttendanceDay.work_date)
    statements = [
        join_kelurahan(
            select(Activity.ksm_id, func.count(), func.max(pr_delay))
            .select_from(ProgressReport)
            .join(Activity, Activity.id == ProgressReport.activity_id),
            Activity.ksm_id,
        )
        .where(
            ProgressReport.report_date > lo,
            ProgressReport.report_date <= today,
            # Entered more than `limit` local days late: at least `limit` UTC days after (see midnight_after).
            ProgressReport.entered_at >= c.midnight_after(ProgressReport.report_date, limit),
            pr_delay > limit,
            *c.ksm_filter(Activity.ksm_id),
        )
        .group_by(Activity.ksm_id),
        join_kelurahan(select(AttendanceDay.ksm_id, func.count(), func.max(ad_delay)), AttendanceDay.ksm_id)
        .where(
            AttendanceDay.work_date > lo,
            AttendanceDay.work_date <= today,
            AttendanceDay.entered_at >= c.midnight_after(AttendanceDay.work_date, limit),
            ad_delay > limit,
            *c.ksm_filter(AttendanceDay.ksm_id),
        )
        .group_by(AttendanceDay.ksm_id),
    ]
    for stmt in statements:
        for ksm_id, n, worst in await c.rows(stmt):
            prev = out.get(ksm_id, [0, 0])
            out[ksm_id] = [prev[0] + int(n), max(prev[1], int(worst))]
    return {k: (v[0], v[1]) for k, v in out.items()}


async def _double_presence(c: _Ctx) -> list[DoublePresence]:
    """Workers present on a recent day when their NIK hash was also present at another KSM (anywhere).

    The records' own copies of the date and KSM are grouped (`ix_attendance_record_date_nik`: the recent
    dates' NIK hashes and KSMs, read from the index alone in (date, NIK) order); joining each record to
    its sheet for the sheet's date read the whole table."""
    lo = c.lo_today - timedelta(days=c.cfg.recent_days - 1)
    hi = c.hi_today
    base = select(AttendanceRecord.nik_hash, AttendanceRecord.work_date).where(
        AttendanceRecord.work_date >= lo,
        AttendanceRecord.work_date <= hi,
        AttendanceRecord.nik_hash.is_not(None),
    )
    if c.ksm_ids is not None:
        mine = (
            select(AttendanceRecord.nik_hash)
            .select_from(AttendanceDay)
            .join(AttendanceRecord, AttendanceRecord.attendance_day_id == AttendanceDay.id)
            .where(
                AttendanceDay.work_date >= lo,
                AttendanceDay.work_date <= hi,
                AttendanceDay.ksm_id.in_(c.ksm_ids),
            )
        )
        base = base.where(AttendanceRecord.nik_hash.in_(mine))
    # Two statements: the (date, NIK) pairs present at 2+ KSMs (few), then those NIKs' recent records by
    # index seeks on (nik_hash, work_date), kept for the pairs. In one statement PostgreSQL cannot tell
    # how few the pairs are and hashes every recent record to join them; a row-value IN is not an index
    # seek on SQLite.
    dup = base.group_by(AttendanceRecord.work_date, AttendanceRecord.nik_hash).having(
        func.min(AttendanceRecord.ksm_id) != func.max(AttendanceRecord.ksm_id)  # 2+ KSMs
    )
    pairs = {(nik, day) for nik, day in await c.rows(dup)}
    rows: list[Row[*tuple[Any, ...]]] = []
    for chunk in _chunks(sorted({nik for nik, _ in pairs}), 500):
        stmt = (
            select(
                AttendanceRecord.worker_id,
                Worker.name,
                AttendanceRecord.ksm_id,
                Ksm.name,
                AttendanceRecord.work_date,
                AttendanceRecord.nik_hash,
            )
            .join(Worker, Worker.id == AttendanceRecord.worker_id)
            .join(Ksm, Ksm.id == AttendanceRecord.ksm_id)
            .where(
                AttendanceRecord.nik_hash.in_(chunk),
                AttendanceRecord.work_date >= lo,
                AttendanceRecord.work_date <= hi,
            )
        )
        rows += [r for r in await c.rows(stmt) if (r[5], r[4]) in pairs]
    ksm_names: dict[tuple[str | None, date], set[str]] = defaultdict(set)
    for _, _, _, ksm_name, work_date, nik in rows:
        ksm_names[(nik, work_date)].add(ksm_name)
    latest: dict[int, DoublePresence] = {}
    for worker_id, worker_name, ksm_id, ksm_name, work_date, nik in rows:
        if c.ksm_ids is not None and ksm_id not in c.ksm_ids:
            continue
        others = tuple(sorted(ksm_names[(nik, work_date)] - {ksm_name}))
        if not others:
            continue
        seen = latest.get(worker_id)
        if seen is None or work_date > seen.day:
            latest[worker_id] = DoublePresence(worker_id, worker_name, ksm_id, ksm_name, work_date, others)
    return list(latest.values())


# Up to this many photos of the subject KSMs, their possible partners are looked up by sha256 and hash
# pieces (bound parameters: pieces × photos); beyond it, every photo is read as in a full sweep.
_SUBJECT_PHOTOS_MAX = 1000
_HEX_DIGITS = PHASH_BITS // 4
_CANONICAL = re.compile(f"[0-9a-f]{{{_HEX_DIGITS}}}")  # a hash as `photo_phash` stores it


def _photo_facts() -> Any:
    return (
        select(Media.id, Media.ksm_id, Ksm.name, Media.report_date, Media.sha256, Media.phash)
        .join(Ksm, Ksm.id == Media.ksm_id)
        .where(Media.kind == MediaKind.PHOTO, or_(Media.sha256.is_not(None), Media.phash.is_not(None)))
    )


async def _photos(c: _Ctx) -> list[PhotoFacts]:
    """The photos `photo_duplicate` compares: every hashed photo in a full sweep; for subject KSMs, their
    photos and only those that can pair with one (`checks.duplicate_pairs` then pairs them the same)."""
    if c.ksm_ids is None:
        return [PhotoFacts(*r) for r in await c.rows(_photo_facts())]
    mine = [PhotoFacts(*r) for r in await c.rows(_photo_facts().where(Media.ksm_id.in_(c.ksm_ids)))]
    if not mine:
        return []  # no photo of theirs: no pair to report
    pieces = c.cfg.phash_distance + 1
    digits = [p.phash for p in mine if p.phash and _CANONICAL.fullmatch(p.phash)]
    odd = any(p.phash and not _CANONICAL.fullmatch(p.phash) and phash_int(p.phash) is not None for p in mine)
    if len(mine) > _SUBJECT_PHOTOS_MAX or pieces > _HEX_DIGITS or odd:
        return [PhotoFacts(*r) for r in await c.rows(_photo_facts())]
    # Same file: the same sha256 (an index seek each).
    shas = sorted({p.sha256 for p in mine if p.sha256})
    # Near: a hash at most `phash_distance` bits away agrees on one of `phash_distance + 1` runs of hex
    # digits (pigeonhole; the runs differ from the bit pieces duplicate_pairs cuts, any partition works).
    # Stored hashes are 16 lowercase hex digits; a partner in any other spelling is read too and judged
    # in Python (a subject photo in another spelling made every photo be read, above).
    bounds = [(_HEX_DIGITS * i) // pieces for i in range(pieces + 1)]
    near: list[ColumnElement[bool]] = []
    if digits:
        for lo, hi in itertools.pairwise(bounds):
            near.append(func.substr(Media.phash, lo + 1, hi - lo).in_(sorted({d[lo:hi] for d in digits})))
        if c.dialect == "sqlite":
            near.append(Media.phash.op("NOT GLOB", is_comparison=True)("[0-9a-f]" * _HEX_DIGITS))
        else:
            near.append(~Media.phash.regexp_match(f"^[0-9a-f]{{{_HEX_DIGITS}}}$"))
        near = [and_(Media.phash.is_not(None), or_(*near))]
    if shas:
        near.append(Media.sha256.in_(shas))
    if not near:
        return mine
    # One pass over media alone (no join: the KSM names of the few candidates are read after).
    seen = {p.id for p in mine}
    others = [
        r
        for r in await c.rows(
            select(Media.id, Media.ksm_id, Media.report_date, Media.sha256, Media.phash).where(
                Media.kind == MediaKind.PHOTO, or_(*near)
            )
        )
        if r[0] not in seen
    ]
    if not others:
        return mine
    names = {
        r[0]: r[1] for r in await c.rows(select(Ksm.id, Ksm.name).where(Ksm.id.in_({r[1] for r in others})))
    }
    return mine + [PhotoFacts(i, k, names[k], day, sha, ph) for i, k, day, sha, ph in others if k in names]


async def _placed_media(c: _Ctx) -> list[PlacedMedia]:
    site_lat = func.coalesce(Activity.latitude, Ksm.latitude)
    site_lon = func.coalesce(Activity.longitude, Ksm.longitude)
    near_deg = 0.7 * c.cfg.photo_radius_m / METERS_PER_DEGREE_LAT
    stmt = (
        select(
            Media.id,
            Media.ksm_id,
            Ksm.name,
            Media.report_date,
            Media.kind,
            Media.latitude,
            Media.longitude,
            site_lat,
            site_lon,
        )
        .select_from(Media)
        .join(Ksm, Ksm.id == Media.ksm_id)
        .outerjoin(Activity, Activity.id == Media.activity_id)
        .where(
            Media.kind.in_([MediaKind.PHOTO, MediaKind.LOCATION]),
            Media.latitude.is_not(None),
            Media.longitude.is_not(None),
            site_lat.is_not(None),
            site_lon.is_not(None),
            # Only points that may be outside the radius: within 0.7 r in both latitude and longitude a
            # point is closer than r (a degree of longitude is never longer than one of latitude).
            or_(
                func.abs(Media.latitude - site_lat) > near_deg,
                func.abs(Media.longitude - site_lon) > near_deg,
            ),
            *c.ksm_filter(Media.ksm_id),
        )
    )
    return [
        PlacedMedia(r[0], r[1], r[2], r[3], r[4] == MediaKind.LOCATION, lat, lon, r[7], r[8])
        for r in await c.rows(stmt)
        if (lat := r[5]) is not None and (lon := r[6]) is not None  # the query keeps only placed ones
    ]


async def _dated_photos(c: _Ctx) -> list[DatedPhoto]:
    """Recent photos (`history_days`) whose EXIF time, as a local date of their site, is before the report
    they were sent for; how far before is the check's."""
    since = c.lo_today - timedelta(days=c.cfg.history_days)
    stmt = join_kelurahan(
        select(Media.id, Media.ksm_id, Ksm.name, Media.report_date, Media.taken_at, Region.timezone)
        .select_from(Media)
        .join(Ksm, Ksm.id == Media.ksm_id),
    ).where(
        Media.kind == MediaKind.PHOTO,
        Media.taken_at.is_not(None),
        Media.report_date >= since,
        # Taken on a local date before the report's: before midnight UTC after it (see midnight_after).
        Media.taken_at < c.midnight_after(Media.report_date, 1),
        *c.ksm_filter(Media.ksm_id),
    )
    out = []
    for media_id, ksm_id, name, day, taken_at, tz in await c.rows(stmt):
        if taken_at is None:  # (the query keeps only dated photos)
            continue
        aware = taken_at if taken_at.tzinfo is not None else taken_at.replace(tzinfo=UTC)
        taken = clock.local_today(tz or c.settings.app.default_timezone, aware)
        if taken < day:
            out.append(DatedPhoto(media_id, ksm_id, name, day, taken))
    return out


async def _open_obstacles(c: _Ctx) -> list[OpenObstacle]:
    stmt = join_kelurahan(
        select(
            Obstacle.id,
            Obstacle.short_id,
            Obstacle.ksm_id,
            Ksm.name,
            Obstacle.report_date,
            c.today_expr(),
            Obstacle.severity,
            Obstacle.category,
            Obstacle.description,
        ),
        Obstacle.ksm_id,
    ).where(Obstacle.status == ObstacleStatus.OPEN, *c.ksm_filter(Obstacle.ksm_id))
    return [
        OpenObstacle(r[0], r[1], r[2], r[3], r[4], r[5], _value(r[6]), _value(r[7]), r[8])
        for r in await c.rows(stmt)
    ]


def _value(v: Any) -> str:
    return str(v.value if hasattr(v, "value") else v)


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# --- the sweep ---------------------------------------------------------------------------------------


async def _time_zones(session: AsyncSession, ksm_ids: list[int] | None) -> list[str]:
    stmt = join_kelurahan(select(Region.timezone).distinct().select_from(Ksm))
    if ksm_ids is not None:
        stmt = stmt.where(Ksm.id.in_(ksm_ids))
    return [r[0] for r in await session.execute(stmt)]


async def evaluate(
    session: AsyncSession, settings: Settings, at: datetime, ksm_ids: list[int] | None = None
) -> list[Finding]:
    """Every finding of every enabled check, as of `at`, for the whole program or the given KSMs
    (cross-site checks still compare with every KSM, but only report subjects of these KSMs)."""
    if ksm_ids is not None:
        return await _evaluate(session, settings, at, ksm_ids)
    with _gc_paused():
        return await _evaluate(session, settings, at, ksm_ids)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a full sweep runs.

    The sweep allocates about a million small objects (rows, tuples, dates, findings) and frees few;
    each allocation threshold crossed starts a collection, and the oldest generation's walk them all
    again, for no garbage (the gathering makes no cycles): 1.4-2.5 s of a national sweep on SQLite,
    measured. Collection resumes as it was when the sweep ends (a concurrent sweep that paused first
    resumes it; an overlap only collects earlier)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def _evaluate(
    session: AsyncSession, settings: Settings, at: datetime, ksm_ids: list[int] | None
) -> list[Finding]:
    cfg = settings.monitoring
    kinds = checks.enabled_kinds(cfg)
    tzs = await _time_zones(session, ksm_ids)
    if not tzs:
        return []
    c = _Ctx(
        session=session,
        settings=settings,
        at=at,
        ksm_ids=list(ksm_ids) if ksm_ids is not None else None,
        dialect=session.get_bind().dialect.name,
        today_by_tz={tz: clock.local_today(tz, at) for tz in tzs},
        kinds=kinds,
    )
    if c.dialect == "postgresql":
        # The grouping of a week of attendance by NIK and date spills to disk with the default 4 MB.
        await session.execute(text("SET LOCAL work_mem = '64MB'"))
        # The national statements cost enough for PostgreSQL to JIT-compile them: 0.1-0.2 s of compiling
        # each, more than the little they then save on a few hundred thousand rows.
        await session.execute(text("SET LOCAL jit = off"))
    ksms = await _ksms(c)
    needs_activities = set(checks.ACTIVITY_KINDS) | {"wage_share", "idle_attendance"}
    activities = await _activities(c, ksms) if kinds & needs_activities else []
    since_recent = {k.id: k.today - timedelta(days=cfg.recent_days - 1) for k in ksms.values()}
    subjects = set(c.ksm_ids) if c.ksm_ids is not None else None
    obstacle_kinds = kinds & set(checks.OBSTACLE_KINDS)
    facts: dict[str, Any] = {}

    def wage_share() -> list[Finding]:
        # Perkiraan nilai pekerjaan and the budget-weighted progress per KSM (`kotaku.domain.figures`).
        budgets, wages = c.budgets, facts["wage_share"]
        value: dict[int, float] = defaultdict(float)
        budget: dict[int, int] = defaultdict(int)
        for a in activities:
            budget[a.ksm_id] += budgets.get(a.id, 0)
            if a.latest is not None:
                value[a.ksm_id] += figures.work_value(budgets.get(a.id, 0), a.latest[1])
        out: list[Finding] = []
        for ksm_id, work_value in value.items():
            if ksm_id in ksms:
                recorded, days = wages.get(ksm_id, (0, 0))
                out += checks.check_wage_share(
                    ksms[ksm_id],
                    recorded,
                    work_value,
                    cfg,
                    days=days,
                    progress=figures.progress_of_budget(work_value, budget[ksm_id]) or 0.0,
                )
        return out

    def over_roster() -> list[Finding]:
        rosters = facts["over_roster"]
        out: list[Finding] = []
        for ksm_id, (day, present) in facts["busiest"].items():
            if ksm_id in ksms:
                out += checks.check_over_roster(ksms[ksm_id], rosters.get(ksm_id, 0), day, present, cfg)
        return out

    def per_ksm(name: str, check: Callable[..., list[Finding]]) -> Callable[[], list[Finding]]:
        """The check of each evaluated KSM with facts, its facts as arguments after the KSM."""

        def run() -> list[Finding]:
            out: list[Finding] = []
            for ksm_id, args in facts[name]:
                if ksm_id in ksms:
                    out += check(ksms[ksm_id], *args)
            return out

        return run

    # The facts of the other checks, each with what turns them into findings, in the order they are
    # gathered (photos first: their pairing is the longest work after the activities').
    Job = tuple[str, Callable[[], Awaitable[Any]], Callable[[], list[Finding]]]
    jobs: list[Job] = []
    if "photo_duplicate" in kinds:
        jobs.append(
            (
                "photo_duplicate",
                lambda: _photos(c),
                lambda: checks.check_photo_duplicates(facts["photo_duplicate"], cfg, subjects),
            )
        )
    if "wage_share" in kinds:
        jobs.append(("wage_share", lambda: _wages_to_date(c), wage_share))
    if kinds & {"over_roster", "crew_spike"}:
        jobs.append(("busiest", lambda: _busiest_days(c), lambda: []))  # for the two below
    if "over_roster" in kinds:
        jobs.append(("over_roster", lambda: _rosters(c), over_roster))
    if "crew_spike" in kinds:

        async def crew() -> list[tuple[int, tuple[CrewDay]]]:
            busiest = arrived["busiest"].result()  # gathered just before (the rules may not have it yet)
            return [(k, (day,)) for k, day in await _crew_days(c, busiest)]

        jobs.append(
            ("crew_spike", crew, per_ksm("crew_spike", lambda k, d: checks.check_crew_spike(k, d, cfg)))
        )
    if "wage_range" in kinds:

        async def wage_stats() -> list[tuple[int, tuple[Any, ...]]]:
            return [(k, (v, since_recent[k])) for k, v in (await _wage_stats(c)).items() if k in ksms]

        jobs.append(
            (
                "wage_range",
                wage_stats,
                per_ksm("wage_range", lambda k, v, since: checks.check_wage_range(k, v, since, cfg)),
            )
        )
    if "idle_attendance" in kinds:

        async def idle() -> list[tuple[int, tuple[int, date]]]:
            return list((await _idle_attendance(c, activities)).items())

        jobs.append(
            (
                "idle_attendance",
                idle,
                per_ksm(
                    "idle_attendance", lambda k, n, since: checks.check_idle_attendance(k, n, since, cfg)
                ),
            )
        )
    if "late_entry" in kinds:

        async def late() -> list[tuple[int, tuple[Any, ...]]]:
            return [(k, (*v, since_recent[k])) for k, v in (await _late_entries(c)).items() if k in ksms]

        jobs.append(
            (
                "late_entry",
                late,
                per_ksm("late_entry", lambda k, n, w, since: checks.check_late_entry(k, n, w, since, cfg)),
            )
        )
    if "nik_double" in kinds:
        jobs.append(
            (
                "nik_double",
                lambda: _double_presence(c),
                lambda: [f for d in facts["nik_double"] for f in checks.check_nik_double(d)],
            )
        )
    if "photo_far" in kinds:
        jobs.append(
            (
                "photo_far",
                lambda: _placed_media(c),
                lambda: [f for p in facts["photo_far"] for f in checks.check_photo_far(p, cfg)],
            )
        )
    if "photo_stale" in kinds:
        max_age = c.settings.dialog.photo_max_age_days
        jobs.append(
            (
                "photo_stale",
                lambda: _dated_photos(c),
                lambda: [f for p in facts["photo_stale"] for f in checks.check_photo_stale(p, max_age)],
            )
        )
    if obstacle_kinds:
        jobs.append(
            (
                "obstacles",
                lambda: _open_obstacles(c),
                lambda: [
                    f for o in facts["obstacles"] for f in checks.check_obstacle(o, cfg, obstacle_kinds)
                ],
            )
        )

    # On PostgreSQL one task runs the statements one after another (one connection, one transaction)
    # while this coroutine applies the rules to what has arrived: the server works in its own process,
    # so the statements' time and the rules' Python time overlap instead of adding up.
    loop = asyncio.get_running_loop()
    arrived: dict[str, asyncio.Future[Any]] = {name: loop.create_future() for name, _, _ in jobs}

    async def gather_in_turn() -> None:
        for name, gather, _ in jobs:
            try:
                result = await gather()
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # the rules' side raises it when it gets there
                arrived[name].set_exception(exc)
                return
            arrived[name].set_result(result)

    found: dict[str, list[Finding]] = {}
    if c.dialect == "sqlite":
        # Not on SQLite: its thread takes the GIL back for every row it returns, and while the rules
        # hold it each row waits for the switch interval (measured slower than one after the other).
        found["activities"] = await _check_activities(c, activities)
        for name, gather, judge in jobs:
            arrived[name].set_result(facts.setdefault(name, await gather()))
            found[name] = judge()
        return [f for name in _SECTIONS for f in found.get(name, ())]
    gathering = asyncio.create_task(gather_in_turn())
    try:
        found["activities"] = await _check_activities(c, activities)
        for name, _, judge in jobs:
            facts[name] = await arrived[name]
            found[name] = judge()
    finally:
        if not gathering.done():
            gathering.cancel()
        await asyncio.gather(gathering, return_exceptions=True)
    return [f for name in _SECTIONS for f in found.get(name, ())]


# The order of the findings (as the sweep listed them when it ran the checks one after another).
_SECTIONS = (
    "activities",
    "wage_share",
    "over_roster",
    "crew_spike",
    "wage_range",
    "idle_attendance",
    "late_entry",
    "nik_double",
    "photo_duplicate",
    "photo_far",
    "photo_stale",
    "obstacles",
)


async def _check_activities(c: _Ctx, activities: list[ActivityFacts]) -> list[Finding]:
    """The activity rules over every activity, letting the gathering task send its next statement
    every few hundred activities."""
    if not activities:
        return []
    cfg = c.cfg
    first = min(min(a.start for a in activities), c.lo_today - timedelta(days=cfg.history_days))
    calendar = WorkCalendar(c.settings.reminders)
    work_days = WorkDays(first - timedelta(days=1), c.hi_today, calendar.is_work_day)
    activity_kinds = c.kinds & set(checks.ACTIVITY_KINDS)
    findings: list[Finding] = []
    for i, a in enumerate(activities, 1):
        findings += checks.check_activity(a, cfg, work_days, activity_kinds)
        if i % 500 == 0:
            await asyncio.sleep(0)
    return findings


@dataclass
class SweepResult:
    """What a sweep found (per kind) and what the alert lifecycle did with it."""

    at: datetime
    findings: list[Finding]
    applied: Any  # lifecycle.ApplyResult
    seconds: float
    by_kind: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "findings": len(self.findings),
            "by_kind": dict(sorted(self.by_kind.items())),
            "alerts": self.applied.to_dict() if hasattr(self.applied, "to_dict") else self.applied,
            "seconds": round(self.seconds, 3),
        }


async def evaluate_in(
    session: AsyncSession, settings: Settings, at: datetime, ksm_ids: list[int] | None = None
) -> tuple[list[Finding], Any]:
    """Evaluate these KSMs (all when None) as of `at` and open, update or resolve their alerts (queueing
    the deliveries) in `session`'s transaction: (findings, what the alert lifecycle did)."""
    findings = await evaluate(session, settings, at, ksm_ids)
    applied = await lifecycle.apply_findings(
        session,
        settings,
        findings,
        kinds=checks.enabled_kinds(settings.monitoring),
        now=at,
        ksm_ids=ksm_ids,
    )
    return findings, applied


async def evaluate_and_apply(
    db: Database, settings: Settings, at: datetime, ksm_ids: list[int] | None = None
) -> SweepResult:
    """One sweep in one transaction: evaluate, then open/update/resolve alerts and queue their delivery."""
    started = _time.perf_counter()
    async with db.transaction() as session:
        # The marks this sweep answers for, read before what it evaluates: a report committed while it
        # runs (PostgreSQL reads committed rows statement by statement) marks anew or moves its mark, and
        # that mark stays for the worker; deleting every mark older than `at` would lose it.
        answered: list[tuple[int, datetime]] = []
        if ksm_ids is None:
            stmt = select(MonitoringMark.ksm_id, MonitoringMark.marked_at).where(
                MonitoringMark.marked_at <= at
            )
            answered = [(ksm_id, marked_at) for ksm_id, marked_at in (await session.execute(stmt)).all()]
        findings, applied = await evaluate_in(session, settings, at, ksm_ids)
        postgresql = session.get_bind().dialect.name == "postgresql"
        for chunk in range(0, len(answered), 500):  # every KSM evaluated: the marks read above are done
            pairs = answered[chunk : chunk + 500]
            done = tuple_(MonitoringMark.ksm_id, MonitoringMark.marked_at).in_(pairs)
            if postgresql:
                # A mark a worker has claimed is its to clear: waiting for it here, while holding the
                # apply lock the worker waits for, would deadlock.
                free = select(MonitoringMark.ksm_id).where(done).with_for_update(skip_locked=True)
                done = MonitoringMark.ksm_id.in_(free.scalar_subquery())
            await session.execute(delete(MonitoringMark).where(done))
    by_kind: dict[str, int] = defaultdict(int)
    for f in findings:
        by_kind[f.kind] += 1
    result = SweepResult(at, findings, applied, _time.perf_counter() - started, dict(by_kind))
    log.info(
        "monitoring_sweep",
        findings=len(findings),
        seconds=round(result.seconds, 3),
        ksms=len(ksm_ids or []) or None,
    )
    return result
