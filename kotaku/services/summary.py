"""Who reported today, and how the works stand: one implementation for /status, /rekap, digests and the CLI.

"Today" is always the local date of each KSM (its kelurahan's time zone), so a scope spanning WIB and
WITA counts each site on its own calendar. Every figure comes from a handful of set-based queries
(aggregates with GROUP BY over the KSMs of the scope), never one query per KSM or activity.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from kotaku import clock
from kotaku.config import Settings
from kotaku.domain import figures
from kotaku.domain.calendar import WorkCalendar
from kotaku.domain.plan import Status, assess, planned_percent, project_finish
from kotaku.domain.regions import path_codes, within
from kotaku.models import (
    Activity,
    AttendanceDay,
    AttendanceMode,
    AttendanceRecord,
    Bkm,
    Gender,
    Ksm,
    Obstacle,
    ObstacleStatus,
    Person,
    PlanPoint,
    ProgressReport,
    Region,
    RegionLevel,
    Worker,
)
from kotaku.models.enums import REGION_LEVEL_ORDER
from kotaku.services.scope import (
    Scope,
    join_kelurahan,
    ksm_ids_in_scope,
    ksm_place,
    local_today_sql,
    region_path_within,
    resolve_scope,
    scope_contains_ksm,
    scope_of,
    scope_place,
)

# Reports this many days back feed the trend used by the "will finish late" part of the rule.
TREND_DAYS = 14


@dataclass(frozen=True)
class KsmStatus:
    """What one KSM reported on its local today."""

    ksm_id: int
    code: str
    name: str
    timezone: str
    today: date
    activities: int
    progress_reported: int
    attendance_reported: bool
    workers: int
    obstacles: int

    @property
    def reported(self) -> bool:
        return self.progress_reported > 0 or self.attendance_reported or self.obstacles > 0


@dataclass(frozen=True)
class ActivityStatus:
    activity_id: int
    code: str
    name: str
    ksm_id: int
    ksm_name: str
    unit: str
    today: date
    planned: float
    actual: float | None
    deviation: float | None
    status: Status
    last_report: date | None
    budget: int = 0
    wage_budget: int = 0

    @property
    def work_value(self) -> float:
        """Perkiraan nilai pekerjaan of this activity (`kotaku.domain.figures.work_value`)."""
        return figures.work_value(self.budget, self.actual)


@dataclass
class Workforce:
    """Worker-days split by gender (L/P); `unknown` when a sheet gave no gender."""

    male: int = 0
    female: int = 0
    unknown: int = 0
    hok: float = 0.0

    @property
    def total(self) -> int:
        return self.male + self.female + self.unknown


@dataclass
class PhkSplit:
    """Worker-days by the worker's PHK status (laid off / lost income): roster sheets by each worker's
    status (`unknown` when the roster does not say), count-mode sheets apart in `count_only` (they name
    nobody, so no status). The parts add up to the worker-days of the same period (`Workforce.total`)."""

    phk: int = 0
    not_phk: int = 0
    unknown: int = 0
    count_only: int = 0

    @property
    def known(self) -> bool:
        return self.phk > 0 or self.not_phk > 0

    @property
    def total(self) -> int:
        return self.phk + self.not_phk + self.unknown + self.count_only


@dataclass
class ScopeSummary:
    scope_label: str
    now: datetime
    today: date | None
    ksm_total: int
    ksm_active: int
    ksm_reported: int
    activities: list[ActivityStatus] = field(default_factory=list)
    today_work: Workforce = field(default_factory=Workforce)
    to_date_work: Workforce = field(default_factory=Workforce)
    distinct_workers: int = 0
    wages_recorded: int = 0  # upah tercatat to date (`kotaku.domain.figures`), paid or not
    wages_paid: int = 0
    wage_budget: int = 0
    open_obstacles: int = 0
    budget: int = 0
    phk_today: PhkSplit = field(default_factory=PhkSplit)
    phk_to_date: PhkSplit = field(default_factory=PhkSplit)

    @property
    def work_value(self) -> float:
        """Perkiraan nilai pekerjaan: Σ budget × actual % of the scope's activities (an estimate)."""
        return figures.total_work_value((a.budget, a.actual) for a in self.activities)

    @property
    def wage_share(self) -> float | None:
        """Porsi upah: upah tercatat ÷ perkiraan nilai pekerjaan (what the `wage_share` alert judges)."""
        return figures.wage_share(self.wages_recorded, self.work_value)

    @property
    def critical(self) -> list[ActivityStatus]:
        rows = [a for a in self.activities if a.status == Status.CRITICAL]
        return sorted(rows, key=lambda a: (a.deviation or 0.0, a.ksm_name, a.code))

    def count_by_status(self) -> dict[Status, int]:
        counts: dict[Status, int] = defaultdict(int)
        for a in self.activities:
            counts[a.status] += 1
        return dict(counts)


