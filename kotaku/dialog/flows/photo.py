"""/foto, and any photo, image file or location sent outside a flow: attached to today's report of the KSM.

A caption `#0`, `#50` or `#100` marks the milestone; an activity code or a word of its name picks the
activity. A voice note sent outside a flow is pointed to /kendala.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow, register_flow, reporting_ksm_ids
from kotaku.i18n import fmt_date, fmt_number
from kotaku.models import Activity, Ksm, MediaKind
from kotaku.models.enums import REPORTER_ROLES
from kotaku.schemas import Choice, InboundKind
from kotaku.services.media import (
    MediaTooLarge,
    NotAnImage,
    attach_staged,
    human_size,
    parse_milestone,
    site_distance,
    stage_photo,
    store_media,
)
from kotaku.services.progress import match_activities, other_ksm_activity


class State(StrEnum):
    WAIT = "tunggu_foto"
    CHOOSE_KSM = "pilih_ksm_foto"
    ACTIVITY = "pilih_kegiatan"


MEDIA_KINDS = (InboundKind.PHOTO, InboundKind.DOCUMENT, InboundKind.LOCATION)
GENERAL = {"umum", "general", "tanpa kegiatan", "none"}


@register_flow
class PhotoFlow(Flow):
    name = "foto"
    commands = ("foto", "photo")
    roles = frozenset(REPORTER_ROLES)
    needs_ksm = True

    # --- entry -----------------------------------------------------------------------------------

    async def begin(self, ctx: Context, args: str) -> None:
        """Also the engine's entry for media sent outside any flow, so roles are checked here too."""
        assert ctx.person is not None
        if ctx.person.role not in self.roles:
            from kotaku.dialog.roles import role_label

            ctx.say(ctx.t("foto.not_allowed", role=role_label(ctx.person.role, ctx.lang)))
            return
        if ctx.inbound.kind == InboundKind.VOICE:
            ctx.say(ctx.t("foto.voice"))
            return
        candidates = await reporting_ksm_ids(ctx)
        if not candidates:
            ctx.say(ctx.t("flow.no_ksm"))
            ctx.finish()
            return
        pending = None
        if ctx.inbound.kind in MEDIA_KINDS:
            pending = self._stage(ctx)
            if pending is None:
                return
        if len(candidates) == 1:
            ctx.goto(self.name, "mulai", ksm_id=candidates[0])
            await self._go(ctx, pending, args)
            return
        rows = (
            await ctx.session.execute(select(Ksm).where(Ksm.id.in_(candidates)).order_by(Ksm.name))
        ).scalars()
        ctx.goto(self.name, State.CHOOSE_KSM, pending=pending, caption=args)
        ctx.say(ctx.t("foto.choose_ksm"), [Choice(label=k.name, value=f"ksm:{k.id}") for k in rows])

    async def start(self, ctx: Context, args: str) -> None:
        await self._go(ctx, self._stage(ctx) if ctx.inbound.kind in MEDIA_KINDS else None, args)

    async def _go(self, ctx: Context, pending: dict[str, Any] | None, caption: str) -> None:
        if pending is not None:
            await self._attach(ctx, pending, caption)
            return
        ksm = await ctx.ksm(ctx.data["ksm_id"])
        ctx.goto(self.name, State.WAIT, caption=caption)
        ctx.say(ctx.t("foto.how", ksm=ksm.name))

    def _stage(self, ctx: Context) -> dict[str, Any] | None:
        """What came in, made JSON: a staged image or a point. None (after saying why) when refused."""
        inbound = ctx.inbound
        if inbound.kind == InboundKind.LOCATION:
            if inbound.latitude is None or inbound.longitude is None:
                ctx.say(ctx.t("foto.not_image"))
                return None
            return {"kind": "location", "latitude": inbound.latitude, "longitude": inbound.longitude}
        try:
            staged = stage_photo(ctx.settings, inbound.file_bytes or b"", inbound.mime_type or "image/jpeg")
        except MediaTooLarge as exc:
            ctx.say(
                ctx.t(
                    "foto.too_large",
                    size=human_size(exc.size, ctx.lang),
                    limit=human_size(exc.limit, ctx.lang),
                )
            )
            return None
        except NotAnImage:
            ctx.say(ctx.t("foto.not_image"))
            return None
        staged.update(
            kind="photo",
            caption=inbound.text,
            taken_at=inbound.taken_at.isoformat() if inbound.taken_at else None,
            latitude=inbound.latitude,
            longitude=inbound.longitude,
        )
        return staged

    # --- states ----------------------------------------------------------------------------------

    async def on_tunggu_foto(self, ctx: Context) -> None:
        if ctx.inbound.kind == InboundKind.VOICE:
            ctx.say(ctx.t("foto.voice"))
            return
        if ctx.inbound.kind not in MEDIA_KINDS:
            ctx.say(ctx.t("foto.waiting_hint"))
            return
        pending = self._stage(ctx)
        if pending is not None:
            await self._attach(ctx, pending, ctx.data.get("caption") or "")

    async def on_pilih_ksm_foto(self, ctx: Context) -> None:
        candidates = await reporting_ksm_ids(ctx)
        chosen = None
        value = ctx.text if ctx.inbound.kind in (InboundKind.TEXT, InboundKind.CHOICE) else ""
        if value.startswith("ksm:") and value[4:].isdigit():
            chosen = int(value[4:])
        elif value:
            rows = (await ctx.session.execute(select(Ksm).where(Ksm.id.in_(candidates)))).scalars()
            chosen = next((k.id for k in rows if value.lower() in {k.name.lower(), k.code.lower()}), None)
        if chosen is None or chosen not in candidates:
            ctx.say(ctx.t("flow.bad_ksm") if value else ctx.t("foto.choose_first"))
            return
        pending, caption = ctx.data.get("pending"), ctx.data.get("caption") or ""
        ctx.conv.data = {}
        ctx.goto(self.name, "mulai", ksm_id=chosen)
        await self._go(ctx, pending, caption)

    async def on_pilih_kegiatan(self, ctx: Context) -> None:
        activities = await self._activities(ctx)
        value = ctx.text if ctx.inbound.kind in (InboundKind.TEXT, InboundKind.CHOICE) else ""
        if not value:
            ctx.say(ctx.t("foto.choose_first"), self._activity_choices(ctx, activities))
            return
        if value.lower() in GENERAL or value.lower() == ctx.t("foto.general").lower():
            await self._store(ctx, ctx.data["pending"], None, ctx.data.get("milestone"))
            return
        chosen = None
        if value.startswith("a:") and value[2:].isdigit():
            chosen = next((a for a in activities if a.id == int(value[2:])), None)
        else:
            matches = [a for a in activities if a.name.lower() == value.lower()] or match_activities(
                activities, value
            )
            chosen = matches[0] if len(matches) == 1 else None
        if chosen is None:
            ctx.say(ctx.t("foto.choose_first"), self._activity_choices(ctx, activities))
            return
        await self._store(ctx, ctx.data["pending"], chosen, ctx.data.get("milestone"))

    # --- attaching -------------------------------------------------------------------------------

    async def _activities(self, ctx: Context) -> list[Activity]:
        stmt = select(Activity).where(Activity.ksm_id == ctx.data["ksm_id"]).order_by(Activity.code)
        return list((await ctx.session.execute(stmt)).scalars())

    def _activity_choices(self, ctx: Context, activities: list[Activity]) -> list[Choice]:
        return [Choice(label=a.name, value=f"a:{a.id}") for a in activities] + [
            Choice(label=ctx.t("foto.general"), value="umum")
        ]

    async def _attach(self, ctx: Context, pending: dict[str, Any], caption: str) -> None:
        activities = await self._activities(ctx)
        if pending["kind"] == "location":
            await self._store(ctx, pending, activities[0] if len(activities) == 1 else None, None)
            return
        text = " ".join(filter(None, [pending.get("caption"), caption]))
        milestone, bad = parse_milestone(text, ctx.settings.dialog.photo_milestones)
        if bad is not None:
            allowed = ", ".join(f"#{m}" for m in ctx.settings.dialog.photo_milestones)
            ctx.say(ctx.t("foto.bad_milestone", m=bad, allowed=allowed))
        matches = match_activities(activities, text) if text else []
        if not matches and text and await self._other_ksm(ctx, text):
            ctx.finish()
            return
        if len(matches) == 1:
            activity: Activity | None = matches[0]
        elif len(activities) == 1:
            activity = activities[0]
        elif not activities:
            activity = None
        else:
            ksm = await ctx.ksm(ctx.data["ksm_id"])
            ctx.goto(self.name, State.ACTIVITY, pending=pending, milestone=milestone)
            ctx.say(
                ctx.t("foto.choose_activity", ksm=ksm.name),
                self._activity_choices(ctx, matches or activities),
            )
            return
        await self._store(ctx, pending, activity, milestone)

    async def _other_ksm(self, ctx: Context, text: str) -> bool:
        found = await other_ksm_activity(ctx.session, ctx.data["ksm_id"], text)
        if found is None:
            return False
        other, owner = found
        ksm = await ctx.ksm(ctx.data["ksm_id"])
        ctx.say(ctx.t("foto.other_ksm", code=other.code, owner=owner.name, ksm=ksm.name))
        return True

    async def _store(
        self, ctx: Context, pending: dict[str, Any], activity: Activity | None, milestone: int | None
    ) -> None:
        assert ctx.person is not None
        ksm_id = ctx.data["ksm_id"]
        ksm = await ctx.ksm(ksm_id)
        today: date = await ctx.today_for_ksm(ksm_id)
        day = fmt_date(today, ctx.lang)
        lines: list[str] = []
        if pending["kind"] == "location":
            media = await store_media(
                ctx.session,
                ctx.settings,
                kind=MediaKind.LOCATION,
                ksm_id=ksm_id,
                report_date=today,
                entered_by_id=ctx.person.id,
                channel=ctx.inbound.channel,
                now=ctx.now,
                activity_id=activity.id if activity else None,
                latitude=pending["latitude"],
                longitude=pending["longitude"],
            )
            lines.append(ctx.t("foto.location_saved", date=day, ksm=ksm.name))
        else:
            media, already = await attach_staged(
                ctx.session,
                ctx.settings,
                staged=pending,
                ksm_id=ksm_id,
                report_date=today,
                activity_id=activity.id if activity else None,
                milestone=milestone,
                entered_by_id=ctx.person.id,
                channel=ctx.inbound.channel,
                now=ctx.now,
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
