"""The /selesai flow: pick the obstacle (by id, or from the list of open ones in scope), write the note,
close it; a refusal says why (unknown, outside the scope, already closed, not a closer).

A typed code is read tolerantly (`k-7f3q`, `K 7F3Q`, `7f3q`, or any stored code as it is); in the list,
a button or its number picks the obstacle."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from kotaku import clock
from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow
from kotaku.dialog.flows.close_obstacle.states import CloseDraft, State
from kotaku.dialog.inputs import has_text, is_text, kind_word, offered_index
from kotaku.i18n import fmt_date
from kotaku.models import Person
from kotaku.schemas import Choice
from kotaku.services.access import Action, log_refusal
from kotaku.services.obstacles import (
    CLOSER_ROLES,
    NotACloser,
    ObstacleAlreadyClosed,
    ObstacleError,
    ObstacleNotFound,
    ObstacleOutsideScope,
    OpenObstacle,
    category_label,
    check_closable,
    close_obstacle,
    get_obstacle,
    is_meaningful,
    normalize_short_id,
    open_in_scope,
    severity_label,
)

MAX_LISTED = 20
MAX_BUTTONS = 10
BUTTON_CHARS = 40
PICK_PREFIX = "o:"  # the value of an obstacle's button: "o:" + its code


def split_reference(text: str) -> tuple[str, str]:
    """(the obstacle code, the note) of `/selesai K-7F3Q semen datang`; a code typed in two pieces
    (`K 7F3Q ...`, `K- 7F3Q ...`) is put back together."""
    words = text.split()
    if not words:
        return "", ""
    if len(words) > 1 and words[0].upper().rstrip("-–—") == "K":
        words = [words[0] + words[1], *words[2:]]
    return words[0], " ".join(words[1:])


class CloseObstacleFlow(Flow[CloseDraft]):
    name = "selesai"
    commands = ("selesai", "close")
    roles = CLOSER_ROLES
    needs_ksm = False
    draft_type = CloseDraft

    async def start(self, ctx: Context, args: str) -> None:
        args = args.strip()
        if not args:
            await self._list(ctx)
            return
        ref, note = split_reference(args)
        await self._pick(ctx, ref, note)

    # --- helpers -----------------------------------------------------------------------------------

    async def _local_date(self, ctx: Context, ksm_id: int, at: datetime | None) -> str:
        return fmt_date(clock.local_today(await ctx.timezone_of_ksm(ksm_id), at or ctx.now), ctx.lang)

    async def _refuse(self, ctx: Context, exc: ObstacleError) -> None:
        if isinstance(exc, ObstacleNotFound):
            ctx.say(ctx.t("selesai.unknown", short_id=exc.short_id or "-"))
        elif isinstance(exc, ObstacleOutsideScope):
            log_refusal(ctx.person, Action.CLOSE_OBSTACLE, "outside_scope", obstacle=exc.obstacle.short_id)
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
            log_refusal(ctx.person, Action.CLOSE_OBSTACLE, "role")
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
        if is_meaningful(note):
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
                ctx.uow, closer=ctx.person, short_id=short_id, note=note, now=ctx.now
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

    async def _open(self, ctx: Context) -> list[OpenObstacle]:
        assert ctx.person is not None
        return await open_in_scope(
            ctx.session, ctx.person, now=ctx.now, default_tz=ctx.settings.app.default_timezone
        )

    async def _list(self, ctx: Context, prefix: str | None = None) -> None:
        rows = await self._open(ctx)
        if not rows:
            ctx.say(ctx.t("selesai.none_open"))
            ctx.finish()
            return
        lines = [prefix] if prefix else []
        lines.append(ctx.t("selesai.list_title", n=len(rows)))
        for row in rows[:MAX_LISTED]:
            o = row.obstacle
            lines.append(
                ctx.t(
                    "selesai.list_line",
                    short_id=o.short_id,
                    ksm=row.ksm_name,
                    category=category_label(o.category, ctx.lang),
                    severity=severity_label(o.severity, ctx.lang),
                    days=row.days_open,
                )
            )
        if len(rows) > MAX_LISTED:
            lines.append(ctx.t("selesai.more", n=len(rows) - MAX_LISTED))
        choices = [
            Choice(
                label=f"{row.obstacle.short_id} · {row.ksm_name}"[:BUTTON_CHARS],
                value=f"{PICK_PREFIX}{row.obstacle.short_id}",
            )
            for row in rows[:MAX_BUTTONS]
        ]
        ctx.goto(self.name, State.PICK)
        ctx.say("\n".join(lines), choices)

    # --- steps -------------------------------------------------------------------------------------

    async def on_pick(self, ctx: Context) -> None:
        if not has_text(ctx):
            await self._list(ctx, prefix=ctx.t("selesai.bad_pick"))
            return
        if ctx.is_choice and ctx.text.startswith(PICK_PREFIX):
            await self._pick(ctx, ctx.text.removeprefix(PICK_PREFIX), "", relist=True)
            return
        ref, note = split_reference(ctx.text)
        if ref.isdigit() and len(ref) <= 2:  # the number of a button, typed
            rows = (await self._open(ctx))[:MAX_BUTTONS]
            index = offered_index(ref, len(rows))
            if index is None:
                await self._list(ctx, prefix=ctx.t("selesai.bad_pick"))
                return
            ref = rows[index].obstacle.short_id
        elif normalize_short_id(ref) is None and await get_obstacle(ctx.session, ref) is None:
            await self._list(ctx, prefix=ctx.t("selesai.bad_pick"))  # not a code at all: the list again
            return
        await self._pick(ctx, ref, note, relist=True)

    async def on_note(self, ctx: Context) -> None:
        if ctx.is_choice and ctx.text.startswith(PICK_PREFIX):  # another obstacle tapped in the earlier list
            await self._pick(ctx, ctx.text.removeprefix(PICK_PREFIX), "")
            return
        if not is_text(ctx):
            ctx.say(ctx.t("selesai.note_not_text", kind=kind_word(ctx)))
            return
        if not is_meaningful(ctx.text):
            ctx.say(ctx.t("selesai.bad_note"))
            return
        await self._close(ctx, self.draft(ctx).short_id, ctx.text)

    steps: ClassVar = {State.PICK: on_pick, State.NOTE: on_note}
