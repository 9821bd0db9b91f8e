"""Resolving the parts of a one-message report against the KSM: names on the roster, activities, figures.

Every part typed replaces the same part of the draft (and its problems); the other parts stay. What
cannot be resolved becomes a `Problem` the summary names, with the fix; nothing is guessed silently.
"""

from __future__ import annotations

import re

from kotaku.dialog.context import Context
from kotaku.dialog.flows.report.states import (
    AttendancePart,
    ObstaclePart,
    Problem,
    ProgressPart,
    ReportDraft,
    WagesPart,
)
from kotaku.dialog.quick import (
    CountError,
    SelectionError,
    closest_names,
    is_all,
    parse_count,
    parse_roster_selection,
    parse_wages,
)
from kotaku.dialog.quick_report import Part, ProgressItem, ReportText, WagesText, split_severity
from kotaku.i18n import fmt_number
from kotaku.models import AttendanceMode, ObstacleCategory, Severity, Skill
from kotaku.services.attendance import (
    MAX_RATE_GUESS,
    MAX_WORKERS_PER_DAY,
    active_roster,
    crew_far_above_usual,
    recent_crew_counts,
    suggested_rate,
    uses_roster,
)
from kotaku.services.obstacles import (
    CATEGORY_WORDS,
    find_activity_in_text,
    is_meaningful,
    split_quick_form,
)
from kotaku.services.progress import (
    AmountError,
    activities_of_ksm,
    doubt_about,
    last_progress,
    match_activities,
    milestone_photo,
    named_activity,
    other_ksm_activity,
    parse_amount,
)

NAMES_LISTED = 3  # names or activities quoted in one problem line


def _problem(draft: ReportDraft, part: Part, key: str, *, blocking: bool = True, **args: object) -> None:
    draft.problems.append(
        Problem(part=part.value, key=key, args={k: str(v) for k, v in args.items()}, blocking=blocking)
    )


def _clear(draft: ReportDraft, part: Part) -> None:
    draft.problems = [p for p in draft.problems if p.part != part.value]


async def read_into(ctx: Context, draft: ReportDraft, found: ReportText) -> None:
    """Resolve each part of `found` into the draft, replacing what it held of that part."""
    if found.attendance is not None:
        _clear(draft, Part.HADIR)
        await _attendance(ctx, draft, found.attendance)
    if found.progress or found.progress_text is not None:
        _clear(draft, Part.PROGRES)
        await _progress(ctx, draft, found.progress, found.progress_text)
    if found.obstacle is not None:
        _clear(draft, Part.KENDALA)
        await _obstacle(ctx, draft, found.obstacle)
    if found.wages is not None:
        _clear(draft, Part.UPAH)
        _wages(draft, found.wages)
    if draft.attendance is not None:
        await _wages_of_count(ctx, draft)
    draft.unread = [*draft.unread, *found.unread]


# --- attendance -----------------------------------------------------------------------------------


