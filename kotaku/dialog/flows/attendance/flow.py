"""/hadir (/attendance): who worked today, in as few taps as possible.

Button path (roster KSM): /hadir → "Hari ini" → "Semua hadir" (untick who is absent) → "Selesai" →
"Simpan · sudah dibayar". Count KSM: /hadir → "Hari ini" → "18L 5P" → rate → "Simpan · sudah dibayar".

Quick forms (today's date, straight to the confirmation): `/hadir semua`, `/hadir Budi, Sari, Joko`
(roster names, tolerant matching; ambiguous or unknown names are asked one by one with buttons),
`/hadir 23`, `/hadir 18L 5P`.

Typed on the checklist (WhatsApp: no message edits, at most 10 list rows; one message instead of a tap
per worker): the text lists the roster numbered 1..N across pages, and `1 3 7`, `1-5`, `1 sampai 5`,
`agus, bambang`, `semua`, `semua kecuali 3 7`, `tidak ada`, `-3 7`, `hapus agus` are read by
`quick.parse_roster_selection`; the checklist comes back with one line saying what changed.

Decisions:
- On a KSM that keeps a roster, a number (`/hadir 12`) does not switch to count mode: the checklist opens
  with "you said 12" as a reminder, so every worker-day stays tied to a NIK (cross-site and wage checks).
  Count mode is used when the KSM keeps no roster, or its roster is still empty.
- Count mode with a total only (`23`, also `/hadir 23`): the gender split is asked, one tap ("Semua L",
  "Semua P") or typed (`15 L 8 P`); a total is never stored as men without being asked.
- Whether the wages were paid is said by the save button (✅ Simpan · sudah dibayar / belum dibayar), not
  by a question of its own: one tap fewer on every sheet.
- Wages in count mode: a rate per worker (buttons, the service's `count_rates()`) or a typed amount;
  amounts above the service's `MAX_RATE_GUESS` (or starting with "total") are the day's total wages.
- A second /hadir for a day that has a sheet shows it and offers to replace it (a correction: audited).
- New workers added from the checklist are part of the draft: listed and ticked at once, they go on the
  roster only when the sheet is saved (a cancelled, replaced or expired draft adds no one). Their NIK is
  checked at entry against the roster and the other new workers, kept in the draft only encrypted, and
  shown only masked.
- A typed selection is all or nothing: with any number or name not understood (or a name that could be
  several workers) nothing changes, and the reply lists what was not understood. Typed numbers refer to
  the numbering last shown (`draft.numbered`): if the roster changed since, they are refused and the
  list is shown again renumbered (names still work).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from typing import ClassVar

from kotaku import catalogue
from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow, Step
from kotaku.dialog.flows.attendance import render
from kotaku.dialog.flows.attendance.states import AttendanceDraft, NewWorker, Next, PendingName, State
from kotaku.dialog.inputs import (
    CANCEL_WORDS,
    DONE_WORDS,
    NO_WORDS,
    SAVE_WORDS,
    SKIP_WORDS,
    YES_WORDS,
    has_text,
    kind_word,
    picked_amount,
    picked_id,
    picked_key,
    picked_page,
    typed_value,
)
from kotaku.dialog.quick import (
    Count,
    CountError,
    SelectAction,
    Selection,
    SelectionError,
    TooManyNames,
    closest_names,
    is_all,
    match_name,
    match_names,
    normalize_name,
    parse_count,
    parse_day,
    parse_gender,
    parse_roster_selection,
    parse_rupiah,
    parse_skill,
    parse_wages,
)
from kotaku.i18n import fmt_date, fmt_number, fmt_rupiah
from kotaku.models import AttendanceMode, Role, Skill
from kotaku.schemas import Choice
from kotaku.security import InvalidNik, mask_nik, normalize_nik, vault_from_settings
from kotaku.services.attendance import (
    MAX_BACK_DAYS,
    MAX_DAILY_RATE,
    MAX_WORKERS_PER_DAY,
    NAME_MAX_CHARS,
    NAME_MIN_CHARS,
    AttendanceError,
    AttendanceSummary,
    DateCheck,
    DuplicateNik,
    PendingWorker,
    Sheet,
    active_roster,
    attendance_summary,
    attendance_worker_ids,
    check_work_date,
    clean_late_reason,
    clean_worker_name,
    count_rates,
    fill_split,
    get_attendance,
    interpret_amount,
    offered_rates,
    preview,
    save_attendance,
    suggested_rate,
    uses_roster,
    valid_daily_rate,
    worker_with_nik,
)

NAME = "hadir"
EDIT_KEY = "hadir-roster"  # the checklist is edited in place on channels that can
NAMES_SHOWN = 6  # names in a confirmation line before "+n more"
NEW_MARK = "🆕"  # after the name of a worker who goes on the roster when the sheet is saved
REPLACE_WORDS = frozenset({"ganti", "koreksi", "replace", "ya", "yes"})
EDIT_WORDS = frozenset({"ubah", "edit", "change"})
BACK_WORDS = frozenset({"kembali", "back"})


def _amount(raw: str) -> int | None:
    """A rate button (`r:85000`) or a typed Rupiah amount; None when neither reads."""
    if raw.startswith("r:"):
        return picked_amount(raw, "r:")
    return parse_rupiah(raw)


def _with_note(note: str | None, text: str) -> str:
    return f"{note}\n{text}" if note else text


def _name_with_nik(added: list[NewWorker], nik_hash: str) -> str | None:
    """The name of the draft's new worker with this NIK, if any."""
    return next((n.name for n in added if n.nik_hash == nik_hash), None)


