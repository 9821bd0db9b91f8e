"""The /kendala flow: ask for what is missing (category, severity, description, photo), show the report,
save it and tell the reporter who was told."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow
from kotaku.dialog.flows.obstacle.states import ObstacleDraft, State
from kotaku.dialog.inputs import SAVE_WORDS, has_text, is_text, kind_word, pick, word
from kotaku.dialog.photos import NO_PHOTO_WORDS, attach_photo, receive_photo
from kotaku.dialog.quick_report import split_severity
from kotaku.i18n import fmt_date
from kotaku.models import Activity, MediaKind, ObstacleCategory, Role, Severity
from kotaku.schemas import Choice, InboundKind
from kotaku.services.media import MediaTooLarge, human_size, store_media
from kotaku.services.obstacles import (
    CATEGORY_ORDER,
    SEVERITY_ORDER,
    VOICE_DESCRIPTION,
    category_label,
    create_obstacle,
    find_activity_in_text,
    is_meaningful,
    parse_category,
    parse_severity,
    severity_label,
    split_quick_form,
)

SHOWN_CHARS = 40  # of a refused answer, quoted back

E = TypeVar("E", ObstacleCategory, Severity)


def _answer(ctx: Context, choices: list[Choice], kind: type[E], parse: Callable[[str], E | None]) -> E | None:
    """A category or severity: a button (`c:<value>`, `s:<value>`, its label or number) or a typed word."""
    if not has_text(ctx):
        return None
    choice = pick(ctx, choices)
    return kind(choice.value[2:]) if choice else parse(ctx.text)


class ObstacleFlow(Flow[ObstacleDraft]):
    name = "kendala"
    commands = ("kendala", "obstacle")
    roles = frozenset({Role.WORKER, Role.KETUA_KSM, Role.BKM, Role.FASILITATOR})
    needs_ksm = True
    draft_type = ObstacleDraft

    async def start(self, ctx: Context, args: str) -> None:
        draft = self.draft(ctx)
        # `/kendala material sedang pasir belum datang`: the severity word is read, not kept as text.
        severity, args = split_severity(args)
        category, description = split_quick_form(args) if args.strip() else (None, "")
        if severity is None:
            severity, description = split_severity(description)
        draft.category, draft.description, draft.quick = category, description, bool(description)
        draft.severity = severity
        ctx.goto(self.name, State.CATEGORY)
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

    def _skip_choices(self, ctx: Context) -> list[Choice]:
        return [Choice(label=ctx.t("kendala.skip"), value="lewati")]

    def _confirm_choices(self, ctx: Context) -> list[Choice]:
        return [
            Choice(label=ctx.t("kendala.save"), value="simpan"),
            Choice(label=ctx.t("kendala.cancel"), value="/batal"),
        ]

    def _shown(self, ctx: Context) -> str:
        """A refused answer as quoted back: the text, or what kind of message came instead."""
        return (ctx.text if has_text(ctx) else kind_word(ctx))[:SHOWN_CHARS]

    async def _next(self, ctx: Context) -> None:
        """Ask for the first missing piece, or show the summary."""
        draft = self.draft(ctx)
        if draft.category is None:
            ctx.goto(self.name, State.CATEGORY)
            ctx.say(ctx.t("kendala.ask_category"), self._category_choices(ctx), columns=2)
        elif draft.severity is None:
            ctx.goto(self.name, State.SEVERITY)
            label = category_label(draft.category, ctx.lang)
            ctx.say(ctx.t("kendala.ask_severity", category=label), self._severity_choices(ctx))
        elif not draft.description:
            ctx.goto(self.name, State.DESCRIPTION)
            ctx.say(ctx.t("kendala.ask_description"))
        elif not draft.quick and not draft.photo_asked:
            draft.photo_asked = True
            ctx.goto(self.name, State.PHOTO)
            ctx.say(ctx.t("kendala.ask_photo"), self._skip_choices(ctx))
        else:
            await self._review(ctx)

    async def _review(self, ctx: Context) -> None:
        ctx.goto(self.name, State.CONFIRM)
        draft = self.draft(ctx)
        assert draft.category is not None and draft.severity is not None
        ksm = await ctx.ksm(draft.chosen_ksm_id)
        activity = ""
        if draft.activity_id is not None:
            a = await ctx.session.get(Activity, draft.activity_id)
            if a is not None:
                activity = ctx.t("kendala.review_activity", activity=f"{a.code} {a.name}")
        ctx.say(
            ctx.t(
                "kendala.review",
                ksm=ksm.name,
                date=fmt_date(await ctx.today_for_ksm(ksm.id), ctx.lang),
                category=category_label(draft.category, ctx.lang),
                severity=severity_label(draft.severity, ctx.lang),
                description=draft.description,
                activity=activity,
                photo=ctx.t("kendala.photo_yes" if draft.photo_media_id else "kendala.photo_no"),
            ),
            self._confirm_choices(ctx),
            columns=2,
        )

    async def _link_activity(self, ctx: Context, text: str) -> None:
        draft = self.draft(ctx)
        activity = await find_activity_in_text(ctx.session, draft.chosen_ksm_id, text)
        if activity is not None:
            draft.activity_id = activity.id

    async def _take_photo(self, ctx: Context) -> bool:
        """Store the photo of this message for the report; on a bad file say why and return False."""
        draft = self.draft(ctx)
        photo = receive_photo(
            ctx,
            too_large="kendala.photo_too_large",
            not_image="kendala.photo_unreadable",
            choices=self._skip_choices(ctx),
        )
        if photo is None:
            return False
        media, _ = await attach_photo(
            ctx,
            photo,
            ksm_id=draft.chosen_ksm_id,
            report_date=await ctx.today_for_ksm(draft.chosen_ksm_id),
            activity_id=draft.activity_id,
        )
        draft.photo_media_id = media.id
        return True

    # --- steps -------------------------------------------------------------------------------------

    async def on_category(self, ctx: Context) -> None:
        category = _answer(ctx, self._category_choices(ctx), ObstacleCategory, parse_category)
        if category is None:
            ctx.say(
                ctx.t("kendala.bad_category", text=self._shown(ctx)), self._category_choices(ctx), columns=2
            )
            return
        self.draft(ctx).category = category
        await self._next(ctx)

    async def on_severity(self, ctx: Context) -> None:
        severity = _answer(ctx, self._severity_choices(ctx), Severity, parse_severity)
        if severity is None:
            ctx.say(ctx.t("kendala.bad_severity", text=self._shown(ctx)), self._severity_choices(ctx))
            return
        self.draft(ctx).severity = severity
        await self._next(ctx)

    async def on_description(self, ctx: Context) -> None:
        draft = self.draft(ctx)
        if ctx.inbound.kind == InboundKind.VOICE and ctx.inbound.file_bytes:
            try:
                media = await store_media(
                    ctx.uow,
                    ctx.settings,
                    kind=MediaKind.VOICE,
                    ksm_id=draft.chosen_ksm_id,
                    report_date=await ctx.today_for_ksm(draft.chosen_ksm_id),
                    entered_by_id=ctx.person.id if ctx.person else None,
                    channel=ctx.inbound.channel,
                    now=ctx.now,
                    content=ctx.inbound.file_bytes,
                    mime_type=ctx.inbound.mime_type,
                )
            except MediaTooLarge as exc:
                ctx.say(ctx.t("kendala.voice_too_large", limit=human_size(exc.limit, ctx.lang)))
                return
            draft.description, draft.voice_media_id = VOICE_DESCRIPTION, media.id
            await self._next(ctx)
            return
        if ctx.is_choice or not is_text(ctx):
            ctx.say(ctx.t("kendala.description_not_text", kind=kind_word(ctx)))
            return
        if not is_meaningful(ctx.text):
            ctx.say(ctx.t("kendala.bad_description"))
            return
        draft.description = ctx.text
        await self._link_activity(ctx, ctx.text)
        await self._next(ctx)

    async def on_photo(self, ctx: Context) -> None:
        if ctx.inbound.kind == InboundKind.PHOTO:
            if await self._take_photo(ctx):
                await self._review(ctx)
            return
        if is_text(ctx) and word(ctx) in NO_PHOTO_WORDS:
            await self._review(ctx)
            return
        ctx.say(ctx.t("kendala.bad_photo"), self._skip_choices(ctx))

    async def on_confirm(self, ctx: Context) -> None:
        if ctx.inbound.kind == InboundKind.PHOTO:
            if await self._take_photo(ctx):
                await self._review(ctx)
            return
        if not (is_text(ctx) and word(ctx) in SAVE_WORDS):
            ctx.say(ctx.t("kendala.bad_confirm"), self._confirm_choices(ctx), columns=2)
            return
        draft = self.draft(ctx)
        assert draft.category is not None and draft.severity is not None
        result = await create_obstacle(
            ctx.uow,
            ksm_id=draft.chosen_ksm_id,
            category=draft.category,
            severity=draft.severity,
            description=draft.description,
            reported_by=ctx.person,
            report_date=await ctx.today_for_ksm(draft.chosen_ksm_id),
            now=ctx.now,
            activity_id=draft.activity_id,
            voice_media_id=draft.voice_media_id,
            photo_media_id=draft.photo_media_id,
        )
        ctx.finish()
        text = ctx.t("kendala.saved", short_id=result.obstacle.short_id)
        if result.notified:
            text += "\n" + ctx.t("kendala.saved_notified")
        ctx.say(text)

    steps: ClassVar = {
        State.CATEGORY: on_category,
        State.SEVERITY: on_severity,
        State.DESCRIPTION: on_description,
        State.PHOTO: on_photo,
        State.CONFIRM: on_confirm,
    }