# --- scope and local dates ------------------------------------------------------------------------


def _ksms_in_scope_stmt(scope: Scope, region_path: str | None) -> Select[int, str, str, str, str]:
    """KSM id, code, name, time zone and kelurahan path for every KSM in the scope."""
    stmt = join_kelurahan(select(Ksm.id, Ksm.code, Ksm.name, Region.timezone, Region.path))
    if scope.ksm_id is not None:
        stmt = stmt.where(Ksm.id == scope.ksm_id)
    elif scope.bkm_id is not None:
        stmt = stmt.where(Ksm.bkm_id == scope.bkm_id)
    elif scope.region_id is not None:
        assert region_path is not None
        stmt = stmt.where(region_path_within(region_path))
    return stmt


@dataclass
class ScopeKsms:
    """The KSMs a figure is computed over, each with its local today: what `scope_summary`,
    `reporting_status` and the exports' summary (`kotaku.exports.data`) read their figures for."""

    rows: list[tuple[int, str, str, str]]  # (KSM id, code, name, time zone)
    today_by_tz: dict[str, date]
    scope_ids: Any  # a SELECT of the scope's KSM ids, or a list of them, for IN (...)
    paths: dict[int, str] = field(default_factory=dict)  # KSM id -> its kelurahan's region path

    @property
    def today_expr(self) -> ColumnElement[Any]:
        return local_today_sql(self.today_by_tz)


async def scope_ksms(session: AsyncSession, scope: Scope, now: datetime) -> ScopeKsms:
    """The KSMs of a scope (by name and code) and the local today of each of their time zones."""
    if scope.ksm_id is not None:
        # One KSM: its place (the process's structure cache, else one query), its id as the list.
        place = await ksm_place(session, scope.ksm_id)
        if place is None:
            return ScopeKsms(rows=[], today_by_tz={}, scope_ids=[])
        return ScopeKsms(
            rows=[(place.id, place.code, place.name, place.timezone)],
            today_by_tz={place.timezone: clock.local_today(place.timezone, now)},
            scope_ids=[place.id],
            paths={place.id: place.path},
        )
    path = await _scope_path(session, scope)
    if scope.region_id is not None and path is None:
        raise LookupError(f"region {scope.region_id} not found")
    stmt = _ksms_in_scope_stmt(scope, path)
    found = (await session.execute(stmt.order_by(Ksm.name, Ksm.code))).all()
    rows = [(r[0], r[1], r[2], r[3]) for r in found]
    today_by_tz = {tz: clock.local_today(tz, now) for tz in {r[3] for r in rows}}
    ids = _ksms_in_scope_stmt(scope, path).with_only_columns(Ksm.id).correlate(None)
    return ScopeKsms(rows=rows, today_by_tz=today_by_tz, scope_ids=ids, paths={r[0]: r[4] for r in found})


# --- who reported today ---------------------------------------------------------------------------


