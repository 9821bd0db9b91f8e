"""The /rekap message: sites, activities against plan (the critical ones apart), work, wages, obstacles."""

from __future__ import annotations

from kotaku.dialog.context import Context
from kotaku.dialog.scope_input import scope_name
from kotaku.domain.plan import Status
from kotaku.i18n import fmt_date, fmt_number, fmt_percent, fmt_rupiah, fmt_signed
from kotaku.services.scope import Scope
from kotaku.services.summary import ActivityStatus, ScopeSummary, Workforce

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


def _work_and_money(ctx: Context, s: ScopeSummary) -> list[str]:
    lang = ctx.lang
    lines = [
        ctx.t(
            "rekap.today_work",
            workers=fmt_number(s.today_work.total, lang),
            genders=_genders(ctx, s.today_work),
            hok=fmt_number(s.today_work.hok, lang),
        ),
        ctx.t(
            "rekap.to_date_work",
            hok=fmt_number(s.to_date_work.hok, lang),
            days=fmt_number(s.to_date_work.total, lang),
            genders=_genders(ctx, s.to_date_work),
        ),
    ]
    if s.phk_to_date.known:
        lines.append(
            ctx.t(
                "rekap.phk",
                phk=fmt_number(s.phk_to_date.phk, lang),
                other=fmt_number(s.phk_to_date.not_phk, lang),
                phk_today=fmt_number(s.phk_today.phk, lang),
                other_today=fmt_number(s.phk_today.not_phk, lang),
            )
        )
    if s.distinct_workers:
        lines.append(ctx.t("rekap.distinct_workers", n=fmt_number(s.distinct_workers, lang)))
    lines.append(
        ctx.t("rekap.wages", wages=fmt_rupiah(s.wages_to_date, lang), budget=fmt_rupiah(s.wage_budget, lang))
    )
    if s.wages_paid:
        lines.append(ctx.t("rekap.wages_paid", paid=fmt_rupiah(s.wages_paid, lang)))
    if s.budget:
        lines.append(
            ctx.t(
                "rekap.funds",
                used=fmt_rupiah(s.funds_used, lang),
                budget=fmt_rupiah(s.budget, lang),
                share=fmt_percent(100.0 * s.funds_used / s.budget, lang),
            )
        )
    return lines


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
