"""/kurva (/curve): the S-curve of one activity, or of a kelurahan/kota, as a PNG with a short caption.

`/kurva ACT-BJL-01` (a code, or a word of the activity's name), `/kurva` alone offers the activities in
scope as buttons, `/kurva 33.22.05.1001` (or `/kurva kelurahan 33.22.05.1001`, `/kurva kota 33.22`) draws
the budget-weighted curve of every activity in that area.
"""

from __future__ import annotations

import re
from enum import StrEnum

from sqlalchemy import func, or_, select

from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow, register_flow
from kotaku.dialog.flows import summary as _summary  # noqa: F401  (registers rekap.status.* labels)
from kotaku.i18n import fmt_number, fmt_percent, fmt_signed
from kotaku.models import Activity, Ksm, Region, Role
from kotaku.monitoring.chart import CriticalBand, render_scurve
from kotaku.monitoring.curves import Curve, activity_curve, area_curve
from kotaku.schemas import Choice, InboundKind
from kotaku.services.scope import ScopeNotFound, ksm_ids_in_scope, scope_of
from kotaku.services.summary import OutsideScope, region_label, view_scope

MAX_BUTTONS = 10
_AREA_WORDS = {"kelurahan", "desa", "kota", "kabupaten", "kab", "kecamatan", "wilayah", "provinsi", "area"}
_REGION_CODE = re.compile(r"^\d{2}(\.\d{2}){0,2}(\.\d{4})?$")


class State(StrEnum):
    PICK = "pilih"


def _figures(ctx: Context, curve: Curve) -> dict[str, str]:
    a = curve.assessment
    return {
        "planned": fmt_percent(a.planned, ctx.lang),
        "actual": fmt_percent(a.actual, ctx.lang) if a.actual is not None else ctx.t("kurva.no_report"),
        "deviation": fmt_signed(a.deviation, ctx.lang) if a.deviation is not None else "–",
        "status": ctx.t(f"rekap.status.{a.status.value}"),
    }


def _send(ctx: Context, curve: Curve, title: str, where: str, extra: str = "") -> None:
    f = _figures(ctx, curve)
    png = render_scurve(
        curve.planned,
        curve.actual,
        today=curve.today,
        title=title,
        lang=ctx.lang,
        band=CriticalBand.from_config(ctx.settings.monitoring),
        subtitle=ctx.t(
            "kurva.subtitle", where=where, planned=f["planned"], actual=f["actual"], status=f["status"]
        ),
    )
    caption = ctx.t("kurva.caption", title=title, **f) + (f"\n{extra}" if extra else "")
    safe = re.sub(r"[^A-Za-z0-9.-]+", "-", title)[:40].strip("-") or "kurva"
    ctx.send_image(png, caption, file_name=f"kurva-{safe}.png")


@register_flow
class CurveFlow(Flow):
    name = "kurva"
    commands = ("kurva", "curve")
    roles = frozenset(Role) - {Role.WORKER}

    async def start(self, ctx: Context, args: str) -> None:
        text = args.strip()
        if not text:
            await self._offer(ctx)
            return
        head, _, rest = text.partition(" ")
        if head.lower() in _AREA_WORDS and rest.strip():
            await self._area(ctx, rest.strip())
            return
        if _REGION_CODE.match(text):
            await self._area(ctx, text)
            return
        await self._activity(ctx, text)

    async def _in_scope(self, ctx: Context) -> list[int] | None:
        """KSM ids in the person's scope; None for the whole program."""
        assert ctx.person is not None
        scope = scope_of(ctx.person)
        return None if scope.is_national else await ksm_ids_in_scope(ctx.session, scope)

    async def _activities(self, ctx: Context, text: str = "") -> list[tuple[Activity, str]]:
        stmt = select(Activity, Ksm.name).join(Ksm, Ksm.id == Activity.ksm_id)
        ids = await self._in_scope(ctx)
        if ids is not None:
            stmt = stmt.where(Activity.ksm_id.in_(ids))
        if text:
            word = text.lower()
            stmt = stmt.where(
                or_(
                    func.lower(Activity.code) == word,
                    func.lower(Activity.name).contains(word, autoescape=True),
                )
            )
        rows = (await ctx.session.execute(stmt.order_by(Ksm.name, Activity.code))).all()
        exact = [(a, k) for a, k in rows if a.code.lower() == text.lower()]
        return exact or [(a, k) for a, k in rows]

    async def _offer(self, ctx: Context, prefix: str | None = None) -> None:
        rows = await self._activities(ctx)
        if not rows:
            ctx.say(ctx.t("kurva.none_in_scope"))
            ctx.finish()
            return
        lines = [prefix] if prefix else []
        lines.append(ctx.t("kurva.choose", n=fmt_number(len(rows), ctx.lang)))
        if len(rows) > MAX_BUTTONS:
            lines.append(ctx.t("kurva.choose_more", shown=MAX_BUTTONS, n=fmt_number(len(rows), ctx.lang)))
        choices = [
            Choice(label=f"{a.code} · {a.name}"[:60], value=f"a:{a.id}") for a, _ in rows[:MAX_BUTTONS]
        ]
        ctx.goto(self.name, State.PICK)
        ctx.say("\n".join(lines), choices)

    async def _activity(self, ctx: Context, text: str) -> None:
        rows = await self._activities(ctx, text)
        if len(rows) == 1:
            await self._draw_activity(ctx, rows[0][0], rows[0][1])
            return
        if not rows:
            outside = (
                await ctx.session.execute(select(Activity).where(func.lower(Activity.code) == text.lower()))
            ).scalar_one_or_none()
            if outside is not None:
                ctx.say(ctx.t("kurva.outside_scope", what=f"{outside.code} {outside.name}"))
                ctx.finish()
                return
            await self._offer(ctx, prefix=ctx.t("kurva.not_found", text=text))
            return
        choices = [
            Choice(label=f"{a.code} · {a.name}"[:60], value=f"a:{a.id}") for a, _ in rows[:MAX_BUTTONS]
        ]
        ctx.goto(self.name, State.PICK)
        ctx.say(ctx.t("kurva.choose", n=fmt_number(len(rows), ctx.lang)), choices)

    async def _draw_activity(self, ctx: Context, activity: Activity, ksm_name: str) -> None:
        ctx.finish()
        curve = await activity_curve(ctx.session, ctx.settings, activity, ctx.now)
        _send(ctx, curve, f"{activity.name} ({activity.code})", ksm_name)

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
        _send(ctx, curve, label, note, note)

    async def on_pilih(self, ctx: Context) -> None:
        if ctx.inbound.kind not in (InboundKind.TEXT, InboundKind.CHOICE) or not ctx.text:
            ctx.say(ctx.t("kurva.not_text"))
            return
        text = ctx.text
        if text.startswith("a:") and text[2:].isdigit():
            wanted = int(text[2:])
            for activity, ksm_name in await self._activities(ctx):
                if activity.id == wanted:
                    await self._draw_activity(ctx, activity, ksm_name)
                    return
            await self._offer(ctx, prefix=ctx.t("kurva.not_found", text=text))
            return
        await self.start(ctx, text)