async def reporting_status(
    session: AsyncSession,
    scope: Scope,
    now: datetime,
    *,
    sk: ScopeKsms | None = None,
    activities: Sequence[ActivityStatus] | None = None,
) -> list[KsmStatus]:
    """Every KSM in the scope with what it reported on its local today; not-reported first, then by name.
    `sk` and `activities` (`scope_ksms`, `activity_statuses` of the same scope and moment), when the
    caller has them, are not read again."""
    if sk is None:
        sk = await scope_ksms(session, scope, now)
    if not sk.rows:
        return []
    today = sk.today_expr

    in_scope = Activity.ksm_id.in_(sk.scope_ids)
    if activities is None:
        acts = await _count_by_ksm(
            session, select(Activity.ksm_id, func.count(Activity.id)).where(in_scope), Activity.ksm_id
        )
    else:
        acts = defaultdict(int)
        for a in activities:
            acts[a.ksm_id] += 1
    progress_stmt = join_kelurahan(
        select(Activity.ksm_id, func.count(func.distinct(ProgressReport.activity_id)))
        .select_from(ProgressReport)
        .join(Activity, Activity.id == ProgressReport.activity_id),
        Activity.ksm_id,
    ).where(in_scope, ProgressReport.report_date == today)
    progress = await _count_by_ksm(session, progress_stmt, Activity.ksm_id)
    attendance = await _workers_today_by_ksm(session, sk)
    obstacle_stmt = join_kelurahan(
        select(Obstacle.ksm_id, func.count(Obstacle.id)).select_from(Obstacle), Obstacle.ksm_id
    ).where(Obstacle.ksm_id.in_(sk.scope_ids), Obstacle.report_date == today)
    obstacles = await _count_by_ksm(session, obstacle_stmt, Obstacle.ksm_id)
    result = [
        KsmStatus(
            ksm_id=ksm_id,
            code=code,
            name=name,
            timezone=tz,
            today=sk.today_by_tz[tz],
            activities=acts.get(ksm_id, 0),
            progress_reported=progress.get(ksm_id, 0),
            attendance_reported=ksm_id in attendance,
            workers=attendance.get(ksm_id, 0),
            obstacles=obstacles.get(ksm_id, 0),
        )
        for ksm_id, code, name, tz in sk.rows
    ]
    result.sort(key=lambda k: (k.reported, k.name, k.code))
    return result


async def _count_by_ksm(session: AsyncSession, stmt: Select[int, int], ksm_col: Any) -> dict[int, int]:
    """KSM id -> count, for a statement selecting (KSM id, count), grouped by `ksm_col`."""
    return {ksm_id: int(n) for ksm_id, n in (await session.execute(stmt.group_by(ksm_col))).all()}


async def _workers_today_by_ksm(session: AsyncSession, sk: ScopeKsms) -> dict[int, int]:
    """KSM id -> workers present on its local today (roster: records; count mode: the counts)."""
    stmt = join_kelurahan(
        select(
            AttendanceDay.ksm_id,
            AttendanceDay.mode,
            AttendanceDay.count_male + AttendanceDay.count_female,
            func.count(AttendanceRecord.id),
        )
        .select_from(AttendanceDay)
        .outerjoin(AttendanceRecord, AttendanceRecord.attendance_day_id == AttendanceDay.id),
        AttendanceDay.ksm_id,
    )
    stmt = stmt.where(
        AttendanceDay.ksm_id.in_(sk.scope_ids), AttendanceDay.work_date == sk.today_expr
    ).group_by(
        AttendanceDay.id,
        AttendanceDay.ksm_id,
        AttendanceDay.mode,
        AttendanceDay.count_male,
        AttendanceDay.count_female,
    )
    found: dict[int, int] = {}
    for ksm_id, mode, counted, records in (await session.execute(stmt)).all():
        found[ksm_id] = int(records) if mode == AttendanceMode.ROSTER and records else int(counted or 0)
    return found


# --- the summary ----------------------------------------------------------------------------------


async def scope_summary(
    session: AsyncSession, settings: Settings, scope: Scope, now: datetime
) -> ScopeSummary:
    """Sites, today's reports, progress vs plan per activity, workforce, wages and open obstacles.

    Each KSM is measured on its own local today (derived from `now` and its region's time zone).
    """
    sk = await scope_ksms(session, scope, now)
    # The date most sites in the scope live on, for the heading.
    tz_counts: dict[str, int] = defaultdict(int)
    for row in sk.rows:
        tz_counts[row[3]] += 1
    heading_today = sk.today_by_tz[max(tz_counts, key=lambda tz: tz_counts[tz])] if tz_counts else None
    summary = ScopeSummary(
        scope_label=scope.label,
        now=now,
        today=heading_today,
        ksm_total=len(sk.rows),
        ksm_active=0,
        ksm_reported=0,
    )
    if not sk.rows:
        return summary
    summary.activities = await activity_statuses(session, settings, sk)
    statuses = await reporting_status(session, scope, now, sk=sk, activities=summary.activities)
    summary.ksm_reported = sum(1 for s in statuses if s.reported)
    # Active: at least one activity under way (started on plan or reported, and not finished).
    active_ksms = {a.ksm_id for a in summary.activities if a.status not in (Status.NOT_STARTED, Status.DONE)}
    summary.ksm_active = len(active_ksms)
    # The budgets of every activity of the scope's KSMs (`activity_statuses` has each of them).
    summary.wage_budget = sum(a.wage_budget for a in summary.activities)
    summary.budget = sum(a.budget for a in summary.activities)
    await _workforce(session, sk, summary)
    summary.open_obstacles = int(
        (
            await session.execute(
                select(func.count(Obstacle.id)).where(
                    Obstacle.ksm_id.in_(sk.scope_ids), Obstacle.status == ObstacleStatus.OPEN
                )
            )
        ).scalar_one()
    )
    return summary


