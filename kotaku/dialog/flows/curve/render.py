"""The S-curve as a picture with its caption: plan, actual, deviation and status in the user's language."""

from __future__ import annotations

import re

from kotaku.dialog.context import Context
from kotaku.i18n import fmt_percent, fmt_signed
from kotaku.monitoring.chart import CriticalBand, render_scurve
from kotaku.monitoring.curves import Curve


def _figures(ctx: Context, curve: Curve) -> dict[str, str]:
    a = curve.assessment
    return {
        "planned": fmt_percent(a.planned, ctx.lang),
        "actual": fmt_percent(a.actual, ctx.lang) if a.actual is not None else ctx.t("kurva.no_report"),
        "deviation": fmt_signed(a.deviation, ctx.lang) if a.deviation is not None else "–",
        "status": ctx.t(f"rekap.status.{a.status.value}"),
    }


def send_curve(ctx: Context, curve: Curve, title: str, where: str, extra: str = "") -> None:
    """Send the curve as a PNG titled `title`, `where` under the title, `extra` after the caption."""
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
