"""What /laporan shows: one summary of everything understood, its problems, and one Simpan."""

from __future__ import annotations

from sqlalchemy import select

from kotaku.dialog.context import Context
from kotaku.dialog.flows.report.states import ReportDraft
from kotaku.dialog.quick_report import Part
from kotaku.i18n import fmt_date, fmt_number, fmt_percent, fmt_rupiah
from kotaku.models import Activity, AttendanceMode, Worker
from kotaku.schemas import Choice
from kotaku.services.attendance import Sheet, get_attendance, preview
from kotaku.services.obstacles import category_label, severity_label

NAMES_SHOWN = 6


def sheet_of(draft: ReportDraft, *, male_default: bool | None = None) -> Sheet | None:
    """The attendance sheet the draft would save; count mode without a split needs `male_default`
    (True: all men, False: all women) or returns None."""
    part = draft.attendance
    if part is None or not part.ok:
        return None
    paid = bool(draft.wages and draft.wages.paid)
    if part.mode == AttendanceMode.ROSTER:
        return Sheet(
            work_date=draft.day,
            mode=AttendanceMode.ROSTER,
            worker_ids=tuple(part.worker_ids),
            wages_paid=paid,
        )
    male, female = part.male, part.female
    if not part.split:
        if male_default is None:
            return None
        male, female = (part.total, 0) if male_default else (0, part.total)
    return Sheet(
        work_date=draft.day,
        mode=AttendanceMode.COUNT,
        count_male=male,
        count_female=female,
        rate=part.rate,
        total_wages=part.total_wages,
        wages_paid=paid,
    )


async def _names(ctx: Context, ids: list[int]) -> str:
    if not ids:
        return ""
    rows = (await ctx.session.execute(select(Worker.id, Worker.name).where(Worker.id.in_(ids)))).all()
    by_id = dict(rows)
    names = [by_id[i] for i in ids if i in by_id]
    shown = ", ".join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return shown + (ctx.t("laporan.more", n=more) if more > 0 else "")


async def summary_text(ctx: Context, draft: ReportDraft) -> str:
    ksm = await ctx.ksm(draft.ksm)
    lines = [ctx.t("laporan.title", ksm=ksm.name, date=fmt_date(draft.day, ctx.lang))]
    part = draft.attendance
    if part is not None and part.ok:
        sheet = sheet_of(draft, male_default=True) if not part.split else sheet_of(draft)
        assert sheet is not None
        figures = await preview(ctx.session, draft.ksm, sheet)
        if part.mode == AttendanceMode.COUNT and not part.split:
            split = ctx.t("laporan.split_unknown")
        else:
            split = ctx.t("laporan.split", male=figures.male, female=figures.female)
        lines.append(
            ctx.t(
                "laporan.att_line",
                n=fmt_number(figures.workers, ctx.lang),
                split=split,
                wages=fmt_rupiah(figures.total_wages, ctx.lang),
            )
        )
        if part.absent_ids:
            lines.append(ctx.t("laporan.att_absent", names=await _names(ctx, part.absent_ids)))
        existing = await get_attendance(ctx.session, draft.ksm, draft.day)
        if existing is not None:
            lines.append(ctx.t("laporan.att_replaces", n=existing.count_male + existing.count_female))
    for item in draft.progress:
        activity = await ctx.session.get(Activity, item.activity_id)
        assert activity is not None
        previous = (
            ctx.t("laporan.prog_previous", pct=fmt_percent(item.previous, ctx.lang))
            if item.previous is not None
            else ctx.t("laporan.prog_first")
        )
        lines.append(
            ctx.t(
                "laporan.prog_line",
                activity=activity.name,
                pct=fmt_percent(item.percent, ctx.lang),
                previous=previous,
            )
        )
        if item.photo_required and not _has_photo_for(draft, item.activity_id):
            lines.append(ctx.t("laporan.prog_photo_required", milestone=item.milestone))
    if draft.obstacle is not None:
        ob = draft.obstacle
        lines.append(
            ctx.t(
                "laporan.obs_line",
                category=category_label(ob.category, ctx.lang),
                severity=severity_label(ob.severity, ctx.lang),
                description=ob.description,
            )
        )
        if not ob.severity_given:
            lines.append(ctx.t("laporan.obs_severity_default"))
    if draft.wages is not None and draft.wages.paid is not None:
        lines.append(ctx.t("laporan.wages_paid" if draft.wages.paid else "laporan.wages_unpaid"))
    if draft.photos:
        lines.append(ctx.t("laporan.photos", n=len(draft.photos)))
    for problem in draft.problems:
        lines.append(ctx.t(f"laporan.{problem.key}", **problem.args))
    if draft.unread:
        lines.append(ctx.t("laporan.unread", text="; ".join(f"“{u}”" for u in draft.unread)))
    if draft.empty:
        lines.append(ctx.t("laporan.nothing"))
    elif draft.blocked:
        lines.append(ctx.t("laporan.fix_first"))
    elif missing_photo(draft):
        lines.append(ctx.t("laporan.photo_first"))
    else:
        lines.append(ctx.t("laporan.confirm"))
    return "\n".join(lines)


def _has_photo_for(draft: ReportDraft, activity_id: int) -> bool:
    return any(a == activity_id for a in draft.photo_activity)


def missing_photo(draft: ReportDraft) -> bool:
    return any(p.photo_required and not _has_photo_for(draft, p.activity_id) for p in draft.progress)


def _parts_present(draft: ReportDraft) -> list[str]:
    present = {p.part for p in draft.problems}
    if draft.attendance is not None:
        present.add(Part.HADIR.value)
    if draft.progress:
        present.add(Part.PROGRES.value)
    if draft.obstacle is not None:
        present.add(Part.KENDALA.value)
    if draft.wages is not None:
        present.add(Part.UPAH.value)
    return [p.value for p in Part if p.value in present]


MAX_BUTTONS = 3  # WhatsApp shows up to three reply buttons; more become a list (one more tap)


def summary_choices(ctx: Context, draft: ReportDraft) -> list[Choice]:
    """At most three buttons, so that saving is one tap on every channel: Simpan (two when the L/P split
    is to be said), the fix of the first part that blocks, ✏️ Ubah (which part), ❌ Batal."""
    choices: list[Choice] = []
    if not draft.empty and not draft.blocked and not missing_photo(draft):
        part = draft.attendance
        if part is not None and part.ok and part.mode == AttendanceMode.COUNT and not part.split:
            choices.append(Choice(label=ctx.t("laporan.save_all_male"), value="simpan:l"))
            choices.append(Choice(label=ctx.t("laporan.save_all_female"), value="simpan:p"))
        else:
            choices.append(Choice(label=ctx.t("laporan.save"), value="simpan"))
    if draft.blocked:
        first = draft.blocked[0].part
        if first in {p.value for p in Part}:
            choices.append(Choice(label=ctx.t(f"laporan.edit.{first}"), value=f"ubah:{first}"))
    if _parts_present(draft):
        choices.append(Choice(label=ctx.t("laporan.edit_which"), value="ubah"))
    choices.append(Choice(label=ctx.t("laporan.cancel"), value="/batal"))
    return choices[:MAX_BUTTONS]


def part_choices(ctx: Context, draft: ReportDraft) -> list[Choice]:
    """Which part to change: the parts of the report, and back to the summary."""
    choices = [Choice(label=ctx.t(f"laporan.edit.{p}"), value=f"ubah:{p}") for p in _parts_present(draft)]
    choices.append(Choice(label=ctx.t("laporan.back"), value="kembali"))
    return choices