async def activity_statuses(session: AsyncSession, settings: Settings, sk: ScopeKsms) -> list[ActivityStatus]:
    """Every activity of the KSMs with planned %, latest actual %, deviation and status (the one rule,
    `kotaku.domain.plan.assess`) on its KSM's local today, by KSM name and activity code."""
    today = sk.today_expr
    ksm_names = {r[0]: r[2] for r in sk.rows}
    ksm_today = {r[0]: sk.today_by_tz[r[3]] for r in sk.rows}
    # The columns used, not ORM objects (a national /rekap or export reads 33,000 of them).
    activities = list(
        (
            await session.execute(
                select(
                    Activity.id,
                    Activity.code,
                    Activity.name,
                    Activity.ksm_id,
                    Activity.unit,
                    Activity.start_date,
                    Activity.end_date,
                    Activity.budget,
                    Activity.wage_budget,
                )
                .where(Activity.ksm_id.in_(sk.scope_ids))
                .order_by(Activity.ksm_id, Activity.code)
            )
        ).all()
    )
    if not activities:
        return []

    points: dict[int, list[tuple[date, float]]] = defaultdict(list)
    for activity_id, plan_date, pct in (
        await session.execute(
            select(PlanPoint.activity_id, PlanPoint.plan_date, PlanPoint.planned_percent)
            .join(Activity, Activity.id == PlanPoint.activity_id)
            .where(Activity.ksm_id.in_(sk.scope_ids))
        )
    ).all():
        points[activity_id].append((plan_date, pct))

    # The latest report on or before each KSM's today.
    latest_date = join_kelurahan(
        select(ProgressReport.activity_id, func.max(ProgressReport.report_date).label("d"))
        .select_from(ProgressReport)
        .join(Activity, Activity.id == ProgressReport.activity_id),
        Activity.ksm_id,
    )
    latest_sq = (
        latest_date.where(Activity.ksm_id.in_(sk.scope_ids), ProgressReport.report_date <= today)
        .group_by(ProgressReport.activity_id)
        .subquery()
    )
    latest: dict[int, tuple[date, float]] = {}
    for activity_id, report_date, pct in (
        await session.execute(
            select(ProgressReport.activity_id, ProgressReport.report_date, ProgressReport.percent).join(
                latest_sq,
                and_(
                    latest_sq.c.activity_id == ProgressReport.activity_id,
                    latest_sq.c.d == ProgressReport.report_date,
                ),
            )
        )
    ).all():
        latest[activity_id] = (report_date, pct)

    # Recent history for the trend (bounded window, so the query stays small at national scale).
    oldest = min(sk.today_by_tz.values()) - timedelta(days=TREND_DAYS)
    history: dict[int, list[tuple[date, float]]] = defaultdict(list)
    hist_stmt = join_kelurahan(
        select(ProgressReport.activity_id, ProgressReport.report_date, ProgressReport.percent)
        .select_from(ProgressReport)
        .join(Activity, Activity.id == ProgressReport.activity_id),
        Activity.ksm_id,
    ).where(
        Activity.ksm_id.in_(sk.scope_ids),
        ProgressReport.report_date <= today,
        ProgressReport.report_date >= oldest,
    )
    for activity_id, report_date, pct in (await session.execute(hist_stmt)).all():
        history[activity_id].append((report_date, pct))

    cfg = settings.monitoring
    result = []
    for a in activities:
        on = ksm_today[a.ksm_id]
        planned = planned_percent(points.get(a.id, []), a.start_date, a.end_date, on, cfg.curve)
        last = latest.get(a.id)
        actual = last[1] if last else None
        assessment = assess(
            planned=planned,
            actual=actual,
            cfg=cfg,
            end=a.end_date,
            projected_finish=project_finish(history.get(a.id, [])),
        )
        result.append(
            ActivityStatus(
                activity_id=a.id,
                code=a.code,
                name=a.name,
                ksm_id=a.ksm_id,
                ksm_name=ksm_names.get(a.ksm_id, ""),
                unit=a.unit,
                today=on,
                planned=planned,
                actual=actual,
                deviation=assessment.deviation,
                status=assessment.status,
                last_report=last[0] if last else None,
                budget=int(a.budget or 0),
                wage_budget=int(a.wage_budget or 0),
            )
        )
    result.sort(key=lambda r: (r.ksm_name, r.code))
    return result


