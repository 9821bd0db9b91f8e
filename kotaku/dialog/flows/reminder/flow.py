"""/pengingat: show the person's reminder time (own or default, paused today or not) and apply a new
time, a pause, a resume or the default."""

from __future__ import annotations

import re
from datetime import time
from typing import ClassVar

from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow
from kotaku.dialog.flows.reminder.states import ReminderDraft, State
from kotaku.i18n import fmt_date
from kotaku.models import Person, Role
from kotaku.schemas import Choice
from kotaku.services.reminder_time import (
    default_reminder_time,
    gets_digest,
    parse_reminder_time,
    pause_reminders,
    reminded_in_group,
    resume_reminders,
    set_reminder_time,
)
from kotaku.services.scope import zone_abbreviation

OFFERED = ["14:00", "15:00", "16:00", "17:00"]
PAUSE_WORDS = {"libur", "off", "pause", "stop", "jeda"}
RESUME_WORDS = {"aktif", "on", "resume", "lanjut"}
DEFAULT_WORDS = {"bawaan", "default", "reset"}
# A time as people type it: `jam 4 sore`, `pukul 16.30`, `4 pm`.
_SPOKEN_RE = re.compile(
    r"^(?:(?:jam|pukul|pkl\.?|at)\s*)?(\d{1,2})([:.]\d{2})?\s*(pagi|siang|sore|petang|malam|am|pm)?$", re.I
)
_AFTER_NOON = {"sore", "petang", "malam", "pm"}


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


def spoken_time(text: str) -> str:
    """`jam 4 sore` -> `16`, `pukul 16.30` -> `16.30`, `1 siang` -> `13`, `4 pm` -> `16`; other text as it
    was (the service reads `16`, `16:30`, `16.30`)."""
    m = _SPOKEN_RE.match(text.strip())
    if m is None:
        return text
    hour, minutes, part = int(m.group(1)), m.group(2) or "", (m.group(3) or "").lower()
    if part in {"malam", "am"} and hour == 12:
        hour = 0  # midnight
    elif (part in _AFTER_NOON and hour < 12) or (part == "siang" and hour < 11):
        hour += 12
    return f"{hour}{minutes}"


def _offered() -> list[Choice]:
    return [Choice(label=t, value=t) for t in OFFERED]


class ReminderFlow(Flow[ReminderDraft]):
    name = "pengingat"
    commands = ("pengingat", "reminder")
    roles = frozenset({Role.KETUA_KSM, Role.BKM, Role.FASILITATOR})
    in_menu = False  # a setting, not a daily action: reached by /pengingat, /bantuan and reminder buttons
    keeps_draft = False  # it shows the time and applies a choice at once: nothing is gathered
    draft_type = ReminderDraft

    async def start(self, ctx: Context, args: str) -> None:
        if args.strip():
            await self._apply(ctx, args.strip())
        else:
            await self._show(ctx)

    async def on_choose(self, ctx: Context) -> None:
        await self._apply(ctx, ctx.text)

    steps: ClassVar = {State.CHOOSE: on_choose}

    def _person(self, ctx: Context) -> Person:
        assert ctx.person is not None
        return ctx.person

    async def _zone(self, ctx: Context) -> str:
        return zone_abbreviation(await ctx.timezone_of_person())

    async def _show(self, ctx: Context) -> None:
        person = self._person(ctx)
        zone = await self._zone(ctx)
        default = await default_reminder_time(ctx.session, ctx.settings, person)
        current = person.reminder_time or default
        key = "pengingat.show_digest" if gets_digest(person) else "pengingat.show_report"
        lines = [
            ctx.t(key, time=_hhmm(current), zone=zone)
            + " "
            + ctx.t("pengingat.own" if person.reminder_time else "pengingat.default")
        ]
        if await reminded_in_group(ctx.session, person):
            lines.append(ctx.t("pengingat.group_note", time=_hhmm(default), zone=zone))
        today = await ctx.person_today()
        paused = person.reminder_paused_on == today
        if paused:
            lines.append(ctx.t("pengingat.paused", date=fmt_date(today, ctx.lang)))
        lines += ["", ctx.t("pengingat.ask")]
        choices = _offered()
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
        person = self._person(ctx)
        word = text.lower()
        if word in PAUSE_WORDS:
            today = await ctx.person_today()
            pause_reminders(ctx.uow, person, today)
            ctx.finish()
            ctx.say(ctx.t("pengingat.paused_now", date=fmt_date(today, ctx.lang)))
            return
        if word in RESUME_WORDS:
            resume_reminders(ctx.uow, person)
            ctx.finish()
            ctx.say(ctx.t("pengingat.resumed"))
            return
        zone = await self._zone(ctx)
        if word in DEFAULT_WORDS:
            set_reminder_time(ctx.uow, person, None)
            ctx.finish()
            default = await default_reminder_time(ctx.session, ctx.settings, person)
            ctx.say(ctx.t("pengingat.reset", time=_hhmm(default), zone=zone))
            return
        value = parse_reminder_time(spoken_time(text))
        if value is None:
            ctx.goto(self.name, State.CHOOSE)
            ctx.say(ctx.t("pengingat.bad_time", text=text), _offered(), columns=2)
            return
        set_reminder_time(ctx.uow, person, value)
        ctx.finish()
        ctx.say(ctx.t("pengingat.set", time=_hhmm(value), zone=zone))
