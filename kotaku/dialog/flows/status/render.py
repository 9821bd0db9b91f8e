"""The /status message: the KSMs that have not reported yet, then those that have, with what they sent;
for managers grouped by region, with each late KSM's missed-day streak and a button to remind it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from kotaku.dialog.context import Context
from kotaku.dialog.scope_input import scope_name
from kotaku.i18n import fmt_date, fmt_number, fmt_short_date
from kotaku.schemas import Choice
from kotaku.services.manual_reminder import SentReminder
from kotaku.services.scope import Scope, zone_abbreviation
from kotaku.services.summary import KsmStatus, ManagerStatus, MissedDays

# Longest list shown per section; the rest is counted ("... and 12 more").
MAX_LISTED = 40


def _ksm_line(ctx: Context, k: KsmStatus, heading_day: date) -> str:
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


def _section(
    ctx: Context, title_key: str, rows: Sequence[KsmStatus], heading_day: date, details: bool
) -> list[str]:
    lines = ["", ctx.t(title_key, n=len(rows))]
    for k in rows[:MAX_LISTED]:
        lines.append(_ksm_line(ctx, k, heading_day))
        if details:
            lines.append(_details(ctx, k))
    if len(rows) > MAX_LISTED:
        lines.append(ctx.t("status.more", n=fmt_number(len(rows) - MAX_LISTED, ctx.lang)))
    return lines


def render_status(ctx: Context, scope: Scope, rows: list[KsmStatus]) -> str:
    if not rows:
        return ctx.t("status.none_in_scope", scope=scope_name(ctx, scope))
    # The heading shows the local date most of the KSMs are on; a KSM on another date says its own.
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
        lines += _section(ctx, "status.missing_title", missing, heading_day, details=False)
    if done:
        lines += _section(ctx, "status.done_title", done, heading_day, details=True)
    return "\n".join(lines)


# --- the managers' view -----------------------------------------------------------------------------

# Remind buttons shown at most (the longest streaks first); the others can be reminded by typing
# `/status ingatkan CODE`.
MAX_REMIND_BUTTONS = 8
REMIND_COMMAND = "/status ingatkan"


def local_time(ctx: Context, at: datetime, tz: str) -> str:
    """`10.15 WIB` (id) / `10:15 WIB` (en): a moment in the reader's own zone."""
    local = at.astimezone(ZoneInfo(tz))
    return f"{local.strftime('%H.%M' if ctx.lang == 'id' else '%H:%M')} {zone_abbreviation(tz)}"


def _missing_line(
    ctx: Context, k: KsmStatus, heading_day: date, missed: MissedDays, sent: SentReminder | None, tz: str
) -> str:
    parts = [_ksm_line(ctx, k, heading_day)]
    if missed.late and missed.days == 1:
        parts.append(ctx.t("status.streak_today"))
    elif missed.late and missed.since is not None:
        since = fmt_short_date(missed.since, ctx.lang)
        parts.append(ctx.t("status.streak", n=fmt_number(missed.days, ctx.lang), since=since))
    elif not missed.running:
        parts.append(ctx.t("status.not_running"))
    line = " — ".join(parts)
    if sent is not None:
        line += " · " + ctx.t("status.reminded", time=local_time(ctx, sent.at, tz), name=sent.by_name)
    return line


def render_manager_status(
    ctx: Context,
    scope: Scope,
    ms: ManagerStatus,
    sent: dict[int, SentReminder],
    tz: str,
) -> tuple[str, list[Choice]]:
    """The KSMs of a region by kecamatan / kabupaten / province: per group the ones without a report today
    (late ones with their missed-day streak, longest first), then the ones that reported; and a 🔔 button
    per late KSM (`REMIND_COMMAND`)."""
    rows = ms.rows
    if not rows:
        return ctx.t("status.none_in_scope", scope=scope_name(ctx, scope)), []
    lang = ctx.lang
    days = [k.today for k in rows]
    heading_day = max(set(days), key=days.count)
    done_total = sum(1 for k in rows if k.reported)
    lines = [
        ctx.t("status.title", scope=scope_name(ctx, scope)),
        fmt_date(heading_day, lang, with_weekday=True),
        ctx.t("status.count", done=fmt_number(done_total, lang), total=fmt_number(len(rows), lang)),
    ]
    # Missing KSMs are listed before any reported one takes the room (MAX_LISTED in all).
    room_missing = MAX_LISTED
    room_done = MAX_LISTED - min(MAX_LISTED, sum(1 for k in rows if not k.reported))
    for group in ms.groups:
        late = ms.late(group)
        late_ids = {k.ksm_id for k in late}
        missing = late + [k for k in group.rows if not k.reported and k.ksm_id not in late_ids]
        done = [k for k in group.rows if k.reported]
        if ms.grouped:
            lines += [
                "",
                ctx.t(
                    "status.group_title",
                    group=group.label,
                    done=fmt_number(len(done), lang),
                    total=fmt_number(len(group.rows), lang),
                ),
            ]
        if missing:
            shown = missing[:room_missing]
            room_missing -= len(shown)
            lines += ([] if ms.grouped else [""]) + [ctx.t("status.missing_title", n=len(missing))]
            lines += [
                _missing_line(ctx, k, heading_day, ms.missed[k.ksm_id], sent.get(k.ksm_id), tz) for k in shown
            ]
            if len(missing) > len(shown):
                lines.append(ctx.t("status.more", n=fmt_number(len(missing) - len(shown), lang)))
        if done:
            shown = done[:room_done]
            room_done -= len(shown)
            lines += ([] if ms.grouped else [""]) + [ctx.t("status.done_title", n=len(done))]
            for k in shown:
                lines += [_ksm_line(ctx, k, heading_day), _details(ctx, k)]
            if len(done) > len(shown):
                lines.append(ctx.t("status.more", n=fmt_number(len(done) - len(shown), lang)))
    late_all = ms.late()
    buttons = [
        Choice(label=ctx.t("status.remind_button", ksm=k.name), value=f"{REMIND_COMMAND} {k.code}"[:64])
        for k in late_all[:MAX_REMIND_BUTTONS]
    ]
    if buttons:
        lines += ["", ctx.t("status.remind_hint")]
    return "\n".join(lines), buttons
