"""What is due when: one function plans a local day (`plan_day`) and one writes whatever is due at a moment
to the outbox (`run_due`); the scheduler, `kotaku reminders run --at` and the tests all call `run_due`.

Every slot is local to its site (WIB/WITA/WIT) and is due from its time until `grace_minutes` later (the
first reminder also stops when the second one starts). Outbox dedup keys carry the local date, so running
`run_due` again, after a restart or on a second instance, queues nothing twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import catalogue, clock
from kotaku.config import Settings
from kotaku.domain.calendar import WorkCalendar
from kotaku.i18n import fmt_date, fmt_number
from kotaku.models import (
    Activity,
    AttendanceDay,
    Channel,
    ChannelIdentity,
    GroupBinding,
    Ksm,
    Obstacle,
    OutboxMessage,
    Person,
    ProgressReport,
    Region,
    Role,
)
from kotaku.notify.outbox import (
    PRIORITY_HIGH,
    PRIORITY_LOW,
    enqueue_to_chat,
    notify_people,
)
from kotaku.services.scope import (
    NATIONAL,
    Scope,
    join_kelurahan,
    people_in_scope_of_ksm,
    person_timezone,
    scope_of,
)
from kotaku.services.summary import (
    STREAK_LOOKBACK_DAYS,
    ScopeSummary,
    missed_streak,
    reporting_status,
    scope_summary,
)

log = logging.getLogger(__name__)

FIRST = "first"
SECOND = "second"
DIGEST = "digest"
ESCALATION = "escalation"
WEEKLY = "weekly"
KINDS = (FIRST, SECOND, DIGEST, ESCALATION, WEEKLY)
# How far back the missed-days streak is followed, so its start (the dedup key) stays stable.
MAX_LISTED = 30


# --- who and where -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KsmTarget:
    ksm_id: int
    code: str
    name: str
    timezone: str
    reminder_time: time | None
    place: str
    running_from: date
    running_to: date

    def running_on(self, day: date) -> bool:
        return self.running_from <= day <= self.running_to


@dataclass(frozen=True)
class Slot:
    """One thing that goes out at a local time on a local date to someone."""

    kind: str
    local_date: date
    local_time: time
    timezone: str
    target: str
    ksm_id: int | None = None
    person_id: int | None = None
    chat: tuple[str, str] | None = None  # (channel, chat_id) for a group binding

    @property
    def at(self) -> datetime:
        return datetime.combine(self.local_date, self.local_time, ZoneInfo(self.timezone)).astimezone(
            ZoneInfo("UTC")
        )


@dataclass
class RunReport:
    at: datetime
    queued: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "queued": {k: v for k, v in self.queued.items() if v},
            "skipped": dict(self.skipped),
        }


async def ksm_targets(session: AsyncSession, settings: Settings) -> list[KsmTarget]:
    """Every KSM with at least one activity, its zone, own reminder time and the span its works run."""
    rows = (
        await session.execute(
            join_kelurahan(
                select(
                    Ksm.id,
                    Ksm.code,
                    Ksm.name,
                    Region.timezone,
                    Ksm.reminder_time,
                    Region.name,
                    func.min(Activity.start_date),
                    func.max(Activity.end_date),
                )
            )
            .join(Activity, Activity.ksm_id == Ksm.id)
            .group_by(Ksm.id, Ksm.code, Ksm.name, Region.timezone, Ksm.reminder_time, Region.name)
            .order_by(Ksm.code)
        )
    ).all()
    return [
        KsmTarget(r[0], r[1], r[2], r[3] or settings.app.default_timezone, r[4], r[5], r[6], r[7])
        for r in rows
    ]


async def _people(session: AsyncSession, roles: Iterable[Role]) -> list[Person]:
    return list(
        (
            await session.execute(
                select(Person)
                .where(Person.role.in_(list(roles)), Person.active.is_(True))
                .order_by(Person.code)
            )
        ).scalars()
    )


def _roles(names: Iterable[str]) -> list[Role]:
    return [Role(n) for n in names]


# --- planning -----------------------------------------------------------------------------------------


async def slots_for_day(
    session: AsyncSession, settings: Settings, day_for_tz: Any, *, kinds: Iterable[str] = KINDS
) -> tuple[list[Slot], list[tuple[str, str, str]]]:
    """Every slot of the local day `day_for_tz(tz)` per zone, and what is skipped ((zone, date, reason)).

    Slots are unconditional here; whether a reminder is still needed (no report yet) is decided when due.
    """
    cfg = settings.reminders
    cal = WorkCalendar(cfg)
    kinds = set(kinds)
    slots: list[Slot] = []
    skipped: dict[tuple[str, str], str] = {}

    def work_day(tz: str) -> date | None:
        day: date = day_for_tz(tz)
        reason = cal.why_not(day)
        if reason:
            skipped[(tz, day.isoformat())] = reason
            return None
        return day

    targets = await ksm_targets(session, settings)
    if kinds & {FIRST, SECOND, ESCALATION}:
        ksm_ids = [t.ksm_id for t in targets]
        groups: dict[int, list[GroupBinding]] = defaultdict(list)
        coordinators: dict[int, list[Person]] = defaultdict(list)
        if ksm_ids:
            for g in (
                await session.execute(
                    select(GroupBinding).where(GroupBinding.ksm_id.in_(ksm_ids)).order_by(GroupBinding.id)
                )
            ).scalars():
                groups[g.ksm_id].append(g)
            for p in (
                await session.execute(
                    select(Person)
                    .where(
                        Person.role == Role.KETUA_KSM,
                        Person.active.is_(True),
                        Person.scope_ksm_id.in_(ksm_ids),
                    )
                    .order_by(Person.code)
                )
            ).scalars():
                coordinators[p.scope_ksm_id or 0].append(p)
        for t in targets:
            day = work_day(t.timezone)
            if day is None or not t.running_on(day):
                continue
            first = t.reminder_time or cfg.first_time
            if kinds & {FIRST, SECOND}:
                receivers: list[tuple[time, dict[str, Any], str]] = []
                if groups[t.ksm_id]:
                    for g in groups[t.ksm_id]:
                        receivers.append((first, {"chat": (g.channel.value, g.chat_id)}, f"grup {t.name}"))
                else:
                    for p in coordinators[t.ksm_id]:
                        if p.reminder_paused_on == day:
                            skipped[(t.timezone, f"{day.isoformat()} {p.name}")] = "paused with /pengingat"
                            continue
                        receivers.append((p.reminder_time or first, {"person_id": p.id}, p.name))
                for at, where, label in receivers:
                    if FIRST in kinds:
                        slots.append(Slot(FIRST, day, at, t.timezone, label, ksm_id=t.ksm_id, **where))
                    if SECOND in kinds and cfg.second_time and cfg.second_time > at:
                        slots.append(
                            Slot(SECOND, day, cfg.second_time, t.timezone, label, ksm_id=t.ksm_id, **where)
                        )
            if ESCALATION in kinds:
                slots.append(Slot(ESCALATION, day, cfg.escalation_time, t.timezone, t.name, ksm_id=t.ksm_id))

    default_tz = settings.app.default_timezone
    if DIGEST in kinds and cfg.digest_time:
        for p in await _people(session, [Role.FASILITATOR]):
            tz = await person_timezone(session, p, default_tz)
            day = work_day(tz)
            if day is None:
                continue
            if p.reminder_paused_on == day:
                skipped[(tz, f"{day.isoformat()} {p.name}")] = "paused with /pengingat"
                continue
            slots.append(Slot(DIGEST, day, p.reminder_time or cfg.digest_time, tz, p.name, person_id=p.id))
    if WEEKLY in kinds and cfg.weekly_time:
        for p in await _people(session, _roles(cfg.weekly_roles)):
            tz = await person_timezone(session, p, default_tz)
            day = day_for_tz(tz)
            if day.weekday() == cfg.weekly_day:
                slots.append(Slot(WEEKLY, day, cfg.weekly_time, tz, p.name, person_id=p.id))
    slots.sort(key=lambda s: (s.at, s.kind, s.target))
    return slots, [(tz, d, why) for (tz, d), why in sorted(skipped.items())]


async def plan_day(
    session: AsyncSession, settings: Settings, day: date
) -> tuple[list[Slot], list[tuple[str, str, str]]]:
    """`kotaku reminders plan`: the slots of local date `day` in every zone, in the order they go out."""
    return await slots_for_day(session, settings, lambda _tz: day)


# --- running what is due ------------------------------------------------------------------------------


def _window_end(slot: Slot, settings: Settings) -> time | None:
    """A first reminder is not sent once the second one is due (it would only be noise)."""
    second = settings.reminders.second_time
    if slot.kind == FIRST and second and second > slot.local_time:
        return second
    return None


def is_due(slot: Slot, settings: Settings, now: datetime) -> bool:
    start = slot.at
    end = start + timedelta(minutes=settings.reminders.grace_minutes)
    stop = _window_end(slot, settings)
    if stop is not None:
        end = min(end, datetime.combine(slot.local_date, stop, ZoneInfo(slot.timezone)))
    return start <= now < end


async def run_due(session: AsyncSession, settings: Settings, now: datetime) -> RunReport:
    """Queue every reminder, digest, escalation and weekly summary due at `now` (idempotent)."""
    report = RunReport(at=now)
    slots, _ = await slots_for_day(session, settings, lambda tz: clock.local_today(tz, now))
    due = [s for s in slots if is_due(s, settings, now)]
    if not due:
        return report
    reported: dict[int, bool] | None = None
    for slot in due:
        if slot.kind in (FIRST, SECOND):
            if reported is None:
                reported = {k.ksm_id: k.reported for k in await reporting_status(session, NATIONAL, now)}
            if reported.get(slot.ksm_id or 0):
                report.skipped[f"{slot.kind}:reported"] += 1
                continue
            report.queued[slot.kind] += await _queue_reminder(session, settings, slot, now)
        elif slot.kind == DIGEST:
            report.queued[slot.kind] += await _queue_digest(session, settings, slot, now)
        elif slot.kind == ESCALATION:
            report.queued[slot.kind] += await _queue_escalation(session, settings, slot, now)
        elif slot.kind == WEEKLY:
            report.queued[slot.kind] += await _queue_weekly(session, settings, slot, now)
    return report


def _buttons(lang: str, personal: bool) -> list[dict[str, str]]:
    buttons = [
        {"label": catalogue.t("pengingat.btn_progres", lang), "value": "/progres"},
        {"label": catalogue.t("pengingat.btn_hadir", lang), "value": "/hadir"},
    ]
    if personal:
        buttons.append({"label": catalogue.t("pengingat.btn_pause", lang), "value": "/pengingat libur"})
    return buttons


def _reminder_payload(slot: Slot, ksm: Ksm, lang: str, personal: bool) -> dict[str, Any]:
    return {
        "text": catalogue.t(
            f"pengingat.{slot.kind}", lang, ksm=ksm.name, date=fmt_date(slot.local_date, lang)
        ),
        "choices": _buttons(lang, personal=personal),
        "columns": 2,
        "ksm_id": ksm.id,
    }


async def _queue_reminder(session: AsyncSession, settings: Settings, slot: Slot, now: datetime) -> int:
    ksm = await session.get(Ksm, slot.ksm_id)
    assert ksm is not None
    key = f"reminder:{slot.kind}:ksm{ksm.id}:{slot.local_date.isoformat()}"
    if slot.chat is not None:
        channel, chat_id = slot.chat
        msg = await enqueue_to_chat(
            session,
            channel=Channel(channel),
            chat_id=chat_id,
            kind="reminder",
            payload=_reminder_payload(slot, ksm, settings.app.language, personal=False),
            dedup_key=key,
            now=now,
        )
        return 1 if msg else 0
    person = await session.get(Person, slot.person_id)
    assert person is not None
    payload = _reminder_payload(slot, ksm, person.language or settings.app.language, personal=True)
    return await notify_people(session, [person], kind="reminder", payload=payload, dedup_key=key, now=now)


async def _queue_digest(session: AsyncSession, settings: Settings, slot: Slot, now: datetime) -> int:
    person = await session.get(Person, slot.person_id)
    assert person is not None
    lang = person.language or settings.app.language
    scope = scope_of(person)
    statuses = await reporting_status(session, scope, now)
    running = {t.ksm_id for t in await ksm_targets(session, settings) if t.running_on(slot.local_date)}
    statuses = [k for k in statuses if k.ksm_id in running]
    if not statuses:
        return 0
    summary = await scope_summary(session, settings, scope, now)
    done = [k for k in statuses if k.reported]
    missing = [k for k in statuses if not k.reported]
    scope_label = await _scope_label(session, scope, summary)
    lines = [
        catalogue.t("pengingat.digest_title", lang, date=fmt_date(slot.local_date, lang), scope=scope_label),
        catalogue.t("pengingat.digest_count", lang, done=len(done), total=len(statuses)),
    ]
    for title, rows in (("pengingat.digest_missing", missing), ("pengingat.digest_done", done)):
        if rows:
            lines += ["", catalogue.t(title, lang, n=len(rows))]
            lines += [f"• {k.name}" for k in rows[:MAX_LISTED]]
            if len(rows) > MAX_LISTED:
                lines.append(catalogue.t("pengingat.more", lang, n=len(rows) - MAX_LISTED))
    lines += ["", catalogue.t("pengingat.digest_obstacles", lang, n=summary.open_obstacles)]
    critical = summary.critical
    if critical:
        lines.append(catalogue.t("pengingat.digest_critical", lang, n=len(critical)))
        for a in critical[:MAX_LISTED]:
            lines.append(
                catalogue.t(
                    "pengingat.digest_critical_line",
                    lang,
                    ksm=a.ksm_name,
                    activity=a.name,
                    actual=fmt_number(a.actual or 0.0, lang, 1),
                    planned=fmt_number(a.planned, lang, 1),
                )
            )
    payload = {
        "text": "\n".join(lines),
        "choices": [{"label": "📋 /status", "value": "/status"}, {"label": "📊 /rekap", "value": "/rekap"}],
        "reported": len(done),
        "missing": len(missing),
        "open_obstacles": summary.open_obstacles,
        "critical": len(critical),
    }
    key = f"digest:p{person.id}:{slot.local_date.isoformat()}"
    return await notify_people(session, [person], kind="digest", payload=payload, dedup_key=key, now=now)


async def _scope_label(session: AsyncSession, scope: Scope, summary: ScopeSummary) -> str:
    """How a digest or weekly summary names its scope: the region's bare name, else the summary's label."""
    if scope.region_id is not None:
        region = await session.get(Region, scope.region_id)
        if region is not None:
            return region.name
    return "nasional" if scope.is_national else summary.scope_label


async def report_days(session: AsyncSession, ksm_ids: list[int], since: date) -> dict[int, set[date]]:
    """KSM id -> the dates it reported anything (progress, attendance or an obstacle) since `since`."""
    progress = (
        select(Activity.ksm_id.label("ksm_id"), ProgressReport.report_date.label("day"))
        .join(Activity, Activity.id == ProgressReport.activity_id)
        .where(Activity.ksm_id.in_(ksm_ids), ProgressReport.report_date >= since)
    )
    attendance = select(AttendanceDay.ksm_id, AttendanceDay.work_date).where(
        AttendanceDay.ksm_id.in_(ksm_ids), AttendanceDay.work_date >= since
    )
    obstacles = select(Obstacle.ksm_id, Obstacle.report_date).where(
        Obstacle.ksm_id.in_(ksm_ids), Obstacle.report_date >= since
    )
    found: dict[int, set[date]] = defaultdict(set)
    for ksm_id, day in (await session.execute(union(progress, attendance, obstacles))).all():
        found[ksm_id].add(day)
    return found


async def _queue_escalation(session: AsyncSession, settings: Settings, slot: Slot, now: datetime) -> int:
    cfg = settings.reminders
    target = next(t for t in await ksm_targets(session, settings) if t.ksm_id == slot.ksm_id)
    since = slot.local_date - timedelta(days=STREAK_LOOKBACK_DAYS)
    reported = (await report_days(session, [target.ksm_id], since)).get(target.ksm_id, set())
    streak = missed_streak(reported, slot.local_date, WorkCalendar(cfg), target.running_from)
    if len(streak) < cfg.escalate_after_days:
        return 0
    managers = await people_in_scope_of_ksm(session, target.ksm_id, _roles(cfg.escalation_roles))
    coordinators = (
        (
            await session.execute(
                select(Person.name).where(
                    Person.scope_ksm_id == target.ksm_id,
                    Person.role == Role.KETUA_KSM,
                    Person.active.is_(True),
                )
            )
        )
        .scalars()
        .all()
    )
    since_day = streak[-1]
    count = 0
    for person in managers:
        lang = person.language or settings.app.language
        text = catalogue.t(
            "pengingat.escalation",
            lang,
            ksm=target.name,
            place=target.place,
            n=len(streak),
            since=fmt_date(since_day, lang),
            coordinators=", ".join(coordinators) or "-",
        )
        count += await notify_people(
            session,
            [person],
            kind="escalation",
            payload={"text": text, "ksm_id": target.ksm_id, "missed_days": len(streak)},
            # One escalation per streak: the key is the streak's first missed day.
            dedup_key=f"escalation:ksm{target.ksm_id}:{since_day.isoformat()}",
            now=now,
            priority=PRIORITY_HIGH,
        )
    return count


async def _weekly_chart(
    session: AsyncSession, settings: Settings, person: Person, now: datetime, lang: str, title: str
) -> Path | None:
    """The S-curve PNG of the person's region, saved under media.dir/outbox; None when not drawable."""
    if not settings.reminders.weekly_chart or person.scope_region_id is None:
        return None
    try:
        from kotaku.monitoring.chart import CriticalBand, render_scurve
        from kotaku.monitoring.curves import area_curve
    except ImportError:
        return None
    region = await session.get(Region, person.scope_region_id)
    if region is None:
        return None
    curve = await area_curve(session, settings, region, now)
    if curve is None:
        return None
    png = render_scurve(
        curve.planned,
        curve.actual,
        today=curve.today,
        title=title,
        lang=lang,
        band=CriticalBand.from_config(settings.monitoring),
    )
    folder = Path(settings.media.dir) / "outbox"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"weekly-{person.id}-{curve.today.isoformat()}.png"
    path.write_bytes(png)
    return path