def _pending(new: NewWorker) -> PendingWorker:
    assert new.gender is not None and new.skill is not None and new.daily_rate is not None
    assert new.nik_token is not None and new.nik_hash is not None
    return PendingWorker(
        key=new.key,
        name=new.name,
        gender=new.gender,
        skill=new.skill,
        nik_encrypted=new.nik_token.encode(),
        nik_hash=new.nik_hash,
        daily_rate=new.daily_rate,
    )


class AttendanceFlow(Flow[AttendanceDraft]):
    name = NAME
    commands = ("hadir", "attendance")
    roles = frozenset({Role.KETUA_KSM, Role.BKM, Role.FASILITATOR})
    needs_ksm = True
    draft_type = AttendanceDraft

    async def step(self, ctx: Context) -> None:
        # "batal" typed without the slash cancels too (the engine only sees "/batal").
        if not ctx.is_choice and normalize_name(ctx.text) in CANCEL_WORDS and ctx.state != State.LATE_REASON:
            ctx.finish()
            ctx.say(ctx.t("engine.cancelled"))
            return
        await super().step(ctx)

    # --- entry -----------------------------------------------------------------------------------

    async def start(self, ctx: Context, args: str) -> None:
        draft = await self._open(ctx)
        args = args.strip()
        if not args:
            await self._ask_date(ctx)
            return
        draft.date = await ctx.today_for_ksm(draft.ksm)
        draft.next = await self._quick_form(ctx, draft, args)
        await self._continue(ctx)

    async def start_on(self, ctx: Context, work_date: dt.date) -> None:
        """Begin for a date already chosen (a correction picked in /ubah), as if that day had been tapped."""
        draft = await self._open(ctx)
        await self._chose_day(ctx, work_date, await ctx.today_for_ksm(draft.ksm))

    async def _open(self, ctx: Context) -> AttendanceDraft:
        """A fresh sheet for the draft's KSM: roster mode when it keeps a (non-empty) roster."""
        ctx.goto(NAME, State.ASK_DATE)
        draft = self.draft(ctx)
        ksm = await ctx.ksm(draft.ksm)
        roster = await uses_roster(ctx.session, ksm.id, ksm.keeps_roster)
        draft.mode = AttendanceMode.ROSTER if roster else AttendanceMode.COUNT
        draft.present, draft.page, draft.paid = [], 0, False
        return draft

    async def _quick_form(self, ctx: Context, draft: AttendanceDraft, args: str) -> Next:
        """Read `/hadir <args>` (everyone, a count or names) into the draft; where to go next."""
        if is_all(args):
            if not draft.roster:
                ctx.say(ctx.t("hadir.no_roster_names"))
                return Next.ENTRY
            draft.present = [w.id for w in await active_roster(ctx.session, draft.ksm)]
            return Next.CONFIRM
        if any(ch.isdigit() for ch in args):
            try:
                count = parse_count(args)
            except CountError as exc:
                ctx.say(ctx.t(f"hadir.count_{exc.code}"))
                return Next.ENTRY
            if draft.roster:
                draft.target = count.total
                return Next.ENTRY
            if count.total > MAX_WORKERS_PER_DAY:
                ctx.say(self._too_many(ctx, count.total))
                return Next.ENTRY
            self._set_count(draft, count)
            return Next.CONFIRM
        if not draft.roster:
            ctx.say(ctx.t("hadir.no_roster_names"))
            return Next.ENTRY
        try:
            matches = match_names(args, await self._roster_pairs(ctx))
        except TooManyNames as exc:
            ctx.say(ctx.t("hadir.too_many_names", max=exc.limit))
            return Next.ENTRY
        for m in matches:
            if not m.resolved:
                draft.queue.append(PendingName(q=m.query, ids=list(m.ids)))
            elif m.ids[0] not in draft.present:
                draft.present.append(m.ids[0])
        return Next.NAMES if draft.queue else Next.CONFIRM

    async def _continue(self, ctx: Context) -> None:
        """After the date: show an existing sheet once, then go where `next` says."""
        draft = self.draft(ctx)
        if not draft.checked_existing:
            draft.checked_existing = True
            summary = await attendance_summary(ctx.session, draft.ksm, draft.day)
            if summary is not None:
                ctx.goto(NAME, State.EXISTS)
                ctx.say(
                    ctx.t(
                        "hadir.exists",
                        date=fmt_date(draft.day, ctx.lang, with_weekday=True),
                        revision=summary.revision,
                        workers=fmt_number(summary.workers, ctx.lang),
                        wages=fmt_rupiah(summary.total_wages),
                    ),
                    [self._replace(ctx), self._cancel(ctx)],
                )
                return
        if draft.next == Next.NAMES:
            await self._ask_next_name(ctx)
        elif draft.next == Next.CONFIRM and not draft.roster and not draft.split and draft.total:
            await self._ask_split(ctx)  # `/hadir 23`: the L/P split in one tap before the summary
        elif draft.next == Next.CONFIRM:
            await self._confirm(ctx)
        else:
            await self._entry(ctx)

    async def _entry(self, ctx: Context) -> None:
        if self.draft(ctx).roster:
            await self._checklist(ctx)
        else:
            await self._ask_count(ctx)

    # --- helpers ---------------------------------------------------------------------------------

    def _wrong_kind(self, ctx: Context, state: State) -> bool:
        """Hint when a photo, voice note, location or empty message arrives where text is expected."""
        if has_text(ctx):
            return False
        ctx.say(ctx.t("hadir.wrong_kind", kind=kind_word(ctx), help=ctx.t(f"hadir.help.{state.value}")))
        return True

    def _sheet(self, ctx: Context) -> Sheet:
        d = self.draft(ctx)
        if d.roster:
            return Sheet(
                work_date=d.day,
                mode=AttendanceMode.ROSTER,
                worker_ids=tuple(d.present),
                wages_paid=d.paid,
                late_reason=d.late_reason,
                new_workers=tuple(_pending(n) for n in d.added),
            )
        return Sheet(
            work_date=d.day,
            mode=AttendanceMode.COUNT,
            count_male=d.male,
            count_female=d.female,
            rate=d.rate,
            total_wages=d.total_wages,
            wages_paid=d.paid,
            late_reason=d.late_reason,
        )

    async def _roster_pairs(self, ctx: Context) -> list[tuple[int, str]]:
        """The roster as the checklist lists it: the KSM's workers, then the new ones of this draft."""
        draft = self.draft(ctx)
        listed = [(w.id, w.name) for w in await active_roster(ctx.session, draft.ksm)]
        return listed + [(n.key, n.name) for n in draft.added]

    def _too_many(self, ctx: Context, n: int) -> str:
        return ctx.t("hadir.too_many", n=fmt_number(n, ctx.lang), max=MAX_WORKERS_PER_DAY)

    def _replace(self, ctx: Context) -> Choice:
        return Choice(label=ctx.t("hadir.replace"), value="replace")

    def _cancel(self, ctx: Context) -> Choice:
        return Choice(label=ctx.t("hadir.cancel"), value="/batal")

    def _skip(self, ctx: Context) -> Choice:
        return Choice(label=ctx.t("hadir.skip"), value="skip")

    def _back(self, ctx: Context) -> Choice:
        return Choice(label=ctx.t("hadir.back"), value="back")

    def _paid_choices(self, ctx: Context) -> list[Choice]:
        return [
            Choice(label=ctx.t("hadir.yes_paid"), value="paid:1"),
            Choice(label=ctx.t("hadir.not_paid"), value="paid:0"),
        ]

    # --- date ------------------------------------------------------------------------------------

    async def _ask_date(self, ctx: Context, note: str | None = None) -> None:
        draft = self.draft(ctx)
        today = await ctx.today_for_ksm(draft.ksm)
        ksm = await ctx.ksm(draft.ksm)
        ctx.goto(NAME, State.ASK_DATE)
        ctx.say(_with_note(note, ctx.t("hadir.ask_date", ksm=ksm.name)), render.date_choices(ctx, today))

    async def on_date(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.ASK_DATE):
            return
        today = await ctx.today_for_ksm(self.draft(ctx).ksm)
        chosen = parse_day(ctx.text.removeprefix("d:"), today)
        if chosen is None:
            await self._ask_date(ctx, ctx.t("hadir.bad_date"))
            return
        await self._chose_day(ctx, chosen, today)

    async def _chose_day(self, ctx: Context, chosen: dt.date, today: dt.date) -> None:
        check = check_work_date(chosen, today)
        shown = fmt_date(chosen, ctx.lang, with_weekday=True)
        if check == DateCheck.FUTURE:
            await self._ask_date(ctx, ctx.t("hadir.future_date", date=shown))
            return
        if check == DateCheck.TOO_OLD:
            await self._ask_date(ctx, ctx.t("hadir.too_old", date=shown, days=MAX_BACK_DAYS))
            return
        draft = self.draft(ctx)
        draft.date, draft.next = chosen, Next.ENTRY
        if check == DateCheck.NEEDS_REASON:
            ctx.goto(NAME, State.LATE_REASON)
            ctx.say(ctx.t("hadir.ask_reason", date=shown))
            return
        ctx.touch()
        await self._continue(ctx)

    async def on_late_reason(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.LATE_REASON):
            return
        reason = clean_late_reason(ctx.text)
        if reason is None:
            ctx.say(ctx.t("hadir.short_reason"))
            return
        self.draft(ctx).late_reason = reason
        ctx.touch()
        await self._continue(ctx)

    async def on_exists(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.EXISTS):
            return
        value = typed_value(ctx, [self._replace(ctx)])
        if value != "replace" and normalize_name(value) not in REPLACE_WORDS:
            ctx.say(ctx.t("hadir.help.sudah_ada"), [self._replace(ctx), self._cancel(ctx)])
            return
        draft = self.draft(ctx)
        draft.replacing = True
        day = await get_attendance(ctx.session, draft.ksm, draft.day)
        if day is not None and draft.next == Next.ENTRY:
            # Start the correction from the saved sheet.
            draft.paid = day.wages_paid
            if draft.roster and day.mode == AttendanceMode.ROSTER:
                draft.present = await attendance_worker_ids(ctx.session, day.id)
        ctx.touch()
        await self._continue(ctx)

    # --- roster checklist ------------------------------------------------------------------------

    async def _checklist(
        self, ctx: Context, note: str | None = None, pairs: list[tuple[int, str]] | None = None
    ) -> None:
        """The checklist page; `pairs`: the roster as `_roster_pairs` gave it in this step, when read."""
        draft = self.draft(ctx)
        ksm = await ctx.ksm(draft.ksm)
        if pairs is None:
            pairs = await self._roster_pairs(ctx)
        workers = [(wid, f"{name} {NEW_MARK}" if wid < 0 else name) for wid, name in pairs]
        size = ctx.settings.dialog.roster_page_size
        pages = max(1, -(-len(workers) // size))
        draft.page = min(max(draft.page, 0), pages - 1)
        draft.numbered = [wid for wid, _ in workers]
        ctx.goto(NAME, State.CHECKLIST)
        text, choices = render.checklist(
            ctx,
            ksm_name=ksm.name,
            day=draft.day,
            workers=workers,
            present=set(draft.present),
            page=draft.page,
            page_size=size,
            target=draft.target,
            note=note,
        )
        ctx.say(text, choices, columns=2, edit_key=EDIT_KEY)

    async def on_checklist(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.CHECKLIST):
            await self._checklist(ctx)
            return
        draft = self.draft(ctx)
        pairs = await self._roster_pairs(ctx)
        roster_ids = {wid for wid, _ in pairs}
        present = [i for i in draft.present if i in roster_ids]
        # Typed labels of the fixed buttons count as those buttons; a typed name is read as a selection
        # (it ticks, with a confirmation line) rather than toggling like its button.
        typed = [
            Choice(label=ctx.t("hadir.all"), value="all"),
            Choice(label=ctx.t("hadir.none"), value="none"),
            Choice(label=ctx.t("hadir.next_page"), value=f"pg:{draft.page + 1}"),
            Choice(label=ctx.t("hadir.prev_page"), value=f"pg:{max(draft.page - 1, 0)}"),
            Choice(label=ctx.t("hadir.new_worker"), value="new"),
        ]
        value = typed_value(ctx, typed)
        word = normalize_name(value)
        page = picked_page(value, "pg:")
        note = None
        if value.startswith("t:"):
            wid = picked_key(value, "t:")
            if wid is None:
                note = ctx.t("input.bad_choice")
            elif wid not in roster_ids:
                note = ctx.t("hadir.not_on_roster")
            elif wid in present:
                present.remove(wid)
            else:
                present.append(wid)
        elif value == "all" or is_all(value):
            present = [wid for wid, _ in pairs]
            if not ctx.is_choice:
                note = ctx.t("hadir.typed_all", n=len(present))
        elif value == "none":
            present = []
            if not ctx.is_choice:
                note = ctx.t("hadir.typed_none")
        elif page is not None:
            draft.page = page
        elif value.startswith("pg:"):
            note = ctx.t("input.bad_choice")
        elif value == "new":
            draft.present = present
            await self._ask_new_name(ctx)
            return
        elif value == "done" or word in DONE_WORDS or word.startswith("selesai"):
            draft.present = present
            ctx.touch()
            await self._after_entry(ctx)
            return
        else:
            present, note = self._typed_selection(ctx, pairs, present)
        draft.present = present
        ctx.touch()
        await self._checklist(ctx, note, pairs)

    def _typed_selection(
        self, ctx: Context, pairs: list[tuple[int, str]], present: list[int]
    ) -> tuple[list[int], str]:
        """Apply numbers, ranges and names typed on the checklist (`1 3 7`, `1-5`, `agus, bambang`,
        `semua kecuali 3 7`, `-3 7`): the new ticks and a line saying what changed; or, when anything
        was not understood, the ticks as they were and what was not understood."""
        ids = [wid for wid, _ in pairs]
        names = [name for _, name in pairs]
        result = parse_roster_selection(ctx.text, names)
        if isinstance(result, SelectionError):
            return present, self._selection_problem(ctx, result, names)
        numbered = self.draft(ctx).numbered
        if result.by_number and numbered and numbered != ids:
            return present, ctx.t("hadir.list_changed")
        position = {wid: i for i, wid in enumerate(ids)}
        before = frozenset(position[wid] for wid in present)
        after = result.apply(before)
        kept = [wid for wid in present if position[wid] in after]
        return kept + [ids[i] for i in sorted(after - before)], self._selection_note(
            ctx, result, before, after, names
        )

    def _name_list(self, ctx: Context, names: list[str], positions: frozenset[int]) -> str:
        shown = [names[i] for i in sorted(positions)]
        if len(shown) <= NAMES_SHOWN:
            return ", ".join(shown)
        more = ctx.t("hadir.and_more", n=len(shown) - NAMES_SHOWN)
        return ", ".join([*shown[:NAMES_SHOWN], more])

    def _selection_note(
        self,
        ctx: Context,
        result: Selection,
        before: frozenset[int],
        after: frozenset[int],
        names: list[str],
    ) -> str:
        """One line: what a typed selection changed."""
        if result.action == SelectAction.ONLY:
            if not after:
                return ctx.t("hadir.typed_none")
            if result.excluded:
                return ctx.t("hadir.typed_all_except", names=self._name_list(ctx, names, result.excluded))
            return ctx.t("hadir.typed_all", n=len(after))
        if after - before:
            return ctx.t("hadir.names_ticked", names=self._name_list(ctx, names, after - before))
        if before - after:
            return ctx.t("hadir.names_unticked", names=self._name_list(ctx, names, before - after))
        return ctx.t("hadir.typed_no_change")

    def _selection_problem(self, ctx: Context, error: SelectionError, names: list[str]) -> str:
        """What a typed selection had that was not understood (nothing of it was applied)."""
        if error.empty:
            return ctx.t("hadir.help.daftar")
        if error.too_many:
            return ctx.t("hadir.too_many_names", max=error.limit)
        lines = []
        if error.unknown:
            lines.append(ctx.t("hadir.typed_unknown", items=", ".join(error.unknown), total=len(names)))
        for query, positions in error.ambiguous:
            options = ", ".join(f"{names[i]} ({i + 1})" for i in positions)
            lines.append(ctx.t("hadir.typed_ambiguous", query=query, options=options))
        lines.append(ctx.t("hadir.typed_kept"))
        return "\n".join(lines)

    async def _after_entry(self, ctx: Context) -> None:
        """Roster done or counts and wages given: ask whether wages were paid, then confirm."""
        try:
            summary = await preview(ctx.session, self.draft(ctx).ksm, self._sheet(ctx))
        except AttendanceError as exc:
            await self._refused(ctx, exc)
            return
        if summary.total_wages == 0 and self.draft(ctx).paid:
            self.draft(ctx).paid = False
            summary = replace(summary, wages_paid=False)  # as `preview` of the sheet now: nothing paid
        await self._confirm(ctx, summary=summary)

    # --- names from a quick form -----------------------------------------------------------------

    async def _ask_next_name(self, ctx: Context) -> None:
        draft = self.draft(ctx)
        if not draft.queue:
            await self._confirm(ctx)
            return
        ctx.goto(NAME, State.RESOLVE_NAME)
        item = draft.queue[0]
        pairs = await self._roster_pairs(ctx)
        names = dict(pairs)
        ids = [i for i in item.ids if i in names]
        if ids:
            text = ctx.t("hadir.ambiguous", query=item.q)
        else:
            ids = closest_names(item.q, pairs)
            ksm = await ctx.ksm(draft.ksm)
            text = ctx.t("hadir.unknown_name", query=item.q, ksm=ksm.name)
        choices = [Choice(label=names[i], value=f"n:{i}") for i in ids]
        ctx.say(text, [*choices, *self._name_fixed(ctx)])

    def _name_fixed(self, ctx: Context) -> list[Choice]:
        return [self._skip(ctx), Choice(label=ctx.t("hadir.open_list"), value="list")]

    async def on_resolve_name(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.RESOLVE_NAME):
            return
        draft = self.draft(ctx)
        if not draft.queue:
            await self._confirm(ctx)
            return
        pairs = await self._roster_pairs(ctx)
        names = dict(pairs)
        value = typed_value(
            ctx, [*self._name_fixed(ctx), *(Choice(label=n, value=f"n:{i}") for i, n in pairs)]
        )
        if value == "list":
            draft.queue = []
            await self._checklist(ctx)
            return
        if value == "skip" or normalize_name(value) in SKIP_WORDS:
            draft.queue.pop(0)
        elif value.startswith("n:"):
            wid = picked_id(value, "n:")
            if wid is None or wid not in names:
                ctx.say(ctx.t("input.bad_choice" if wid is None else "hadir.not_on_roster"))
                await self._ask_next_name(ctx)
                return
            self._tick(draft, wid)
            draft.queue.pop(0)
        else:
            ids = match_name(value, pairs)
            if len(ids) == 1:
                self._tick(draft, ids[0])
                draft.queue.pop(0)
            else:
                draft.queue[0] = PendingName(q=value, ids=list(ids))
        ctx.touch()
        await self._ask_next_name(ctx)

    def _tick(self, draft: AttendanceDraft, worker_id: int) -> None:
        if worker_id not in draft.present:
            draft.present.append(worker_id)

    # --- a new worker on the roster --------------------------------------------------------------

    def _new(self, ctx: Context) -> NewWorker:
        new = self.draft(ctx).new
        assert new is not None, "a new worker is being added"
        return new

    async def _ask_new_name(self, ctx: Context) -> None:
        self.draft(ctx).new = NewWorker()
        ctx.goto(NAME, State.NEW_NAME)
        ctx.say(ctx.t("hadir.ask_new_name"), [self._back(ctx)])

    async def _back_to_list(self, ctx: Context) -> bool:
        if ctx.text == "back" or (not ctx.is_choice and normalize_name(ctx.text) in BACK_WORDS):
            self.draft(ctx).new = None
            await self._checklist(ctx)
            return True
        return False

    def _gender_choices(self, ctx: Context) -> list[Choice]:
        return [
            Choice(label=ctx.t("hadir.male"), value="g:L"),
            Choice(label=ctx.t("hadir.female"), value="g:P"),
        ]

    def _skill_choices(self, ctx: Context) -> list[Choice]:
        return [
            Choice(label=f"🧱 {render.skill_label(ctx, Skill.PEKERJA)}", value="s:pekerja"),
            Choice(label=f"🔨 {render.skill_label(ctx, Skill.TUKANG)}", value="s:tukang"),
        ]

    async def on_new_name(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.NEW_NAME) or await self._back_to_list(ctx):
            return
        name = clean_worker_name(ctx.text)
        if name is None:
            ctx.say(ctx.t("hadir.bad_name", min=NAME_MIN_CHARS, max=NAME_MAX_CHARS), [self._back(ctx)])
            return
        self.draft(ctx).new = NewWorker(name=name)
        ctx.goto(NAME, State.NEW_GENDER)
        ctx.say(
            ctx.t("hadir.ask_gender", name=name), [*self._gender_choices(ctx), self._back(ctx)], columns=2
        )

    async def on_new_gender(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.NEW_GENDER) or await self._back_to_list(ctx):
            return
        choices = self._gender_choices(ctx)
        value = typed_value(ctx, choices)
        gender = parse_gender(value.removeprefix("g:"))
        if gender is None:
            ctx.say(ctx.t("hadir.help.jk_baru"), [*choices, self._back(ctx)], columns=2)
            return
        new = self._new(ctx)
        new.gender = gender
        ctx.goto(NAME, State.NEW_SKILL)
        ctx.say(ctx.t("hadir.ask_skill", name=new.name), [*self._skill_choices(ctx), self._back(ctx)])

    async def on_new_skill(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.NEW_SKILL) or await self._back_to_list(ctx):
            return
        value = typed_value(ctx, self._skill_choices(ctx))
        skill = parse_skill(value.removeprefix("s:"))
        if skill is None:
            ctx.say(ctx.t("hadir.help.keahlian_baru"), [*self._skill_choices(ctx), self._back(ctx)])
            return
        new = self._new(ctx)
        new.skill = skill
        ctx.goto(NAME, State.NEW_NIK)
        ctx.say(ctx.t("hadir.ask_nik", name=new.name), [self._back(ctx)])

    async def on_new_nik(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.NEW_NIK) or await self._back_to_list(ctx):
            return
        try:
            nik = normalize_nik(ctx.text)
        except InvalidNik as exc:
            # kotaku.security says why in Indonesian; other languages get the rule.
            reason = str(exc) if ctx.lang == catalogue.DEFAULT_LANG else ctx.t("hadir.nik_rule")
            ctx.say(ctx.t("hadir.bad_nik", reason=reason), [self._back(ctx)])
            return
        token, nik_hash = vault_from_settings(ctx.settings).protect(nik)
        draft = self.draft(ctx)
        existing = await worker_with_nik(ctx.session, draft.ksm, nik_hash)
        same = existing.name if existing is not None else _name_with_nik(draft.added, nik_hash)
        if same is not None:
            ctx.say(ctx.t("hadir.duplicate_nik", nik=mask_nik(nik), name=same), [self._back(ctx)])
            return
        new = self._new(ctx)
        new.nik_token, new.nik_hash, new.nik_masked = token.decode(), nik_hash, mask_nik(nik)
        ctx.goto(NAME, State.NEW_RATE)
        await self._ask_rate(ctx)

    async def _ask_rate(self, ctx: Context, note: str | None = None) -> None:
        new = self._new(ctx)
        assert new.skill is not None
        usual = await suggested_rate(ctx.session, self.draft(ctx).ksm, new.skill)
        text = ctx.t(
            "hadir.ask_rate", name=new.name, rate=fmt_rupiah(usual), skill=render.skill_label(ctx, new.skill)
        )
        ctx.say(
            _with_note(note, text),
            [
                *(Choice(label=fmt_rupiah(r), value=f"r:{r}") for r in offered_rates(usual, new.skill)),
                self._back(ctx),
            ],
            columns=2,
        )

    async def on_new_rate(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.NEW_RATE) or await self._back_to_list(ctx):
            return
        draft, new = self.draft(ctx), self._new(ctx)
        amount = _amount(ctx.text)
        if amount is None:
            await self._ask_rate(ctx, ctx.t("hadir.bad_amount"))
            return
        if not valid_daily_rate(amount):
            await self._ask_rate(ctx, ctx.t("hadir.bad_rate", max=fmt_rupiah(MAX_DAILY_RATE)))
            return
        assert new.skill is not None
        new.daily_rate = amount
        new.key = min([0, *(n.key for n in draft.added)]) - 1
        draft.added.append(new)
        draft.present.append(new.key)
        draft.new = None
        index = [wid for wid, _ in await self._roster_pairs(ctx)].index(new.key)
        draft.page = index // ctx.settings.dialog.roster_page_size
        note = ctx.t(
            "hadir.worker_added",
            name=new.name,
            nik=new.nik_masked,
            skill=render.skill_label(ctx, new.skill),
            rate=fmt_rupiah(amount),
        )
        await self._checklist(ctx, note)

    # --- count mode ------------------------------------------------------------------------------

    def _set_count(self, draft: AttendanceDraft, count: Count) -> None:
        """The counts typed; without a split (`split` False) the split is asked before the summary."""
        draft.male = (count.male or 0) if count.by_gender else count.total
        draft.female = count.female or 0
        draft.split, draft.total = count.by_gender, count.total
        draft.rate = draft.total_wages = None

    async def _ask_count(self, ctx: Context, note: str | None = None) -> None:
        draft = self.draft(ctx)
        ksm = await ctx.ksm(draft.ksm)
        ctx.goto(NAME, State.ASK_COUNT)
        date = fmt_date(draft.day, ctx.lang, with_weekday=True)
        ctx.say(_with_note(note, ctx.t("hadir.ask_count", ksm=ksm.name, date=date)))

    async def on_count(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.ASK_COUNT):
            return
        try:
            count = parse_count(ctx.text)
        except CountError as exc:
            ctx.say(ctx.t(f"hadir.count_{exc.code}"))
            return
        if count.total > MAX_WORKERS_PER_DAY:
            ctx.say(self._too_many(ctx, count.total))
            return
        draft = self.draft(ctx)
        self._set_count(draft, count)
        if count.total == 0:
            draft.split = True
            ctx.touch()
            await self._after_entry(ctx)
            return
        if not count.by_gender:
            await self._ask_split(ctx)
            return
        await self._ask_wages(ctx)

    async def _ask_split(self, ctx: Context, note: str | None = None) -> None:
        """A total without L/P: one tap (all men, all women) or the split typed; never stored as men unasked."""
        total = self.draft(ctx).total
        ctx.goto(NAME, State.ASK_SPLIT)
        half = total // 2
        ctx.say(
            _with_note(note, ctx.t("hadir.ask_split", n=total, example=f"{total - half} L {half} P")),
            self._split_choices(ctx),
            columns=2,
        )

    def _split_choices(self, ctx: Context) -> list[Choice]:
        return [
            Choice(label=ctx.t("hadir.all_male"), value="split:l"),
            Choice(label=ctx.t("hadir.all_female"), value="split:p"),
        ]

    async def on_split(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.ASK_SPLIT):
            return
        draft = self.draft(ctx)
        total = draft.total
        value = typed_value(ctx, self._split_choices(ctx))
        if value in ("split:l", "split:p"):
            draft.male, draft.female = (total, 0) if value == "split:l" else (0, total)
            draft.split = True
            await self._after_split(ctx)
            return
        if ctx.text == "skip" or normalize_name(ctx.text) in SKIP_WORDS:
            await self._ask_split(ctx, ctx.t("hadir.split_needed"))
            return
        try:
            count = parse_count(ctx.text)
        except CountError as exc:
            ctx.say(ctx.t(f"hadir.count_{exc.code}"), self._split_choices(ctx), columns=2)
            return
        male, female = (
            fill_split(total, count.male or 0, count.female or 0) if count.by_gender else (count.total, 0)
        )
        if not count.by_gender or male + female != total:
            ctx.say(
                ctx.t("hadir.split_mismatch", male=male, female=female, sum=male + female, n=total),
                self._split_choices(ctx),
                columns=2,
            )
            return
        draft.male, draft.female, draft.split = male, female, True
        await self._after_split(ctx)

    async def _after_split(self, ctx: Context) -> None:
        """The wages question, or (quick form `/hadir 23`, rate known) straight to the confirmation."""
        draft = self.draft(ctx)
        if draft.next == Next.CONFIRM:
            await self._after_entry(ctx)
        else:
            await self._ask_wages(ctx)

    async def _ask_wages(self, ctx: Context, note: str | None = None) -> None:
        ctx.goto(NAME, State.ASK_WAGES)
        ctx.say(
            _with_note(note, ctx.t("hadir.ask_wages")),
            [
                Choice(label=ctx.t("hadir.per_person", rate=fmt_rupiah(r)), value=f"r:{r}")
                for r in count_rates()
            ],
        )

    async def on_wages(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.ASK_WAGES):
            return
        draft = self.draft(ctx)
        if ctx.text.startswith("r:"):
            amount, is_total = picked_amount(ctx.text, "r:"), False
        else:
            amount, is_total = parse_wages(ctx.text)
        if amount is None:
            await self._ask_wages(ctx, ctx.t("hadir.bad_amount"))
            return
        try:
            draft.rate, draft.total_wages = interpret_amount(
                amount, draft.male + draft.female, total=is_total
            )
        except AttendanceError as exc:
            workers = draft.male + draft.female
            note = (
                ctx.t("hadir.bad_total", max=fmt_rupiah(MAX_DAILY_RATE * workers), n=workers)
                if exc.code == "bad_total"
                else ctx.t("hadir.bad_rate", max=fmt_rupiah(MAX_DAILY_RATE))
            )
            await self._ask_wages(ctx, note)
            return
        ctx.touch()
        await self._after_entry(ctx)

    # --- paid, confirm, save ---------------------------------------------------------------------

    async def on_paid(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.ASK_PAID):
            return
        choices = self._paid_choices(ctx)
        value = typed_value(ctx, choices)
        word = normalize_name(value)
        if value == "paid:1" or word in YES_WORDS:
            self.draft(ctx).paid = True
        elif value == "paid:0" or word in NO_WORDS:
            self.draft(ctx).paid = False
        else:
            ctx.say(ctx.t("hadir.help.dibayar"), choices, columns=2)
            return
        ctx.touch()
        await self._confirm(ctx)

    async def _confirm(
        self, ctx: Context, note: str | None = None, *, summary: AttendanceSummary | None = None
    ) -> None:
        """The sheet to confirm; `summary`: its `preview`, when this step has it already."""
        draft = self.draft(ctx)
        if summary is None:
            try:
                summary = await preview(ctx.session, draft.ksm, self._sheet(ctx))
            except AttendanceError as exc:
                await self._refused(ctx, exc)
                return
        ksm = await ctx.ksm(draft.ksm)
        ctx.goto(NAME, State.CONFIRM)
        lines = [note] if note else []
        lines += [ctx.t("hadir.confirm_title", ksm=ksm.name), *render.summary_lines(ctx, summary)]
        if not draft.roster and not draft.split and summary.workers:
            lines.append(ctx.t("hadir.line_no_split"))
        if draft.late_reason:
            lines.append(ctx.t("hadir.line_late", reason=draft.late_reason))
        if draft.roster and draft.added:
            lines.append(ctx.t("hadir.line_new_workers", names=", ".join(n.name for n in draft.added)))
        if draft.replacing:
            day = await get_attendance(ctx.session, draft.ksm, draft.day)
            if day is not None:
                lines.append(ctx.t("hadir.line_correction", revision=day.revision))
        if summary.total_wages:
            # Whether the wages were paid is said by the save button itself (one tap, no extra question).
            lines.append(ctx.t("hadir.confirm_question_paid", wages=fmt_rupiah(summary.total_wages)))
            choices = [
                Choice(label=ctx.t("hadir.save_paid"), value="save:1"),
                Choice(label=ctx.t("hadir.save_unpaid"), value="save:0"),
            ]
        else:
            lines.append(ctx.t("hadir.confirm_question"))
            choices = [Choice(label=ctx.t("hadir.save"), value="save")]
        choices += [Choice(label=ctx.t("hadir.edit"), value="edit"), self._cancel(ctx)]
        ctx.say("\n".join(lines), choices, columns=2)

    async def _refused(self, ctx: Context, exc: AttendanceError) -> None:
        """A sheet the service refused: back to the entry step with the reason."""
        draft = self.draft(ctx)
        if exc.code == "too_many":
            note = self._too_many(ctx, len(draft.present) or draft.male + draft.female)
        elif exc.code == "not_on_roster":
            note = ctx.t("hadir.not_on_roster")
            roster_ids = {wid for wid, _ in await self._roster_pairs(ctx)}
            draft.present = [i for i in draft.present if i in roster_ids]
        else:
            note = ctx.t("hadir.count_negative")
        if draft.roster:
            await self._checklist(ctx, note)
        else:
            await self._ask_count(ctx, note)

    async def on_confirm(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.CONFIRM):
            await self._confirm(ctx)
            return
        choices = [
            Choice(label=ctx.t("hadir.save"), value="save"),
            Choice(label=ctx.t("hadir.save_paid"), value="save:1"),
            Choice(label=ctx.t("hadir.save_unpaid"), value="save:0"),
            Choice(label=ctx.t("hadir.edit"), value="edit"),
        ]
        value = typed_value(ctx, choices)
        word = normalize_name(value)
        if value in ("save:1", "save:0", "paid:1", "paid:0"):  # paid:* from a summary shown before
            self.draft(ctx).paid = value.endswith("1")
            await self._save(ctx)
        elif word in {"sudah dibayar", "sudah", "sdh", "dibayar", "lunas", "paid"}:
            self.draft(ctx).paid = True
            await self._save(ctx)
        elif word in {"belum dibayar", "belum", "blm", "not paid", "unpaid"}:
            self.draft(ctx).paid = False
            await self._save(ctx)
        elif value == "edit" or word in EDIT_WORDS:
            self.draft(ctx).queue = []
            await self._entry(ctx)
        elif value == "save" or word in SAVE_WORDS:
            await self._save(ctx)
        else:
            await self._confirm(ctx, ctx.t("hadir.help.konfirmasi"))

    async def _save(self, ctx: Context) -> None:
        assert ctx.person is not None
        draft = self.draft(ctx)
        try:
            result = await save_attendance(
                ctx.uow,
                ksm_id=draft.ksm,
                sheet=self._sheet(ctx),
                entered_by_id=ctx.person.id,
                channel=ctx.inbound.channel,
                now=ctx.now,
            )
        except DuplicateNik:
            await self._drop_duplicates(ctx)
            return
        except AttendanceError as exc:
            await self._refused(ctx, exc)
            return
        s = result.summary
        added = [n.name for n in draft.added] if draft.roster else []
        ctx.finish()
        lines = [
            ctx.t(
                "hadir.saved" if result.created else "hadir.saved_correction",
                revision=result.revision,
                date=fmt_date(s.start, ctx.lang, with_weekday=True),
                n=fmt_number(s.workers, ctx.lang),
                hok=fmt_number(s.hok, ctx.lang),
                wages=fmt_rupiah(s.total_wages),
                paid=render.paid_word(ctx, s.wages_paid),
            )
        ]
        if added:
            lines.append(ctx.t("hadir.saved_new_workers", names=", ".join(added)))
        ctx.say("\n".join(lines))

    async def _drop_duplicates(self, ctx: Context) -> None:
        """New workers whose NIK reached the roster meanwhile (another phone, the importer): they are taken
        out of the draft and the checklist says who has that NIK now."""
        draft = self.draft(ctx)
        notes, kept = [], []
        for n in draft.added:
            existing = await worker_with_nik(ctx.session, draft.ksm, n.nik_hash or "")
            if existing is None:
                kept.append(n)
            else:
                notes.append(ctx.t("hadir.duplicate_nik", nik=n.nik_masked, name=existing.name))
        gone = {n.key for n in draft.added} - {n.key for n in kept}
        draft.added = kept
        draft.present = [i for i in draft.present if i not in gone]
        await self._checklist(ctx, "\n".join(notes) or None)

    steps: ClassVar[Mapping[str, Step]] = {
        State.ASK_DATE: on_date,
        State.LATE_REASON: on_late_reason,
        State.EXISTS: on_exists,
        State.CHECKLIST: on_checklist,
        State.RESOLVE_NAME: on_resolve_name,
        State.NEW_NAME: on_new_name,
        State.NEW_GENDER: on_new_gender,
        State.NEW_SKILL: on_new_skill,
        State.NEW_NIK: on_new_nik,
        State.NEW_RATE: on_new_rate,
        State.ASK_COUNT: on_count,
        State.ASK_SPLIT: on_split,
        State.ASK_WAGES: on_wages,
        State.ASK_PAID: on_paid,
        State.CONFIRM: on_confirm,
    }