async def _workforce(session: AsyncSession, sk: ScopeKsms, summary: ScopeSummary) -> None:
    """Worker-days, HOK and wages today and to date. Roster sheets count their records (gender from the
    roster); count-mode sheets use their L/P counts and day totals. Grouped by date and time zone, so
    "today" is decided per KSM without a bound parameter in GROUP BY."""
    in_scope = and_(AttendanceDay.ksm_id.in_(sk.scope_ids), AttendanceDay.work_date <= sk.today_expr)

    def buckets(work_date: date, tz: str) -> list[Workforce]:
        today = sk.today_by_tz.get(tz)
        return [summary.to_date_work, *([summary.today_work] if work_date == today else [])]

    roster = (
        join_kelurahan(
            select(
                AttendanceDay.work_date,
                Region.timezone,
                Worker.gender,
                Worker.is_phk,
                func.count(AttendanceRecord.id),
                func.coalesce(func.sum(AttendanceRecord.hok), 0.0),
                func.coalesce(func.sum(AttendanceRecord.wage), 0),
                func.coalesce(
                    func.sum(case((AttendanceRecord.paid.is_(True), AttendanceRecord.wage), else_=0)), 0
                ),
            )
            .select_from(AttendanceRecord)
            .join(AttendanceDay, AttendanceDay.id == AttendanceRecord.attendance_day_id)
            .join(Worker, Worker.id == AttendanceRecord.worker_id),
            AttendanceDay.ksm_id,
        )
        .where(in_scope, AttendanceDay.mode == AttendanceMode.ROSTER)
        .group_by(AttendanceDay.work_date, Region.timezone, Worker.gender, Worker.is_phk)
    )
    for work_date, tz, gender, is_phk, n, hok, wages, paid in (await session.execute(roster)).all():
        _add_phk(summary, work_date == sk.today_by_tz.get(tz), is_phk, int(n))
        for bucket in buckets(work_date, tz):
            if gender == Gender.L:
                bucket.male += int(n)
            elif gender == Gender.P:
                bucket.female += int(n)
            else:
                bucket.unknown += int(n)
            bucket.hok += float(hok)
        summary.wages_recorded += int(wages)
        summary.wages_paid += int(paid)

    counted = (
        join_kelurahan(
            select(
                AttendanceDay.work_date,
                Region.timezone,
                func.coalesce(func.sum(AttendanceDay.count_male), 0),
                func.coalesce(func.sum(AttendanceDay.count_female), 0),
                func.coalesce(
                    func.sum(
                        case(
                            (AttendanceDay.hok > 0, AttendanceDay.hok),
                            else_=AttendanceDay.count_male + AttendanceDay.count_female,
                        )
                    ),
                    0.0,
                ),
                func.coalesce(func.sum(AttendanceDay.total_wages), 0),
                func.coalesce(
                    func.sum(case((AttendanceDay.wages_paid.is_(True), AttendanceDay.total_wages), else_=0)),
                    0,
                ),
            ).select_from(AttendanceDay),
            AttendanceDay.ksm_id,
        )
        .where(in_scope, AttendanceDay.mode == AttendanceMode.COUNT)
        .group_by(AttendanceDay.work_date, Region.timezone)
    )
    for work_date, tz, male, female, hok, wages, paid in (await session.execute(counted)).all():
        _add_count_only(summary, work_date == sk.today_by_tz.get(tz), int(male) + int(female))
        for bucket in buckets(work_date, tz):
            bucket.male += int(male)
            bucket.female += int(female)
            bucket.hok += float(hok)
        summary.wages_recorded += int(wages)
        summary.wages_paid += int(paid)

    distinct = join_kelurahan(
        select(func.count(func.distinct(AttendanceRecord.worker_id)))
        .select_from(AttendanceRecord)
        .join(AttendanceDay, AttendanceDay.id == AttendanceRecord.attendance_day_id),
        AttendanceDay.ksm_id,
    ).where(in_scope)
    summary.distinct_workers = int((await session.execute(distinct)).scalar_one())


