"""Physical progress: reading amounts, the plausibility checks, saving with an audit trail, and the
one assessment against the planned curve that replies, summaries, alerts and exports reuse."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.config import Settings
from kotaku.db import insert_if_absent
from kotaku.domain.plan import Assessment, assess, planned_percent, project_finish
from kotaku.events import ReportKind, ReportSaved
from kotaku.i18n import MAX_INPUT_CHARS, parse_number
from kotaku.models import Activity, AuditLog, Channel, Ksm, Media, MediaKind, PlanPoint, ProgressReport
from kotaku.security import hide_personal_numbers
from kotaku.uow import UnitOfWork

# Spellings of the units activities use, folded to one canonical word.
UNIT_ALIASES: dict[str, str] = {
    "m": "m",
    "meter": "m",
    "mtr": "m",
    "m1": "m",
    "m'": "m",
    "m2": "m2",
    "m²": "m2",
    "m3": "m3",
    "m³": "m3",
    "unit": "unit",
    "buah": "unit",
    "bh": "unit",
    "titik": "titik",
    "paket": "paket",
    "ls": "paket",
}
PERCENT_WORDS = {"%", "persen", "percent", "pct"}

# A figure: ASCII digits with `.`/`,` (at least one digit), written so that no two parts can take the
# same characters: patterns with `[\d.,]*\d[\d.,]*` backtrack quadratically on a long run of digits.
_NUMBER = r"[+-]?[.,]*[0-9][0-9.,]*"
_NUMBER_RE = re.compile(_NUMBER)
# An amount as one word or two: `120m`, `45,5%`, `120 m`, `45 %`.
_AMOUNT_WORD_RE = re.compile(rf"{_NUMBER}(?:%|[^\W\d_][\w²³']*)?")
_UNIT_WORD_RE = re.compile(r"%|[^\W\d_][\w²³']*")


def canonical_unit(unit: str) -> str:
    u = unit.strip().lower().rstrip(".")
    return UNIT_ALIASES.get(u, u)


class AmountError(enum.StrEnum):
    NOT_A_NUMBER = "not_a_number"
    NEGATIVE = "negative"
    OVER_100 = "over_100"
    OVER_TARGET = "over_target"
    WRONG_UNIT = "wrong_unit"


@dataclass(frozen=True)
class Amount:
    """A reported cumulative amount: percent always, volume when it was given in the activity's unit."""

    percent: float | None = None
    volume: float | None = None
    error: AmountError | None = None
    unit: str | None = None


def parse_amount(text: str, unit: str, target_volume: float) -> Amount:
    """`45`, `45%`, `45,5` -> percent; `120 m`, `120m`, `4 unit` -> volume converted with the target.
    Only ASCII digits; a text longer than a message is not a number."""
    raw = text.strip()
    m = _NUMBER_RE.match(raw) if len(raw) <= MAX_INPUT_CHARS else None
    # What follows the figure is its unit, on the same line and not starting with a digit (`45 6`).
    given_unit = raw[m.end() :].strip() if m else ""
    if not m or "\n" in given_unit or given_unit[:1].isdigit():
        return Amount(error=AmountError.NOT_A_NUMBER)
    value = parse_number(m.group(0))
    if value is None:
        return Amount(error=AmountError.NOT_A_NUMBER)
    if value < 0:
        return Amount(error=AmountError.NEGATIVE)
    if not given_unit or given_unit.lower() in PERCENT_WORDS:
        if value > 100:
            return Amount(error=AmountError.OVER_100)
        return Amount(percent=round(value, 2))
    if canonical_unit(given_unit) != canonical_unit(unit):
        return Amount(error=AmountError.WRONG_UNIT, unit=given_unit)
    if value > target_volume + 1e-9:
        return Amount(error=AmountError.OVER_TARGET, volume=value)
    return Amount(percent=round(value / target_volume * 100, 2), volume=value)


def looks_like_amount(text: str) -> bool:
    """Whether a text is a figure at all (right or wrong for an activity): `45`, `120 m`, `-5`."""
    return parse_amount(text, "", 1).error != AmountError.NOT_A_NUMBER


