"""/peringatan (/alerts): the open alerts in my scope, five per page, each with an acknowledge button.

`/peringatan` lists; a tap on "✅ #12" (value `ack:12`) asks for an optional note, then acknowledges.
Quick forms: `/peringatan ack:12 sudah dicek ke lokasi`, `/peringatan tutup 12 catatan` (resolve by hand).
Alert messages pushed through the outbox carry the button value `/peringatan ack:12`, so the same tap
works from outside the flow.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from kotaku import clock
from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow, register_flow
from kotaku.i18n import fmt_date, fmt_number, fmt_short_date
from kotaku.models import Alert, AlertStatus, Person
from kotaku.monitoring.lifecycle import (
    ALERT_ROLES,
    AlertAlreadyAcknowledged,
    AlertAlreadyResolved,
    AlertError,
    AlertNotAllowed,
    AlertNotFound,
    AlertOutsideScope,
    NoteRequired,
    acknowledge,
    alert_in_scope,
    alert_text,
    list_alerts,
    resolve_by_hand,
    severity_label,
)
from kotaku.schemas import Choice, InboundKind
from kotaku.services.scope import scope_of

PAGE_SIZE = 5
NO_NOTE = "-"

_ACK_RE = re.compile(r"^(?:ack:|#)?(\d+)(?:\s+(.*))?$", re.S)
_RESOLVE_RE = re.compile(r"^(?:tutup|resolve|selesai)[: ]+#?(\d+)(?:\s+(.*))?$", re.S | re.I)
_PAGE_RE = re.compile(r"^(?:hal|page):(\d+)$")


class State(StrEnum):
    LIST = "daftar"
    NOTE = "catatan"


async def _ksm_name(ctx: Context, alert: Alert) -> str:
    if alert.ksm_id is None:
        return "-"
    return (await ctx.ksm(alert.ksm_id)).name


async def _local_date(ctx: Context, alert: Alert, at: datetime | None) -> str:
    """A moment of this alert as a date in its site's time zone."""
    tz = await ctx.timezone_of_ksm(alert.ksm_id) if alert.ksm_id else ctx.settings.app.default_timezone
    return fmt_date(clock.local_today(tz, at or ctx.now), ctx.lang)