async def _queue_weekly(session: AsyncSession, settings: Settings, slot: Slot, now: datetime) -> int:
    person = await session.get(Person, slot.person_id)
    assert person is not None
    key = f"weekly:p{person.id}:{slot.local_date.isoformat()}"
    if await _already_queued(session, person, key):
        return 0
    lang = person.language or settings.app.language
    scope = scope_of(person)
    summary = await scope_summary(session, settings, scope, now)
    scope_label = await _scope_label(session, scope, summary)
    text = "\n".join(
        [
            catalogue.t(
                "pengingat.weekly_title", lang, date=fmt_date(slot.local_date, lang), scope=scope_label
            ),
            catalogue.t(
                "pengingat.weekly_body",
                lang,
                total=summary.ksm_total,
                active=summary.ksm_active,
                activities=len(summary.activities),
                critical=len(summary.critical),
                obstacles=summary.open_obstacles,
                hok=fmt_number(summary.to_date_work.hok, lang, 1),
            ),
        ]
    )
    payload: dict[str, Any] = {"text": text, "choices": [{"label": "📈 /kurva", "value": "/kurva"}]}
    chart = await _weekly_chart(
        session, settings, person, now, lang, catalogue.t("pengingat.weekly_chart", lang, scope=scope_label)
    )
    if chart is not None:
        payload["image_path"] = str(chart)
        payload["image_caption"] = catalogue.t("pengingat.weekly_chart", lang, scope=scope_label)
    return await notify_people(
        session,
        [person],
        kind="weekly_summary",
        payload=payload,
        dedup_key=key,
        now=now,
        priority=PRIORITY_LOW,
    )


async def _already_queued(session: AsyncSession, person: Person, key: str) -> bool:
    """True when every reachable identity already has this message (skips drawing the chart again)."""
    identities = (
        await session.execute(
            select(ChannelIdentity).where(
                ChannelIdentity.person_id == person.id, ChannelIdentity.unreachable_at.is_(None)
            )
        )
    ).scalars()
    keys = [f"{key}:{i.channel.value}:{i.external_id}" for i in identities]
    if not keys:
        return True
    found = (
        await session.execute(select(func.count()).where(OutboxMessage.dedup_key.in_(keys)))
    ).scalar_one()
    return found == len(keys)