def split_quick_form(text: str) -> tuple[str, str]:
    """What follows `/progres`: (activity hint, amount). `drainase 120 m` -> ("drainase", "120 m"),
    `45` -> ("", "45"), `drainase` -> ("drainase", ""). The amount is the last word (`120m`, `45%`) or the
    last two (`120 m`); read word by word, in time linear in the text."""
    text = text.strip()
    if len(text) > MAX_INPUT_CHARS:
        return text, ""
    words = text.split()
    if words and _AMOUNT_WORD_RE.fullmatch(words[-1]):
        return " ".join(words[:-1]), words[-1]
    if len(words) >= 2 and _UNIT_WORD_RE.fullmatch(words[-1]) and _NUMBER_RE.fullmatch(words[-2]):
        return " ".join(words[:-2]), f"{words[-2]} {words[-1]}"
    return text, ""


def match_activities(activities: Sequence[Activity], text: str) -> list[Activity]:
    """Activities named in `text` by code (`ACT-BJL-02`) or by a word of their name (`drainase`)."""
    words = [w.strip(".,;:!?#()").lower() for w in text.split()]
    words = [w for w in words if w]
    by_code = [a for a in activities if a.code.lower() in words]
    if by_code:
        return by_code
    found = []
    for a in activities:
        name_words = {w.lower() for w in re.split(r"\W+", a.name) if len(w) >= 4}
        if any(w in name_words for w in words if len(w) >= 4):
            found.append(a)
    return found


def named_activity(activities: Sequence[Activity], text: str) -> Activity | None:
    """The one activity `text` names: by its whole name (any case), else as `match_activities` finds it;
    None when it names none or several."""
    folded = text.strip().lower()
    matches = [a for a in activities if a.name.lower() == folded] or match_activities(activities, text)
    return matches[0] if len(matches) == 1 else None


