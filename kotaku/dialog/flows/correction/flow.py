"""`/ubah`: correct a report of the last days. The old value stays in the audit log with who and when.

Progress is re-entered here (one number, a confirmation); an attendance sheet is re-entered through the
`/hadir` flow for that date, which shows the existing sheet and replaces it with an audit entry. Summaries
are computed from the current rows, so everyone who saw the old figure sees the new one next time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import ClassVar

from kotaku.dialog.context import Context
from kotaku.dialog.flow import STATE_START, Flow, Step
from kotaku.dialog.flows.attendance import AttendanceFlow
from kotaku.dialog.flows.correction.states import CorrectionDraft, State
from kotaku.dialog.inputs import SAVE_WORDS, is_text, picked_id, picked_page, typed_value, word
from kotaku.events import ReportKind
from kotaku.i18n import fmt_date, fmt_number, fmt_percent, fmt_short_date
from kotaku.models import Activity, AttendanceDay, ProgressReport, Role
from kotaku.schemas import Choice
from kotaku.services.corrections import Correctable, correctable_reports, same_progress
from kotaku.services.progress import AmountError, parse_amount, save_progress

NAME = "ubah"
PAGE_SIZE = 10  # reports offered as buttons on one page, newest first
SAVE = "simpan"


def _value_text(ctx: Context, percent: float, volume: float | None, unit: str) -> str:
    text = fmt_percent(percent, ctx.lang)
    if volume is not None:
        text += f" ({fmt_number(volume, ctx.lang)} {unit})"
    return text


def _item_choice(ctx: Context, item: Correctable) -> Choice:
    if item.kind == ReportKind.ATTENDANCE:
        label = ctx.t("ubah.item_attendance", date=fmt_short_date(item.on, ctx.lang), workers=item.workers)
        return Choice(label=label, value=f"a:{item.id}")
    label = ctx.t(
        "ubah.item_progress",
        date=fmt_short_date(item.on, ctx.lang),
        activity=item.activity_name[:28].rstrip(),
        percent=fmt_percent(item.percent, ctx.lang),
    )
    return Choice(label=label, value=f"p:{item.id}")


class CorrectionFlow(Flow[CorrectionDraft]):
    name = NAME
    commands = ("ubah", "edit", "correct")
    roles = frozenset({Role.KETUA_KSM, Role.BKM, Role.FASILITATOR})
    needs_ksm = True
    draft_type = CorrectionDraft

    async def start(self, ctx: Context, args: str) -> None:
        await self._list(ctx, 0)

    async def _list(self, ctx: Context, page: int, note: str | None = None) -> None:
        """Every report of the correction window, a page of buttons at a time (newest first); the
        buttons of every page stay valid (`offered`) while the list is open."""
        draft = self.draft(ctx)
        ksm = await ctx.ksm(draft.ksm)
        days = ctx.settings.dialog.correction_days
        since = await ctx.today_for_ksm(ksm.id) - timedelta(days=days)
        items = await correctable_reports(ctx.session, ksm.id, since)
        if not items:
            ctx.say(ctx.t("ubah.none", ksm=ksm.name, days=days))
            ctx.finish()
            return
        pages = -(-len(items) // PAGE_SIZE)
        page = min(max(page, 0), pages - 1)
        choices = [_item_choice(ctx, item) for item in items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]]
        ctx.goto(NAME, State.CHOOSE)
        draft.offered = [_item_choice(ctx, item).value for item in items]
        draft.page = page
        lines = [note] if note else []
        lines.append(ctx.t("ubah.choose", ksm=ksm.name, days=days))
        if pages > 1:
            lines.append(ctx.t("ubah.page", page=page + 1, pages=pages, n=len(items)))
        ctx.say("\n".join(lines), choices + self._paging(ctx, page, pages))

    def _paging(self, ctx: Context, page: int, pages: int) -> list[Choice]:
        choices = []
        if page > 0:
            choices.append(Choice(label=ctx.t("ubah.prev"), value=f"pg:{page - 1}"))
        if page < pages - 1:
            choices.append(Choice(label=ctx.t("ubah.next"), value=f"pg:{page + 1}"))
        return choices

    def _gone(self, ctx: Context) -> None:
        ctx.say(ctx.t("ubah.gone"))
        ctx.finish()

    def _confirm_choices(self, ctx: Context) -> list[Choice]:
        return [
            Choice(label=ctx.t("ubah.save"), value=SAVE),
            Choice(label=ctx.t("ubah.cancel"), value="/batal"),
        ]

    async def on_choose(self, ctx: Context) -> None:
        draft = self.draft(ctx)
        # Typed "berikutnya" / "sebelumnya" count as the paging buttons.
        nav = [
            Choice(label=ctx.t("ubah.next"), value=f"pg:{draft.page + 1}"),
            Choice(label=ctx.t("ubah.prev"), value=f"pg:{max(draft.page - 1, 0)}"),
        ]
        value = typed_value(ctx, nav)
        page = picked_page(value, "pg:")
        if page is not None:
            await self._list(ctx, page)
            return
        if value not in draft.offered:
            forged = value.startswith(("pg:", "a:", "p:"))
            await self._list(ctx, draft.page, ctx.t("input.bad_choice" if forged else "ubah.bad_choice"))
            return
        day_id = picked_id(value, "a:")
        if day_id is not None:
            await self._attendance(ctx, day_id)
            return
        report_id = picked_id(value, "p:")
        report = await ctx.session.get(ProgressReport, report_id) if report_id is not None else None
        if report is None:
            self._gone(ctx)
            return
        activity = await ctx.session.get(Activity, report.activity_id)
        assert activity is not None
        ctx.goto(NAME, State.VALUE)
        self.draft(ctx).report_id = report.id
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
        """Hand over to /hadir on the sheet's date: it shows the sheet and offers to replace it."""
        day = await ctx.session.get(AttendanceDay, day_id)
        hadir = ctx.flows.get(AttendanceFlow.name) if ctx.flows else None
        if day is None or not isinstance(hadir, AttendanceFlow):
            self._gone(ctx)
            return
        ctx.say(ctx.t("ubah.attendance_intro", date=fmt_date(day.work_date, ctx.lang)))
        ctx.finish()
        ctx.goto(hadir.name, STATE_START, ksm_id=day.ksm_id)
        await hadir.start_on(ctx, day.work_date)

    async def _load(self, ctx: Context) -> tuple[ProgressReport, Activity] | None:
        report_id = self.draft(ctx).report_id
        report = await ctx.session.get(ProgressReport, report_id) if report_id is not None else None
        if report is None:
            return None
        activity = await ctx.session.get(Activity, report.activity_id)
        assert activity is not None
        return report, activity

    async def on_value(self, ctx: Context) -> None:
        loaded = await self._load(ctx)
        if loaded is None:
            self._gone(ctx)
            return
        report, activity = loaded
        if not is_text(ctx):
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
        if same_progress(report, amount.percent, amount.volume):
            ctx.say(ctx.t("ubah.same", old=old))
            ctx.finish()
            return
        ctx.goto(NAME, State.CONFIRM)
        draft = self.draft(ctx)
        draft.percent, draft.volume = amount.percent, amount.volume
        ctx.say(
            ctx.t(
                "ubah.confirm",
                activity=activity.name,
                date=fmt_date(report.report_date, ctx.lang),
                old=old,
                new=_value_text(ctx, amount.percent, amount.volume, activity.unit),
            ),
            self._confirm_choices(ctx),
        )

    async def on_confirm(self, ctx: Context) -> None:
        if typed_value(ctx, self._confirm_choices(ctx)) != SAVE and word(ctx) not in SAVE_WORDS:
            ctx.say(ctx.t("ubah.help"), self._confirm_choices(ctx))
            return
        loaded = await self._load(ctx)
        percent = self.draft(ctx).percent
        if loaded is None or percent is None:
            self._gone(ctx)
            return
        report, activity = loaded
        assert ctx.person is not None
        old = _value_text(ctx, report.percent, report.volume, activity.unit)
        saved = await save_progress(
            ctx.uow,
            activity_id=activity.id,
            report_date=report.report_date,
            percent=percent,
            volume=self.draft(ctx).volume,
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

    steps: ClassVar[Mapping[str, Step]] = {
        State.CHOOSE: on_choose,
        State.VALUE: on_value,
        State.CONFIRM: on_confirm,
    }
