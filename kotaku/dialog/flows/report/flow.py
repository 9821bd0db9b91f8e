"""/laporan (/report): the whole daily report in one message and one confirming tap.

    hadir semua kecuali Agus progres rabat 45 drainase 30 kendala semen telat upah dibayar

Also without the slash (`hadir 15 progres 45` typed as it is), as a photo's caption, and as `/hadir …`,
`/progres …` or `/kendala …` when the words hold more than that one part. The parts are read by
`kotaku.dialog.quick_report`, resolved against the KSM's roster and activities (`read.py`), and shown
as one summary with ✅ Simpan and an ✏️ per part; what could not be read is named there and not saved.

Decisions:
- Everything is saved in one transaction by the services /hadir, /progres, /kendala and /foto use, so
  the figures, checks, audit and alerts are theirs.
- A part that cannot be saved as read (an unknown name, an activity not found, a figure over 100%) keeps
  Simpan away until it is fixed or removed; a part worth a second look (a crew far above the usual one,
  progress going backwards, a photo taken days before) is shown with ⚠️ and Simpan stays.
- A count without the L/P split is not stored as all men: the two Simpan buttons say which it is
  (all L or all P), and ✏️ Hadir takes the split (`15 orang L10 P5`).
- A photo (with the message, or sent while the summary is shown) goes with the progress its caption
  names, else the first progress of the report; its EXIF date and position are checked.
"""

from __future__ import annotations

from typing import ClassVar

import structlog

from kotaku.clock import local_today
from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow, Step
from kotaku.dialog.flows.report import read, render
from kotaku.dialog.flows.report.states import Problem, ReportDraft, State
from kotaku.dialog.inputs import CANCEL_WORDS, SAVE_WORDS, has_text, word
from kotaku.dialog.photos import StagedPhoto, attach_photo, receive_photo
from kotaku.dialog.quick import normalize_name
from kotaku.dialog.quick_report import KEYWORDS, Part, has_report, split_report
from kotaku.i18n import fmt_date, fmt_number, fmt_percent, fmt_rupiah
from kotaku.models import Activity, Role
from kotaku.schemas import Choice, InboundKind
from kotaku.services.attendance import AttendanceError, get_attendance, save_attendance
from kotaku.services.media import load_content, read_exif, site_distance
from kotaku.services.obstacles import create_obstacle
from kotaku.services.progress import activities_of_ksm, assess_activity, match_activities, save_progress

log = structlog.get_logger(__name__)

NAME = "laporan"
REMOVE_WORDS = frozenset({"hapus", "buang", "hapus bagian ini", "remove", "delete", "tidak ada"})
MEDIA_KINDS = (InboundKind.PHOTO, InboundKind.DOCUMENT)


