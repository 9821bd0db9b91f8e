"""The S-curve picture sent by /kurva: planned vs actual, the critical band shaded, today marked.

Drawn with matplotlib's Agg backend (no display needed) at 1080x1350 px with large type, so it reads on
a phone held upright. Dates on the axis are formatted with Babel in the reader's language.
"""

from __future__ import annotations

import io
import itertools
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import matplotlib
import matplotlib.dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from kotaku import catalogue
from kotaku.config import MonitoringConfig
from kotaku.i18n import fmt_percent, fmt_short_date

WIDTH_PX = 1080
HEIGHT_PX = 1350
DPI = 150

PLANNED_COLOUR = "#1f5fa8"
ACTUAL_COLOUR = "#e07b00"
CRITICAL_COLOUR = "#d62728"
TODAY_COLOUR = "#333333"
# Characters per line of the heading at its font size, so long names wrap instead of running off.
TITLE_CHARS = 34
SUBTITLE_CHARS = 54


@dataclass(frozen=True)
class CriticalBand:
    """Where "kritis" starts: more than `behind_low` points behind while planned <= `low_plan_max`,
    more than `behind_high` points behind above it (the `monitoring.critical_*` settings)."""

    low_plan_max: float = 70.0
    behind_low: float = 10.0
    behind_high: float = 5.0

    @classmethod
    def from_config(cls, cfg: MonitoringConfig) -> CriticalBand:
        return cls(cfg.critical_low_plan_max, cfg.critical_behind_low, cfg.critical_behind_high)

    def threshold(self, planned: float) -> float:
        """The actual percent below which an activity with this planned percent is critical."""
        limit = self.behind_low if round(planned, 2) <= self.low_plan_max else self.behind_high
        return max(planned - limit, 0.0)


def _daily(points: Sequence[tuple[date, float]]) -> list[tuple[date, float]]:
    """Linear interpolation of plan points to one value per day, for a smooth band edge."""
    pts = sorted(points)
    if len(pts) < 2:
        return list(pts)
    out: list[tuple[date, float]] = []
    for (d0, p0), (d1, p1) in itertools.pairwise(pts):
        span = (d1 - d0).days
        for i in range(span):
            out.append((d0 + timedelta(days=i), p0 + (p1 - p0) * i / span))
    out.append(pts[-1])
    return out


def render_scurve(
    planned: Sequence[tuple[date, float]],
    actual: Sequence[tuple[date, float]],
    *,
    today: date,
    title: str,
    lang: str = "id",
    band: CriticalBand | None = None,
    subtitle: str = "",
) -> bytes:
    """A PNG (1080x1350 px) of the planned curve, the actual progress, the critical zone and today."""
    band = band or CriticalBand()
    plan_daily = _daily(planned)
    t = lambda key: catalogue.t(key, lang)  # noqa: E731

    # A Figure of its own with the Agg canvas: no pyplot global state, safe in a server process.
    with matplotlib.rc_context({"font.size": 15, "legend.fontsize": 14}):
        fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        # The x values are dates, which matplotlib's date converter takes but its type stubs do not
        # (hence the arg-type ignores below).
        if plan_daily:
            xs = [d for d, _ in plan_daily]
            ys = [p for _, p in plan_daily]
            edge = [band.threshold(p) for p in ys]
            ax.fill_between(
                xs,  # type: ignore[arg-type]
                0,
                edge,
                color=CRITICAL_COLOUR,
                alpha=0.13,
                linewidth=0,
                label=t("kurva.legend.critical"),
            )
            ax.plot(
                xs,  # type: ignore[arg-type]
                edge,
                color=CRITICAL_COLOUR,
                linewidth=1.2,
                linestyle=":",
                alpha=0.8,
            )
            ax.plot(
                xs,  # type: ignore[arg-type]
                ys,
                color=PLANNED_COLOUR,
                linewidth=3.5,
                label=t("kurva.legend.planned"),
            )
        if actual:
            pts = sorted(actual)
            ax.plot(
                [d for d, _ in pts],  # type: ignore[arg-type]
                [p for _, p in pts],
                color=ACTUAL_COLOUR,
                linewidth=3.5,
                marker="o",
                markersize=6 if len(pts) <= 40 else 0,
                drawstyle="steps-post",
                label=t("kurva.legend.actual"),
            )
            last_day, last_pct = pts[-1]
            ax.annotate(
                fmt_percent(last_pct, lang),
                (mdates.date2num(last_day), last_pct),
                xytext=(8, 10),
                textcoords="offset points",
                color=ACTUAL_COLOUR,
                fontsize=17,
                fontweight="bold",
            )
        ax.axvline(mdates.date2num(today), color=TODAY_COLOUR, linewidth=2, linestyle="--")
        ax.annotate(
            t("kurva.legend.today") + "\n" + fmt_short_date(today, lang),
            (mdates.date2num(today), 100),
            xytext=(6, -6),
            textcoords="offset points",
            va="top",
            fontsize=13,
            color=TODAY_COLOUR,
        )

        ax.set_ylim(0, 105)
        ax.set_yticks(range(0, 101, 10))
        ax.set_ylabel(t("kurva.axis.percent"))
        ax.grid(True, color="#dddddd", linewidth=0.8)
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=6))
        ax.xaxis.set_major_formatter(
            FuncFormatter(lambda x, _pos: fmt_short_date(mdates.num2date(x).date(), lang))
        )
        for label in ax.get_xticklabels():
            label.set_rotation(0)
        ax.legend(loc="upper left", frameon=True, framealpha=0.9)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        title_lines = textwrap.wrap(title, TITLE_CHARS, break_on_hyphens=False) or [""]
        sub_lines = [w for part in subtitle.splitlines() for w in textwrap.wrap(part, SUBTITLE_CHARS)]
        fig.text(0.04, 0.985, "\n".join(title_lines), fontsize=20, fontweight="bold", va="top")
        if sub_lines:
            fig.text(
                0.04,
                0.985 - 0.042 * len(title_lines),
                "\n".join(sub_lines),
                fontsize=14.5,
                color="#444444",
                va="top",
            )
        header = 0.042 * len(title_lines) + 0.026 * len(sub_lines) + 0.03
        fig.tight_layout(rect=(0, 0, 1, 1 - header))
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI)
        return buf.getvalue()