def _add_phk(summary: ScopeSummary, is_today: bool, is_phk: bool | None, n: int) -> None:
    """Roster worker-days by the worker's PHK status, today and to date."""
    for split in [summary.phk_to_date, *([summary.phk_today] if is_today else [])]:
        if is_phk is True:
            split.phk += n
        elif is_phk is False:
            split.not_phk += n
        else:
            split.unknown += n


def _add_count_only(summary: ScopeSummary, is_today: bool, n: int) -> None:
    """Worker-days of count-mode sheets: no names, so no PHK status; counted apart, today and to date."""
    for split in [summary.phk_to_date, *([summary.phk_today] if is_today else [])]:
        split.count_only += n


# --- /status for managers: groups and missed-day streaks ------------------------------------------

# How far back a missed-days streak is followed (the escalation of `kotaku.reminders` looks as far).
STREAK_LOOKBACK_DAYS = 45
# Up to this many KSM ids go into a query as a list; more are filtered by the scope's subquery.
MAX_LISTED_IDS = 1000

# The region level a manager's /status groups its KSMs by, for the level of the scope it shows (None: the
# whole program). Kecamatan is the finest grouping: a kecamatan or kelurahan is shown as one group.
GROUP_LEVEL: dict[RegionLevel | None, RegionLevel] = {
    None: RegionLevel.PROVINSI,
    RegionLevel.PROVINSI: RegionLevel.KABKOTA,
    RegionLevel.KABKOTA: RegionLevel.KECAMATAN,
    RegionLevel.KECAMATAN: RegionLevel.KECAMATAN,
    RegionLevel.KELURAHAN: RegionLevel.KELURAHAN,
}


def missed_streak(days_reported: set[date], today: date, cal: WorkCalendar, running_from: date) -> list[date]:
    """The work days without any report, counting back from `today` (included) until a work day with a
    report, the start of the works or `STREAK_LOOKBACK_DAYS`; newest first. The escalation after missed
    days (`kotaku.reminders`) counts the same way."""
    streak: list[date] = []
    day = today
    for _ in range(STREAK_LOOKBACK_DAYS):
        if day < running_from:
            break
        if cal.is_work_day(day):
            if day in days_reported:
                break
            streak.append(day)
        day -= timedelta(days=1)
    return streak


@dataclass(frozen=True)
class MissedDays:
    """A KSM's run of work days without a report, up to its local today."""

    running: bool  # its works run today (between its first activity's start and its last one's end)
    days: int  # consecutive work days without any report, today included
    since: date | None  # the first of them

    @property
    def late(self) -> bool:
        """Works run, and at least one work day (today, or the ones before it) has no report."""
        return self.running and self.days > 0


@dataclass
class StatusGroup:
    """The KSMs of one region of a manager's /status (a kecamatan, kabupaten/kota or province)."""

    code: str
    label: str
    rows: list[KsmStatus] = field(default_factory=list)

    @property
    def reported(self) -> int:
        return sum(1 for k in self.rows if k.reported)


@dataclass
class ManagerStatus:
    """/status for managers: every KSM of the scope, grouped by region, with its missed-day streak."""

    rows: list[KsmStatus]
    groups: list[StatusGroup]
    missed: dict[int, MissedDays]
    grouped: bool  # False when the scope is one group already (a kecamatan or kelurahan)

    def late(self, group: StatusGroup | None = None) -> list[KsmStatus]:
        """The late KSMs (of a group, or all), longest streak first."""
        rows = group.rows if group is not None else self.rows
        late = [k for k in rows if not k.reported and self.missed[k.ksm_id].late]
        return sorted(late, key=lambda k: (-self.missed[k.ksm_id].days, k.name, k.code))


