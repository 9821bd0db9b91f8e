"""/progres: cumulative physical progress of one activity today, in percent or in the activity's unit,
with a photo at milestones, a summary to confirm, and the status against the planned curve once saved."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow, register_flow
from kotaku.i18n import fmt_date, fmt_number, fmt_percent, fmt_signed
from kotaku.models import Activity, Role
from kotaku.monitoring.plan import Status
from kotaku.schemas import Choice, InboundKind
from kotaku.services.media import MediaTooLarge, NotAnImage, attach_staged, human_size, stage_photo
from kotaku.services.progress import (
    AmountError,
    Doubt,
    assess_activity,
    crossed_milestone,
    doubt_about,
    has_milestone_photo,
    last_progress,
    match_activities,
    other_ksm_activity,
    parse_amount,
    report_on,
    save_progress,
)


class State(StrEnum):
    ACTIVITY = "pilih_kegiatan"
    AMOUNT = "jumlah"
    CONFIRM = "yakin"
    PHOTO = "foto"
    SUMMARY = "ringkasan"


# `drainase 120 m`, `ACT-BJL-01 45`, `45,5%`: an optional activity hint, then the amount.
QUICK_RE = re.compile(r"^(?:(?P<act>.*?)\s+)?(?P<amt>[+-]?[\d.,]*\d[\d.,]*\s*(?:%|[^\W\d_][\w²³']*)?)$")

YES = {"ya", "y", "yes", "yakin", "ok", "oke"}
SAVE = {"simpan", "save", "ya", "yes", "ok", "oke"}
CHANGE = {"ubah", "change", "edit", "ubah angka"}
SKIP = {"lewati", "skip", "tidak", "tidak ada", "no"}

STATUS_KEYS = {
    Status.NOT_STARTED: "progres.status.belum_mulai",
    Status.AHEAD: "progres.status.lebih_cepat",
    Status.ON_PLAN: "progres.status.sesuai_rencana",
    Status.BEHIND: "progres.status.terlambat",
    Status.CRITICAL: "progres.status.kritis",
    Status.DONE: "progres.status.selesai",
}

KIND_WORDS = {
    InboundKind.PHOTO: ("foto", "a photo"),
    InboundKind.DOCUMENT: ("file", "a file"),
    InboundKind.LOCATION: ("lokasi", "a location"),
    InboundKind.VOICE: ("pesan suara", "a voice note"),
}


@register_flow
class ProgressFlow(Flow):
    name = "progres"
    commands = ("progres", "progress")
    roles = frozenset({Role.KETUA_KSM, Role.BKM, Role.FASILITATOR})
    needs_ksm = True

    # --- helpers ---------------------------------------------------------------------------------

    async def _activities(self, ctx: Context) -> list[Activity]:
        stmt = select(Activity).where(Activity.ksm_id == ctx.data["ksm_id"]).order_by(Activity.code)
        return list((await ctx.session.execute(stmt)).scalars())

    async def _activity(self, ctx: Context) -> Activity:
        activity = await ctx.session.get(Activity, ctx.data["activity_id"])
        assert activity is not None
        return activity

    def _report_date(self, ctx: Context) -> date:
        return date.fromisoformat(ctx.data["report_date"])

    def _pct(self, ctx: Context, value: float | None) -> str:
        return ctx.t("progres.not_reported") if value is None else fmt_percent(value, ctx.lang)

    def _previous_text(self, ctx: Context) -> str:
        prev = ctx.data.get("previous")
        if prev is None:
            return ctx.t("progres.not_reported")
        return ctx.t(
            "progres.previous_on",
            pct=fmt_percent(prev, ctx.lang),
            date=fmt_date(date.fromisoformat(ctx.data["previous_date"]), ctx.lang),
        )

    def _wrong_kind(self, ctx: Context, hint: str) -> bool:
        """A photo, file, location or voice note where text is expected: say so. True when it was."""
        if ctx.inbound.kind in (InboundKind.TEXT, InboundKind.CHOICE) and ctx.text:
            return False
        words = KIND_WORDS.get(ctx.inbound.kind, ("pesan kosong", "an empty message"))
        ctx.say(ctx.t("progres.bad.kind", kind=words[0] if ctx.lang == "id" else words[1], hint=hint))
        return True

    async def _other_ksm_activity(self, ctx: Context, text: str) -> bool:
        """An activity code of another KSM in the text: refuse with the reason. True when refused."""
        found = await other_ksm_activity(ctx.session, ctx.data["ksm_id"], text)
        if found is None:
            return False
        other, owner = found
        ksm = await ctx.ksm(ctx.data["ksm_id"])
        ctx.say(ctx.t("progres.other_ksm_activity", code=other.code, owner=owner.name, ksm=ksm.name))
        return True

    async def _ask_activity(self, ctx: Context, activities: list[Activity]) -> None:
        ksm = await ctx.ksm(ctx.data["ksm_id"])
        choices = []
        for a in activities:
            last = await last_progress(ctx.session, a.id)
            pct = self._pct(ctx, last.percent if last else None)
            choices.append(Choice(label=f"{a.name} — {pct}", value=f"a:{a.id}"))
        ctx.goto(self.name, State.ACTIVITY)
        ctx.say(ctx.t("progres.ask_activity", ksm=ksm.name), choices)

    async def _ask_amount(self, ctx: Context) -> None:
        activity = await self._activity(ctx)
        ctx.goto(self.name, State.AMOUNT)
        ctx.say(
            ctx.t(
                "progres.ask_amount",
                activity=activity.name,
                previous=self._previous_text(ctx),
                unit=activity.unit,
                target=fmt_number(activity.target_volume, ctx.lang),
            )
        )

    # --- start -----------------------------------------------------------------------------------

    async def start(self, ctx: Context, args: str) -> None:
        ksm_id = ctx.data["ksm_id"]
        today = await ctx.today_for_ksm(ksm_id)
        ctx.goto(self.name, State.ACTIVITY, report_date=today.isoformat())
        activities = await self._activities(ctx)
        if not activities:
            ksm = await ctx.ksm(ksm_id)
            ctx.say(ctx.t("progres.no_activities", ksm=ksm.name))
            ctx.finish()
            return
        args = args.strip()
        act_text, amount_text = "", ""
        if args:
            m = QUICK_RE.match(args)
            if m:
                act_text, amount_text = (m.group("act") or "").strip(), m.group("amt").strip()
            else:
                act_text = args
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
            ctx.data["pending_amount"] = amount_text
            await self._ask_activity(ctx, activities)
            return
        await self._chosen(ctx, activity, amount_text)

    async def _chosen(self, ctx: Context, activity: Activity, amount_text: str) -> None:
        prev = await last_progress(ctx.session, activity.id, before=self._report_date(ctx))
        ctx.data.pop("pending_amount", None)
        ctx.goto(
            self.name,
            State.AMOUNT,
            activity_id=activity.id,
            previous=prev.percent if prev else None,
            previous_date=prev.report_date.isoformat() if prev else None,
        )
        if amount_text:
            await self._amount(ctx, amount_text)
        else:
            await self._ask_amount(ctx)

    # --- states ----------------------------------------------------------------------------------

    async def on_pilih_kegiatan(self, ctx: Context) -> None:
        activities = await self._activities(ctx)
        if self._wrong_kind(ctx, ctx.t("progres.bad_activity_choice")):
            await self._ask_activity(ctx, activities)
            return
        text = ctx.text
        chosen: Activity | None = None
        if text.startswith("a:") and text[2:].isdigit():
            chosen = next((a for a in activities if a.id == int(text[2:])), None)
        elif text.isdigit() and 1 <= int(text) <= len(activities):
            chosen = activities[int(text) - 1]
        else:
            label_match = [a for a in activities if text.lower() == a.name.lower()]
            matches = label_match or match_activities(activities, text)
            if len(matches) == 1:
                chosen = matches[0]
        if chosen is None:
            if not await self._other_ksm_activity(ctx, text):
                ctx.say(ctx.t("progres.bad_activity_choice"))
            await self._ask_activity(ctx, activities)
            return
        await self._chosen(ctx, chosen, ctx.data.get("pending_amount") or "")

    async def on_jumlah(self, ctx: Context) -> None:
        activity = await self._activity(ctx)
        if self._wrong_kind(ctx, ctx.t("progres.amount_hint", unit=activity.unit)):
            return
        await self._amount(ctx, ctx.text)

    async def _amount(self, ctx: Context, text: str) -> None:
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
        ctx.goto(self.name, State.AMOUNT, percent=amount.percent, volume=amount.volume)
        previous = ctx.data.get("previous")
        previous_date = ctx.data.get("previous_date")
        report_date = self._report_date(ctx)
        doubt = doubt_about(
            ctx.settings,
            percent=amount.percent,
            previous=previous,
            previous_date=date.fromisoformat(previous_date) if previous_date else None,
            start_date=activity.start_date,
            report_date=report_date,
        )
        if doubt is None:
            await self._after_amount(ctx)
            return
        ctx.goto(self.name, State.CONFIRM)
        choices = [
            Choice(label=ctx.t("progres.yes"), value="ya"),
            Choice(label=ctx.t("progres.change_amount"), value="ubah"),
        ]
        new = fmt_percent(amount.percent, ctx.lang)
        if doubt == Doubt.BACKWARDS:
            ctx.say(
                ctx.t("progres.doubt.backwards", new=new, previous=fmt_percent(previous or 0.0, ctx.lang)),
                choices,
            )
            return
        since = date.fromisoformat(previous_date) if previous_date else activity.start_date
        ctx.say(
            ctx.t(
                "progres.doubt.jump",
                jump=fmt_number(amount.percent - (previous or 0.0), ctx.lang),
                previous=fmt_percent(previous or 0.0, ctx.lang),
                new=new,
                since=fmt_date(since, ctx.lang),
                limit=fmt_number(ctx.settings.dialog.max_jump_percent, ctx.lang),
            ),
            choices,
        )

    async def on_yakin(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, ctx.t("progres.confirm_hint")):
            return
        answer = ctx.text.lower()
        if answer in YES:
            await self._after_amount(ctx)
        elif answer in CHANGE or "ubah" in answer:
            await self._ask_amount(ctx)
        elif parse_amount(ctx.text, "", 1).error != AmountError.NOT_A_NUMBER:
            await self._amount(ctx, ctx.text)  # a new figure typed straight away
        else:
            ctx.say(
                ctx.t("progres.confirm_hint"),
                [
                    Choice(label=ctx.t("progres.yes"), value="ya"),
                    Choice(label=ctx.t("progres.change_amount"), value="ubah"),
                ],
            )

    async def _after_amount(self, ctx: Context) -> None:
        milestone = crossed_milestone(
            ctx.settings.dialog.photo_milestones, ctx.data.get("previous"), ctx.data["percent"]
        )
        required = milestone is not None and not await has_milestone_photo(
            ctx.session, ctx.data["activity_id"], milestone
        )
        ctx.goto(self.name, State.PHOTO, milestone=milestone, photo_required=required)
        if ctx.data.get("photo"):
            await self._summary(ctx)
            return
        self._ask_photo(ctx)

    def _ask_photo(self, ctx: Context) -> None:
        if ctx.data.get("photo_required"):
            ctx.say(ctx.t("progres.ask_photo_required", milestone=ctx.data["milestone"]))
        else:
            ctx.say(
                ctx.t("progres.ask_photo_optional"), [Choice(label=ctx.t("progres.skip"), value="lewati")]
            )

    def _photo_hint(self, ctx: Context) -> None:
        if ctx.data.get("photo_required"):
            ctx.say(ctx.t("progres.photo_required_hint", milestone=ctx.data["milestone"]))
        else:
            ctx.say(
                ctx.t("progres.photo_optional_hint"), [Choice(label=ctx.t("progres.skip"), value="lewati")]
            )

    async def on_foto(self, ctx: Context) -> None:
        inbound = ctx.inbound
        if inbound.kind in (InboundKind.PHOTO, InboundKind.DOCUMENT):  # a file that is no image is refused
            content = inbound.file_bytes or b""
            try:
                staged = stage_photo(ctx.settings, content, inbound.mime_type or "image/jpeg")
            except MediaTooLarge as exc:
                ctx.say(
                    ctx.t(
                        "progres.photo_too_large",
                        size=human_size(exc.size, ctx.lang),
                        limit=human_size(exc.limit, ctx.lang),
                    )
                )
                return
            except NotAnImage:
                ctx.say(ctx.t("progres.photo_not_image"))
                return
            staged["caption"] = inbound.text
            staged["taken_at"] = inbound.taken_at.isoformat() if inbound.taken_at else None
            staged["latitude"], staged["longitude"] = inbound.latitude, inbound.longitude
            ctx.goto(self.name, State.PHOTO, photo=staged)
            await self._summary(ctx)
            return
        if (
            inbound.kind in (InboundKind.TEXT, InboundKind.CHOICE)
            and ctx.text.lower() in SKIP
            and not ctx.data.get("photo_required")
        ):
            await self._summary(ctx)
            return
        self._photo_hint(ctx)

    async def _summary(self, ctx: Context) -> None:
        activity = await self._activity(ctx)
        report_date = self._report_date(ctx)
        pct = fmt_percent(ctx.data["percent"], ctx.lang)
        volume = ctx.data.get("volume")
        new = (
            ctx.t(
                "progres.volume_of",
                pct=pct,
                volume=fmt_number(volume, ctx.lang),
                target=fmt_number(activity.target_volume, ctx.lang),
                unit=activity.unit,
            )
            if volume is not None
            else pct
        )
        photo = ctx.data.get("photo")
        milestone = ctx.data.get("milestone")
        if not photo:
            photo_text = ctx.t("progres.photo_no")
        elif milestone is not None:
            photo_text = ctx.t("progres.photo_yes_milestone", milestone=milestone)
        else:
            photo_text = ctx.t("progres.photo_yes")
        lines = [
            ctx.t("progres.summary_title"),
            ctx.t(
                "progres.summary_body",
                activity=f"{activity.name} ({activity.code})",
                date=fmt_date(report_date, ctx.lang),
                new=new,
                previous=self._previous_text(ctx),
                photo=photo_text,
            ),
        ]
        existing = await report_on(ctx.session, activity.id, report_date)
        if existing is not None:
            lines.append(
                ctx.t(
                    "progres.replaces",
                    pct=fmt_percent(existing.percent, ctx.lang),
                    revision=existing.revision,
                )
            )
        ctx.goto(self.name, State.SUMMARY)
        ctx.say("\n".join(lines), self._summary_choices(ctx))

    def _summary_choices(self, ctx: Context) -> list[Choice]:
        return [
            Choice(label=ctx.t("progres.save"), value="simpan"),
            Choice(label=ctx.t("progres.change"), value="ubah"),
            Choice(label=ctx.t("progres.cancel"), value="/batal"),
        ]

    async def on_ringkasan(self, ctx: Context) -> None:
        answer = ctx.text.lower() if ctx.inbound.kind in (InboundKind.TEXT, InboundKind.CHOICE) else ""
        if answer in SAVE:
            await self._save(ctx)
        elif answer in CHANGE:
            await self._ask_amount(ctx)
        else:
            ctx.say(ctx.t("progres.summary_hint"), self._summary_choices(ctx))

    async def _save(self, ctx: Context) -> None:
        assert ctx.person is not None
        activity = await self._activity(ctx)
        report_date = self._report_date(ctx)
        report = await save_progress(
            ctx.session,
            activity_id=activity.id,
            report_date=report_date,
            percent=ctx.data["percent"],
            volume=ctx.data.get("volume"),
            note=None,
            entered_by_id=ctx.person.id,
            channel=ctx.inbound.channel,
            now=ctx.now,
        )
        photo = ctx.data.get("photo")
        if photo:
            await self._store_photo(ctx, activity, report_date, photo)
        assessment = await assess_activity(ctx.session, ctx.settings, activity, report_date)
        ctx.finish()
        deviation = assessment.deviation if assessment.deviation is not None else 0.0
        ctx.say(
            ctx.t(
                "progres.saved",
                activity=activity.name,
                pct=fmt_percent(report.percent, ctx.lang),
                date=fmt_date(report_date, ctx.lang),
                revision=ctx.t("progres.saved_revision", n=report.revision) if report.revision > 1 else "",
                planned=fmt_percent(assessment.planned, ctx.lang),
                deviation=fmt_signed(deviation, ctx.lang),
                status=ctx.t(STATUS_KEYS[assessment.status]),
            )
        )

    async def _store_photo(
        self, ctx: Context, activity: Activity, report_date: date, photo: dict[str, Any]
    ) -> None:
        assert ctx.person is not None
        await attach_staged(
            ctx.session,
            ctx.settings,
            staged=photo,
            ksm_id=activity.ksm_id,
            report_date=report_date,
            activity_id=activity.id,
            milestone=ctx.data.get("milestone"),
            entered_by_id=ctx.person.id,
            channel=ctx.inbound.channel,
            now=ctx.now,
        )
