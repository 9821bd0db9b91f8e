"""The longer messages of /hadir: the date buttons, the roster checklist and the summary of a sheet."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from babel.dates import format_date

from kotaku.dialog.context import Context
from kotaku.i18n import fmt_date, fmt_number, fmt_rupiah, locale
from kotaku.schemas import Choice
from kotaku.services.attendance import AttendanceSummary

TICKED, UNTICKED = "✅", "⬜"
# Rosters up to this size are listed whole in the checklist text, numbered 1..N, so a number typed on any
# page means one worker (WhatsApp cannot show more than 10 rows of buttons); a longer roster lists only
# the page shown, still numbered across the whole roster (11..20 on page 2), to keep the message short.
LIST_ALL_MAX = 50


def short_day(d: dt.date, lang: str) -> str:
    return format_date(d, format="EEEE, d MMM" if lang == "id" else "EEE, d MMM", locale=locale(lang))


def skill_label(ctx: Context, skill: str) -> str:
    return ctx.t(f"hadir.skill.{skill}")


def date_choices(ctx: Context, today: dt.date) -> list[Choice]:
    yesterday = today - dt.timedelta(days=1)
    return [
        Choice(label=ctx.t("hadir.today", day=short_day(today, ctx.lang)), value=f"d:{today}"),
        Choice(label=ctx.t("hadir.yesterday", day=short_day(yesterday, ctx.lang)), value=f"d:{yesterday}"),
    ]


def worker_choice(worker_id: int, name: str, ticked: bool) -> Choice:
    return Choice(label=f"{TICKED if ticked else UNTICKED} {name}", value=f"t:{worker_id}")


def numbered_lines(
    workers: Sequence[tuple[int, str]], present: set[int], page: int, page_size: int
) -> list[str]:
    """`1. ✅ Agus Salim`: the roster numbered as typed numbers are read (1 = the first on the roster)."""
    first, last = (
        (0, len(workers)) if len(workers) <= LIST_ALL_MAX else (page * page_size, (page + 1) * page_size)
    )
    return [
        f"{i}. {TICKED if wid in present else UNTICKED} {name}"
        for i, (wid, name) in enumerate(workers[first:last], first + 1)
    ]


def checklist(
    ctx: Context,
    *,
    ksm_name: str,
    day: dt.date,
    workers: Sequence[tuple[int, str]],
    present: set[int],
    page: int,
    page_size: int,
    target: int | None,
    note: str | None,
) -> tuple[str, list[Choice]]:
    """The checklist page: the names (worker id, name) ticked or not, all/none, paging, a new worker and
    "Done (n)"; the text lists the roster numbered 1..N and says numbers and names can be typed."""
    pages = max(1, -(-len(workers) // page_size))
    choices = [
        worker_choice(wid, name, wid in present)
        for wid, name in workers[page * page_size : (page + 1) * page_size]
    ]
    all_ticked = bool(workers) and all(wid in present for wid, _ in workers)
    choices.append(
        Choice(label=ctx.t("hadir.none"), value="none")
        if all_ticked
        else Choice(label=ctx.t("hadir.all"), value="all")
    )
    if page > 0:
        choices.append(Choice(label=ctx.t("hadir.prev_page"), value=f"pg:{page - 1}"))
    if page < pages - 1:
        choices.append(Choice(label=ctx.t("hadir.next_page"), value=f"pg:{page + 1}"))
    choices.append(Choice(label=ctx.t("hadir.new_worker"), value="new"))
    n = len(present & {wid for wid, _ in workers})
    choices.append(Choice(label=ctx.t("hadir.done", n=n), value="done"))
    lines = [note] if note else []
    if target is not None:
        lines.append(ctx.t("hadir.target", n=fmt_number(target, ctx.lang)))
    lines.append(
        ctx.t(
            "hadir.checklist",
            ksm=ksm_name,
            date=fmt_date(day, ctx.lang, with_weekday=True),
            n=n,
            total=len(workers),
            page=ctx.t("hadir.page", page=page + 1, pages=pages) if pages > 1 else "",
        )
    )
    lines += numbered_lines(workers, present, page, page_size)
    lines.append(ctx.t("hadir.type_hint"))
    return "\n".join(lines), choices


def paid_word(ctx: Context, paid: bool) -> str:
    return ctx.t("hadir.paid" if paid else "hadir.unpaid")


def summary_lines(ctx: Context, s: AttendanceSummary) -> list[str]:
    """Date, workers by gender, skills, HOK and wages of a sheet (the confirmation)."""
    lines = [
        fmt_date(s.start, ctx.lang, with_weekday=True),
        ctx.t(
            "hadir.line_workers",
            n=fmt_number(s.workers, ctx.lang),
            male=fmt_number(s.male, ctx.lang),
            female=fmt_number(s.female, ctx.lang),
        ),
    ]
    if s.skills:
        skills = ", ".join(
            f"{skill_label(ctx, k)} {fmt_number(v, ctx.lang)}" for k, v in sorted(s.skills.items())
        )
        lines.append(ctx.t("hadir.line_skills", skills=skills))
    lines.append(ctx.t("hadir.line_hok", hok=fmt_number(s.hok, ctx.lang)))
    if s.total_wages:  # paid or not is said by the save button of the confirmation
        lines.append(ctx.t("hadir.line_wages_due", wages=fmt_rupiah(s.total_wages)))
    else:
        lines.append(
            ctx.t("hadir.line_wages", wages=fmt_rupiah(s.total_wages), paid=paid_word(ctx, s.wages_paid))
        )
    return lines