class ReportFlow(Flow[ReportDraft]):
    name = NAME
    commands = ("laporan", "report", "lapor")
    roles = frozenset({Role.KETUA_KSM, Role.BKM, Role.FASILITATOR})
    needs_ksm = True
    draft_type = ReportDraft

    # --- entry -----------------------------------------------------------------------------------

    async def hold(self, ctx: Context, args: str) -> bool:
        """A photo sent with the report is staged now (its caption is the report's text)."""
        if ctx.inbound.kind in MEDIA_KINDS:
            photo = self._receive(ctx)
            if photo is None:
                return False
            self.draft(ctx).photos.append(photo)
            self.draft(ctx).photo_activity.append(None)
        return True

    async def start(self, ctx: Context, args: str) -> None:
        draft = self.draft(ctx)
        draft.date = await ctx.today_for_ksm(draft.ksm)
        ctx.goto(self.name, State.WAIT)
        for photo in draft.photos:
            await self._check_photo(ctx, draft, photo)
        if not args.strip() and not draft.photos:
            ctx.say(await self._example(ctx), [Choice(label=ctx.t("laporan.cancel"), value="/batal")])
            return
        await self._read(ctx, args)

    async def _example(self, ctx: Context) -> str:
        """How to write the report, with this KSM's own activity words."""
        activities = await activities_of_ksm(ctx.session, self.draft(ctx).ksm)
        words = [a.name.split()[0].lower() for a in activities[:2]] or ["rabat"]
        progress = " ".join(f"{w} {45 - 15 * i}" for i, w in enumerate(words))
        return ctx.t("laporan.ask", example=f"hadir semua progres {progress} kendala semen telat")

    # --- reading ---------------------------------------------------------------------------------

    async def _read(self, ctx: Context, text: str) -> None:
        draft = self.draft(ctx)
        found = split_report(text)
        await read.read_into(ctx, draft, found)
        await self._check_wages_sheet(ctx, draft)
        await self._place_photos(ctx, draft, text)
        await self._summary(ctx)

    async def _check_wages_sheet(self, ctx: Context, draft: ReportDraft) -> None:
        """`upah dibayar` without attendance marks today's sheet: there must be one."""
        draft.problems = [p for p in draft.problems if p.key != "wages_no_sheet"]
        if draft.wages is None or draft.wages.paid is None or draft.attendance is not None:
            return
        if any(p.part == Part.HADIR.value for p in draft.problems):
            return
        if await get_attendance(ctx.session, draft.ksm, draft.day) is None:
            draft.problems.append(Problem(part=Part.UPAH.value, key="wages_no_sheet"))

    async def _place_photos(self, ctx: Context, draft: ReportDraft, caption: str) -> None:
        """Give each photo without an activity the one its caption names, else the report's first."""
        if not draft.photos:
            return
        activities = await activities_of_ksm(ctx.session, draft.ksm)
        reported = [a for a in activities if any(p.activity_id == a.id for p in draft.progress)]
        named = match_activities(reported, caption) if caption else []
        target = named[0].id if len(named) == 1 else (reported[0].id if reported else None)
        draft.photo_activity = [a if a is not None else target for a in draft.photo_activity]

    async def _summary(self, ctx: Context) -> None:
        draft = self.draft(ctx)
        ctx.goto(self.name, State.CONFIRM)
        ctx.say(await render.summary_text(ctx, draft), render.summary_choices(ctx, draft), columns=2)

    def _receive(self, ctx: Context) -> StagedPhoto | None:
        return receive_photo(ctx, too_large="laporan.photo_too_large", not_image="laporan.photo_not_image")

    async def _add_photo(self, ctx: Context) -> None:
        """A photo sent while the summary is shown: checked, staged, and its caption read as parts."""
        draft = self.draft(ctx)
        photo = self._receive(ctx)
        if photo is None:
            return
        draft.photos.append(photo)
        draft.photo_activity.append(None)
        await self._check_photo(ctx, draft, photo)
        caption = (ctx.inbound.text or "").strip()
        if caption and has_report(caption):
            await self._read(ctx, caption)
            return
        await self._place_photos(ctx, draft, caption)
        await self._summary(ctx)

    async def _check_photo(self, ctx: Context, draft: ReportDraft, photo: StagedPhoto) -> None:
        """Warn (and keep the flag on the photo) when it was taken days before the report or far away."""
        tz = await ctx.timezone_of_ksm(draft.ksm)
        taken, lat, lon = photo.taken_at, photo.latitude, photo.longitude
        if taken is None or lat is None:
            exif = read_exif(load_content(ctx.settings, photo.path), tz)
            taken, lat, lon = (
                taken or exif.taken_at,
                lat if lat is not None else exif.latitude,
                (lon if lon is not None else exif.longitude),
            )
            photo.taken_at, photo.latitude, photo.longitude = taken, lat, lon
        if taken is not None:
            taken_day = local_today(tz, taken)
            age = (draft.day - taken_day).days
            if age > ctx.settings.dialog.photo_max_age_days:
                draft.problems.append(
                    Problem(
                        part="foto",
                        key="photo_old",
                        blocking=False,
                        args={"date": fmt_date(taken_day, ctx.lang), "days": str(age)},
                    )
                )
        if lat is not None and lon is not None:
            meters = await site_distance(
                ctx.session, ksm_id=draft.ksm, activity_id=None, latitude=lat, longitude=lon
            )
            if meters is not None and meters > ctx.settings.monitoring.photo_radius_m:
                draft.problems.append(
                    Problem(
                        part="foto",
                        key="photo_far",
                        blocking=False,
                        args={"meters": fmt_number(round(meters), ctx.lang)},
                    )
                )

    # --- states ----------------------------------------------------------------------------------

    async def step(self, ctx: Context) -> None:
        if not ctx.is_choice and has_text(ctx) and normalize_name(ctx.text) in CANCEL_WORDS:
            ctx.finish()
            ctx.say(ctx.t("engine.cancelled"))
            return
        await super().step(ctx)

    async def on_wait(self, ctx: Context) -> None:
        if ctx.inbound.kind in MEDIA_KINDS:
            await self._add_photo(ctx)
            return
        if not has_text(ctx) or not has_report(ctx.text):
            ctx.say(await self._example(ctx), [Choice(label=ctx.t("laporan.cancel"), value="/batal")])
            return
        await self._read(ctx, ctx.text)

    async def on_confirm(self, ctx: Context) -> None:
        draft = self.draft(ctx)
        if ctx.inbound.kind in MEDIA_KINDS:
            await self._add_photo(ctx)
            return
        value = ctx.text.strip()
        if value in {"simpan", "simpan:l", "simpan:p"} or (not ctx.is_choice and word(ctx) in SAVE_WORDS):
            await self._save(ctx, value)
            return
        if value == "ubah" or (not ctx.is_choice and word(ctx) in {"ubah", "edit"}):
            ctx.say(ctx.t("laporan.which_part"), render.part_choices(ctx, draft), columns=2)
            return
        if value == "kembali":
            await self._summary(ctx)
            return
        if value.startswith("ubah:") and value[5:] in {p.value for p in Part}:
            draft.editing = value[5:]
            ctx.goto(self.name, State.EDIT)
            ctx.say(
                ctx.t(f"laporan.ask_edit.{draft.editing}"),
                [Choice(label=ctx.t("laporan.back"), value="kembali")],
            )
            return
        if has_text(ctx) and has_report(value):
            await self._read(ctx, value)
            return
        ctx.say(ctx.t("laporan.not_understood"), render.summary_choices(ctx, draft), columns=2)

    async def on_edit(self, ctx: Context) -> None:
        draft = self.draft(ctx)
        part = Part(draft.editing or Part.HADIR.value)
        if ctx.inbound.kind in MEDIA_KINDS:
            await self._add_photo(ctx)
            return
        if not has_text(ctx):
            ctx.say(ctx.t(f"laporan.ask_edit.{part.value}"))
            return
        text = ctx.text.strip()
        draft.editing = None
        if word(ctx) in {"kembali", "back"}:
            await self._summary(ctx)
            return
        if normalize_name(text) in REMOVE_WORDS:
            self._remove(draft, part)
            await self._summary(ctx)
            return
        first = text.split()[0].lstrip("/").lower()
        if KEYWORDS.get(first) != part:
            text = f"{part.value} {text}"
        draft.unread = []
        await self._read(ctx, text)

    @staticmethod
    def _remove(draft: ReportDraft, part: Part) -> None:
        draft.problems = [p for p in draft.problems if p.part != part.value]
        if part == Part.HADIR:
            draft.attendance = None
        elif part == Part.PROGRES:
            draft.progress = []
        elif part == Part.KENDALA:
            draft.obstacle = None
        else:
            draft.wages = None

    steps: ClassVar[dict[str, Step]] = {
        State.WAIT: on_wait,
        State.CONFIRM: on_confirm,
        State.EDIT: on_edit,
    }

    # --- saving ----------------------------------------------------------------------------------

    async def _save(self, ctx: Context, value: str) -> None:
        assert ctx.person is not None
        draft = self.draft(ctx)
        if draft.empty or draft.blocked or render.missing_photo(draft):
            key = "laporan.photo_first" if render.missing_photo(draft) else "laporan.fix_first"
            ctx.say(ctx.t(key), render.summary_choices(ctx, draft), columns=2)
            return
        part = draft.attendance
        male_default = {"simpan:l": True, "simpan:p": False}.get(value)
        if part is not None and not part.split and male_default is None:
            ctx.say(ctx.t("laporan.split_first"), render.summary_choices(ctx, draft), columns=2)
            return
        lines = [ctx.t("laporan.saved_title")]
        channel, now, who = ctx.inbound.channel, ctx.now, ctx.person.id
        if part is not None:
            sheet = render.sheet_of(draft, male_default=male_default)
            assert sheet is not None
            try:
                result = await save_attendance(
                    ctx.uow, ksm_id=draft.ksm, sheet=sheet, entered_by_id=who, channel=channel, now=now
                )
            except AttendanceError as exc:
                log.info("report_attendance_refused", code=exc.code, ksm_id=draft.ksm)
                ctx.say(ctx.t("laporan.att_refused"), render.summary_choices(ctx, draft))
                return
            s = result.summary
            lines.append(
                ctx.t(
                    "laporan.saved_att",
                    n=fmt_number(s.workers, ctx.lang),
                    hok=fmt_number(s.hok, ctx.lang),
                    wages=fmt_rupiah(s.total_wages, ctx.lang),
                    paid=ctx.t("laporan.paid" if s.wages_paid else "laporan.unpaid"),
                )
            )
        elif draft.wages is not None and draft.wages.paid is not None:
            day = await get_attendance(ctx.session, draft.ksm, draft.day)
            assert day is not None
            day.wages_paid = draft.wages.paid
            lines.append(
                ctx.t("laporan.saved_wages_paid" if draft.wages.paid else "laporan.saved_wages_unpaid")
            )
        milestones: dict[int, int | None] = {}
        for item in draft.progress:
            await save_progress(
                ctx.uow,
                activity_id=item.activity_id,
                report_date=draft.day,
                percent=item.percent,
                volume=item.volume,
                note=None,
                entered_by_id=who,
                channel=channel,
                now=now,
            )
            milestones[item.activity_id] = item.milestone
            activity = await ctx.session.get(Activity, item.activity_id)
            assert activity is not None
            assessment = await assess_activity(ctx.session, ctx.settings, activity, draft.day)
            lines.append(
                ctx.t(
                    "laporan.saved_prog",
                    activity=activity.name,
                    pct=fmt_percent(item.percent, ctx.lang),
                    planned=fmt_percent(assessment.planned, ctx.lang),
                    status=ctx.t(f"progres.status.{assessment.status.value}"),
                )
            )
        photo_ids: list[int] = []
        for photo, activity_id in zip(draft.photos, draft.photo_activity, strict=True):
            media, _ = await attach_photo(
                ctx,
                photo,
                ksm_id=draft.ksm,
                report_date=draft.day,
                activity_id=activity_id,
                milestone=milestones.get(activity_id) if activity_id is not None else None,
            )
            photo_ids.append(media.id)
        if photo_ids:
            lines.append(ctx.t("laporan.saved_photos", n=len(photo_ids)))
        if draft.obstacle is not None:
            ob = draft.obstacle
            reported = await create_obstacle(
                ctx.uow,
                ksm_id=draft.ksm,
                category=ob.category,
                severity=ob.severity,
                description=ob.description,
                reported_by=ctx.person,
                report_date=draft.day,
                now=now,
                activity_id=ob.activity_id,
                photo_media_id=photo_ids[0] if photo_ids and not draft.progress else None,
            )
            lines.append(
                ctx.t("laporan.saved_obs", id=reported.obstacle.short_id, notified=reported.notified)
            )
        ctx.finish()
        ctx.say("\n".join(lines))
