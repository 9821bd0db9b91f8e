"""/status: which KSMs in my scope reported today (each on its own local date) and which not."""

from __future__ import annotations

from enum import StrEnum

from kotaku.dialog import catalogue
from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow, register_flow
from kotaku.i18n import fmt_date, fmt_number, fmt_short_date
from kotaku.models import Role
from kotaku.schemas import Choice, InboundKind
from kotaku.services.scope import Scope, ScopeNotFound
from kotaku.services.summary import KsmStatus, OutsideScope, reporting_status, view_scope

# Longest list shown per section; the rest is counted ("... and 12 more").
MAX_LISTED = 40


class State(StrEnum):
    ASK_SCOPE = "tanya_cakupan"


catalogue.register(
    {
        "status.summary": {
            "id": "siapa yang sudah dan belum melapor hari ini",
            "en": "who has and has not reported today",
        },
        "status.menu": {"id": "📋 Status laporan", "en": "📋 Report status"},
        "status.help": {
            "id": "/status menampilkan KSM dalam cakupan Anda yang sudah dan belum melapor hari ini "
            "(tanggal setempat tiap KSM). Bisa juga untuk satu KSM atau wilayah: /status KSM-BJL-01 atau "
            "/status 33.22.05",
            "en": "/status shows the KSMs in your scope that have and have not reported today (each KSM's "
            "local date). Also for one KSM or region: /status KSM-BJL-01 or /status 33.22.05",
        },
        "status.help.tanya_cakupan": {
            "id": "Kirim kode KSM (contoh KSM-BJL-01) atau kode wilayah (contoh 33.22.05), atau pilih "
            "'Seluruh cakupan saya'.",
            "en": "Send a KSM code (e.g. KSM-BJL-01) or a region code (e.g. 33.22.05), or choose 'My whole scope'.",
        },
        "status.title": {"id": "📋 Laporan hari ini — {scope}", "en": "📋 Today's reports — {scope}"},
        "status.count": {
            "id": "{done} dari {total} KSM sudah melapor hari ini.",
            "en": "{done} of {total} KSMs have reported today.",
        },
        "status.none_in_scope": {
            "id": "Tidak ada KSM dalam cakupan {scope}.",
            "en": "There is no KSM in the scope {scope}.",
        },
        "status.missing_title": {"id": "❌ Belum melapor ({n}):", "en": "❌ Not reported yet ({n}):"},
        "status.done_title": {"id": "✅ Sudah melapor ({n}):", "en": "✅ Reported ({n}):"},
        "status.more": {"id": "… dan {n} lainnya", "en": "… and {n} more"},
        "status.progress_yes": {"id": "progres ✓ {done}/{total}", "en": "progress ✓ {done}/{total}"},
        "status.progress_no": {"id": "progres –", "en": "progress –"},
        "status.attendance_yes": {"id": "hadir ✓ {n} orang", "en": "attendance ✓ {n} workers"},
        "status.attendance_no": {"id": "hadir –", "en": "attendance –"},
        "status.obstacles": {"id": "kendala {n}", "en": "obstacles {n}"},
        "status.unknown_scope": {
            "id": "Kode {code} tidak dikenal sebagai KSM atau wilayah.",
            "en": "The code {code} is not a known KSM or region.",
        },
        "status.outside_scope": {
            "id": "Maaf, {scope} di luar cakupan Anda, jadi datanya tidak bisa ditampilkan.",
            "en": "Sorry, {scope} is outside your scope, so its data cannot be shown.",
        },
        "status.ask_scope": {
            "id": "Kirim kode KSM atau wilayah (contoh KSM-BJL-01, 33.22.05), atau pilih di bawah.",
            "en": "Send a KSM or region code (e.g. KSM-BJL-01, 33.22.05), or choose below.",
        },
        "status.not_text": {
            "id": "Di sini saya perlu kode KSM atau wilayah dalam bentuk teks, bukan {kind}.",
            "en": "Here I need a KSM or region code as text, not a {kind}.",
        },
        "status.my_scope": {"id": "🌐 Seluruh cakupan saya", "en": "🌐 My whole scope"},
        "status.to_rekap": {"id": "📊 Rekap", "en": "📊 Summary"},
        "status.national": {"id": "nasional", "en": "the whole program"},
    }
)

KIND_WORDS = {
    InboundKind.PHOTO: ("foto", "photo"),
    InboundKind.VOICE: ("pesan suara", "voice note"),
    InboundKind.LOCATION: ("lokasi", "location"),
    InboundKind.DOCUMENT: ("dokumen", "document"),
}


def scope_name(ctx: Context, scope: Scope) -> str:
    return ctx.t("status.national") if scope.is_national else scope.label


