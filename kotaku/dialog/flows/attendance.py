"""/hadir (/attendance): who worked today, in as few taps as possible.

Button path (roster KSM): /hadir → "Hari ini" → "Semua hadir" (untick who is absent) → "Selesai" →
"Upah sudah dibayar?" → "Simpan". Count KSM: /hadir → "Hari ini" → "18L 5P" → rate → paid → "Simpan".

Quick forms (today's date, straight to the confirmation): `/hadir semua`, `/hadir Budi, Sari, Joko`
(roster names, tolerant matching; ambiguous or unknown names are asked one by one with buttons),
`/hadir 23`, `/hadir 18L 5P`.

Decisions:
- On a KSM that keeps a roster, a number (`/hadir 12`) does not switch to count mode: the checklist opens
  with "you said 12" as a reminder, so every worker-day stays tied to a NIK (cross-site and wage checks).
  Count mode is used when the KSM keeps no roster, or its roster is still empty.
- Count mode with a total only (`23`): the gender split is asked as an optional step ("Lewati" skips);
  `/hadir 23` skips it. Without a split the total is stored as men (`count_male`) — the confirmation
  says so — because the sheet has no "unknown gender" column.
- Wages in count mode: a rate per worker (buttons, default Rp85.000) or a typed amount; amounts above
  Rp500.000 (or starting with "total") are the day's total wages.
- A second /hadir for a day that has a sheet shows it and offers to replace it (a correction: audited).
- New workers added from the checklist go on the roster at once (even if the sheet is then cancelled);
  the NIK is kept in the draft only encrypted, and shown only masked.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from babel.dates import format_date

from kotaku import catalogue
from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow, register_flow
from kotaku.dialog.quick import (
    CountError,
    closest_names,
    is_all,
    match_name,
    match_names,
    normalize_name,
    parse_count,
    parse_day,
    parse_rupiah,
)
from kotaku.i18n import fmt_date, fmt_number, fmt_rupiah, locale
from kotaku.models import AttendanceMode, Gender, Role, Skill, Worker
from kotaku.schemas import Choice, InboundKind
from kotaku.security import InvalidNik, mask_nik, normalize_nik, vault_from_settings
from kotaku.services.attendance import (
    MAX_BACK_DAYS,
    MAX_DAILY_RATE,
    MAX_WORKERS_PER_DAY,
    USUAL_RATES,
    AttendanceError,
    AttendanceSummary,
    DateCheck,
    DuplicateNik,
    Sheet,
    active_roster,
    add_worker,
    attendance_summary,
    attendance_worker_ids,
    check_work_date,
    get_attendance,
    interpret_amount,
    preview,
    save_attendance,
    suggested_rate,
    uses_roster,
    worker_with_nik,
)

NAME = "hadir"
EDIT_KEY = "hadir-roster"
COUNT_RATES = (80_000, 85_000, 90_000)


class State(StrEnum):
    ASK_DATE = "tanggal"
    LATE_REASON = "alasan_terlambat"
    EXISTS = "sudah_ada"
    CHECKLIST = "daftar"
    RESOLVE_NAME = "pilih_nama"
    NEW_NAME = "nama_baru"
    NEW_GENDER = "jk_baru"
    NEW_SKILL = "keahlian_baru"
    NEW_NIK = "nik_baru"
    NEW_RATE = "upah_baru"
    ASK_COUNT = "jumlah"
    ASK_SPLIT = "rincian_lp"
    ASK_WAGES = "upah"
    ASK_PAID = "dibayar"
    CONFIRM = "konfirmasi"


YES_WORDS = {"ya", "y", "yes", "sudah", "sdh", "udah", "ok", "oke"}
NO_WORDS = {"belum", "blm", "tidak", "tdk", "no", "not yet"}
SAVE_WORDS = {"simpan", "save", "ya", "y", "yes", "ok", "oke", "kirim"}
DONE_WORDS = {"selesai", "done", "ok", "oke", "sudah", "lanjut"}
CANCEL_WORDS = {"batal", "cancel", "batalkan"}
SKIP_WORDS = {"lewati", "skip", "-"}
_LABEL_CLEAN_RE = re.compile(r"^[^\w]+", re.UNICODE)


def _short_day(d: date, lang: str) -> str:
    return format_date(d, format="EEEE, d MMM" if lang == "id" else "EEE, d MMM", locale=locale(lang))


def _skill_label(ctx: Context, skill: str) -> str:
    return ctx.t(f"hadir.skill.{skill}")


def _typed_choice(ctx: Context, choices: list[Choice]) -> str:
    """A pressed button's value; a typed label (emoji and case ignored) counts as that button."""
    if ctx.is_choice:
        return ctx.text
    typed = normalize_name(ctx.text)
    for c in choices:
        if typed and typed == normalize_name(_LABEL_CLEAN_RE.sub("", c.label)):
            return c.value
    return ctx.text


