"""The sentences of /peringatan that need the database: an alert's line in the list (its site's local
date, who acknowledged it) and why an action was refused."""

from __future__ import annotations

from datetime import date, datetime

from kotaku import clock
from kotaku.dialog.context import Context
from kotaku.i18n import fmt_date, fmt_short_date
from kotaku.models import Alert, AlertStatus, Person
from kotaku.monitoring.lifecycle import (
    AlertAlreadyAcknowledged,
    AlertAlreadyResolved,
    AlertError,
    AlertNotAllowed,
    AlertNotFound,
    AlertOutsideScope,
    NoteRequired,
    alert_text,
    severity_label,
)
from kotaku.services.access import Action, log_refusal


async def person_name(ctx: Context, person_id: int | None) -> str:
    person = await ctx.session.get(Person, person_id) if person_id is not None else None
    return person.name if person is not None else "-"


async def ksm_name(ctx: Context, alert: Alert) -> str:
    return (await ctx.ksm(alert.ksm_id)).name if alert.ksm_id is not None else "-"


async def _local_day(ctx: Context, alert: Alert, at: datetime | None) -> date:
    """A moment of this alert as a date in its site's time zone."""
    tz = await ctx.timezone_of_ksm(alert.ksm_id) if alert.ksm_id else ctx.settings.app.default_timezone
    return clock.local_today(tz, at or ctx.now)


async def alert_line(ctx: Context, a: Alert, ksm: str) -> str:
    """One alert in the list: number, severity, site, since when, what; who acknowledged or escalation."""
    text = ctx.t(
        "peringatan.line",
        id=a.id,
        severity=severity_label(a.severity, ctx.lang),
        ksm=ksm,
        date=fmt_short_date(await _local_day(ctx, a, a.opened_at), ctx.lang),
        text=alert_text(a, ctx.lang),
    )
    if a.status == AlertStatus.ACKNOWLEDGED:
        note = f": {a.ack_note}" if a.ack_note else ""
        name = await person_name(ctx, a.acknowledged_by_id)
        text += "\n" + ctx.t("peringatan.acked_by", name=name, note=note)
    elif a.escalation_level:
        text += "\n" + ctx.t("peringatan.escalated", level=a.escalation_level)
    return text


async def refusal(ctx: Context, exc: AlertError, alert_id: int) -> str:
    """Why an acknowledgement or resolution was refused."""
    if isinstance(exc, AlertNotFound):
        return ctx.t("peringatan.not_found", id=alert_id)
    if isinstance(exc, AlertOutsideScope):
        log_refusal(ctx.person, Action.ALERT, "outside_scope", alert=alert_id)
        return ctx.t("peringatan.outside_scope", id=alert_id, ksm=await ksm_name(ctx, exc.alert))
    if isinstance(exc, AlertAlreadyAcknowledged):
        a = exc.alert
        day = fmt_date(await _local_day(ctx, a, a.acknowledged_at), ctx.lang)
        return ctx.t("peringatan.already_acked", id=a.id, name=exc.by_name, date=day)
    if isinstance(exc, AlertAlreadyResolved):
        a = exc.alert
        how = (
            ctx.t("peringatan.resolved_by", name=await person_name(ctx, a.resolved_by_id))
            if a.resolved_by_id
            else ctx.t("peringatan.resolved_auto")
        )
        day = fmt_date(await _local_day(ctx, a, a.resolved_at), ctx.lang)
        return ctx.t("peringatan.already_resolved", id=a.id, date=day, how=how)
    if isinstance(exc, AlertNotAllowed):
        log_refusal(ctx.person, Action.ALERT, "role", alert=alert_id)
        return ctx.t("peringatan.not_allowed")
    if isinstance(exc, NoteRequired):
        return ctx.t("peringatan.note_required")
    raise exc
