"""/pengingat: see and change one's own reminder time, or pause reminders for today.

A KSM coordinator sets when the daily report reminder reaches them; a facilitator sets the time of the
daily digest. Times are local to the person's site. Quick forms: `/pengingat 16:30`, `/pengingat libur`,
`/pengingat aktif`, `/pengingat bawaan`.
"""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum

from sqlalchemy import select

from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow, register_flow
from kotaku.i18n import fmt_date
from kotaku.models import GroupBinding, Ksm, Role
from kotaku.schemas import Choice

EARLIEST = time(5, 0)
LATEST = time(21, 59)
OFFERED = ["14:00", "15:00", "16:00", "17:00"]
PAUSE_WORDS = {"libur", "off", "pause", "stop", "jeda"}
RESUME_WORDS = {"aktif", "on", "resume", "lanjut"}
DEFAULT_WORDS = {"bawaan", "default", "reset"}
ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}
_TIME_RE = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?$")


class State(StrEnum):
    CHOOSE = "pilih"


def parse_time(text: str) -> time | None:
    """`16`, `16:30`, `16.30` -> a time between 05:00 and 21:59; None otherwise."""
    m = _TIME_RE.match(text.strip())
    if not m:
        return None
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if hour > 23 or minute > 59:
        return None
    value = time(hour, minute)
    return value if EARLIEST <= value <= LATEST else None


@register_flow
class ReminderFlow(Flow):
    name = "pengingat"
    commands = ("pengingat", "reminder")
    roles = frozenset({Role.KETUA_KSM, Role.BKM, Role.FASILITATOR})
    in_menu = False  # a setting, not a daily action: reached by /pengingat, /bantuan and reminder buttons

    async def start(self, ctx: Context, args: str) -> None:
        if args.strip():
            await self._apply(ctx, args.strip())
            return
        await self._show(ctx)

    async def on_pilih(self, ctx: Context) -> None:
        await self._apply(ctx, ctx.text)

    # --- helpers ---------------------------------------------------------------------------------

    async def _default_time(self, ctx: Context) -> time:
        cfg = ctx.settings.reminders
        person = ctx.person
        assert person is not None
        if person.role == Role.FASILITATOR:
            return cfg.digest_time or cfg.first_time
        if person.scope_ksm_id is not None:
            ksm = await ctx.session.get(Ksm, person.scope_ksm_id)
            if ksm is not None and ksm.reminder_time is not None:
                return ksm.reminder_time
        return cfg.first_time

    async def _zone(self, ctx: Context) -> str:
        tz = await ctx.timezone_of_person()
        return ZONE_NAMES.get(tz, tz)

    async def _show(self, ctx: Context) -> None:
        person = ctx.person
        assert person is not None
        zone = await self._zone(ctx)
        default = await self._default_time(ctx)
        current = person.reminder_time or default
        key = "pengingat.show_digest" if person.role == Role.FASILITATOR else "pengingat.show_report"
        lines = [
            ctx.t(key, time=current.strftime("%H:%M"), zone=zone)
            + " "
            + ctx.t("pengingat.own" if person.reminder_time else "pengingat.default")
        ]
        if person.scope_ksm_id is not None and person.role != Role.FASILITATOR:
            group = (
                await ctx.session.execute(
                    select(GroupBinding.id).where(GroupBinding.ksm_id == person.scope_ksm_id).limit(1)
                )
            ).first()
            if group is not None:
                lines.append(ctx.t("pengingat.group_note", time=default.strftime("%H:%M"), zone=zone))
        today = await ctx.person_today()
        paused = person.reminder_paused_on == today
        if paused:
            lines.append(ctx.t("pengingat.paused", date=fmt_date(today, ctx.lang)))
        lines += ["", ctx.t("pengingat.ask")]
        choices = [Choice(label=t, value=t) for t in OFFERED]
        choices.append(
            Choice(label=ctx.t("pengingat.btn_resume"), value="aktif")
            if paused
            else Choice(label=ctx.t("pengingat.btn_today_off"), value="libur")
        )
        if person.reminder_time is not None:
            choices.append(Choice(label=ctx.t("pengingat.btn_default"), value="bawaan"))
        ctx.goto(self.name, State.CHOOSE)
        ctx.say("\n".join(lines), choices, columns=2)

    async def _apply(self, ctx: Context, text: str) -> None:
        person = ctx.person
        assert person is not None
        word = text.lower()
        zone = await self._zone(ctx)
        if word in PAUSE_WORDS:
            today = await ctx.person_today()
            person.reminder_paused_on = today
            ctx.finish()
            ctx.say(ctx.t("pengingat.paused_now", date=fmt_date(today, ctx.lang)))
            return
        if word in RESUME_WORDS:
            person.reminder_paused_on = None
            ctx.finish()
            ctx.say(ctx.t("pengingat.resumed"))
            return
        if word in DEFAULT_WORDS:
            person.reminder_time = None
            ctx.finish()
            default = await self._default_time(ctx)
            ctx.say(ctx.t("pengingat.reset", time=default.strftime("%H:%M"), zone=zone))
            return
        value = parse_time(text)
        if value is None:
            ctx.goto(self.name, State.CHOOSE)
            ctx.say(
                ctx.t("pengingat.bad_time", text=text),
                [Choice(label=t, value=t) for t in OFFERED],
                columns=2,
            )
            return
        person.reminder_time = value
        ctx.finish()
        ctx.say(ctx.t("pengingat.set", time=value.strftime("%H:%M"), zone=zone))
