"""/rekap (/summary): sites, today's reports, progress against plan, workers, HOK, wages and obstacles.

The flow is named "rekap" (its sentences are "rekap.*"), so messages that name a flow show the command
users type.
"""

from __future__ import annotations

from enum import StrEnum

from kotaku.dialog import catalogue
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

catalogue.register(
    {
        "rekap.summary": {
            "id": "rekap progres, pekerja, HOK, upah dan kendala",
            "en": "summary of progress, workers, HOK, wages and obstacles",
        },
        "rekap.menu": {"id": "📊 Rekap", "en": "📊 Summary"},
        "rekap.help": {
            "id": "/rekap merangkum cakupan Anda: KSM aktif dan yang melapor hari ini, progres tiap kegiatan "
            "dibanding rencana (KRITIS bila tertinggal jauh), pekerja dan HOK, upah, kendala terbuka. "
            "Untuk satu KSM atau wilayah: /rekap KSM-BJL-01 atau /rekap 33.22.05",
            "en": "/rekap summarises your scope: active KSMs and those that reported today, each activity's "
            "progress against plan (CRITICAL when far behind), workers and HOK, wages, open obstacles. "
            "For one KSM or region: /rekap KSM-BJL-01 or /rekap 33.22.05",
        },
        "rekap.help.tanya_cakupan": {
            "id": "Kirim kode KSM (contoh KSM-BJL-01) atau kode wilayah (contoh 33.22.05), atau pilih "
            "'Seluruh cakupan saya'.",
            "en": "Send a KSM code (e.g. KSM-BJL-01) or a region code (e.g. 33.22.05), or choose 'My whole scope'.",
        },
        "rekap.title": {"id": "📊 Rekap {scope}", "en": "📊 Summary: {scope}"},
        "rekap.sites": {
            "id": "🏘 KSM: {total} · aktif {active} · melapor hari ini {reported}",
            "en": "🏘 KSMs: {total} · active {active} · reported today {reported}",
        },
        "rekap.no_ksm": {
            "id": "Tidak ada KSM dalam cakupan {scope}.",
            "en": "There is no KSM in the scope {scope}.",
        },
        "rekap.activities": {"id": "📈 Kegiatan ({n}):", "en": "📈 Activities ({n}):"},
        "rekap.activity_line": {
            "id": "  {actual} · rencana {planned} · {status}",
            "en": "  {actual} · plan {planned} · {status}",
        },
        "rekap.no_report": {"id": "belum ada laporan", "en": "no report yet"},
        "rekap.critical_title": {"id": "⚠️ KRITIS ({n}):", "en": "⚠️ CRITICAL ({n}):"},
        "rekap.critical_line": {
            "id": "  {actual} dari rencana {planned} ({deviation} poin)",
            "en": "  {actual} against plan {planned} ({deviation} points)",
        },
        "rekap.more": {"id": "… dan {n} lainnya", "en": "… and {n} more"},
        "rekap.today_work": {
            "id": "👷 Hari ini: {workers} pekerja{genders}, {hok} HOK",
            "en": "👷 Today: {workers} workers{genders}, {hok} HOK",
        },
        "rekap.to_date_work": {
            "id": "👷 S.d. hari ini: {hok} HOK, {days} orang-hari{genders}",
            "en": "👷 To date: {hok} HOK, {days} worker-days{genders}",
        },
        "rekap.distinct_workers": {
            "id": "   {n} pekerja berbeda tercatat di daftar hadir",
            "en": "   {n} different workers on attendance sheets",
        },
        "rekap.wages": {
            "id": "💰 Upah s.d. hari ini: {wages} dari anggaran upah {budget}",
            "en": "💰 Wages to date: {wages} of a wage budget of {budget}",
        },
        "rekap.wages_paid": {"id": "   sudah dibayar {paid}", "en": "   already paid {paid}"},
        "rekap.obstacles": {"id": "🚧 Kendala terbuka: {n}", "en": "🚧 Open obstacles: {n}"},
        "rekap.phk": {
            "id": "   PHK/kehilangan penghasilan: {phk} orang-hari, lainnya {other} (hari ini {phk_today} / {other_today})",
            "en": "   Laid off / lost income: {phk} worker-days, others {other} (today {phk_today} / {other_today})",
        },
        "rekap.funds": {
            "id": "💵 Dana terpakai: {used} dari anggaran {budget} ({share})",
            "en": "💵 Funds used: {used} of a budget of {budget} ({share})",
        },
        "rekap.status.belum_mulai": {"id": "belum mulai", "en": "not started"},
        "rekap.status.lebih_cepat": {"id": "lebih cepat", "en": "ahead of plan"},
        "rekap.status.sesuai_rencana": {"id": "sesuai rencana", "en": "on plan"},
        "rekap.status.terlambat": {"id": "terlambat", "en": "behind"},
        "rekap.status.kritis": {"id": "KRITIS", "en": "CRITICAL"},
        "rekap.status.selesai": {"id": "selesai", "en": "done"},
        "rekap.unknown_scope": {
            "id": "Kode {code} tidak dikenal sebagai KSM atau wilayah.",
            "en": "The code {code} is not a known KSM or region.",
        },
        "rekap.outside_scope": {
            "id": "Maaf, {scope} di luar cakupan Anda, jadi rekapnya tidak bisa ditampilkan.",
            "en": "Sorry, {scope} is outside your scope, so its summary cannot be shown.",
        },
        "rekap.ask_scope": {
            "id": "Kirim kode KSM atau wilayah (contoh KSM-BJL-01, 33.22.05), atau pilih di bawah.",
            "en": "Send a KSM or region code (e.g. KSM-BJL-01, 33.22.05), or choose below.",
        },
        "rekap.not_text": {
            "id": "Di sini saya perlu kode KSM atau wilayah dalam bentuk teks, bukan {kind}.",
            "en": "Here I need a KSM or region code as text, not a {kind}.",
        },
        "rekap.my_scope": {"id": "🌐 Seluruh cakupan saya", "en": "🌐 My whole scope"},
        "rekap.to_status": {"id": "📋 Status laporan", "en": "📋 Report status"},
    }
)


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
