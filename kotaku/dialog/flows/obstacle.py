"""/kendala (/obstacle): report an obstacle at the site: category, severity, description (text or voice),
optional photo, then a summary to save. Saved obstacles get a short id (K-7F3Q) and facilitators are told.

Quick form: `/kendala material semen belum datang` takes the category from the first word and the rest as
the description, asks the severity with one tap and goes straight to the summary (a photo sent there is
attached). An unknown first word keeps the whole text as the description and asks the category.
"""

from __future__ import annotations

import re
from enum import StrEnum

from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow, register_flow
from kotaku.i18n import fmt_date
from kotaku.models import Activity, MediaKind, ObstacleCategory, Role, Severity
from kotaku.schemas import Choice, InboundKind
from kotaku.services.media import MediaTooLarge, NotAnImage, store_media
from kotaku.services.obstacles import (
    CATEGORY_ORDER,
    SEVERITY_ORDER,
    VOICE_DESCRIPTION,
    category_label,
    create_obstacle,
    find_activity_in_text,
    parse_category,
    parse_severity,
    severity_label,
    split_quick_form,
)


class State(StrEnum):
    CATEGORY = "kategori"
    SEVERITY = "tingkat"
    DESCRIPTION = "uraian"
    PHOTO = "foto"
    CONFIRM = "konfirmasi"


SKIP_WORDS = {"lewati", "skip", "tidak", "tidak ada", "no", "-", "gak", "nggak", "tanpa foto"}
SAVE_WORDS = {"simpan", "ya", "ok", "oke", "save", "yes", "y", "kirim"}
MIN_DESCRIPTION_CHARS = 3


KIND_WORDS = {
    InboundKind.PHOTO: ("foto", "photo"),
    InboundKind.VOICE: ("pesan suara", "voice note"),
    InboundKind.LOCATION: ("lokasi", "location"),
    InboundKind.DOCUMENT: ("dokumen", "document"),
}


def _kind_word(ctx: Context) -> str:
    words = KIND_WORDS.get(ctx.inbound.kind, ("pesan kosong", "empty message"))
    return words[0] if ctx.lang == "id" else words[1]


def _is_text(ctx: Context) -> bool:
    return ctx.inbound.kind in (InboundKind.TEXT, InboundKind.CHOICE)


def _offered_index(text: str, n: int) -> int | None:
    """A typed number 1..n (the console shows choices numbered); None otherwise."""
    t = text.strip().rstrip(".")
    if t.isdigit() and 1 <= int(t) <= n:
        return int(t) - 1
    return None


def _meaningful(text: str) -> bool:
    return len(re.findall(r"\w", text)) >= MIN_DESCRIPTION_CHARS


