"""The /rekap message: sites, activities against plan (the critical ones apart), work, wages, obstacles."""

from __future__ import annotations

from kotaku.dialog.context import Context
from kotaku.dialog.scope_input import scope_name
from kotaku.domain.figures import progress_of_budget
from kotaku.domain.plan import Status
from kotaku.i18n import fmt_date, fmt_number, fmt_percent, fmt_rupiah, fmt_signed
from kotaku.services.scope import Scope
from kotaku.services.summary import ActivityStatus, PhkSplit, ScopeSummary, Workforce

# Up to this many activities are listed one by one; above it, counts per status and the critical ones.
MAX_ACTIVITY_LINES = 10
MAX_CRITICAL_LINES = 10

STATUS_ORDER = [Status.CRITICAL, Status.BEHIND, Status.ON_PLAN, Status.AHEAD, Status.DONE, Status.NOT_STARTED]


def _genders(ctx: Context, w: Workforce) -> str:
    if not w.male and not w.female:
        return ""
    parts = [f"L {fmt_number(w.male, ctx.lang)}", f"P {fmt_number(w.female, ctx.lang)}"]
    if w.unknown:
        parts.append(f"? {fmt_number(w.unknown, ctx.lang)}")
    return " (" + ", ".join(parts) + ")"


def _activity(ctx: Context, a: ActivityStatus, single_ksm: bool, key: str, **figures: str) -> list[str]:
    """An activity's name (with its KSM's when the scope has several) and its line `key` below it."""
    actual = fmt_percent(a.actual, ctx.lang) if a.actual is not None else ctx.t("rekap.no_report")
    name = f"• {a.name}" if single_ksm else f"• {a.name} ({a.ksm_name})"
    return [name, ctx.t(key, actual=actual, planned=fmt_percent(a.planned, ctx.lang), **figures)]


def _activities(ctx: Context, s: ScopeSummary, single_ksm: bool) -> list[str]:
    lang = ctx.lang
    lines = ["", ctx.t("rekap.activities", n=fmt_number(len(s.activities), lang))]
    if len(s.activities) <= MAX_ACTIVITY_LINES:
        for a in s.activities:
            status = ctx.t(f"rekap.status.{a.status.value}")
            lines += _activity(ctx, a, single_ksm, "rekap.activity_line", status=status)
        return lines
    counts = s.count_by_status()
    lines.append(
        "  "
        + ", ".join(
            f"{ctx.t(f'rekap.status.{st.value}')} {fmt_number(counts[st], lang)}"
            for st in STATUS_ORDER
            if counts.get(st)
        )
    )
    return lines


def _critical(ctx: Context, critical: list[ActivityStatus], single_ksm: bool) -> list[str]:
    lang = ctx.lang
    lines = ["", ctx.t("rekap.critical_title", n=fmt_number(len(critical), lang))]
    for a in critical[:MAX_CRITICAL_LINES]:
        deviation = fmt_signed(a.deviation or 0.0, lang)
        lines += _activity(ctx, a, single_ksm, "rekap.critical_line", deviation=deviation)
    if len(critical) > MAX_CRITICAL_LINES:
        lines.append(ctx.t("rekap.more", n=fmt_number(len(critical) - MAX_CRITICAL_LINES, lang)))
    return lines


def _work(ctx: Context, s: ScopeSummary) -> list[str]:
    """Workers today and worker-days to date: HOK, and the worker-days too only where they differ
    (half days); the genders count worker-days."""
    lang = ctx.lang
    today, to_date = s.today_work, s.to_date_work
    figures = {"workers": fmt_number(today.total, lang), "genders": _genders(ctx, today)}
    if today.hok == today.total:
        lines = [ctx.t("rekap.today_work", **figures)]
    else:
        lines = [ctx.t("rekap.today_work_hok", **figures, hok=fmt_number(today.hok, lang))]
    figures = {"hok": fmt_number(to_date.hok, lang), "genders": _genders(ctx, to_date)}
    if to_date.hok == to_date.total:
        lines.append(ctx.t("rekap.to_date_work", **figures))
    else:
        lines.append(ctx.t("rekap.to_date_work_days", **figures, days=fmt_number(to_date.total, lang)))
    return lines