async def _attendance(ctx: Context, draft: ReportDraft, text: str) -> None:
    session = ctx.session
    ksm = await ctx.ksm(draft.ksm)
    roster = await active_roster(session, ksm.id)
    by_roster = await uses_roster(session, ksm.id, ksm.keeps_roster)
    draft.attendance = None
    if not text:
        _problem(draft, Part.HADIR, "att_empty")
        return
    count = None
    if any(ch.isdigit() for ch in text) and not is_all(text.split()[0]):
        try:
            count = parse_count(text)
        except CountError as exc:
            if not by_roster:
                _problem(draft, Part.HADIR, f"att_count_{exc.code}", text=text)
                return
    if not by_roster:
        if count is None:
            _problem(draft, Part.HADIR, "att_count_only", text=text)
            return
        if count.total > MAX_WORKERS_PER_DAY:
            _problem(draft, Part.HADIR, "att_too_many", n=count.total, limit=MAX_WORKERS_PER_DAY)
            return
        draft.attendance = AttendancePart(
            text=text,
            mode=AttendanceMode.COUNT,
            male=count.male or 0,
            female=count.female or 0,
            total=count.total,
            split=count.by_gender,
            rate=await suggested_rate(session, ksm.id, Skill.PEKERJA),
            ok=True,
        )
        if not count.by_gender:
            _problem(draft, Part.HADIR, "att_split", blocking=False, n=count.total)
        await _crew_check(ctx, draft, count.total)
        return
    ids = [w.id for w in roster]
    if count is not None:
        if count.total == len(ids):
            draft.attendance = AttendancePart(text=text, mode=AttendanceMode.ROSTER, worker_ids=ids, ok=True)
        else:
            _problem(draft, Part.HADIR, "att_roster_count", n=count.total, size=len(ids))
        return
    selection = parse_roster_selection(text, [w.name for w in roster])
    if isinstance(selection, SelectionError) and selection.too_many:
        _problem(draft, Part.HADIR, "att_too_many_names", max=selection.limit)
        return
    if isinstance(selection, SelectionError):
        pairs = [(w.id, w.name) for w in roster]
        names = {w.id: w.name for w in roster}
        lines = []
        for q in selection.unknown:
            near = [names[i] for i in closest_names(q, pairs)]
            lines.append(ctx.t("laporan.name_unknown", name=q, near=", ".join(near[:NAMES_LISTED]) or "-"))
        for q, positions in selection.ambiguous:
            options = ", ".join(roster[i].name for i in positions[:NAMES_LISTED])
            lines.append(ctx.t("laporan.name_ambiguous", name=q, options=options))
        _problem(draft, Part.HADIR, "att_names", lines="\n".join(lines) or text)
        return
    present = sorted(selection.apply(()))
    draft.attendance = AttendancePart(
        text=text,
        mode=AttendanceMode.ROSTER,
        worker_ids=[ids[i] for i in present],
        absent_ids=[ids[i] for i in sorted(selection.excluded)],
        ok=bool(present),
    )
    if not present:
        _problem(draft, Part.HADIR, "att_nobody")


async def _crew_check(ctx: Context, draft: ReportDraft, total: int) -> None:
    """A count far above the KSM's usual crew is asked before saving, by monitoring's own rule
    (`crew_spike`, its figures in `monitoring.crew_*`), so the chat asks exactly what would be flagged."""
    cfg = ctx.settings.monitoring
    history = await recent_crew_counts(ctx.session, draft.ksm, draft.day, cfg.crew_history_days)
    usual = crew_far_above_usual(total, history, cfg)
    if usual is not None:
        _problem(
            draft,
            Part.HADIR,
            "att_unusual",
            blocking=False,
            n=fmt_number(total, ctx.lang),
            low=fmt_number(usual[0], ctx.lang),
            high=fmt_number(usual[1], ctx.lang),
        )


# --- progress -------------------------------------------------------------------------------------