@register_flow
class ObstacleFlow(Flow):
    name = "kendala"
    commands = ("kendala", "obstacle")
    roles = frozenset({Role.WORKER, Role.KETUA_KSM, Role.BKM, Role.FASILITATOR})
    needs_ksm = True

    async def start(self, ctx: Context, args: str) -> None:
        category, description = split_quick_form(args) if args.strip() else (None, "")
        data: dict[str, object] = {"quick": bool(description)}
        if category is not None:
            data["category"] = category.value
        if description:
            data["description"] = description
        ctx.goto(self.name, State.CATEGORY, **data)
        if description:
            await self._link_activity(ctx, description)
        if category is None and description:
            ctx.say(ctx.t("kendala.ask_category_kept", description=description), self._category_choices(ctx))
            return
        await self._next(ctx)

    # --- asking ------------------------------------------------------------------------------------

    def _category_choices(self, ctx: Context) -> list[Choice]:
        return [Choice(label=category_label(c, ctx.lang), value=f"c:{c.value}") for c in CATEGORY_ORDER]

    def _severity_choices(self, ctx: Context) -> list[Choice]:
        return [Choice(label=severity_label(s, ctx.lang), value=f"s:{s.value}") for s in SEVERITY_ORDER]

    def _ask_category(self, ctx: Context) -> None:
        ctx.goto(self.name, State.CATEGORY)
        ctx.say(ctx.t("kendala.ask_category"), self._category_choices(ctx), columns=2)

    def _ask_severity(self, ctx: Context) -> None:
        ctx.goto(self.name, State.SEVERITY)
        label = category_label(ctx.data["category"], ctx.lang)
        ctx.say(ctx.t("kendala.ask_severity", category=label), self._severity_choices(ctx))

    def _ask_description(self, ctx: Context) -> None:
        ctx.goto(self.name, State.DESCRIPTION)
        ctx.say(ctx.t("kendala.ask_description"))

    def _ask_photo(self, ctx: Context) -> None:
        ctx.goto(self.name, State.PHOTO, photo_asked=True)
        ctx.say(ctx.t("kendala.ask_photo"), [Choice(label=ctx.t("kendala.skip"), value="lewati")])

    async def _review(self, ctx: Context) -> None:
        ctx.goto(self.name, State.CONFIRM)
        d = ctx.data
        ksm = await ctx.ksm(d["ksm_id"])
        activity = ""
        if d.get("activity_id"):
            a = await ctx.session.get(Activity, d["activity_id"])
            if a is not None:
                activity = ctx.t("kendala.review_activity", activity=f"{a.code} {a.name}")
        ctx.say(
            ctx.t(
                "kendala.review",
                ksm=ksm.name,
                date=fmt_date(await ctx.today_for_ksm(ksm.id), ctx.lang),
                category=category_label(d["category"], ctx.lang),
                severity=severity_label(d["severity"], ctx.lang),
                description=d["description"],
                activity=activity,
                photo=ctx.t("kendala.photo_yes" if d.get("photo_media_id") else "kendala.photo_no"),
            ),
            [
                Choice(label=ctx.t("kendala.save"), value="simpan"),
                Choice(label=ctx.t("kendala.cancel"), value="/batal"),
            ],
            columns=2,
        )

    async def _next(self, ctx: Context) -> None:
        """Ask for the first missing piece, or show the summary."""
        d = ctx.data
        if not d.get("category"):
            self._ask_category(ctx)
        elif not d.get("severity"):
            self._ask_severity(ctx)
        elif not d.get("description"):
            self._ask_description(ctx)
        elif not d.get("quick") and not d.get("photo_asked"):
            self._ask_photo(ctx)
        else:
            await self._review(ctx)

    async def _link_activity(self, ctx: Context, text: str) -> None:
        activity = await find_activity_in_text(ctx.session, ctx.data["ksm_id"], text)
        if activity is not None:
            ctx.data["activity_id"] = activity.id
            ctx.touch()

    # --- steps -------------------------------------------------------------------------------------

    async def on_kategori(self, ctx: Context) -> None:
        text = ctx.text
        category = None
        if _is_text(ctx) and text:
            if text.startswith("c:") and text[2:] in {c.value for c in ObstacleCategory}:
                category = ObstacleCategory(text[2:])
            elif (i := _offered_index(text, len(CATEGORY_ORDER))) is not None:
                category = CATEGORY_ORDER[i]
            else:
                category = parse_category(text)
        if category is None:
            shown = text if _is_text(ctx) and text else _kind_word(ctx)
            ctx.say(ctx.t("kendala.bad_category", text=shown[:40]), self._category_choices(ctx), columns=2)
            return
        ctx.data["category"] = category.value
        ctx.touch()
        await self._next(ctx)

    async def on_tingkat(self, ctx: Context) -> None:
        text = ctx.text
        severity = None
        if _is_text(ctx) and text:
            if text.startswith("s:") and text[2:] in {s.value for s in Severity}:
                severity = Severity(text[2:])
            elif (i := _offered_index(text, len(SEVERITY_ORDER))) is not None:
                severity = SEVERITY_ORDER[i]
            else:
                severity = parse_severity(text)
        if severity is None:
            shown = text if _is_text(ctx) and text else _kind_word(ctx)
            ctx.say(ctx.t("kendala.bad_severity", text=shown[:40]), self._severity_choices(ctx))
            return
        ctx.data["severity"] = severity.value
        ctx.touch()
        await self._next(ctx)

    async def on_uraian(self, ctx: Context) -> None:
        kind = ctx.inbound.kind
        if kind == InboundKind.VOICE and ctx.inbound.file_bytes:
            try:
                media = await store_media(
                    ctx.session,
                    ctx.settings,
                    kind=MediaKind.VOICE,
                    ksm_id=ctx.data["ksm_id"],
                    report_date=await ctx.today_for_ksm(ctx.data["ksm_id"]),
                    entered_by_id=ctx.person.id if ctx.person else None,
                    channel=ctx.inbound.channel,
                    now=ctx.now,
                    content=ctx.inbound.file_bytes,
                    mime_type=ctx.inbound.mime_type,
                )
            except MediaTooLarge as exc:
                ctx.say(ctx.t("kendala.voice_too_large", limit=exc.limit // (1024 * 1024)))
                return
            ctx.data.update(description=VOICE_DESCRIPTION, voice_media_id=media.id)
            ctx.touch()
            await self._next(ctx)
            return
        if kind == InboundKind.CHOICE or not _is_text(ctx):
            ctx.say(ctx.t("kendala.description_not_text", kind=_kind_word(ctx)))
            return
        if not _meaningful(ctx.text):
            ctx.say(ctx.t("kendala.bad_description"))
            return
        ctx.data["description"] = ctx.text
        ctx.touch()
        await self._link_activity(ctx, ctx.text)
        await self._next(ctx)

    async def _take_photo(self, ctx: Context) -> bool:
        """Store the photo of this message; on a bad file say why and return False."""
        if not ctx.inbound.file_bytes:
            ctx.say(ctx.t("kendala.photo_unreadable"), [Choice(label=ctx.t("kendala.skip"), value="lewati")])
            return False
        try:
            media = await store_media(
                ctx.session,
                ctx.settings,
                kind=MediaKind.PHOTO,
                ksm_id=ctx.data["ksm_id"],
                report_date=await ctx.today_for_ksm(ctx.data["ksm_id"]),
                entered_by_id=ctx.person.id if ctx.person else None,
                channel=ctx.inbound.channel,
                now=ctx.now,
                content=ctx.inbound.file_bytes,
                mime_type=ctx.inbound.mime_type,
                caption=ctx.inbound.text,
                activity_id=ctx.data.get("activity_id"),
                latitude=ctx.inbound.latitude,
                longitude=ctx.inbound.longitude,
                taken_at=ctx.inbound.taken_at,
            )
        except MediaTooLarge as exc:
            ctx.say(
                ctx.t("kendala.photo_too_large", limit=exc.limit // (1024 * 1024)),
                [Choice(label=ctx.t("kendala.skip"), value="lewati")],
            )
            return False
        except NotAnImage:
            ctx.say(ctx.t("kendala.photo_unreadable"), [Choice(label=ctx.t("kendala.skip"), value="lewati")])
            return False
        ctx.data["photo_media_id"] = media.id
        ctx.touch()
        return True

    async def on_foto(self, ctx: Context) -> None:
        if ctx.inbound.kind == InboundKind.PHOTO:
            if await self._take_photo(ctx):
                await self._review(ctx)
            return
        if _is_text(ctx) and ctx.text.lower() in SKIP_WORDS:
            await self._review(ctx)
            return
        ctx.say(ctx.t("kendala.bad_photo"), [Choice(label=ctx.t("kendala.skip"), value="lewati")])

    async def on_konfirmasi(self, ctx: Context) -> None:
        if ctx.inbound.kind == InboundKind.PHOTO:
            if await self._take_photo(ctx):
                await self._review(ctx)
            return
        if not (_is_text(ctx) and ctx.text.lower() in SAVE_WORDS):
            ctx.say(
                ctx.t("kendala.bad_confirm"),
                [
                    Choice(label=ctx.t("kendala.save"), value="simpan"),
                    Choice(label=ctx.t("kendala.cancel"), value="/batal"),
                ],
                columns=2,
            )
            return
        d = ctx.data
        result = await create_obstacle(
            ctx.session,
            ksm_id=d["ksm_id"],
            category=d["category"],
            severity=d["severity"],
            description=d["description"],
            reported_by=ctx.person,
            report_date=await ctx.today_for_ksm(d["ksm_id"]),
            now=ctx.now,
            activity_id=d.get("activity_id"),
            voice_media_id=d.get("voice_media_id"),
            photo_media_id=d.get("photo_media_id"),
        )
        ctx.finish()
        text = ctx.t("kendala.saved", short_id=result.obstacle.short_id)
        if result.notified:
            text += "\n" + ctx.t("kendala.saved_notified")
        ctx.say(text)
