"""The /status message: the KSMs that have not reported yet, then those that have, with what they sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from kotaku.dialog.context import Context
from kotaku.dialog.scope_input import scope_name
from kotaku.i18n import fmt_date, fmt_number, fmt_short_date
from kotaku.services.scope import Scope
from kotaku.services.summary import KsmStatus

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