@register_flow
class AttendanceFlow(Flow):
    name = NAME
    commands = ("hadir", "attendance")
    roles = frozenset({Role.KETUA_KSM, Role.BKM, Role.FASILITATOR})
    needs_ksm = True

    async def step(self, ctx: Context) -> None:
        # "batal" typed without the slash cancels too (the engine only sees "/batal").
        if not ctx.is_choice and normalize_name(ctx.text) in CANCEL_WORDS and ctx.state != State.LATE_REASON:
            ctx.finish()
            ctx.say(ctx.t("engine.cancelled"))
            return
        await super().step(ctx)

    # --- entry -----------------------------------------------------------------------------------

    async def start(self, ctx: Context, args: str) -> None:
        ksm_id = int(ctx.data["ksm_id"])
        ksm = await ctx.ksm(ksm_id)
        roster = await uses_roster(ctx.session, ksm_id, ksm.keeps_roster)
        ctx.goto(NAME, State.ASK_DATE, mode=(AttendanceMode.ROSTER if roster else AttendanceMode.COUNT).value)
        ctx.data.update(present=[], page=0, paid=False)
        args = args.strip()
        if not args:
            await self._ask_date(ctx)
            return
        today = await ctx.today_for_ksm(ksm_id)
        ctx.data["date"] = today.isoformat()
        ctx.data["next"] = "confirm"
        if is_all(args):
            if roster:
                ctx.data["present"] = [w.id for w in await active_roster(ctx.session, ksm_id)]
            else:
                ctx.say(ctx.t("hadir.no_roster_names"))
                ctx.data["next"] = "entry"
        elif any(ch.isdigit() for ch in args):
            try:
                count = parse_count(args)
            except CountError as exc:
                ctx.say(ctx.t(f"hadir.count_{exc.code}"))
                ctx.data["next"] = "entry"
            else:
                if roster:
                    ctx.data["target"] = count.total
                    ctx.data["next"] = "entry"
                elif count.total > MAX_WORKERS_PER_DAY:
                    ctx.say(ctx.t("hadir.too_many", n=fmt_number(count.total), max=MAX_WORKERS_PER_DAY))
                    ctx.data["next"] = "entry"
                else:
                    ctx.data.update(
                        male=count.male if count.by_gender else count.total,
                        female=count.female if count.by_gender else 0,
                        split=count.by_gender,
                    )
        elif roster:
            workers = await active_roster(ctx.session, ksm_id)
            pairs = [(w.id, w.name) for w in workers]
            present: list[int] = []
            queue: list[dict[str, object]] = []
            for m in match_names(args, pairs):
                if m.resolved:
                    if m.ids[0] not in present:
                        present.append(m.ids[0])
                else:
                    queue.append({"q": m.query, "ids": list(m.ids)})
            ctx.data["present"] = present
            if queue:
                ctx.data["queue"] = queue
                ctx.data["next"] = "names"
        else:
            ctx.say(ctx.t("hadir.no_roster_names"))
            ctx.data["next"] = "entry"
        await self._continue(ctx)

    async def _continue(self, ctx: Context) -> None:
        """After the date: show an existing sheet once, then go where `next` says."""
        if not ctx.data.get("checked_existing"):
            ctx.data["checked_existing"] = True
            summary = await attendance_summary(ctx.session, int(ctx.data["ksm_id"]), self._day(ctx))
            if summary is not None:
                ctx.goto(NAME, State.EXISTS)
                ctx.say(
                    ctx.t(
                        "hadir.exists",
                        date=fmt_date(self._day(ctx), ctx.lang, with_weekday=True),
                        revision=summary.revision,
                        workers=fmt_number(summary.workers, ctx.lang),
                        wages=fmt_rupiah(summary.total_wages),
                    ),
                    [
                        Choice(label=ctx.t("hadir.replace"), value="replace"),
                        Choice(label=ctx.t("hadir.cancel"), value="/batal"),
                    ],
                )
                return
        nxt = ctx.data.get("next", "entry")
        if nxt == "names":
            await self._ask_next_name(ctx)
        elif nxt == "confirm":
            await self._confirm(ctx)
        else:
            await self._entry(ctx)

    async def _entry(self, ctx: Context) -> None:
        if self._roster_mode(ctx):
            await self._checklist(ctx)
        else:
            await self._ask_count(ctx)

    # --- helpers ---------------------------------------------------------------------------------

    def _day(self, ctx: Context) -> date:
        return date.fromisoformat(str(ctx.data["date"]))

    def _roster_mode(self, ctx: Context) -> bool:
        return ctx.data.get("mode") == AttendanceMode.ROSTER.value

    def _wrong_kind(self, ctx: Context, state: State) -> bool:
        """Hint when a photo, voice note, location or empty message arrives where text is expected."""
        if ctx.inbound.kind in (InboundKind.TEXT, InboundKind.CHOICE) and ctx.text:
            return False
        kind = ctx.inbound.kind.value if ctx.inbound.kind != InboundKind.TEXT else "empty"
        key = f"hadir.kind.{kind}" if f"hadir.kind.{kind}" in catalogue.default() else "hadir.kind.empty"
        ctx.say(ctx.t("hadir.wrong_kind", kind=ctx.t(key), help=ctx.t(f"hadir.help.{state.value}")))
        return True

    def _sheet(self, ctx: Context) -> Sheet:
        d = ctx.data
        if self._roster_mode(ctx):
            return Sheet(
                work_date=self._day(ctx),
                mode=AttendanceMode.ROSTER,
                worker_ids=tuple(int(i) for i in d.get("present", [])),
                wages_paid=bool(d.get("paid")),
                late_reason=d.get("late_reason"),
            )
        return Sheet(
            work_date=self._day(ctx),
            mode=AttendanceMode.COUNT,
            count_male=int(d.get("male", 0)),
            count_female=int(d.get("female", 0)),
            rate=d.get("rate"),
            total_wages=d.get("total_wages"),
            wages_paid=bool(d.get("paid")),
            late_reason=d.get("late_reason"),
        )

    async def _roster_pairs(self, ctx: Context) -> list[tuple[int, str]]:
        return [(w.id, w.name) for w in await active_roster(ctx.session, int(ctx.data["ksm_id"]))]

    # --- date ------------------------------------------------------------------------------------

    async def _ask_date(self, ctx: Context, note: str | None = None) -> None:
        ksm_id = int(ctx.data["ksm_id"])
        today = await ctx.today_for_ksm(ksm_id)
        yesterday = date.fromordinal(today.toordinal() - 1)
        ksm = await ctx.ksm(ksm_id)
        ctx.goto(NAME, State.ASK_DATE)
        text = ctx.t("hadir.ask_date", ksm=ksm.name)
        ctx.say(
            f"{note}\n{text}" if note else text,
            [
                Choice(label=ctx.t("hadir.today", day=_short_day(today, ctx.lang)), value=f"d:{today}"),
                Choice(
                    label=ctx.t("hadir.yesterday", day=_short_day(yesterday, ctx.lang)),
                    value=f"d:{yesterday}",
                ),
            ],
        )

    async def on_tanggal(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.ASK_DATE):
            return
        today = await ctx.today_for_ksm(int(ctx.data["ksm_id"]))
        raw = ctx.text
        chosen = parse_day(raw[2:], today) if raw.startswith("d:") else parse_day(raw, today)
        if chosen is None:
            await self._ask_date(ctx, ctx.t("hadir.bad_date"))
            return
        check = check_work_date(chosen, today)
        shown = fmt_date(chosen, ctx.lang, with_weekday=True)
        if check == DateCheck.FUTURE:
            await self._ask_date(ctx, ctx.t("hadir.future_date", date=shown))
            return
        if check == DateCheck.TOO_OLD:
            await self._ask_date(ctx, ctx.t("hadir.too_old", date=shown, days=MAX_BACK_DAYS))
            return
        ctx.data["date"] = chosen.isoformat()
        ctx.data["next"] = "entry"
        if check == DateCheck.NEEDS_REASON:
            ctx.goto(NAME, State.LATE_REASON)
            ctx.say(ctx.t("hadir.ask_reason", date=shown))
            return
        ctx.touch()
        await self._continue(ctx)

    async def on_alasan_terlambat(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.LATE_REASON):
            return
        reason = ctx.text.strip()
        if sum(ch.isalpha() for ch in reason) < 3:
            ctx.say(ctx.t("hadir.short_reason"))
            return
        ctx.data["late_reason"] = reason[:500]
        ctx.touch()
        await self._continue(ctx)

    async def on_sudah_ada(self, ctx: Context) -> None:
        choices = [Choice(label=ctx.t("hadir.replace"), value="replace")]
        if self._wrong_kind(ctx, State.EXISTS):
            return
        value = _typed_choice(ctx, choices)
        if value != "replace" and normalize_name(value) not in {"ganti", "ya", "koreksi", "replace", "yes"}:
            ctx.say(
                ctx.t("hadir.help.sudah_ada"), [*choices, Choice(label=ctx.t("hadir.cancel"), value="/batal")]
            )
            return
        ctx.data["replacing"] = True
        day = await get_attendance(ctx.session, int(ctx.data["ksm_id"]), self._day(ctx))
        if day is not None and ctx.data.get("next") == "entry":
            ctx.data["paid"] = day.wages_paid
            if self._roster_mode(ctx) and day.mode == AttendanceMode.ROSTER:
                ctx.data["present"] = await attendance_worker_ids(ctx.session, day.id)
        ctx.touch()
        await self._continue(ctx)

    # --- roster checklist ------------------------------------------------------------------------

    async def _checklist(self, ctx: Context, note: str | None = None) -> None:
        ksm_id = int(ctx.data["ksm_id"])
        ksm = await ctx.ksm(ksm_id)
        workers = await active_roster(ctx.session, ksm_id)
        size = ctx.settings.dialog.roster_page_size
        pages = max(1, -(-len(workers) // size))
        page = min(max(int(ctx.data.get("page", 0)), 0), pages - 1)
        present = set(ctx.data.get("present", []))
        ctx.goto(NAME, State.CHECKLIST, page=page)
        choices = [
            Choice(label=f"{'✅' if w.id in present else '⬜'} {w.name}", value=f"t:{w.id}")
            for w in workers[page * size : (page + 1) * size]
        ]
        all_ticked = bool(workers) and all(w.id in present for w in workers)
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
        n = len(present & {w.id for w in workers})
        choices.append(Choice(label=ctx.t("hadir.done", n=n), value="done"))
        lines = []
        if note:
            lines.append(note)
        if ctx.data.get("target") is not None:
            lines.append(ctx.t("hadir.target", n=fmt_number(int(ctx.data["target"]), ctx.lang)))
        lines.append(
            ctx.t(
                "hadir.checklist",
                ksm=ksm.name,
                date=fmt_date(self._day(ctx), ctx.lang, with_weekday=True),
                n=n,
                total=len(workers),
                page=ctx.t("hadir.page", page=page + 1, pages=pages) if pages > 1 else "",
            )
        )
        ctx.say("\n".join(lines), choices, columns=2, edit_key=EDIT_KEY)

    async def on_daftar(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.CHECKLIST):
            await self._checklist(ctx)
            return
        pairs = await self._roster_pairs(ctx)
        roster_ids = {wid for wid, _ in pairs}
        present: list[int] = [int(i) for i in ctx.data.get("present", []) if int(i) in roster_ids]
        labels = [
            Choice(label=f"{mark} {name}", value=f"t:{wid}") for wid, name in pairs for mark in ("✅", "⬜")
        ]
        fixed = [
            Choice(label=ctx.t("hadir.all"), value="all"),
            Choice(label=ctx.t("hadir.none"), value="none"),
            Choice(label=ctx.t("hadir.next_page"), value=f"pg:{int(ctx.data.get('page', 0)) + 1}"),
            Choice(label=ctx.t("hadir.prev_page"), value=f"pg:{int(ctx.data.get('page', 0)) - 1}"),
            Choice(label=ctx.t("hadir.new_worker"), value="new"),
        ]
        value = _typed_choice(ctx, labels + fixed)
        word = normalize_name(value)
        note = None
        if value.startswith("t:"):
            wid = int(value[2:]) if value[2:].isdigit() else -1
            if wid not in roster_ids:
                note = ctx.t("hadir.not_on_roster")
            elif wid in present:
                present.remove(wid)
            else:
                present.append(wid)
        elif value == "all" or is_all(value):
            present = [wid for wid, _ in pairs]
        elif value == "none":
            present = []
        elif value.startswith("pg:") and value[3:].lstrip("-").isdigit():
            ctx.data["page"] = int(value[3:])
        elif value == "new":
            ctx.data["present"] = present
            await self._ask_new_name(ctx)
            return
        elif value == "done" or word in DONE_WORDS or word.startswith("selesai"):
            ctx.data["present"] = present
            ctx.touch()
            await self._after_entry(ctx)
            return
        else:
            found, missing = [], []
            for m in match_names(ctx.text, pairs):
                if m.resolved:
                    if m.ids[0] not in present:
                        present.append(m.ids[0])
                    found.append(dict(pairs)[m.ids[0]])
                else:
                    missing.append(m.query)
            parts = []
            if found:
                parts.append(ctx.t("hadir.names_ticked", names=", ".join(found)))
            if missing:
                parts.append(ctx.t("hadir.names_not_found", names=", ".join(missing)))
            if not found:
                parts.append(ctx.t("hadir.help.daftar"))
            note = " ".join(parts)
        ctx.data["present"] = present
        ctx.touch()
        await self._checklist(ctx, note)

    async def _after_entry(self, ctx: Context) -> None:
        """Roster done or counts and wages given: ask whether wages were paid, then confirm."""
        summary = await preview(ctx.session, int(ctx.data["ksm_id"]), self._sheet(ctx))
        if summary.total_wages == 0:
            ctx.data["paid"] = False
            await self._confirm(ctx)
            return
        ctx.goto(NAME, State.ASK_PAID)
        ctx.say(
            ctx.t("hadir.ask_paid", wages=fmt_rupiah(summary.total_wages)),
            [
                Choice(label=ctx.t("hadir.yes_paid"), value="paid:1"),
                Choice(label=ctx.t("hadir.not_paid"), value="paid:0"),
            ],
            columns=2,
        )

    # --- names from a quick form -----------------------------------------------------------------

    async def _ask_next_name(self, ctx: Context) -> None:
        queue = ctx.data.get("queue") or []
        if not queue:
            ctx.data.pop("queue", None)
            await self._confirm(ctx)
            return
        ctx.goto(NAME, State.RESOLVE_NAME)
        item = queue[0]
        pairs = await self._roster_pairs(ctx)
        names = dict(pairs)
        ids = [i for i in item["ids"] if i in names]
        if ids:
            text = ctx.t("hadir.ambiguous", query=item["q"])
        else:
            ids = closest_names(str(item["q"]), pairs)
            ksm = await ctx.ksm(int(ctx.data["ksm_id"]))
            text = ctx.t("hadir.unknown_name", query=item["q"], ksm=ksm.name)
        choices = [Choice(label=names[i], value=f"n:{i}") for i in ids]
        choices += [
            Choice(label=ctx.t("hadir.skip"), value="skip"),
            Choice(label=ctx.t("hadir.open_list"), value="list"),
        ]
        ctx.say(text, choices)

    async def on_pilih_nama(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.RESOLVE_NAME):
            return
        queue = list(ctx.data.get("queue") or [])
        if not queue:
            await self._confirm(ctx)
            return
        pairs = await self._roster_pairs(ctx)
        names = dict(pairs)
        present = [int(i) for i in ctx.data.get("present", [])]
        fixed = [
            Choice(label=ctx.t("hadir.skip"), value="skip"),
            Choice(label=ctx.t("hadir.open_list"), value="list"),
        ]
        value = _typed_choice(ctx, fixed + [Choice(label=n, value=f"n:{i}") for i, n in pairs])
        if value == "list":
            ctx.data.pop("queue", None)
            await self._checklist(ctx)
            return
        if value == "skip" or normalize_name(value) in SKIP_WORDS:
            queue.pop(0)
        elif value.startswith("n:"):
            wid = int(value[2:]) if value[2:].isdigit() else -1
            if wid not in names:
                ctx.say(ctx.t("hadir.not_on_roster"))
                await self._ask_next_name(ctx)
                return
            if wid not in present:
                present.append(wid)
            queue.pop(0)
        else:
            ids = match_name(value, pairs)
            if len(ids) == 1:
                if ids[0] not in present:
                    present.append(ids[0])
                queue.pop(0)
            else:
                queue[0] = {"q": value, "ids": list(ids)}
        ctx.data["present"] = present
        ctx.data["queue"] = queue
        ctx.touch()
        await self._ask_next_name(ctx)

    # --- a new worker on the roster --------------------------------------------------------------

    def _back(self, ctx: Context) -> Choice:
        return Choice(label=ctx.t("hadir.back"), value="back")

    async def _ask_new_name(self, ctx: Context) -> None:
        ctx.goto(NAME, State.NEW_NAME, new={})
        ctx.say(ctx.t("hadir.ask_new_name"), [self._back(ctx)])

    async def _back_to_list(self, ctx: Context, note: str | None = None) -> bool:
        if ctx.text == "back" or (not ctx.is_choice and normalize_name(ctx.text) in {"kembali", "back"}):
            ctx.data.pop("new", None)
            await self._checklist(ctx, note)
            return True
        return False

    async def on_nama_baru(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.NEW_NAME) or await self._back_to_list(ctx):
            return
        name = " ".join(ctx.text.split())
        if (
            not 2 <= len(name) <= 80
            or sum(ch.isalpha() for ch in name) < 2
            or any(ch.isdigit() for ch in name)
        ):
            ctx.say(ctx.t("hadir.bad_name"), [self._back(ctx)])
            return
        ctx.data["new"] = {"name": name}
        ctx.goto(NAME, State.NEW_GENDER)
        ctx.say(
            ctx.t("hadir.ask_gender", name=name),
            [
                Choice(label=ctx.t("hadir.male"), value="g:L"),
                Choice(label=ctx.t("hadir.female"), value="g:P"),
                self._back(ctx),
            ],
            columns=2,
        )

    async def on_jk_baru(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.NEW_GENDER) or await self._back_to_list(ctx):
            return
        choices = [
            Choice(label=ctx.t("hadir.male"), value="g:L"),
            Choice(label=ctx.t("hadir.female"), value="g:P"),
        ]
        value = _typed_choice(ctx, choices)
        word = normalize_name(value)
        gender = None
        if value in ("g:L", "g:P"):
            gender = value[2:]
        elif word in {"l", "lk", "laki", "laki laki", "pria", "male", "m"}:
            gender = "L"
        elif word in {"p", "pr", "perempuan", "wanita", "female", "f"}:
            gender = "P"
        if gender is None:
            ctx.say(ctx.t("hadir.help.jk_baru"), [*choices, self._back(ctx)], columns=2)
            return
        ctx.data["new"]["gender"] = gender
        ctx.goto(NAME, State.NEW_SKILL)
        ctx.say(
            ctx.t("hadir.ask_skill", name=ctx.data["new"]["name"]),
            [*self._skill_choices(ctx), self._back(ctx)],
        )

    def _skill_choices(self, ctx: Context) -> list[Choice]:
        return [
            Choice(label=f"🧱 {_skill_label(ctx, Skill.PEKERJA.value)}", value="s:pekerja"),
            Choice(label=f"🔨 {_skill_label(ctx, Skill.TUKANG.value)}", value="s:tukang"),
        ]

    async def on_keahlian_baru(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.NEW_SKILL) or await self._back_to_list(ctx):
            return
        value = _typed_choice(ctx, self._skill_choices(ctx))
        word = normalize_name(value)
        skill = value[2:] if value in ("s:pekerja", "s:tukang") else None
        if word in {"pekerja", "buruh", "labourer", "laborer", "worker"}:
            skill = "pekerja"
        elif word in {"tukang", "skilled"}:
            skill = "tukang"
        if skill is None:
            ctx.say(ctx.t("hadir.help.keahlian_baru"), [*self._skill_choices(ctx), self._back(ctx)])
            return
        ctx.data["new"]["skill"] = skill
        ctx.goto(NAME, State.NEW_NIK)
        ctx.say(ctx.t("hadir.ask_nik", name=ctx.data["new"]["name"]), [self._back(ctx)])

    async def on_nik_baru(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.NEW_NIK) or await self._back_to_list(ctx):
            return
        try:
            nik = normalize_nik(ctx.text)
        except InvalidNik as exc:
            reason = str(exc) if ctx.lang == "id" else "it must be 16 digits with a valid birth date part"
            ctx.say(ctx.t("hadir.bad_nik", reason=reason), [self._back(ctx)])
            return
        token, nik_hash = vault_from_settings(ctx.settings).protect(nik)
        ksm_id = int(ctx.data["ksm_id"])
        existing = await worker_with_nik(ctx.session, ksm_id, nik_hash)
        if existing is not None:
            ctx.say(ctx.t("hadir.duplicate_nik", nik=mask_nik(nik), name=existing.name), [self._back(ctx)])
            return
        skill = Skill(ctx.data["new"]["skill"])
        ctx.data["new"].update(nik_token=token.decode(), nik_hash=nik_hash, nik_masked=mask_nik(nik))
        ctx.goto(NAME, State.NEW_RATE)
        await self._ask_rate(ctx, skill)

    async def _ask_rate(self, ctx: Context, skill: Skill, note: str | None = None) -> None:
        usual = await suggested_rate(ctx.session, int(ctx.data["ksm_id"]), skill)
        rates = [usual, *(r for r in USUAL_RATES[skill] if r != usual)]
        text = ctx.t(
            "hadir.ask_rate",
            name=ctx.data["new"]["name"],
            rate=fmt_rupiah(usual),
            skill=_skill_label(ctx, skill.value),
        )
        ctx.say(
            f"{note}\n{text}" if note else text,
            [*(Choice(label=fmt_rupiah(r), value=f"r:{r}") for r in rates), self._back(ctx)],
            columns=2,
        )

    async def on_upah_baru(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.NEW_RATE) or await self._back_to_list(ctx):
            return
        new = ctx.data["new"]
        skill = Skill(new["skill"])
        raw = ctx.text
        amount = int(raw[2:]) if raw.startswith("r:") and raw[2:].isdigit() else parse_rupiah(raw)
        if amount is None:
            await self._ask_rate(ctx, skill, ctx.t("hadir.bad_amount"))
            return
        if not 0 < amount <= MAX_DAILY_RATE:
            await self._ask_rate(ctx, skill, ctx.t("hadir.bad_rate", max=fmt_rupiah(MAX_DAILY_RATE)))
            return
        assert ctx.person is not None
        try:
            worker: Worker = await add_worker(
                ctx.session,
                ksm_id=int(ctx.data["ksm_id"]),
                name=new["name"],
                gender=Gender(new["gender"]),
                skill=skill,
                nik_encrypted=str(new["nik_token"]).encode(),
                nik_hash=str(new["nik_hash"]),
                daily_rate=amount,
                actor_id=ctx.person.id,
                now=ctx.now,
            )
        except DuplicateNik as exc:
            await self._checklist(
                ctx, ctx.t("hadir.duplicate_nik", nik=new["nik_masked"], name=exc.worker_name)
            )
            return
        present = [int(i) for i in ctx.data.get("present", [])]
        present.append(worker.id)
        ctx.data["present"] = present
        ctx.data.pop("new", None)
        pairs = await self._roster_pairs(ctx)
        index = [wid for wid, _ in pairs].index(worker.id)
        ctx.data["page"] = index // ctx.settings.dialog.roster_page_size
        note = ctx.t(
            "hadir.worker_added",
            name=worker.name,
            nik=new["nik_masked"],
            skill=_skill_label(ctx, skill.value),
            rate=fmt_rupiah(amount),
        )
        await self._checklist(ctx, note)

    # --- count mode ------------------------------------------------------------------------------

    async def _ask_count(self, ctx: Context, note: str | None = None) -> None:
        ksm = await ctx.ksm(int(ctx.data["ksm_id"]))
        ctx.goto(NAME, State.ASK_COUNT)
        text = ctx.t(
            "hadir.ask_count", ksm=ksm.name, date=fmt_date(self._day(ctx), ctx.lang, with_weekday=True)
        )
        ctx.say(f"{note}\n{text}" if note else text)

    async def on_jumlah(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.ASK_COUNT):
            return
        try:
            count = parse_count(ctx.text)
        except CountError as exc:
            ctx.say(ctx.t(f"hadir.count_{exc.code}"))
            return
        if count.total > MAX_WORKERS_PER_DAY:
            ctx.say(ctx.t("hadir.too_many", n=fmt_number(count.total, ctx.lang), max=MAX_WORKERS_PER_DAY))
            return
        ctx.data.update(male=count.male if count.by_gender else count.total, female=count.female or 0)
        ctx.data["split"] = count.by_gender
        ctx.data["total"] = count.total
        ctx.data.pop("rate", None)
        ctx.data.pop("total_wages", None)
        if count.total == 0:
            ctx.data["split"] = True
            ctx.touch()
            await self._after_entry(ctx)
            return
        if not count.by_gender:
            ctx.goto(NAME, State.ASK_SPLIT)
            half = count.total // 2
            ctx.say(
                ctx.t("hadir.ask_split", n=count.total, example=f"{count.total - half} L {half} P"),
                [Choice(label=ctx.t("hadir.skip"), value="skip")],
            )
            return
        await self._ask_wages(ctx)

    async def on_rincian_lp(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.ASK_SPLIT):
            return
        total = int(ctx.data.get("total", 0))
        if ctx.text == "skip" or normalize_name(ctx.text) in SKIP_WORDS:
            ctx.data.update(male=total, female=0, split=False)
            await self._ask_wages(ctx)
            return
        try:
            count = parse_count(ctx.text)
        except CountError as exc:
            ctx.say(ctx.t(f"hadir.count_{exc.code}"), [Choice(label=ctx.t("hadir.skip"), value="skip")])
            return
        male, female = count.male, count.female
        if count.by_gender and (male == 0) != (female == 0) and count.total <= total:
            # Only one gender typed ("5 P"): the rest are the other.
            male, female = (total - (female or 0), female) if female else (male, total - (male or 0))
        if not count.by_gender or (male or 0) + (female or 0) != total:
            m, f = (male or 0, female or 0) if count.by_gender else (count.total, 0)
            ctx.say(
                ctx.t("hadir.split_mismatch", male=m, female=f, sum=m + f, n=total),
                [Choice(label=ctx.t("hadir.skip"), value="skip")],
            )
            return
        ctx.data.update(male=male, female=female, split=True)
        await self._ask_wages(ctx)

    async def _ask_wages(self, ctx: Context, note: str | None = None) -> None:
        ctx.goto(NAME, State.ASK_WAGES)
        text = ctx.t("hadir.ask_wages")
        ctx.say(
            f"{note}\n{text}" if note else text,
            [
                Choice(label=ctx.t("hadir.per_person", rate=fmt_rupiah(r)), value=f"r:{r}")
                for r in (85_000, *(r for r in COUNT_RATES if r != 85_000))
            ],
        )

    async def on_upah(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.ASK_WAGES):
            return
        raw = ctx.text
        workers = int(ctx.data.get("male", 0)) + int(ctx.data.get("female", 0))
        is_total = bool(re.match(r"^\s*(total|jumlah)\b", raw, re.IGNORECASE))
        amount_text = re.sub(r"^\s*(total|jumlah)\s*:?\s*", "", raw, flags=re.IGNORECASE)
        amount = int(raw[2:]) if raw.startswith("r:") and raw[2:].isdigit() else parse_rupiah(amount_text)
        if amount is None:
            await self._ask_wages(ctx, ctx.t("hadir.bad_amount"))
            return
        try:
            rate, total = interpret_amount(amount, workers, total=is_total)
        except AttendanceError:
            await self._ask_wages(ctx, ctx.t("hadir.bad_rate", max=fmt_rupiah(MAX_DAILY_RATE)))
            return
        if rate == 0 and total is None:
            await self._ask_wages(ctx, ctx.t("hadir.bad_rate", max=fmt_rupiah(MAX_DAILY_RATE)))
            return
        ctx.data["rate"], ctx.data["total_wages"] = rate, total
        ctx.touch()
        await self._after_entry(ctx)

    # --- paid, confirm, save ---------------------------------------------------------------------

    async def on_dibayar(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.ASK_PAID):
            return
        choices = [
            Choice(label=ctx.t("hadir.yes_paid"), value="paid:1"),
            Choice(label=ctx.t("hadir.not_paid"), value="paid:0"),
        ]
        value = _typed_choice(ctx, choices)
        word = normalize_name(value)
        if value == "paid:1" or word in YES_WORDS:
            ctx.data["paid"] = True
        elif value == "paid:0" or word in NO_WORDS:
            ctx.data["paid"] = False
        else:
            ctx.say(ctx.t("hadir.help.dibayar"), choices, columns=2)
            return
        ctx.touch()
        await self._confirm(ctx)

    def _summary_lines(self, ctx: Context, s: AttendanceSummary) -> list[str]:
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
                f"{_skill_label(ctx, k)} {fmt_number(v, ctx.lang)}" for k, v in sorted(s.skills.items())
            )
            lines.append(ctx.t("hadir.line_skills", skills=skills))
        lines.append(ctx.t("hadir.line_hok", hok=fmt_number(s.hok, ctx.lang)))
        lines.append(
            ctx.t(
                "hadir.line_wages",
                wages=fmt_rupiah(s.total_wages),
                paid=ctx.t("hadir.paid" if s.wages_paid else "hadir.unpaid"),
            )
        )
        return lines

    async def _confirm(self, ctx: Context, note: str | None = None) -> None:
        ksm_id = int(ctx.data["ksm_id"])
        try:
            summary = await preview(ctx.session, ksm_id, self._sheet(ctx))
        except AttendanceError as exc:
            await self._refused(ctx, exc)
            return
        ksm = await ctx.ksm(ksm_id)
        ctx.goto(NAME, State.CONFIRM)
        lines = [note] if note else []
        lines += [ctx.t("hadir.confirm_title", ksm=ksm.name), *self._summary_lines(ctx, summary)]
        if not self._roster_mode(ctx) and not ctx.data.get("split", True) and summary.workers:
            lines.append(ctx.t("hadir.line_no_split"))
        if ctx.data.get("late_reason"):
            lines.append(ctx.t("hadir.line_late", reason=ctx.data["late_reason"]))
        if ctx.data.get("replacing"):
            day = await get_attendance(ctx.session, ksm_id, self._day(ctx))
            if day is not None:
                lines.append(ctx.t("hadir.line_correction", revision=day.revision))
        lines.append(ctx.t("hadir.confirm_question"))
        choices = [Choice(label=ctx.t("hadir.save"), value="save")]
        if summary.total_wages:
            paid = bool(ctx.data.get("paid"))
            choices.append(
                Choice(
                    label=ctx.t("hadir.mark_unpaid" if paid else "hadir.mark_paid"),
                    value=f"paid:{int(not paid)}",
                )
            )
        choices += [
            Choice(label=ctx.t("hadir.edit"), value="edit"),
            Choice(label=ctx.t("hadir.cancel"), value="/batal"),
        ]
        ctx.say("\n".join(lines), choices, columns=2)

    async def _refused(self, ctx: Context, exc: AttendanceError) -> None:
        if exc.code == "too_many":
            n = len(ctx.data.get("present", [])) or int(ctx.data.get("male", 0)) + int(
                ctx.data.get("female", 0)
            )
            note = ctx.t("hadir.too_many", n=fmt_number(n, ctx.lang), max=MAX_WORKERS_PER_DAY)
        elif exc.code == "not_on_roster":
            note = ctx.t("hadir.not_on_roster")
            roster_ids = {wid for wid, _ in await self._roster_pairs(ctx)}
            ctx.data["present"] = [i for i in ctx.data.get("present", []) if i in roster_ids]
        else:
            note = ctx.t("hadir.count_negative")
        if self._roster_mode(ctx):
            await self._checklist(ctx, note)
        else:
            await self._ask_count(ctx, note)

    async def on_konfirmasi(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, State.CONFIRM):
            await self._confirm(ctx)
            return
        choices = [
            Choice(label=ctx.t("hadir.save"), value="save"),
            Choice(label=ctx.t("hadir.edit"), value="edit"),
            Choice(label=ctx.t("hadir.mark_paid"), value="paid:1"),
            Choice(label=ctx.t("hadir.mark_unpaid"), value="paid:0"),
        ]
        value = _typed_choice(ctx, choices)
        word = normalize_name(value)
        if value in ("paid:1", "paid:0"):
            ctx.data["paid"] = value == "paid:1"
            ctx.touch()
            await self._confirm(ctx)
        elif value == "edit" or word in {"ubah", "edit", "change"}:
            ctx.data.pop("queue", None)
            await self._entry(ctx)
        elif value == "save" or word in SAVE_WORDS:
            await self._save(ctx)
        else:
            await self._confirm(ctx, ctx.t("hadir.help.konfirmasi"))

    async def _save(self, ctx: Context) -> None:
        assert ctx.person is not None
        try:
            result = await save_attendance(
                ctx.session,
                ksm_id=int(ctx.data["ksm_id"]),
                sheet=self._sheet(ctx),
                entered_by_id=ctx.person.id,
                channel=ctx.inbound.channel,
                now=ctx.now,
            )
        except AttendanceError as exc:
            await self._refused(ctx, exc)
            return
        s = result.summary
        ctx.finish()
        ctx.say(
            ctx.t(
                "hadir.saved" if result.created else "hadir.saved_correction",
                revision=result.revision,
                date=fmt_date(s.start, ctx.lang, with_weekday=True),
                n=fmt_number(s.workers, ctx.lang),
                hok=fmt_number(s.hok, ctx.lang),
                wages=fmt_rupiah(s.total_wages),
                paid=ctx.t("hadir.paid" if s.wages_paid else "hadir.unpaid"),
            )
        )
