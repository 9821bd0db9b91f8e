"""The longer sentences of /progres: the last report, a doubt about the figure, the summary, the reply
once saved; and the buttons they come with."""

from __future__ import annotations

from datetime import date

from kotaku.dialog.context import Context
from kotaku.dialog.flows.progress.states import ProgressDraft
from kotaku.domain.plan import Assessment
from kotaku.i18n import fmt_date, fmt_number, fmt_percent, fmt_signed
from kotaku.models import Activity, ProgressReport
from kotaku.schemas import Choice
from kotaku.services.progress import Doubt


def percent_or_none(ctx: Context, value: float | None) -> str:
    return ctx.t("progres.not_reported") if value is None else fmt_percent(value, ctx.lang)


def previous_text(ctx: Context, draft: ProgressDraft) -> str:
    """The activity's last report before this one: `45% (25 November 2026)`, or "none yet"."""
    if draft.previous is None or draft.previous_date is None:
        return ctx.t("progres.not_reported")
    return ctx.t(
        "progres.previous_on",
        pct=fmt_percent(draft.previous, ctx.lang),
        date=fmt_date(draft.previous_date, ctx.lang),
    )


def confirm_choices(ctx: Context) -> list[Choice]:
    return [
        Choice(label=ctx.t("progres.yes"), value="ya"),
        Choice(label=ctx.t("progres.change_amount"), value="ubah"),
    ]


def skip_choices(ctx: Context) -> list[Choice]:
    return [Choice(label=ctx.t("progres.skip"), value="lewati")]


def summary_choices(ctx: Context) -> list[Choice]:
    return [
        Choice(label=ctx.t("progres.save"), value="simpan"),
        Choice(label=ctx.t("progres.change"), value="ubah"),
        Choice(label=ctx.t("progres.cancel"), value="/batal"),
    ]


def doubt_text(ctx: Context, doubt: Doubt, draft: ProgressDraft, activity: Activity) -> str:
    """Why the figure is worth a second look: lower than the last report, or a jump since it."""
    assert draft.percent is not None
    new = fmt_percent(draft.percent, ctx.lang)
    previous = draft.previous or 0.0
    if doubt == Doubt.BACKWARDS:
        return ctx.t("progres.doubt.backwards", new=new, previous=fmt_percent(previous, ctx.lang))
    since = draft.previous_date or activity.start_date
    return ctx.t(
        "progres.doubt.jump",
        jump=fmt_number(draft.percent - previous, ctx.lang),
        previous=fmt_percent(previous, ctx.lang),
        new=new,
        since=fmt_date(since, ctx.lang),
        limit=fmt_number(ctx.settings.dialog.max_jump_percent, ctx.lang),
    )


def summary_text(
    ctx: Context, draft: ProgressDraft, activity: Activity, report_date: date, existing: ProgressReport | None
) -> str:
    """The report to confirm, and the report of the day it replaces, if any."""
    assert draft.percent is not None
    pct = fmt_percent(draft.percent, ctx.lang)
    new = (
        ctx.t(
            "progres.volume_of",
            pct=pct,
            volume=fmt_number(draft.volume, ctx.lang),
            target=fmt_number(activity.target_volume, ctx.lang),
            unit=activity.unit,
        )
        if draft.volume is not None
        else pct
    )
    if draft.photo is None:
        photo = ctx.t("progres.photo_no")
    elif draft.milestone is not None:
        photo = ctx.t("progres.photo_yes_milestone", milestone=draft.milestone)
    else:
        photo = ctx.t("progres.photo_yes")
    lines = [
        ctx.t("progres.summary_title"),
        ctx.t(
            "progres.summary_body",
            activity=f"{activity.name} ({activity.code})",
            date=fmt_date(report_date, ctx.lang),
            new=new,
            previous=previous_text(ctx, draft),
            photo=photo,
        ),
    ]
    if existing is not None:
        lines.append(
            ctx.t(
                "progres.replaces",
                pct=fmt_percent(existing.percent, ctx.lang),
                revision=existing.revision,
            )
        )
    return "\n".join(lines)


def saved_text(
    ctx: Context, activity: Activity, report: ProgressReport, report_date: date, assessment: Assessment
) -> str:
    """The saved report against the planned curve: planned today, deviation, status."""
    deviation = assessment.deviation if assessment.deviation is not None else 0.0
    return ctx.t(
        "progres.saved",
        activity=activity.name,
        pct=fmt_percent(report.percent, ctx.lang),
        date=fmt_date(report_date, ctx.lang),
        revision=ctx.t("progres.saved_revision", n=report.revision) if report.revision > 1 else "",
        planned=fmt_percent(assessment.planned, ctx.lang),
        deviation=fmt_signed(deviation, ctx.lang),
        status=ctx.t(f"progres.status.{assessment.status.value}"),
    )
