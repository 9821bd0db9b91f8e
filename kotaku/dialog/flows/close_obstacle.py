"""/selesai (/close): a facilitator or manager closes an obstacle in their scope with a follow-up note.

`/selesai K-7F3Q semen sudah dikirim` closes at once; `/selesai K-7F3Q` asks for the note; `/selesai` alone
lists the open obstacles in scope (most severe, then oldest first) with a button each.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select

from kotaku import clock
from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow, register_flow
from kotaku.i18n import fmt_date
from kotaku.models import Ksm, Obstacle, Person
from kotaku.schemas import Choice, InboundKind
from kotaku.services.obstacles import (
    CLOSER_ROLES,
    NotACloser,
    ObstacleAlreadyClosed,
    ObstacleError,
    ObstacleNotFound,
    ObstacleOutsideScope,
    category_label,
    check_closable,
    close_obstacle,
    days_open,
    normalize_short_id,
    open_obstacles,
    severity_label,
)
from kotaku.services.scope import ksm_ids_in_scope, ksm_timezone, scope_of

MAX_LISTED = 20
MAX_BUTTONS = 10
MIN_NOTE_CHARS = 3


class State(StrEnum):
    PICK = "pilih"
    NOTE = "catatan"


def _kind_word(ctx: Context) -> str:
    words = {
        InboundKind.PHOTO: ("foto", "photo"),
        InboundKind.VOICE: ("pesan suara", "voice note"),
        InboundKind.LOCATION: ("lokasi", "location"),
        InboundKind.DOCUMENT: ("dokumen", "document"),
    }.get(ctx.inbound.kind, ("pesan kosong", "empty message"))
    return words[0] if ctx.lang == "id" else words[1]


@register_flow
class CloseObstacleFlow(Flow):
    name = "selesai"
    commands = ("selesai", "close")
    roles = CLOSER_ROLES
    needs_ksm = False

    async def start(self, ctx: Context, args: str) -> None:
        args = args.strip()
        if not args:
            await self._list(ctx)
            return
        ref, _, note = args.partition(" ")
        await self._pick(ctx, ref, note.strip())

    # --- helpers -----------------------------------------------------------------------------------

    async def _local_date(self, ctx: Context, ksm_id: int, at: datetime | None) -> str:
        tz = await ksm_timezone(ctx.session, ksm_id, ctx.settings.app.default_timezone)
        return fmt_date(clock.local_today(tz, at or ctx.now), ctx.lang)

    async def _refuse(self, ctx: Context, exc: ObstacleError) -> None:
        if isinstance(exc, ObstacleNotFound):
            ctx.say(ctx.t("selesai.unknown", short_id=exc.short_id or "-"))
        elif isinstance(exc, ObstacleOutsideScope):
            ctx.say(ctx.t("selesai.outside_scope", short_id=exc.obstacle.short_id, ksm=exc.ksm_name))
        elif isinstance(exc, ObstacleAlreadyClosed):
            o = exc.obstacle
            ctx.say(
                ctx.t(
                    "selesai.already_closed",
                    short_id=o.short_id,
                    date=await self._local_date(ctx, o.ksm_id, o.closed_at),
                    name=exc.closed_by_name,
                    note=o.close_note or "-",
                )
            )
        elif isinstance(exc, NotACloser):
            ctx.say(ctx.t("selesai.not_allowed"))

    async def _pick(self, ctx: Context, ref: str, note: str, *, relist: bool = False) -> None:
        """Check the obstacle named by `ref`; close it when a note came along, else ask for the note.

        When it cannot be closed, say why; then show the list again (`relist`) or end."""
        assert ctx.person is not None
        try:
            obstacle = await check_closable(ctx.session, ctx.person, ref)
        except ObstacleError as exc:
            await self._refuse(ctx, exc)
            if relist:
                await self._list(ctx)
            else:
                ctx.finish()
            return
        if note and len(re.findall(r"\w", note)) >= MIN_NOTE_CHARS:
            await self._close(ctx, obstacle.short_id, note)
            return
        ksm = await ctx.ksm(obstacle.ksm_id)
        ctx.goto(self.name, State.NOTE, short_id=obstacle.short_id)
        ctx.say(
            ctx.t(
                "selesai.ask_note",
                short_id=obstacle.short_id,
                ksm=ksm.name,
                category=category_label(obstacle.category, ctx.lang),
                severity=severity_label(obstacle.severity, ctx.lang),
                description=obstacle.description,
            )
        )

    async def _close(self, ctx: Context, short_id: str, note: str) -> None:
        assert ctx.person is not None
        try:
            obstacle = await close_obstacle(
                ctx.session, closer=ctx.person, short_id=short_id, note=note, now=ctx.now
            )
        except ObstacleError as exc:
            await self._refuse(ctx, exc)
            ctx.finish()
            return
        ctx.finish()
        ksm = await ctx.ksm(obstacle.ksm_id)
        told = ""
        if obstacle.reported_by_id and obstacle.reported_by_id != ctx.person.id:
            reporter = await ctx.session.get(Person, obstacle.reported_by_id)
            if reporter is not None:
                told = ctx.t("selesai.told_reporter", name=reporter.name)
        ctx.say(ctx.t("selesai.closed", short_id=obstacle.short_id, ksm=ksm.name, told=told))

    async def _open_in_scope(self, ctx: Context) -> list[Obstacle]:
        assert ctx.person is not None
        scope = scope_of(ctx.person)
        ksm_ids = None if scope.is_national else await ksm_ids_in_scope(ctx.session, scope)
        return await open_obstacles(ctx.session, ksm_ids)

    async def _list(self, ctx: Context, prefix: str | None = None) -> None:
        obstacles = await self._open_in_scope(ctx)
        if not obstacles:
            ctx.say(ctx.t("selesai.none_open"))
            ctx.finish()
            return
        ksm_ids = {o.ksm_id for o in obstacles}
        rows = (await ctx.session.execute(select(Ksm.id, Ksm.name).where(Ksm.id.in_(ksm_ids)))).all()
        names = {kid: name for kid, name in rows}
        todays = {
            kid: clock.local_today(
                await ksm_timezone(ctx.session, kid, ctx.settings.app.default_timezone), ctx.now
            )
            for kid in ksm_ids
        }
        lines = [prefix] if prefix else []
        lines.append(ctx.t("selesai.list_title", n=len(obstacles)))
        for o in obstacles[:MAX_LISTED]:
            lines.append(
                ctx.t(
                    "selesai.list_line",
                    short_id=o.short_id,
                    ksm=names.get(o.ksm_id, "-"),
                    category=category_label(o.category, ctx.lang),
                    severity=severity_label(o.severity, ctx.lang),
                    days=days_open(o, todays[o.ksm_id]),
                )
            )
        if len(obstacles) > MAX_LISTED:
            lines.append(ctx.t("selesai.more", n=len(obstacles) - MAX_LISTED))
        choices = [
            Choice(label=f"{o.short_id} · {names.get(o.ksm_id, '-')}"[:40], value=f"o:{o.short_id}")
            for o in obstacles[:MAX_BUTTONS]
        ]
        ctx.goto(self.name, State.PICK)
        ctx.say("\n".join(lines), choices)

    # --- steps -------------------------------------------------------------------------------------

    async def on_pilih(self, ctx: Context) -> None:
        text = ctx.text
        if ctx.inbound.kind not in (InboundKind.TEXT, InboundKind.CHOICE) or not text:
            await self._list(ctx, prefix=ctx.t("selesai.bad_pick"))
            return
        if text.startswith("o:"):
            text = text[2:]
        ref, _, note = text.partition(" ")
        if normalize_short_id(ref) is None:
            await self._list(ctx, prefix=ctx.t("selesai.bad_pick"))
            return
        await self._pick(ctx, ref, note.strip(), relist=True)

    async def on_catatan(self, ctx: Context) -> None:
        if ctx.is_choice and ctx.text.startswith("o:"):  # another obstacle tapped in the earlier list
            await self._pick(ctx, ctx.text[2:], "")
            return
        if ctx.inbound.kind not in (InboundKind.TEXT, InboundKind.CHOICE):
            ctx.say(ctx.t("selesai.note_not_text", kind=_kind_word(ctx)))
            return
        note = ctx.text
        if len(re.findall(r"\w", note)) < MIN_NOTE_CHARS:
            ctx.say(ctx.t("selesai.bad_note"))
            return
        await self._close(ctx, ctx.data["short_id"], note)