async def manager_status(
    session: AsyncSession, settings: Settings, scope: Scope, now: datetime
) -> ManagerStatus:
    """Who reported today in a region (or the whole program), grouped by the region level below the
    scope's (`GROUP_LEVEL`), with each KSM's missed-day streak. A fixed number of queries."""
    sk = await scope_ksms(session, scope, now)
    rows = await reporting_status(session, scope, now)
    missed = await missed_days(session, settings, sk, {k.ksm_id for k in rows if not k.reported})
    level: RegionLevel | None = None
    if scope.region_id is not None:
        region = await session.get(Region, scope.region_id)
        level = region.level if region is not None else None
    wanted = GROUP_LEVEL.get(level, RegionLevel.KECAMATAN)
    codes = {code for path in sk.paths.values() for code in path_codes(path)}
    regions = {
        r.code: r for r in (await session.execute(select(Region).where(Region.code.in_(codes)))).scalars()
    }
    groups: dict[str, StatusGroup] = {}
    for k in rows:
        region = _group_region(sk.paths.get(k.ksm_id, ""), regions, wanted)
        key = region.code if region is not None else ""
        if key not in groups:
            groups[key] = StatusGroup(code=key, label=region_label(region) if region is not None else "-")
        groups[key].rows.append(k)
    return ManagerStatus(
        rows=rows,
        groups=sorted(groups.values(), key=lambda g: (g.label, g.code)),
        missed=missed,
        grouped=level != wanted,
    )


def _group_region(path: str, regions: dict[str, Region], wanted: RegionLevel) -> Region | None:
    """The region at level `wanted` on a kelurahan's path; without one (a kelurahan filed straight under
    its kota), the lowest region above that level, else the kelurahan itself."""
    on_path = [regions[c] for c in path_codes(path) if c in regions] if path else []
    for region in on_path:
        if region.level == wanted:
            return region
    depth = REGION_LEVEL_ORDER.index(wanted)
    above = [r for r in on_path if REGION_LEVEL_ORDER.index(r.level) < depth]
    return above[-1] if above else (on_path[-1] if on_path else None)


async def missed_days(
    session: AsyncSession, settings: Settings, sk: ScopeKsms, ksm_ids: set[int]
) -> dict[int, MissedDays]:
    """Every KSM of `sk` with its missed-day streak (`missed_streak`); only those in `ksm_ids` (the ones
    without a report today) can have one, the others get 0. Two queries for the whole scope."""
    spans = {
        ksm_id: (first, last)
        for ksm_id, first, last in (
            await session.execute(
                select(Activity.ksm_id, func.min(Activity.start_date), func.max(Activity.end_date))
                .where(Activity.ksm_id.in_(sk.scope_ids))
                .group_by(Activity.ksm_id)
            )
        ).all()
    }
    reported: dict[int, set[date]] = defaultdict(set)
    if ksm_ids and sk.today_by_tz:
        oldest = min(sk.today_by_tz.values()) - timedelta(days=STREAK_LOOKBACK_DAYS)
        newest = max(sk.today_by_tz.values())
        # The late KSMs by id while they are few; else the scope's subquery (and the others skipped below).
        wanted: Any = sorted(ksm_ids) if len(ksm_ids) <= MAX_LISTED_IDS else sk.scope_ids
        progress = (
            select(Activity.ksm_id.label("ksm_id"), ProgressReport.report_date.label("day"))
            .join(Activity, Activity.id == ProgressReport.activity_id)
            .where(Activity.ksm_id.in_(wanted), ProgressReport.report_date.between(oldest, newest))
        )
        attendance = select(AttendanceDay.ksm_id, AttendanceDay.work_date).where(
            AttendanceDay.ksm_id.in_(wanted), AttendanceDay.work_date.between(oldest, newest)
        )
        obstacles = select(Obstacle.ksm_id, Obstacle.report_date).where(
            Obstacle.ksm_id.in_(wanted), Obstacle.report_date.between(oldest, newest)
        )
        for ksm_id, day in (await session.execute(union(progress, attendance, obstacles))).all():
            if ksm_id in ksm_ids:
                reported[ksm_id].add(day)
    cal = WorkCalendar(settings.reminders)
    out: dict[int, MissedDays] = {}
    for ksm_id, _code, _name, tz in sk.rows:
        today = sk.today_by_tz[tz]
        span = spans.get(ksm_id)
        running = span is not None and span[0] <= today <= span[1]
        if not running or ksm_id not in ksm_ids:
            out[ksm_id] = MissedDays(running=running, days=0, since=None)
            continue
        assert span is not None
        streak = missed_streak(reported[ksm_id], today, cal, span[0])
        out[ksm_id] = MissedDays(running=True, days=len(streak), since=streak[-1] if streak else None)
    return out


# --- the activities of a scope --------------------------------------------------------------------


