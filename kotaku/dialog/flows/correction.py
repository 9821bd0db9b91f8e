"""`/ubah`: correct a report of the last days. The old value stays in the audit log with who and when.

Progress is re-entered here (one number, a confirmation); an attendance sheet is re-entered through the
`/hadir` flow for that date, which shows the existing sheet and replaces it with an audit entry. Summaries
are computed from the current rows, so everyone who saw the old figure sees the new one next time.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import func, select

from kotaku.dialog.context import Context
from kotaku.dialog.flow import FLOWS, Flow, register_flow
from kotaku.i18n import fmt_date, fmt_number, fmt_percent, fmt_short_date
from kotaku.models import Activity, AttendanceDay, AttendanceRecord, ProgressReport, Role
from kotaku.schemas import Choice, InboundKind
from kotaku.services.progress import AmountError, parse_amount, save_progress

NAME = "ubah"
MAX_CHOICES = 10


class State(StrEnum):
    CHOOSE = "pilih"
    VALUE = "angka"
    CONFIRM = "konfirmasi"


def _value_text(ctx: Context, percent: float, volume: float | None, unit: str) -> str:
    text = fmt_percent(percent, ctx.lang)
    if volume is not None:
        text += f" ({fmt_number(volume, ctx.lang)} {unit})"
    return text


@register_flow
class CorrectionFlow(Flow):
    name = NAME
    commands = ("ubah", "edit", "correct")
    roles = frozenset({Role.KETUA_KSM, Role.BKM, Role.FASILITATOR})
    needs_ksm = True

    async def start(self, ctx: Context, args: str) -> None:
        ksm_id = int(ctx.data["ksm_id"])
        ksm = await ctx.ksm(ksm_id)
        days = ctx.settings.dialog.correction_days
        since = await ctx.today_for_ksm(ksm_id) - timedelta(days=days)
        progress = (
            await ctx.session.execute(
                select(ProgressReport, Activity)
                .join(Activity, Activity.id == ProgressReport.activity_id)
                .where(Activity.ksm_id == ksm_id, ProgressReport.report_date >= since)
                .order_by(ProgressReport.report_date.desc(), Activity.code)
            )
        ).all()
        records = (
            select(AttendanceRecord.attendance_day_id, func.count(AttendanceRecord.id).label("n"))
            .group_by(AttendanceRecord.attendance_day_id)
            .subquery()
        )
        attendance = (
            await ctx.session.execute(
                select(AttendanceDay, func.coalesce(records.c.n, 0))
                .outerjoin(records, records.c.attendance_day_id == AttendanceDay.id)
                .where(AttendanceDay.ksm_id == ksm_id, AttendanceDay.work_date >= since)
                .order_by(AttendanceDay.work_date.desc())
            )
        ).all()
        items: list[tuple[object, Choice]] = []
        for report, activity in progress:
            label = ctx.t(
                "ubah.item_progress",
                date=fmt_short_date(report.report_date, ctx.lang),
                activity=activity.name[:28].rstrip(),
                percent=fmt_percent(report.percent, ctx.lang),
            )
            items.append((report.report_date, Choice(label=label, value=f"p:{report.id}")))
        for day, on_roster in attendance:
            workers = on_roster or day.count_male + day.count_female
            label = ctx.t(
                "ubah.item_attendance", date=fmt_short_date(day.work_date, ctx.lang), workers=workers
            )
            items.append((day.work_date, Choice(label=label, value=f"a:{day.id}")))
        if not items:
            ctx.say(ctx.t("ubah.none", ksm=ksm.name, days=days))
            ctx.finish()
            return
        items.sort(key=lambda it: it[0], reverse=True)  # type: ignore[arg-type, return-value]
        choices = [c for _, c in items[:MAX_CHOICES]]
        ctx.goto(NAME, State.CHOOSE, offered=[c.value for c in choices])
        ctx.say(ctx.t("ubah.choose", ksm=ksm.name, days=days), choices)

    async def on_pilih(self, ctx: Context) -> None:
        value = ctx.text
        offered: list[str] = ctx.data.get("offered", [])
        if value not in offered:
            ctx.say(ctx.t("ubah.bad_choice"))
            return
        kind, _, raw_id = value.partition(":")
        if kind == "a":
            await self._attendance(ctx, int(raw_id))
            return
        report = await ctx.session.get(ProgressReport, int(raw_id))
        if report is None:
            ctx.say(ctx.t("ubah.gone"))
            ctx.finish()
            return
        activity = await ctx.session.get(Activity, report.activity_id)
        assert activity is not None
        ctx.goto(NAME, State.VALUE, report_id=report.id)
        ctx.say(
            ctx.t(
                "ubah.ask_value",
                activity=activity.name,
                date=fmt_date(report.report_date, ctx.lang),
                old=_value_text(ctx, report.percent, report.volume, activity.unit),
                unit=activity.unit,
            )
        )

    async def _attendance(self, ctx: Context, day_id: int) -> None:
        day = await ctx.session.get(AttendanceDay, day_id)
        hadir = FLOWS.get("hadir")
        if day is None or hadir is None:
            ctx.say(ctx.t("ubah.gone"))
            ctx.finish()
            return
        ksm_id = day.ksm_id
        ctx.say(ctx.t("ubah.attendance_intro", date=fmt_date(day.work_date, ctx.lang)))
        ctx.finish()
        ctx.goto(hadir.name, "mulai", ksm_id=ksm_id)
        asked = len(ctx.replies)
        await hadir.start(ctx, "")
        # The date is known: drop the date question and answer it as if the user had chosen that day.
        del ctx.replies[asked:]
        picked = ctx.inbound.model_copy(
            update={"kind": InboundKind.CHOICE, "choice": f"d:{day.work_date.isoformat()}", "text": None}
        )
        await hadir.step(dataclasses.replace(ctx, inbound=picked))

    async def _load(self, ctx: Context) -> tuple[ProgressReport, Activity] | None:
        report = await ctx.session.get(ProgressReport, int(ctx.data["report_id"]))
        if report is None:
            return None
        activity = await ctx.session.get(Activity, report.activity_id)
        assert activity is not None
        return report, activity

    async def on_angka(self, ctx: Context) -> None:
        loaded = await self._load(ctx)
        if loaded is None:
            ctx.say(ctx.t("ubah.gone"))
            ctx.finish()
            return
        report, activity = loaded
        if ctx.inbound.kind not in (InboundKind.TEXT, InboundKind.CHOICE):
            ctx.say(ctx.t("ubah.photo_expected_text") + "\n" + ctx.t("ubah.help.angka"))
            return
        amount = parse_amount(ctx.text, activity.unit, activity.target_volume)
        if amount.error is not None or amount.percent is None:
            error = amount.error or AmountError.NOT_A_NUMBER
            ctx.say(
                ctx.t(
                    f"ubah.err.{error.value}",
                    unit=activity.unit,
                    target=fmt_number(activity.target_volume, ctx.lang),
                )
            )
            return
        old = _value_text(ctx, report.percent, report.volume, activity.unit)
        new = _value_text(ctx, amount.percent, amount.volume, activity.unit)
        if abs(amount.percent - report.percent) < 0.005 and amount.volume == report.volume:
            ctx.say(ctx.t("ubah.same", old=old))
            ctx.finish()
            return
        ctx.goto(NAME, State.CONFIRM, percent=amount.percent, volume=amount.volume)
        ctx.say(
            ctx.t(
                "ubah.confirm",
                activity=activity.name,
                date=fmt_date(report.report_date, ctx.lang),
                old=old,
                new=new,
            ),
            [
                Choice(label=ctx.t("ubah.save"), value="simpan"),
                Choice(label=ctx.t("ubah.cancel"), value="/batal"),
            ],
        )

    async def on_konfirmasi(self, ctx: Context) -> None:
        if ctx.text.lower() not in {"simpan", "ya", "save", "yes", ctx.t("ubah.save").lower()}:
            ctx.say(
                ctx.t("ubah.help"),
                [
                    Choice(label=ctx.t("ubah.save"), value="simpan"),
                    Choice(label=ctx.t("ubah.cancel"), value="/batal"),
                ],
            )
            return
        loaded = await self._load(ctx)
        if loaded is None:
            ctx.say(ctx.t("ubah.gone"))
            ctx.finish()
            return
        report, activity = loaded
        assert ctx.person is not None
        old = _value_text(ctx, report.percent, report.volume, activity.unit)
        volume = ctx.data.get("volume")
        saved = await save_progress(
            ctx.session,
            activity_id=activity.id,
            report_date=report.report_date,
            percent=float(ctx.data["percent"]),
            volume=float(volume) if volume is not None else None,
            note=report.note,
            entered_by_id=ctx.person.id,
            channel=ctx.inbound.channel,
            now=ctx.now,
        )
        ctx.say(
            ctx.t(
                "ubah.saved",
                activity=activity.name,
                date=fmt_date(saved.report_date, ctx.lang),
                new=_value_text(ctx, saved.percent, saved.volume, activity.unit),
                old=old,
                revision=saved.revision,
            )
        )
        ctx.finish()
