"""/kurva: find the activity (by code, a word of its name, or a button), the KSM or BKM (by code) or the
area (by code, or a level word alone for one's own area), and draw its curve.

Examples shown to people come from the program itself (a code in their own scope), never a made-up one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from sqlalchemy import select

from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow
from kotaku.dialog.flows.curve.render import send_curve
from kotaku.dialog.flows.curve.states import CurveDraft, State
from kotaku.dialog.inputs import has_text, picked_id
from kotaku.i18n import fmt_number
from kotaku.models import Activity, Region, RegionLevel, Role
from kotaku.models.enums import REGION_LEVEL_ORDER
from kotaku.monitoring.curves import activity_curve, area_curve
from kotaku.schemas import Choice
from kotaku.services.access import Action, log_refusal
from kotaku.services.scope import ScopeNotFound, region_path_within, scope_of
from kotaku.services.summary import (
    OutsideScope,
    activities_in_scope,
    activity_by_code,
    region_label,
    view_scope,
)

MAX_BUTTONS = 10
ACTIVITY_PREFIX = "a:"  # the value of an activity's button: "a:" + its id
# Words for an area; alone (`/kurva kota`) they mean the person's own area, or its parts of that level.
_LEVEL_WORDS: dict[str, RegionLevel | None] = {
    "kelurahan": RegionLevel.KELURAHAN,
    "desa": RegionLevel.KELURAHAN,
    "kecamatan": RegionLevel.KECAMATAN,
    "kota": RegionLevel.KABKOTA,
    "kabupaten": RegionLevel.KABKOTA,
    "kab": RegionLevel.KABKOTA,
    "provinsi": RegionLevel.PROVINSI,
    "wilayah": None,
    "area": None,
}
_REGION_CODE = re.compile(r"^\d{2}(\.\d{2}){0,2}(\.\d{4})?$")


def _choices(rows: Sequence[tuple[Activity, str]]) -> list[Choice]:
    return [
        Choice(label=f"{a.code} · {a.name}"[:60], value=f"{ACTIVITY_PREFIX}{a.id}")
        for a, _ in rows[:MAX_BUTTONS]
    ]


def _below(level: RegionLevel, than: RegionLevel) -> bool:
    return REGION_LEVEL_ORDER.index(level) > REGION_LEVEL_ORDER.index(than)


class CurveFlow(Flow[CurveDraft]):
    name = "kurva"
    commands = ("kurva", "curve")
    roles = frozenset(Role) - {Role.WORKER}
    draft_type = CurveDraft
    keeps_draft = False  # a chart, or a list to pick one from

    async def start(self, ctx: Context, args: str) -> None:
        text = args.strip()
        if not text:
            await self._offer(ctx)
            return
        head, _, rest = text.partition(" ")
        picked = picked_id(text, ACTIVITY_PREFIX)
        if picked is not None:
            await self._pick(ctx, picked, text)
        elif text.startswith(ACTIVITY_PREFIX):
            await self._offer(ctx, prefix=ctx.t("input.bad_choice"))
        elif head.lower() in _LEVEL_WORDS:
            if rest.strip():
                await self._area(ctx, rest.strip())
            else:
                await self._own_area(ctx, _LEVEL_WORDS[head.lower()])
        elif _REGION_CODE.match(text):
            await self._area(ctx, text)
        else:
            await self._activity(ctx, text)

    async def on_pick(self, ctx: Context) -> None:
        if not has_text(ctx):
            ctx.say(ctx.t("kurva.not_text"))
            return
        await self.start(ctx, ctx.text)

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

    async def _not_found(self, ctx: Context, text: str) -> None:
        """No such activity: the list of the person's own, with one of their codes as the example."""
        rows = await self._in_scope(ctx)
        if not rows:
            ctx.say(ctx.t("kurva.none_in_scope"))
            ctx.finish()
            return
        await self._offer(ctx, prefix=ctx.t("kurva.not_found", text=text, example=rows[0][0].code))

    async def _pick(self, ctx: Context, activity_id: int, text: str) -> None:
        for activity, ksm_name in await self._in_scope(ctx):
            if activity.id == activity_id:
                await self._draw_activity(ctx, activity, ksm_name)
                return
        await self._not_found(ctx, text)

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
            log_refusal(ctx.person, Action.READ_CURVE, "outside_scope", activity=outside.code)
            ctx.say(ctx.t("kurva.outside_scope", what=f"{outside.code} {outside.name}"))
            ctx.finish()
            return
        if not await self._group(ctx, text):
            await self._not_found(ctx, text)

    async def _group(self, ctx: Context, code: str) -> bool:
        """`/kurva KSM-TBY-01` (or a BKM code): that group's activities; False when `code` names none."""
        assert ctx.person is not None
        try:
            scope = await view_scope(ctx.session, ctx.person, code)
        except ScopeNotFound:
            return False
        except OutsideScope as exc:
            log_refusal(ctx.person, Action.READ_CURVE, "outside_scope", scope=code)
            ctx.say(ctx.t("kurva.outside_scope", what=str(exc)))
            ctx.finish()
            return True
        if scope.ksm_id is None and scope.bkm_id is None:
            return False
        rows = await activities_in_scope(ctx.session, scope)
        if len(rows) == 1:
            await self._draw_activity(ctx, *rows[0])
        elif rows:
            ctx.goto(self.name, State.PICK)
            ctx.say(
                ctx.t("kurva.choose_in", what=scope.label, n=fmt_number(len(rows), ctx.lang)), _choices(rows)
            )
        else:
            ctx.say(ctx.t("kurva.group_empty", what=scope.label))
            ctx.finish()
        return True

    async def _draw_activity(self, ctx: Context, activity: Activity, ksm_name: str) -> None:
        ctx.finish()
        curve = await activity_curve(ctx.session, ctx.settings, activity, ctx.now)
        send_curve(ctx, curve, f"{activity.name} ({activity.code})", ksm_name)

    # --- areas -----------------------------------------------------------------------------------

    async def _own_region(self, ctx: Context) -> Region | None:
        assert ctx.person is not None
        region_id = ctx.person.scope_region_id
        return await ctx.session.get(Region, region_id) if region_id is not None else None

    async def _area_example(self, ctx: Context) -> str | None:
        """A region code the person may look at: their own region's, or (national) a province's."""
        assert ctx.person is not None
        own = await self._own_region(ctx)
        if own is not None:
            return own.code
        if scope_of(ctx.person).is_national:
            stmt = select(Region.code).where(Region.level == RegionLevel.PROVINSI).order_by(Region.code)
            return (await ctx.session.execute(stmt.limit(1))).scalar_one_or_none()
        return None

    async def _area(self, ctx: Context, code: str) -> None:
        assert ctx.person is not None
        ctx.finish()
        try:
            scope = await view_scope(ctx.session, ctx.person, f"region:{code}")
        except ScopeNotFound:
            example = await self._area_example(ctx)
            if example is None:
                ctx.say(ctx.t("kurva.unknown_area_no_region", code=code))
            else:
                ctx.say(ctx.t("kurva.unknown_area", code=code, example=example))
            return
        except OutsideScope as exc:
            log_refusal(ctx.person, Action.READ_CURVE, "outside_scope", scope=code)
            ctx.say(ctx.t("kurva.outside_scope", what=str(exc)))
            return
        region = await ctx.session.get(Region, scope.region_id)
        assert region is not None
        await self._draw_area(ctx, region)

    async def _own_area(self, ctx: Context, level: RegionLevel | None) -> None:
        """`/kurva kota` alone: the person's own area; a lower level (`/kurva kelurahan` for a kota) asks
        which one of those in it. People whose scope is a KSM or BKM get their activities."""
        assert ctx.person is not None
        own = await self._own_region(ctx)
        if own is None and not scope_of(ctx.person).is_national:
            await self._offer(ctx)
            return
        if own is not None and (level is None or not _below(level, own.level)):
            ctx.finish()
            await self._draw_area(ctx, own)
            return
        stmt = select(Region).where(Region.level == (level or RegionLevel.PROVINSI))
        if own is not None:
            stmt = stmt.where(region_path_within(own.path))
        regions = list((await ctx.session.execute(stmt.order_by(Region.code))).scalars())
        if len(regions) == 1:
            ctx.finish()
            await self._draw_area(ctx, regions[0])
            return
        if not regions:
            ctx.say(ctx.t("kurva.none_in_scope"))
            ctx.finish()
            return
        lines = [ctx.t("kurva.choose_area", n=fmt_number(len(regions), ctx.lang))]
        if len(regions) > MAX_BUTTONS:
            lines.append(ctx.t("kurva.choose_area_more", shown=MAX_BUTTONS, example=regions[0].code))
        ctx.goto(self.name, State.PICK)
        ctx.say(
            "\n".join(lines),
            [Choice(label=f"{region_label(r)} ({r.code})"[:60], value=r.code) for r in regions[:MAX_BUTTONS]],
        )

    async def _draw_area(self, ctx: Context, region: Region) -> None:
        curve = await area_curve(ctx.session, ctx.settings, region, ctx.now)
        label = region_label(region)
        if curve is None:
            ctx.say(ctx.t("kurva.area_empty", area=label))
            return
        note = ctx.t("kurva.area_note", n=fmt_number(curve.activities, ctx.lang))
        send_curve(ctx, curve, label, note, note)
