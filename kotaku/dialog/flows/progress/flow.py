"""The /progres flow: choose the activity, send the cumulative amount, confirm a doubtful one, a photo
(required at milestones), then the summary to save."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from kotaku.dialog.activities import activity_value, answered_activity, refused_other_ksm
from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow
from kotaku.dialog.flows.progress import render
from kotaku.dialog.flows.progress.states import ProgressDraft, State
from kotaku.dialog.inputs import (
    SAVE_WORDS,
    YES_WORDS,
    has_text,
    is_text,
    kind_word,
    offered_index,
    word,
)
from kotaku.dialog.photos import NO_PHOTO_WORDS, attach_photo, receive_photo
from kotaku.i18n import fmt_number
from kotaku.models import Activity, Role
from kotaku.schemas import Choice, InboundKind
from kotaku.services.progress import (
    AmountError,
    activities_of_ksm,
    assess_activity,
    doubt_about,
    last_progress,
    looks_like_amount,
    match_activities,
    milestone_photo,
    parse_amount,
    report_on,
    save_progress,
    split_quick_form,
)

CHANGE_WORDS = frozenset({"ubah", "change", "edit", "ubah angka"})


class ProgressFlow(Flow[ProgressDraft]):
    name = "progres"
    commands = ("progres", "progress")
    roles = frozenset({Role.KETUA_KSM, Role.BKM, Role.FASILITATOR})
    needs_ksm = True
    draft_type = ProgressDraft

    async def start(self, ctx: Context, args: str) -> None:
        draft = self.draft(ctx)
        ksm_id = draft.chosen_ksm_id
        draft.report_date = await ctx.today_for_ksm(ksm_id)
        ctx.goto(self.name, State.ACTIVITY)
        activities = await activities_of_ksm(ctx.session, ksm_id)
        if not activities:
            ksm = await ctx.ksm(ksm_id)
            ctx.say(ctx.t("progres.no_activities", ksm=ksm.name))
            ctx.finish()
            return
        act_text, amount_text = split_quick_form(args)
        activity: Activity | None = None
        if act_text:
            matches = match_activities(activities, act_text)
            if len(matches) == 1:
                activity = matches[0]
            elif not matches:
                if not await self._other_ksm_activity(ctx, act_text):
                    ksm = await ctx.ksm(ksm_id)
                    ctx.say(ctx.t("progres.unknown_activity", text=act_text, ksm=ksm.name))
                amount_text = ""  # the figure was meant for the activity named: do not give it to another
        if activity is None and len(activities) == 1:
            activity = activities[0]
        if activity is None:
            draft.pending_amount = amount_text
            await self._ask_activity(ctx, activities)
            return
        await self._chosen(ctx, activity, amount_text)

    # --- helpers ---------------------------------------------------------------------------------

    async def _activity(self, ctx: Context) -> Activity:
        activity_id = self.draft(ctx).activity_id
        activity = await ctx.session.get(Activity, activity_id) if activity_id is not None else None
        assert activity is not None
        return activity

    def _report_date(self, ctx: Context) -> date:
        report_date = self.draft(ctx).report_date
        assert report_date is not None
        return report_date

    def _wrong_kind(self, ctx: Context, hint: str) -> bool:
        """A photo, file, location or voice note where text is expected: say so. True when it was."""
        if has_text(ctx):
            return False
        ctx.say(ctx.t("progres.bad.kind", kind=kind_word(ctx), hint=hint))
        return True

    async def _other_ksm_activity(self, ctx: Context, text: str) -> bool:
        """An activity code of another KSM in the text: refuse with the reason. True when refused."""
        return await refused_other_ksm(ctx, self.draft(ctx).chosen_ksm_id, text, "progres.other_ksm_activity")

    async def _ask_activity(self, ctx: Context, activities: list[Activity]) -> None:
        ksm = await ctx.ksm(self.draft(ctx).chosen_ksm_id)
        choices = []
        for a in activities:
            last = await last_progress(ctx.session, a.id)
            pct = render.percent_or_none(ctx, last.percent if last else None)
            choices.append(Choice(label=f"{a.name} — {pct}", value=activity_value(a)))
        ctx.goto(self.name, State.ACTIVITY)
        ctx.say(ctx.t("progres.ask_activity", ksm=ksm.name), choices)

    async def _chosen(self, ctx: Context, activity: Activity, amount_text: str) -> None:
        draft = self.draft(ctx)
        prev = await last_progress(ctx.session, activity.id, before=self._report_date(ctx))
        draft.pending_amount = ""
        draft.activity_id = activity.id
        draft.previous = prev.percent if prev else None
        draft.previous_date = prev.report_date if prev else None
        ctx.goto(self.name, State.AMOUNT)
        if amount_text:
            await self._amount(ctx, amount_text)
        else:
            await self._ask_amount(ctx)

    async def _ask_amount(self, ctx: Context) -> None:
        activity = await self._activity(ctx)
        ctx.goto(self.name, State.AMOUNT)
        ctx.say(
            ctx.t(
                "progres.ask_amount",
                activity=activity.name,
                previous=render.previous_text(ctx, self.draft(ctx)),
                unit=activity.unit,
                target=fmt_number(activity.target_volume, ctx.lang),
            )
        )

    async def _amount(self, ctx: Context, text: str) -> None:
        """Read the figure; a doubtful one is asked about, a plausible one goes on to the photo."""
        draft = self.draft(ctx)
        activity = await self._activity(ctx)
        amount = parse_amount(text, activity.unit, activity.target_volume)
        if amount.error is not None:
            target = fmt_number(activity.target_volume, ctx.lang)
            kw = {"text": text, "unit": activity.unit, "target": target}
            if amount.error == AmountError.OVER_TARGET:
                kw["volume"] = fmt_number(amount.volume or 0, ctx.lang)
            if amount.error == AmountError.WRONG_UNIT:
                kw["given"] = amount.unit or ""
            ctx.say(ctx.t(f"progres.bad.{amount.error.value}", **kw))
            ctx.goto(self.name, State.AMOUNT)
            return
        assert amount.percent is not None
        draft.percent, draft.volume = amount.percent, amount.volume
        ctx.goto(self.name, State.AMOUNT)
        doubt = doubt_about(
            ctx.settings,
            percent=amount.percent,
            previous=draft.previous,
            previous_date=draft.previous_date,
            start_date=activity.start_date,
            report_date=self._report_date(ctx),
        )
        if doubt is None:
            await self._after_amount(ctx)
            return
        ctx.goto(self.name, State.CONFIRM)
        ctx.say(render.doubt_text(ctx, doubt, draft, activity), render.confirm_choices(ctx))

    async def _after_amount(self, ctx: Context) -> None:
        draft = self.draft(ctx)
        assert draft.activity_id is not None and draft.percent is not None
        draft.milestone, draft.photo_required = await milestone_photo(
            ctx.session, ctx.settings, draft.activity_id, draft.previous, draft.percent
        )
        ctx.goto(self.name, State.PHOTO)
        if draft.photo is not None:
            await self._summary(ctx)
            return
        if draft.photo_required:
            ctx.say(ctx.t("progres.ask_photo_required", milestone=draft.milestone))
        else:
            ctx.say(ctx.t("progres.ask_photo_optional"), render.skip_choices(ctx))

    async def _summary(self, ctx: Context) -> None:
        activity = await self._activity(ctx)
        report_date = self._report_date(ctx)
        existing = await report_on(ctx.session, activity.id, report_date)
        ctx.goto(self.name, State.SUMMARY)
        ctx.say(
            render.summary_text(ctx, self.draft(ctx), activity, report_date, existing),
            render.summary_choices(ctx),
        )

    async def _save(self, ctx: Context) -> None:
        assert ctx.person is not None
        draft = self.draft(ctx)
        assert draft.percent is not None
        activity = await self._activity(ctx)
        report_date = self._report_date(ctx)
        report = await save_progress(
            ctx.uow,
            activity_id=activity.id,
            report_date=report_date,
            percent=draft.percent,
            volume=draft.volume,
            note=None,
            entered_by_id=ctx.person.id,
            channel=ctx.inbound.channel,
            now=ctx.now,
        )
        if draft.photo is not None:
            await attach_photo(
                ctx,
                draft.photo,
                ksm_id=activity.ksm_id,
                report_date=report_date,
                activity_id=activity.id,
                milestone=draft.milestone,
            )
        assessment = await assess_activity(ctx.session, ctx.settings, activity, report_date)
        ctx.finish()
        ctx.say(render.saved_text(ctx, activity, report, report_date, assessment))

    # --- states ----------------------------------------------------------------------------------

    async def on_activity(self, ctx: Context) -> None:
        draft = self.draft(ctx)
        activities = await activities_of_ksm(ctx.session, draft.chosen_ksm_id)
        if self._wrong_kind(ctx, ctx.t("progres.bad_activity_choice")):
            await self._ask_activity(ctx, activities)
            return
        text = ctx.text
        index = offered_index(text, len(activities))
        chosen = activities[index] if index is not None else answered_activity(text, activities)
        if chosen is None:
            if not await self._other_ksm_activity(ctx, text):
                ctx.say(ctx.t("progres.bad_activity_choice"))
            await self._ask_activity(ctx, activities)
            return
        await self._chosen(ctx, chosen, draft.pending_amount)

    async def on_amount(self, ctx: Context) -> None:
        activity = await self._activity(ctx)
        if self._wrong_kind(ctx, ctx.t("progres.amount_hint", unit=activity.unit)):
            return
        await self._amount(ctx, ctx.text)

    async def on_confirm(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, ctx.t("progres.confirm_hint")):
            return
        answer = word(ctx)
        if answer in YES_WORDS:
            await self._after_amount(ctx)
        elif answer in CHANGE_WORDS or "ubah" in answer:
            await self._ask_amount(ctx)
        elif looks_like_amount(ctx.text):
            await self._amount(ctx, ctx.text)  # a new figure typed straight away
        else:
            ctx.say(ctx.t("progres.confirm_hint"), render.confirm_choices(ctx))

    async def on_photo(self, ctx: Context) -> None:
        draft = self.draft(ctx)
        if ctx.inbound.kind in (
            InboundKind.PHOTO,
            InboundKind.DOCUMENT,
        ):  # a file that is no image is refused
            photo = receive_photo(
                ctx, too_large="progres.photo_too_large", not_image="progres.photo_not_image"
            )
            if photo is not None:
                draft.photo = photo
                await self._summary(ctx)
            return
        if is_text(ctx) and word(ctx) in NO_PHOTO_WORDS and not draft.photo_required:
            await self._summary(ctx)
        elif draft.photo_required:
            ctx.say(ctx.t("progres.photo_required_hint", milestone=draft.milestone))
        else:
            ctx.say(ctx.t("progres.photo_optional_hint"), render.skip_choices(ctx))

    async def on_summary(self, ctx: Context) -> None:
        answer = word(ctx) if is_text(ctx) else ""
        if answer in SAVE_WORDS:
            await self._save(ctx)
        elif answer in CHANGE_WORDS:
            await self._ask_amount(ctx)
        else:
            ctx.say(ctx.t("progres.summary_hint"), render.summary_choices(ctx))

    steps: ClassVar = {
        State.ACTIVITY: on_activity,
        State.AMOUNT: on_amount,
        State.CONFIRM: on_confirm,
        State.PHOTO: on_photo,
        State.SUMMARY: on_summary,
    }
