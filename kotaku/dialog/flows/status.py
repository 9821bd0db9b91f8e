"""/status: which KSMs in my scope reported today (each on its own local date) and which not."""

from __future__ import annotations

from enum import StrEnum

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
