"""/rekap (/summary): sites, today's reports, progress against plan, workers, HOK, wages and obstacles.

The flow is named "rekap" (its sentences are "rekap.*"), so messages that name a flow show the command
users type.
"""

from __future__ import annotations

from enum import StrEnum

from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow, register_flow
from kotaku.dialog.flows.status import StatusFlow, resolve_requested_scope, scope_name, wrong_kind_hint
from kotaku.i18n import fmt_date, fmt_number, fmt_percent, fmt_rupiah, fmt_signed
from kotaku.models import Role
from kotaku.monitoring.plan import Status
from kotaku.schemas import Choice
from kotaku.services.scope import Scope
from kotaku.services.summary import ActivityStatus, ScopeSummary, Workforce, scope_summary

# Up to this many activities are listed one by one; above it, counts per status and the critical ones.
MAX_ACTIVITY_LINES = 10
MAX_CRITICAL_LINES = 10


class State(StrEnum):
    ASK_SCOPE = "tanya_cakupan"


STATUS_ORDER = [Status.CRITICAL, Status.BEHIND, Status.ON_PLAN, Status.AHEAD, Status.DONE, Status.NOT_STARTED]


def _genders(ctx: Context, w: Workforce) -> str:
    if not w.male and not w.female:
        return ""
    parts = [f"L {fmt_number(w.male, ctx.lang)}", f"P {fmt_number(w.female, ctx.lang)}"]
    if w.unknown:
        parts.append(f"? {fmt_number(w.unknown, ctx.lang)}")
    return " (" + ", ".join(parts) + ")"


def _activity_name(a: ActivityStatus, single_ksm: bool) -> str:
    return f"• {a.name}" if single_ksm else f"• {a.name} ({a.ksm_name})"


def _actual(ctx: Context, a: ActivityStatus) -> str:
    return fmt_percent(a.actual, ctx.lang) if a.actual is not None else ctx.t("rekap.no_report")


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
        lines += ["", ctx.t("rekap.activities", n=fmt_number(len(s.activities), lang))]
        if len(s.activities) <= MAX_ACTIVITY_LINES:
            for a in s.activities:
                lines.append(_activity_name(a, single_ksm))
                lines.append(
                    ctx.t(
                        "rekap.activity_line",
                        actual=_actual(ctx, a),
                        planned=fmt_percent(a.planned, lang),
                        status=ctx.t(f"rekap.status.{a.status.value}"),
                    )
                )
        else:
            counts = s.count_by_status()
            lines.append(
                "  "
                + ", ".join(
                    f"{ctx.t(f'rekap.status.{st.value}')} {fmt_number(counts[st], lang)}"
                    for st in STATUS_ORDER
                    if counts.get(st)
                )
            )
    critical = s.critical
    if critical:
        lines += ["", ctx.t("rekap.critical_title", n=fmt_number(len(critical), lang))]
        for a in critical[:MAX_CRITICAL_LINES]:
            lines.append(_activity_name(a, single_ksm))
            lines.append(
                ctx.t(
                    "rekap.critical_line",
                    actual=_actual(ctx, a),
                    planned=fmt_percent(a.planned, lang),
                    deviation=fmt_signed(a.deviation or 0.0, lang),
                )
            )
        if len(critical) > MAX_CRITICAL_LINES:
            lines.append(ctx.t("rekap.more", n=fmt_number(len(critical) - MAX_CRITICAL_LINES, lang)))
    lines += [
        "",
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
    lines.append(ctx.t("rekap.obstacles", n=fmt_number(s.open_obstacles, lang)))
    return "\n".join(lines)


@register_flow
class SummaryFlow(Flow):
    name = "rekap"
    commands = ("rekap", "summary")
    roles = frozenset(Role)

    async def start(self, ctx: Context, args: str) -> None:
        scope = await resolve_requested_scope(ctx, self.name, args, "rekap", State.ASK_SCOPE)
        if scope is not None:
            await self._show(ctx, scope, args)

    async def on_tanya_cakupan(self, ctx: Context) -> None:
        if wrong_kind_hint(ctx, "rekap"):
            return
        scope = await resolve_requested_scope(ctx, self.name, ctx.text, "rekap", State.ASK_SCOPE)
        if scope is not None:
            await self._show(ctx, scope, ctx.text)

    async def _show(self, ctx: Context, scope: Scope, code: str) -> None:
        summary = await scope_summary(ctx.session, ctx.settings, scope, ctx.now)
        ctx.finish()
        assert ctx.person is not None
        choices = []
        if ctx.person.role in StatusFlow.roles:
            code = code.strip().split()[0] if code.strip() else ""
            value = f"/status {code}" if code and code.lower() not in {"semua", "all", "*"} else "/status"
            choices.append(Choice(label=ctx.t("rekap.to_status"), value=value[:64]))
        ctx.say(render_summary(ctx, scope, summary), choices)
