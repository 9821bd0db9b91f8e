"""The /foto flow: take the photo or location (asking the KSM first when the person reports for several),
find its milestone and activity in the caption or ask, and attach it to the KSM's report of today."""

from __future__ import annotations

from typing import ClassVar

from kotaku.catalogue import role_label
from kotaku.dialog.activities import activity_value, answered_activity, refused_other_ksm
from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow
from kotaku.dialog.flows.photo.states import PhotoDraft, SitePoint, State
from kotaku.dialog.inputs import has_text, is_text, word
from kotaku.dialog.photos import StagedPhoto, attach_photo, receive_photo
from kotaku.i18n import fmt_date, fmt_number
from kotaku.models import Activity, MediaKind
from kotaku.models.enums import REPORTER_ROLES
from kotaku.schemas import Choice, InboundKind
from kotaku.services.media import parse_milestone, site_distance, store_media
from kotaku.services.progress import activities_of_ksm, match_activities

MEDIA_KINDS = (InboundKind.PHOTO, InboundKind.DOCUMENT, InboundKind.LOCATION)
GENERAL_WORDS = frozenset({"umum", "general", "tanpa kegiatan", "none"})

Pending = StagedPhoto | SitePoint


class PhotoFlow(Flow[PhotoDraft]):
    name = "foto"
    commands = ("foto", "photo")
    roles = frozenset(REPORTER_ROLES)
    needs_ksm = True
    draft_type = PhotoDraft
    choose_ksm_key = "foto.choose_ksm"
    choose_ksm_state = State.CHOOSE_KSM

    # --- entry -----------------------------------------------------------------------------------

    async def begin(self, ctx: Context, args: str) -> None:
        """Also the engine's entry for media sent outside any flow, so roles are checked here too."""
        assert ctx.person is not None
        if ctx.person.role not in self.roles:
            ctx.say(ctx.t("foto.not_allowed", role=role_label(ctx.person.role, ctx.lang)))
            return
        if ctx.inbound.kind == InboundKind.VOICE:
            ctx.say(ctx.t("foto.voice"))
            return
        await super().begin(ctx, args)

    async def hold(self, ctx: Context, args: str) -> bool:
        """Keep the photo or location of this message (and the words after /foto) while the KSM is chosen."""
        draft = self.draft(ctx)
        draft.caption = args
        if ctx.inbound.kind in MEDIA_KINDS:
            draft.pending = self._receive(ctx)
            return draft.pending is not None
        return True

    async def start(self, ctx: Context, args: str) -> None:
        """Attach what hold() kept, or wait for it (`args` is in the draft's caption already)."""
        draft = self.draft(ctx)
        if draft.pending is not None:
            await self._attach(ctx, draft.pending, draft.caption)
            return
        ksm = await ctx.ksm(draft.chosen_ksm_id)
        ctx.goto(self.name, State.WAIT)
        ctx.say(ctx.t("foto.how", ksm=ksm.name))

    async def step(self, ctx: Context) -> None:
        if ctx.state == State.CHOOSE_KSM and not has_text(ctx):  # another photo while the KSM is asked
            ctx.say(ctx.t("foto.choose_first"))
            return
        await super().step(ctx)

    def _receive(self, ctx: Context) -> Pending | None:
        """What came in: a staged image or a point. None (after saying why) when refused."""
        inbound = ctx.inbound
        if inbound.kind == InboundKind.LOCATION:
            if inbound.latitude is None or inbound.longitude is None:
                ctx.say(ctx.t("foto.not_image"))
                return None
            return SitePoint(latitude=inbound.latitude, longitude=inbound.longitude)
        return receive_photo(ctx, too_large="foto.too_large", not_image="foto.not_image")

    # --- states ----------------------------------------------------------------------------------

    async def on_wait(self, ctx: Context) -> None:
        if ctx.inbound.kind == InboundKind.VOICE:
            ctx.say(ctx.t("foto.voice"))
            return
        if ctx.inbound.kind not in MEDIA_KINDS:
            ctx.say(ctx.t("foto.waiting_hint"))
            return
        pending = self._receive(ctx)
        if pending is not None:
            await self._attach(ctx, pending, self.draft(ctx).caption)

    async def on_activity(self, ctx: Context) -> None:
        draft = self.draft(ctx)
        assert draft.pending is not None
        activities = await activities_of_ksm(ctx.session, draft.chosen_ksm_id)
        value = ctx.text if is_text(ctx) else ""
        if value and word(ctx) in {*GENERAL_WORDS, ctx.t("foto.general").lower()}:
            await self._store(ctx, draft.pending, None, draft.milestone)
            return
        chosen = answered_activity(value, activities)
        if chosen is None:
            ctx.say(ctx.t("foto.choose_first"), self._activity_choices(ctx, activities))
            return
        await self._store(ctx, draft.pending, chosen, draft.milestone)

    steps: ClassVar = {State.WAIT: on_wait, State.ACTIVITY: on_activity}

    # --- attaching -------------------------------------------------------------------------------

    def _activity_choices(self, ctx: Context, activities: list[Activity]) -> list[Choice]:
        return [Choice(label=a.name, value=activity_value(a)) for a in activities] + [
            Choice(label=ctx.t("foto.general"), value="umum")
        ]

    async def _attach(self, ctx: Context, pending: Pending, caption: str) -> None:
        """Find the milestone and the activity in the captions; ask for the activity when unclear."""
        draft = self.draft(ctx)
        ksm_id = draft.chosen_ksm_id
        activities = await activities_of_ksm(ctx.session, ksm_id)
        if isinstance(pending, SitePoint):
            await self._store(ctx, pending, activities[0] if len(activities) == 1 else None, None)
            return
        milestones = ctx.settings.dialog.photo_milestones
        text = " ".join(filter(None, [pending.caption, caption]))
        milestone, bad = parse_milestone(text, milestones)
        if bad is not None:
            allowed = ", ".join(f"#{m}" for m in milestones)
            ctx.say(ctx.t("foto.bad_milestone", m=bad, allowed=allowed))
        matches = match_activities(activities, text) if text else []
        if not matches and text and await refused_other_ksm(ctx, ksm_id, text, "foto.other_ksm"):
            ctx.finish()
            return
        activity: Activity | None
        if len(matches) == 1:
            activity = matches[0]
        elif len(activities) == 1:
            activity = activities[0]
        elif not activities:
            activity = None
        else:
            ksm = await ctx.ksm(ksm_id)
            draft.pending, draft.milestone = pending, milestone
            ctx.goto(self.name, State.ACTIVITY)
            ctx.say(
                ctx.t("foto.choose_activity", ksm=ksm.name),
                self._activity_choices(ctx, matches or activities),
            )
            return
        await self._store(ctx, pending, activity, milestone)

    async def _store(
        self, ctx: Context, pending: Pending, activity: Activity | None, milestone: int | None
    ) -> None:
        assert ctx.person is not None
        ksm_id = self.draft(ctx).chosen_ksm_id
        ksm = await ctx.ksm(ksm_id)
        today = await ctx.today_for_ksm(ksm_id)
        day = fmt_date(today, ctx.lang)
        lines: list[str] = []
        if isinstance(pending, SitePoint):
            media = await store_media(
                ctx.uow,
                ctx.settings,
                kind=MediaKind.LOCATION,
                ksm_id=ksm_id,
                report_date=today,
                entered_by_id=ctx.person.id,
                channel=ctx.inbound.channel,
                now=ctx.now,
                activity_id=activity.id if activity else None,
                latitude=pending.latitude,
                longitude=pending.longitude,
            )
            lines.append(ctx.t("foto.location_saved", date=day, ksm=ksm.name))
        else:
            media, already = await attach_photo(
                ctx,
                pending,
                ksm_id=ksm_id,
                report_date=today,
                activity_id=activity.id if activity else None,
                milestone=milestone,
            )
            lines.append(ctx.t("foto.already" if already else "foto.saved", date=day, ksm=ksm.name))
            if activity is not None:
                lines.append(ctx.t("foto.activity_line", name=activity.name))
            if media.milestone is not None:
                lines.append(ctx.t("foto.milestone_line", m=media.milestone))
        if media.latitude is not None and media.longitude is not None:
            meters = await site_distance(
                ctx.session,
                ksm_id=ksm_id,
                activity_id=media.activity_id,
                latitude=media.latitude,
                longitude=media.longitude,
            )
            lines.append(
                ctx.t("foto.no_site_point")
                if meters is None
                else ctx.t("foto.distance", meters=fmt_number(round(meters), ctx.lang))
            )
        ctx.finish()
        ctx.say("\n".join(lines))
