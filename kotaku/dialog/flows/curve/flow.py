"""/kurva: find the activity (by code, a word of its name, or a button) or the area, and draw its curve."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow
from kotaku.dialog.flows.curve.render import send_curve
from kotaku.dialog.flows.curve.states import CurveDraft, State
from kotaku.dialog.inputs import has_text
from kotaku.i18n import fmt_number
from kotaku.models import Activity, Region, Role
from kotaku.monitoring.curves import activity_curve, area_curve
from kotaku.schemas import Choice
from kotaku.services.scope import ScopeNotFound, scope_of
from kotaku.services.summary import (
    OutsideScope,
    activities_in_scope,
    activity_by_code,
    region_label,
    view_scope,
)

MAX_BUTTONS = 10
_AREA_WORDS = {"kelurahan", "desa", "kota", "kabupaten", "kab", "kecamatan", "wilayah", "provinsi", "area"}
_REGION_CODE = re.compile(r"^\d{2}(\.\d{2}){0,2}(\.\d{4})?$")


def _choices(rows: Sequence[tuple[Activity, str]]) -> list[Choice]:
    return [Choice(label=f"{a.code} · {a.name}"[:60], value=f"a:{a.id}") for a, _ in rows[:MAX_BUTTONS]]


class CurveFlow(Flow[CurveDraft]):
    name = "kurva"
    commands = ("kurva", "curve")
    roles = frozenset(Role) - {Role.WORKER}
    draft_type = CurveDraft

    async def start(self, ctx: Context, args: str) -> None:
        text = args.strip()
        if not text:
            await self._offer(ctx)
            return
        head, _, rest = text.partition(" ")
        if head.lower() in _AREA_WORDS and rest.strip():
            await self._area(ctx, rest.strip())
        elif _REGION_CODE.match(text):
            await self._area(ctx, text)
        else:
            await self._activity(ctx, text)

    async def on_pick(self, ctx: Context) -> None:
        if not has_text(ctx):
            ctx.say(ctx.t("kurva.not_text"))
            return
        text = ctx.text
        if not (text.startswith("a:") and text[2:].isdigit()):
            await self.start(ctx, text)
            return
        wanted = int(text[2:])
        for activity, ksm_name in await self._in_scope(ctx):
            if activity.id == wanted:
                await self._draw_activity(ctx, activity, ksm_name)
                return
        await self._offer(ctx, prefix=ctx.t("kurva.not_found", text=text))

    steps: ClassVar = {State.PICK: on_pick}

    async def _in_scope(self, ctx: Context, text: str = "") -> list[tuple[Activity, str]]:
        assert ctx.person is not None
        return await activities_in_scope(ctx.session, scope_of(ctx.person), text)

    async def _offer(self, ctx: Context, prefix: str | None = None) -> None:
        rows = await self._in_scope(ctx)
        if not rows:
            ctx.say(ctx.t("kurva.none_in_scope"))
            ctx.finish()
            return
        lines = [prefix] if prefix else []
        lines.append(ctx.t("kurva.choose", n=fmt_number(len(rows), ctx.lang)))
        if len(rows) > MAX_BUTTONS:
            lines.append(ctx.t("kurva.choose_more", shown=MAX_BUTTONS, n=fmt_number(len(rows), ctx.lang)))
        ctx.goto(self.name, State.PICK)
        ctx.say("\n".join(lines), _choices(rows))

    async def _activity(self, ctx: Context, text: str) -> None:
        rows = await self._in_scope(ctx, text)
        if len(rows) == 1:
            await self._draw_activity(ctx, *rows[0])
            return
        if rows:
            ctx.goto(self.name, State.PICK)
            ctx.say(ctx.t("kurva.choose", n=fmt_number(len(rows), ctx.lang)), _choices(rows))
            return
        outside = await activity_by_code(ctx.session, text)
        if outside is not None:
            ctx.say(ctx.t("kurva.outside_scope", what=f"{outside.code} {outside.name}"))
            ctx.finish()
            return
        await self._offer(ctx, prefix=ctx.t("kurva.not_found", text=text))

    async def _draw_activity(self, ctx: Context, activity: Activity, ksm_name: str) -> None:
        ctx.finish()
        curve = await activity_curve(ctx.session, ctx.settings, activity, ctx.now)
        send_curve(ctx, curve, f"{activity.name} ({activity.code})", ksm_name)

    async def _area(self, ctx: Context, code: str) -> None:
        assert ctx.person is not None
        ctx.finish()
        try:
            scope = await view_scope(ctx.session, ctx.person, f"region:{code}")
        except ScopeNotFound:
            ctx.say(ctx.t("kurva.unknown_area", code=code))
            return
        except OutsideScope as exc:
            ctx.say(ctx.t("kurva.outside_scope", what=str(exc)))
            return
        region = await ctx.session.get(Region, scope.region_id)
        assert region is not None
        curve = await area_curve(ctx.session, ctx.settings, region, ctx.now)
        label = region_label(region)
        if curve is None:
            ctx.say(ctx.t("kurva.area_empty", area=label))
            return
        note = ctx.t("kurva.area_note", n=fmt_number(curve.activities, ctx.lang))
        send_curve(ctx, curve, label, note, note)