async def activities_in_scope(
    session: AsyncSession, scope: Scope, text: str = ""
) -> list[tuple[Activity, str]]:
    """Activities in a scope with their KSM's name, by KSM name and code. With `text`: the activity whose
    code it is, else those whose code is it or whose name contains it (any case)."""
    stmt = select(Activity, Ksm.name).join(Ksm, Ksm.id == Activity.ksm_id)
    if not scope.is_national:
        stmt = stmt.where(Activity.ksm_id.in_(await ksm_ids_in_scope(session, scope)))
    wanted = text.lower()
    if wanted:
        stmt = stmt.where(
            or_(
                func.lower(Activity.code) == wanted,
                func.lower(Activity.name).contains(wanted, autoescape=True),
            )
        )
    rows = [(a, k) for a, k in (await session.execute(stmt.order_by(Ksm.name, Activity.code))).all()]
    exact = [(a, k) for a, k in rows if a.code.lower() == wanted]
    return exact or rows


async def activity_by_code(session: AsyncSession, code: str) -> Activity | None:
    """The activity with this code (any case), in whatever scope."""
    stmt = select(Activity).where(func.lower(Activity.code) == code.lower())
    return (await session.execute(stmt)).scalar_one_or_none()


# --- which scope a person may look at -------------------------------------------------------------

# What asks for one's own whole scope instead of a code (`/rekap semua`, the "my whole scope" button).
OWN_SCOPE_WORDS = frozenset({"semua", "all", "*"})


class OutsideScope(PermissionError):
    """The requested KSM or region lies outside the person's own scope."""


async def labelled_scope(session: AsyncSession, scope: Scope) -> Scope:
    """The same scope with a human label: the KSM's or BKM's name, or the region's level and name."""
    if scope.is_national:
        return Scope(label="nasional")
    if scope.ksm_id is not None:  # the KSM's name from the process's structure cache (`ksm_place`)
        ksm = await ksm_place(session, scope.ksm_id)
        return Scope(ksm_id=scope.ksm_id, label=ksm.name if ksm is not None else "-")
    place = await scope_place(session, scope)
    label = "-" if place is None else region_label(place) if isinstance(place, Region) else place.name
    if scope.bkm_id is not None:
        return Scope(bkm_id=scope.bkm_id, label=label)
    return Scope(region_id=scope.region_id, label=label)


def region_label(region: Region) -> str:
    """`Kecamatan Ambarawa`, `Kelurahan Bejalen`, `Provinsi Jawa Tengah`; kabupaten/kota names say it already."""
    prefix = {
        RegionLevel.PROVINSI: "Provinsi",
        RegionLevel.KECAMATAN: "Kecamatan",
        RegionLevel.KELURAHAN: "Kelurahan",
    }.get(region.level)
    if prefix is None or region.name.lower().startswith(prefix.lower()):
        return region.name
    return f"{prefix} {region.name}"


async def _scope_path(session: AsyncSession, scope: Scope) -> str | None:
    """The region path a scope covers (a KSM or BKM covers its kelurahan only partly: None)."""
    if scope.region_id is None:
        return None
    region = await session.get(Region, scope.region_id)
    return region.path if region else None


async def _within(session: AsyncSession, own: Scope, wanted: Scope) -> bool:
    if own.is_national:
        return True
    if wanted.is_national:
        return False
    if wanted.ksm_id is not None:
        return await scope_contains_ksm(session, own, wanted.ksm_id)
    if wanted.bkm_id is not None:
        if own.bkm_id is not None:
            return own.bkm_id == wanted.bkm_id
        own_path = await _scope_path(session, own)
        if own_path is None:
            return False
        kel_path = (
            await session.execute(
                select(Region.path).join(Bkm, Bkm.kelurahan_id == Region.id).where(Bkm.id == wanted.bkm_id)
            )
        ).scalar_one_or_none()
        return kel_path is not None and within(kel_path, own_path)
    own_path = await _scope_path(session, own)
    wanted_path = await _scope_path(session, wanted)
    if own_path is None or wanted_path is None:
        return False
    return within(wanted_path, own_path)


async def view_scope(session: AsyncSession, person: Person, wanted: str = "") -> Scope:
    """The scope a person asks to see: their own, or a KSM/BKM/region code inside it.

    Raises `ScopeNotFound` for an unknown code and `OutsideScope` for one outside the person's scope.
    """
    own = await labelled_scope(session, scope_of(person))
    text = wanted.strip()
    if not text or text.lower() in OWN_SCOPE_WORDS:
        return own
    requested = await labelled_scope(session, await resolve_scope(session, text))
    if not await _within(session, own, requested):
        raise OutsideScope(requested.label)
    return requested