def _phk_parts(ctx: Context, split: PhkSplit, shown: PhkSplit) -> str:
    """The worker-days of `split` by PHK status; a part is named when `shown` (to date) has any, so the
    parts always add up to the worker-days of the period."""
    lang = ctx.lang
    parts = [
        ctx.t("rekap.phk.phk", n=fmt_number(split.phk, lang)),
        ctx.t("rekap.phk.other", n=fmt_number(split.not_phk, lang)),
    ]
    if shown.unknown:
        parts.append(ctx.t("rekap.phk.unknown", n=fmt_number(split.unknown, lang)))
    if shown.count_only:
        parts.append(ctx.t("rekap.phk.count_only", n=fmt_number(split.count_only, lang)))
    return " · ".join(parts)


def _phk(ctx: Context, s: ScopeSummary) -> list[str]:
    if not s.phk_to_date.known:
        return []
    lines = [ctx.t("rekap.phk", parts=_phk_parts(ctx, s.phk_to_date, s.phk_to_date))]
    if s.phk_today.total:
        lines.append(ctx.t("rekap.phk_today", parts=_phk_parts(ctx, s.phk_today, s.phk_to_date)))
    return lines


def _money(ctx: Context, s: ScopeSummary) -> list[str]:
    """Upah tercatat, perkiraan nilai pekerjaan and porsi upah: `kotaku.domain.figures`, as in the alerts
    and the exports."""
    lang = ctx.lang
    lines = [
        ctx.t("rekap.wages", wages=fmt_rupiah(s.wages_recorded, lang), budget=fmt_rupiah(s.wage_budget, lang))
    ]
    if s.wages_paid:
        lines.append(ctx.t("rekap.wages_paid", paid=fmt_rupiah(s.wages_paid, lang)))
    if s.budget:
        value = s.work_value
        lines.append(
            ctx.t(
                "rekap.work_value",
                value=fmt_rupiah(value, lang),
                budget=fmt_rupiah(s.budget, lang),
                share=fmt_percent(progress_of_budget(value, s.budget) or 0.0, lang),
            )
        )
    share = s.wage_share
    if share is not None:
        lines.append(ctx.t("rekap.wage_share", share=fmt_percent(100.0 * share, lang)))
    return lines


def _work_and_money(ctx: Context, s: ScopeSummary) -> list[str]:
    lines = [*_work(ctx, s), *_phk(ctx, s)]
    if s.distinct_workers:
        lines.append(ctx.t("rekap.distinct_workers", n=fmt_number(s.distinct_workers, ctx.lang)))
    return lines + _money(ctx, s)


def render_summary(ctx: Context, scope: Scope, s: ScopeSummary) -> str:
    lang = ctx.lang
    name = scope_name(ctx, scope)
    if s.ksm_total == 0:
        return ctx.t("rekap.no_ksm", scope=name)
    lines = [ctx.t("rekap.title", scope=name)]
    if s.today is not None:
        lines.append(fmt_date(s.today, lang, with_weekday=True))
    lines.append(
        ctx.t(
            "rekap.sites",
            total=fmt_number(s.ksm_total, lang),
            active=fmt_number(s.ksm_active, lang),
            reported=fmt_number(s.ksm_reported, lang),
        )
    )
    single_ksm = s.ksm_total == 1
    if s.activities:
        lines += _activities(ctx, s, single_ksm)
    critical = s.critical
    if critical:
        lines += _critical(ctx, critical, single_ksm)
    lines += ["", *_work_and_money(ctx, s)]
    lines.append(ctx.t("rekap.obstacles", n=fmt_number(s.open_obstacles, lang)))
    return "\n".join(lines)