@register_flow
class AlertsFlow(Flow):
    name = "peringatan"
    commands = ("peringatan", "alerts")
    roles = ALERT_ROLES

    async def start(self, ctx: Context, args: str) -> None:
        args = args.strip()
        if m := _RESOLVE_RE.match(args):
            await self._resolve(ctx, int(m.group(1)), (m.group(2) or "").strip())
            return
        if m := _PAGE_RE.match(args):
            await self._list(ctx, int(m.group(1)))
            return
        if m := _ACK_RE.match(args):
            await self._pick(ctx, int(m.group(1)), (m.group(2) or "").strip(), then_list=False)
            return
        await self._list(ctx, 1)

    # --- listing ---------------------------------------------------------------------------------

    async def _list(self, ctx: Context, page: int, prefix: str | None = None) -> None:
        assert ctx.person is not None
        scope = scope_of(ctx.person)
        total = (await list_alerts(ctx.session, scope, limit=0)).total
        if total == 0:
            ctx.say("\n".join([*([prefix] if prefix else []), ctx.t("peringatan.none")]))
            ctx.finish()
            return
        pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
        page = min(max(page, 1), pages)
        found = await list_alerts(ctx.session, scope, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        lines = [prefix] if prefix else []
        lines.append(ctx.t("peringatan.title", n=fmt_number(total, ctx.lang), page=page, pages=pages))
        choices = []
        for a in found.alerts:
            lines.append("")
            lines.append(await self._line(ctx, a, found.ksm_names.get(a.ksm_id or 0, "-")))
            if a.status == AlertStatus.OPEN:
                choices.append(Choice(label=ctx.t("peringatan.ack_button", id=a.id), value=f"ack:{a.id}"))
        if page > 1:
            choices.append(Choice(label=ctx.t("peringatan.prev"), value=f"hal:{page - 1}"))
        if page < pages:
            choices.append(Choice(label=ctx.t("peringatan.next"), value=f"hal:{page + 1}"))
        ctx.goto(self.name, State.LIST, page=page)
        ctx.say("\n".join(lines), choices, columns=2)

    async def _line(self, ctx: Context, a: Alert, ksm: str) -> str:
        tz = await ctx.timezone_of_ksm(a.ksm_id) if a.ksm_id else ctx.settings.app.default_timezone
        text = ctx.t(
            "peringatan.line",
            id=a.id,
            severity=severity_label(a.severity, ctx.lang),
            ksm=ksm,
            date=fmt_short_date(clock.local_today(tz, a.opened_at), ctx.lang),
            text=alert_text(a, ctx.lang),
        )
        if a.status == AlertStatus.ACKNOWLEDGED:
            by = await ctx.session.get(Person, a.acknowledged_by_id) if a.acknowledged_by_id else None
            note = f": {a.ack_note}" if a.ack_note else ""
            text += "\n" + ctx.t("peringatan.acked_by", name=by.name if by else "-", note=note)
        elif a.escalation_level:
            text += "\n" + ctx.t("peringatan.escalated", level=a.escalation_level)
        return text

    # --- acknowledging ---------------------------------------------------------------------------

    async def _refuse(self, ctx: Context, exc: AlertError, alert_id: int) -> None:
        if isinstance(exc, AlertNotFound):
            ctx.say(ctx.t("peringatan.not_found", id=alert_id))
        elif isinstance(exc, AlertOutsideScope):
            ctx.say(ctx.t("peringatan.outside_scope", id=alert_id, ksm=await _ksm_name(ctx, exc.alert)))
        elif isinstance(exc, AlertAlreadyAcknowledged):
            a = exc.alert
            ctx.say(
                ctx.t(
                    "peringatan.already_acked",
                    id=a.id,
                    name=exc.by_name,
                    date=await _local_date(ctx, a, a.acknowledged_at),
                )
            )
        elif isinstance(exc, AlertAlreadyResolved):
            a = exc.alert
            if a.resolved_by_id:
                by = await ctx.session.get(Person, a.resolved_by_id)
                how = ctx.t("peringatan.resolved_by", name=by.name if by else "-")
            else:
                how = ctx.t("peringatan.resolved_auto")
            ctx.say(
                ctx.t(
                    "peringatan.already_resolved",
                    id=a.id,
                    date=await _local_date(ctx, a, a.resolved_at),
                    how=how,
                )
            )
        elif isinstance(exc, AlertNotAllowed):
            ctx.say(ctx.t("peringatan.not_allowed"))
        elif isinstance(exc, NoteRequired):
            ctx.say(ctx.t("peringatan.note_required"))

    async def _pick(self, ctx: Context, alert_id: int, note: str, *, then_list: bool) -> None:
        """Acknowledge at once when a note came along; else check the alert and ask for a note."""
        assert ctx.person is not None
        if note:
            await self._acknowledge(ctx, alert_id, note)
            return
        alert = await ctx.session.get(Alert, alert_id)
        problem: AlertError | None = None
        if alert is None:
            problem = AlertNotFound(alert_id)
        elif alert.status == AlertStatus.RESOLVED:
            problem = AlertAlreadyResolved(alert)
        else:
            if not await alert_in_scope(ctx.session, alert, scope_of(ctx.person)):
                problem = AlertOutsideScope(alert)
            elif alert.status == AlertStatus.ACKNOWLEDGED:
                by = (
                    await ctx.session.get(Person, alert.acknowledged_by_id)
                    if alert.acknowledged_by_id
                    else None
                )
                problem = AlertAlreadyAcknowledged(alert, by.name if by else "-")
        if problem is not None:
            await self._refuse(ctx, problem, alert_id)
            if then_list:
                await self._list(ctx, int(ctx.data.get("page", 1)))
            else:
                ctx.finish()
            return
        assert alert is not None
        ctx.goto(self.name, State.NOTE, alert_id=alert_id, page=int(ctx.data.get("page", 1)))
        ctx.say(
            ctx.t(
                "peringatan.ask_note",
                id=alert.id,
                ksm=await _ksm_name(ctx, alert),
                text=alert_text(alert, ctx.lang),
            ),
            [Choice(label=ctx.t("peringatan.no_note"), value=NO_NOTE)],
        )

    async def _acknowledge(self, ctx: Context, alert_id: int, note: str) -> None:
        assert ctx.person is not None
        try:
            alert = await acknowledge(ctx.session, alert_id, ctx.person, note or None, ctx.now)
        except AlertError as exc:
            await self._refuse(ctx, exc, alert_id)
            ctx.finish()
            return
        ctx.finish()
        suffix = ctx.t("peringatan.note_suffix", note=alert.ack_note) if alert.ack_note else ""
        ctx.say(
            ctx.t(
                "peringatan.acknowledged",
                id=alert.id,
                ksm=await _ksm_name(ctx, alert),
                name=ctx.person.name,
                note=suffix,
            )
        )

    async def _resolve(self, ctx: Context, alert_id: int, note: str) -> None:
        assert ctx.person is not None
        try:
            alert = await resolve_by_hand(ctx.session, alert_id, ctx.person, note, ctx.now)
        except AlertError as exc:
            await self._refuse(ctx, exc, alert_id)
            ctx.finish()
            return
        ctx.finish()
        ctx.say(
            ctx.t(
                "peringatan.resolved", id=alert.id, ksm=await _ksm_name(ctx, alert), note=alert.resolve_note
            )
        )

    # --- steps -------------------------------------------------------------------------------------

    async def on_daftar(self, ctx: Context) -> None:
        text = ctx.text
        if ctx.inbound.kind not in (InboundKind.TEXT, InboundKind.CHOICE) or not text:
            await self._list(ctx, int(ctx.data.get("page", 1)), prefix=ctx.t("peringatan.bad_pick"))
            return
        if m := _PAGE_RE.match(text):
            await self._list(ctx, int(m.group(1)))
            return
        if m := _RESOLVE_RE.match(text):
            await self._resolve(ctx, int(m.group(1)), (m.group(2) or "").strip())
            return
        if m := _ACK_RE.match(text):
            await self._pick(ctx, int(m.group(1)), (m.group(2) or "").strip(), then_list=True)
            return
        await self._list(ctx, int(ctx.data.get("page", 1)), prefix=ctx.t("peringatan.bad_pick"))

    async def on_catatan(self, ctx: Context) -> None:
        if ctx.is_choice and (m := _ACK_RE.match(ctx.text)) and ctx.text.startswith("ack:"):
            await self._pick(ctx, int(m.group(1)), "", then_list=False)
            return
        if ctx.inbound.kind not in (InboundKind.TEXT, InboundKind.CHOICE) or not ctx.text:
            ctx.say(
                ctx.t("peringatan.note_not_text"), [Choice(label=ctx.t("peringatan.no_note"), value=NO_NOTE)]
            )
            return
        note = "" if ctx.text == NO_NOTE else ctx.text
        await self._acknowledge(ctx, int(ctx.data["alert_id"]), note)