async def resolve_requested_scope(
    ctx: Context, flow: str, args: str, prefix: str, ask_state: str = State.ASK_SCOPE
) -> Scope | None:
    """The person's scope or the one named in `args`; on a bad code, say why and ask again for one."""
    assert ctx.person is not None
    try:
        return await view_scope(ctx.session, ctx.person, args)
    except ScopeNotFound:
        ctx.say(ctx.t(f"{prefix}.unknown_scope", code=args.strip()))
    except OutsideScope as exc:
        ctx.say(ctx.t(f"{prefix}.outside_scope", scope=str(exc)))
    ctx.goto(flow, ask_state)
    ctx.say(ctx.t(f"{prefix}.ask_scope"), [Choice(label=ctx.t(f"{prefix}.my_scope"), value="semua")])
    return None


def wrong_kind_hint(ctx: Context, prefix: str) -> bool:
    """Say what is expected when something other than text arrives; True when it did."""
    if ctx.inbound.kind in (InboundKind.TEXT, InboundKind.CHOICE) and ctx.text:
        return False
    words = KIND_WORDS.get(ctx.inbound.kind, ("pesan kosong", "empty message"))
    ctx.say(ctx.t(f"{prefix}.not_text", kind=words[0] if ctx.lang == "id" else words[1]))
    ctx.say(ctx.t(f"{prefix}.ask_scope"), [Choice(label=ctx.t(f"{prefix}.my_scope"), value="semua")])
    return True


def _ksm_line(ctx: Context, k: KsmStatus, heading_day: object) -> str:
    name = k.name if k.today == heading_day else f"{k.name} ({fmt_short_date(k.today, ctx.lang)})"
    return f"• {name}"


def _details(ctx: Context, k: KsmStatus) -> str:
    parts = [
        ctx.t("status.progress_yes", done=k.progress_reported, total=k.activities)
        if k.progress_reported
        else ctx.t("status.progress_no"),
        ctx.t("status.attendance_yes", n=fmt_number(k.workers, ctx.lang))
        if k.attendance_reported
        else ctx.t("status.attendance_no"),
    ]
    if k.obstacles:
        parts.append(ctx.t("status.obstacles", n=k.obstacles))
    return "  " + " · ".join(parts)


def render_status(ctx: Context, scope: Scope, rows: list[KsmStatus]) -> str:
    if not rows:
        return ctx.t("status.none_in_scope", scope=scope_name(ctx, scope))
    days = [k.today for k in rows]
    heading_day = max(set(days), key=days.count)
    missing = [k for k in rows if not k.reported]
    done = [k for k in rows if k.reported]
    lines = [
        ctx.t("status.title", scope=scope_name(ctx, scope)),
        fmt_date(heading_day, ctx.lang, with_weekday=True),
        ctx.t("status.count", done=fmt_number(len(done), ctx.lang), total=fmt_number(len(rows), ctx.lang)),
    ]
    if missing:
        lines += ["", ctx.t("status.missing_title", n=len(missing))]
        lines += [_ksm_line(ctx, k, heading_day) for k in missing[:MAX_LISTED]]
        if len(missing) > MAX_LISTED:
            lines.append(ctx.t("status.more", n=fmt_number(len(missing) - MAX_LISTED, ctx.lang)))
    if done:
        lines += ["", ctx.t("status.done_title", n=len(done))]
        for k in done[:MAX_LISTED]:
            lines += [_ksm_line(ctx, k, heading_day), _details(ctx, k)]
        if len(done) > MAX_LISTED:
            lines.append(ctx.t("status.more", n=fmt_number(len(done) - MAX_LISTED, ctx.lang)))
    return "\n".join(lines)


@register_flow
class StatusFlow(Flow):
    name = "status"
    commands = ("status",)
    roles = frozenset(
        {Role.FASILITATOR, Role.BKM, Role.ASKOT, Role.KORKOT, Role.PROVINSI, Role.NASIONAL, Role.ADMIN}
    )

    async def start(self, ctx: Context, args: str) -> None:
        scope = await resolve_requested_scope(ctx, self.name, args, "status")
        if scope is not None:
            await self._show(ctx, scope, args)

    async def on_tanya_cakupan(self, ctx: Context) -> None:
        if wrong_kind_hint(ctx, "status"):
            return
        scope = await resolve_requested_scope(ctx, self.name, ctx.text, "status")
        if scope is not None:
            await self._show(ctx, scope, ctx.text)

    async def _show(self, ctx: Context, scope: Scope, code: str) -> None:
        rows = await reporting_status(ctx.session, scope, ctx.now)
        ctx.finish()
        code = code.strip().split()[0] if code.strip() else ""
        rekap = f"/rekap {code}" if code and code.lower() not in {"semua", "all", "*"} else "/rekap"
        ctx.say(render_status(ctx, scope, rows), [Choice(label=ctx.t("status.to_rekap"), value=rekap[:64])])