async def other_ksm_activity(session: AsyncSession, ksm_id: int, text: str) -> tuple[Activity, Ksm] | None:
    """An activity code of another KSM named in `text` (to refuse it with the reason), with its KSM."""
    codes = [w.strip(".,;:#").upper() for w in text.split()]
    stmt = (
        select(Activity, Ksm)
        .join(Ksm, Ksm.id == Activity.ksm_id)
        .where(func.upper(Activity.code).in_(codes), Activity.ksm_id != ksm_id)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


# --- reading -------------------------------------------------------------------------------------


async def activities_of_ksm(session: AsyncSession, ksm_id: int) -> list[Activity]:
    """The activities of one KSM, by code (the order the chat offers them in)."""
    stmt = select(Activity).where(Activity.ksm_id == ksm_id).order_by(Activity.code)
    return list((await session.execute(stmt)).scalars())


async def last_progress(
    session: AsyncSession, activity_id: int, before: date | None = None
) -> ProgressReport | None:
    """The latest report of an activity, or the latest strictly before `before`."""
    stmt = select(ProgressReport).where(ProgressReport.activity_id == activity_id)
    if before is not None:
        stmt = stmt.where(ProgressReport.report_date < before)
    stmt = stmt.order_by(ProgressReport.report_date.desc()).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


async def report_on(session: AsyncSession, activity_id: int, report_date: date) -> ProgressReport | None:
    stmt = select(ProgressReport).where(
        ProgressReport.activity_id == activity_id, ProgressReport.report_date == report_date
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def progress_history(
    session: AsyncSession, activity_id: int, until: date | None = None
) -> list[tuple[date, float]]:
    """(date, cumulative percent) of every report, oldest first (up to `until` when given)."""
    stmt = select(ProgressReport.report_date, ProgressReport.percent).where(
        ProgressReport.activity_id == activity_id
    )
    if until is not None:
        stmt = stmt.where(ProgressReport.report_date <= until)
    rows = (await session.execute(stmt.order_by(ProgressReport.report_date))).all()
    return [(d, float(p)) for d, p in rows]


async def assess_activity(
    session: AsyncSession, settings: Settings, activity: Activity, on: date
) -> Assessment:
    """Planned vs actual on a local date, the signed deviation and the status (the deviation rule)."""
    cfg = settings.monitoring
    points = [
        (d, float(p))
        for d, p in (
            await session.execute(
                select(PlanPoint.plan_date, PlanPoint.planned_percent).where(
                    PlanPoint.activity_id == activity.id
                )
            )
        ).all()
    ]
    planned = planned_percent(points, activity.start_date, activity.end_date, on, cfg.curve)
    history = await progress_history(session, activity.id, until=on)
    actual = history[-1][1] if history else None
    return assess(
        planned=planned,
        actual=actual,
        cfg=cfg,
        end=activity.end_date,
        projected_finish=project_finish(history),
    )


# --- checks --------------------------------------------------------------------------------------


class Doubt(enum.StrEnum):
    """Values that are allowed but worth a second look before saving."""

    BACKWARDS = "backwards"
    JUMP = "jump"


def doubt_about(
    settings: Settings,
    *,
    percent: float,
    previous: float | None,
    previous_date: date | None,
    start_date: date,
    report_date: date,
) -> Doubt | None:
    """Progress going backwards, or rising more than `dialog.max_jump_percent` per day since the last report
    (for a first report, since the activity's start)."""
    base = previous if previous is not None else 0.0
    if previous is not None and percent < previous:
        return Doubt.BACKWARDS
    since = previous_date if previous_date is not None else start_date
    days = max(1, (report_date - since).days)
    if percent - base > settings.dialog.max_jump_percent * days:
        return Doubt.JUMP
    return None


def crossed_milestone(milestones: Sequence[int], previous: float | None, percent: float) -> int | None:
    """The highest milestone reached by this report: 0 for an activity's first report, m when
    previous < m <= percent."""
    crossed = [
        m for m in milestones if (m == 0 and previous is None) or (m > 0 and (previous or 0.0) < m <= percent)
    ]
    return max(crossed) if crossed else None


async def has_milestone_photo(session: AsyncSession, activity_id: int, milestone: int) -> bool:
    stmt = select(Media.id).where(
        Media.activity_id == activity_id, Media.milestone == milestone, Media.kind == MediaKind.PHOTO
    )
    return (await session.execute(stmt.limit(1))).first() is not None


async def milestone_photo(
    session: AsyncSession, settings: Settings, activity_id: int, previous: float | None, percent: float
) -> tuple[int | None, bool]:
    """The milestone a report reaches (`dialog.photo_milestones`, see `crossed_milestone`) and whether a
    photo is required for it: when the activity has no photo of that milestone yet."""
    milestone = crossed_milestone(settings.dialog.photo_milestones, previous, percent)
    required = milestone is not None and not await has_milestone_photo(session, activity_id, milestone)
    return milestone, required


# --- writing -------------------------------------------------------------------------------------


async def save_progress(
    uow: UnitOfWork,
    *,
    activity_id: int,
    report_date: date,
    percent: float,
    volume: float | None,
    note: str | None,
    entered_by_id: int | None,
    channel: Channel | None,
    now: datetime,
) -> ProgressReport:
    """Insert or replace the report of an activity on a date. Replacing keeps the old values in the
    audit log and bumps `revision`."""
    if not 0 <= percent <= 100:
        raise ValueError(f"percent out of range: {percent}")
    if volume is not None and volume < 0:
        raise ValueError(f"negative volume: {volume}")
    session = uow.session
    note = hide_personal_numbers(note, session.info)
    activity = await session.get(Activity, activity_id)
    if activity is None:
        raise ValueError(f"no activity {activity_id}")
    saved = ReportSaved(
        at=now,
        ksm_id=activity.ksm_id,
        kind=ReportKind.PROGRESS,
        report_date=report_date,
        activity_id=activity_id,
    )
    # Insert-if-absent, then lock: concurrent first reports of the day queue on the row instead of one
    # failing on the unique key; each later one replaces the one before it (audited).
    created_id = await insert_if_absent(
        session,
        ProgressReport,
        ("activity_id", "report_date"),
        activity_id=activity_id,
        report_date=report_date,
        percent=percent,
        volume=volume,
        note=note,
        entered_by_id=entered_by_id,
        entered_at=now,
        channel=channel,
        revision=1,
    )
    created = created_id is not None
    stmt = (
        select(ProgressReport)
        .where(ProgressReport.activity_id == activity_id, ProgressReport.report_date == report_date)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    report = (await session.execute(stmt)).scalar_one()
    if created:
        uow.record(saved)
        return report
    old = {
        "percent": report.percent,
        "volume": report.volume,
        "note": report.note,
        "entered_by_id": report.entered_by_id,
        "revision": report.revision,
    }
    report.percent, report.volume, report.note = percent, volume, note
    report.entered_by_id, report.entered_at, report.channel = entered_by_id, now, channel
    report.revision = (report.revision or 1) + 1
    session.add(
        AuditLog(
            at=now,
            actor_id=entered_by_id,
            action="progress_corrected",
            entity="progress_report",
            entity_id=report.id,
            old=old,
            new={"percent": percent, "volume": volume, "note": note, "revision": report.revision},
        )
    )
    await session.flush()
    uow.record(replace(saved, corrected=True))
    return report
