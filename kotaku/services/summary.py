"""Who reported today, and how the works stand: one implementation for /status, /rekap, digests and the CLI.

"Today" is always the local date of each KSM (its kelurahan's time zone), so a scope spanning WIB and
WITA counts each site on its own calendar. Every figure comes from a handful of set-based queries
(aggregates with GROUP BY over the KSMs of the scope), never one query per KSM or activity.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from kotaku import clock
from kotaku.config import Settings
from kotaku.domain.plan import Status, assess, planned_percent, project_finish
from kotaku.domain.regions import within
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
from kotaku.services.scope import (
    Scope,
    join_kelurahan,
    ksm_ids_in_scope,
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
    """Worker-days on roster sheets by PHK status (laid off / lost income); count-mode sheets are unknown."""

    phk: int = 0
    not_phk: int = 0
    unknown: int = 0

    @property
    def known(self) -> bool:
        return self.phk > 0 or self.not_phk > 0


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
    wages_to_date: int = 0
    wages_paid: int = 0
    wage_budget: int = 0
    open_obstacles: int = 0
    budget: int = 0
    phk_today: PhkSplit = field(default_factory=PhkSplit)
    phk_to_date: PhkSplit = field(default_factory=PhkSplit)

    @property
    def funds_used(self) -> int:
        """Funds used so far: the wages recorded (material spending is not reported through the chat)."""
        return self.wages_to_date

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


def _ksms_in_scope_stmt(scope: Scope, region_path: str | None) -> Select[int, str, str, str]:
    """KSM id, code, name and time zone for every KSM in the scope."""
    stmt = join_kelurahan(select(Ksm.id, Ksm.code, Ksm.name, Region.timezone))
    if scope.ksm_id is not None:
        stmt = stmt.where(Ksm.id == scope.ksm_id)
    elif scope.bkm_id is not None:
        stmt = stmt.where(Ksm.bkm_id == scope.bkm_id)
    elif scope.region_id is not None:
        assert region_path is not None
        stmt = stmt.where(region_path_within(region_path))
    return stmt


@dataclass
class _ScopeKsms:
    rows: list[tuple[int, str, str, str]]
    today_by_tz: dict[str, date]
    scope_ids: Any  # a SELECT of the scope's KSM ids, for IN (...)

    @property
    def today_expr(self) -> ColumnElement[Any]:
        return local_today_sql(self.today_by_tz)


async def _scope_ksms(session: AsyncSession, scope: Scope, now: datetime) -> _ScopeKsms:
    path = await _scope_path(session, scope)
    if scope.region_id is not None and path is None:
        raise LookupError(f"region {scope.region_id} not found")
    stmt = _ksms_in_scope_stmt(scope, path)
    rows = [(r[0], r[1], r[2], r[3]) for r in (await session.execute(stmt.order_by(Ksm.name, Ksm.code)))]
    today_by_tz = {tz: clock.local_today(tz, now) for tz in {r[3] for r in rows}}
    ids = _ksms_in_scope_stmt(scope, path).with_only_columns(Ksm.id).correlate(None)
    return _ScopeKsms(rows=rows, today_by_tz=today_by_tz, scope_ids=ids)


# --- who reported today ---------------------------------------------------------------------------


async def reporting_status(session: AsyncSession, scope: Scope, now: datetime) -> list[KsmStatus]:
    """Every KSM in the scope with what it reported on its local today; not-reported first, then by name."""
    sk = await _scope_ksms(session, scope, now)
    if not sk.rows:
        return []
    today = sk.today_expr

    in_scope = Activity.ksm_id.in_(sk.scope_ids)
    acts = await _count_by_ksm(
        session, select(Activity.ksm_id, func.count(Activity.id)).where(in_scope), Activity.ksm_id
    )
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


async def _workers_today_by_ksm(session: AsyncSession, sk: _ScopeKsms) -> dict[int, int]:
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
    sk = await _scope_ksms(session, scope, now)
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
    statuses = await reporting_status(session, scope, now)
    summary.ksm_reported = sum(1 for s in statuses if s.reported)

    summary.activities = await _activity_statuses(session, settings, sk)
    # Active: at least one activity under way (started on plan or reported, and not finished).
    active_ksms = {a.ksm_id for a in summary.activities if a.status not in (Status.NOT_STARTED, Status.DONE)}
    summary.ksm_active = len(active_ksms)
    wage_budget, budget = (
        await session.execute(
            select(
                func.coalesce(func.sum(Activity.wage_budget), 0), func.coalesce(func.sum(Activity.budget), 0)
            ).where(Activity.ksm_id.in_(sk.scope_ids))
        )
    ).one()
    summary.wage_budget, summary.budget = int(wage_budget), int(budget)
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


async def _activity_statuses(
    session: AsyncSession, settings: Settings, sk: _ScopeKsms
) -> list[ActivityStatus]:
    today = sk.today_expr
    ksm_names = {r[0]: r[2] for r in sk.rows}
    ksm_today = {r[0]: sk.today_by_tz[r[3]] for r in sk.rows}
    activities = list(
        (
            await session.execute(
                select(Activity)
                .where(Activity.ksm_id.in_(sk.scope_ids))
                .order_by(Activity.ksm_id, Activity.code)
            )
        ).scalars()
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
            )
        )
    result.sort(key=lambda r: (r.ksm_name, r.code))
    return result


async def _workforce(session: AsyncSession, sk: _ScopeKsms, summary: ScopeSummary) -> None:
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
        summary.wages_to_date += int(wages)
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
        for bucket in buckets(work_date, tz):
            bucket.male += int(male)
            bucket.female += int(female)
            bucket.hok += float(hok)
        summary.wages_to_date += int(wages)
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
    place = await scope_place(session, scope)
    label = "-" if place is None else region_label(place) if isinstance(place, Region) else place.name
    if scope.ksm_id is not None:
        return Scope(ksm_id=scope.ksm_id, label=label)
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