async def _progress(ctx: Context, draft: ReportDraft, items: list[ProgressItem], text: str | None) -> None:
    session = ctx.session
    activities = await activities_of_ksm(session, draft.ksm)
    draft.progress = []
    if not items:
        _problem(draft, Part.PROGRES, "prog_no_figure", text=text or "")
        return
    for item in items:
        if item.hint:
            activity = named_activity(activities, item.hint)
            if activity is None:
                several = match_activities(activities, item.hint)
                other = await other_ksm_activity(session, draft.ksm, item.hint)
                if other is not None:
                    _problem(draft, Part.PROGRES, "prog_other_ksm", code=other[0].code, ksm=other[1].name)
                elif several:
                    names = ", ".join(a.name for a in several[:NAMES_LISTED])
                    _problem(draft, Part.PROGRES, "prog_ambiguous", hint=item.hint, options=names)
                else:
                    names = ", ".join(a.name for a in activities[:NAMES_LISTED])
                    _problem(draft, Part.PROGRES, "prog_unknown", hint=item.hint, options=names)
                continue
        elif len(activities) == 1:
            activity = activities[0]
        else:
            names = ", ".join(a.name.split()[0].lower() for a in activities[:NAMES_LISTED])
            _problem(draft, Part.PROGRES, "prog_which", amount=item.amount, options=names)
            continue
        if any(p.activity_id == activity.id for p in draft.progress):
            _problem(draft, Part.PROGRES, "prog_twice", activity=activity.name)
            continue
        amount = parse_amount(item.amount, activity.unit, activity.target_volume)
        if amount.error is not None or amount.percent is None:
            code = (amount.error or AmountError.NOT_A_NUMBER).value
            _problem(
                draft,
                Part.PROGRES,
                f"prog_{code}",
                activity=activity.name,
                amount=item.amount,
                unit=activity.unit,
            )
            continue
        before = await last_progress(session, activity.id, before=draft.day)
        previous = float(before.percent) if before is not None else None
        doubt = doubt_about(
            ctx.settings,
            percent=amount.percent,
            previous=previous,
            previous_date=before.report_date if before is not None else None,
            start_date=activity.start_date,
            report_date=draft.day,
        )
        if doubt is not None:
            _problem(
                draft,
                Part.PROGRES,
                f"prog_doubt_{doubt.value}",
                blocking=False,
                activity=activity.name,
                pct=fmt_number(amount.percent, ctx.lang),
                previous=fmt_number(previous or 0, ctx.lang),
            )
        milestone, required = await milestone_photo(
            session, ctx.settings, activity.id, previous, amount.percent
        )
        draft.progress.append(
            ProgressPart(
                activity_id=activity.id,
                percent=amount.percent,
                volume=amount.volume,
                previous=previous,
                milestone=milestone,
                photo_required=required,
            )
        )


# --- obstacle -------------------------------------------------------------------------------------


async def _obstacle(ctx: Context, draft: ReportDraft, text: str) -> None:
    draft.obstacle = None
    severity, rest = split_severity(text)
    category, description = split_quick_form(rest)
    if severity is None:
        severity, description = split_severity(description)
    category_given = category is not None
    if category is None:  # a word of the description names it (`semen telat` -> material)
        category = next(
            (CATEGORY_WORDS[w] for w in re.findall(r"[a-z0-9]+", description.lower()) if w in CATEGORY_WORDS),
            None,
        )
    if not is_meaningful(description):
        _problem(draft, Part.KENDALA, "obs_short", text=text)
        return
    activity = await find_activity_in_text(ctx.session, draft.ksm, description)
    draft.obstacle = ObstaclePart(
        text=text,
        category=category or ObstacleCategory.LAINNYA,
        category_given=category_given or category is not None,
        severity=severity or Severity.SEDANG,
        severity_given=severity is not None,
        description=description,
        activity_id=activity.id if activity else None,
    )


# --- wages ----------------------------------------------------------------------------------------


def _wages(draft: ReportDraft, found: WagesText) -> None:
    amount, is_total = parse_wages(found.amount) if found.amount else (None, False)
    if found.amount and (amount is None or amount < 0):
        _problem(draft, Part.UPAH, "wages_amount", text=found.amount)
        amount = None
    draft.wages = WagesPart(paid=found.paid, amount=amount, is_total=is_total)


async def _wages_of_count(ctx: Context, draft: ReportDraft) -> None:
    """In count mode a typed amount is the rate per worker, or the day's total (as /hadir reads it)."""
    part, wages = draft.attendance, draft.wages
    if part is None or part.mode != AttendanceMode.COUNT or wages is None or wages.amount is None:
        return
    if wages.is_total or wages.amount > MAX_RATE_GUESS:
        part.total_wages, part.rate = wages.amount, None
    else:
        part.rate, part.total_wages = wages.amount, None
