"""/unduh [jenis] [periode] [kode]: which file (buttons when not said), which period (buttons: this week,
last week, this month; or typed `1-7 Des`), for the person's own scope or a KSM/BKM/region inside it.

The flow only asks and records `ExportRequested`; the file is built after commit, in the background, and
sent to the person's chat through the outbox (`kotaku.dialog.flows.download.delivery`). Whole NIKs never go
to a chat: the export is always masked here.
"""

from __future__ import annotations

import re
from typing import ClassVar

from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow
from kotaku.dialog.flows.download.periods import Named, Period, PeriodError, named_period, parse_period
from kotaku.dialog.flows.download.states import DownloadDraft, State, Wanted
from kotaku.dialog.inputs import has_text, kind_word, pick
from kotaku.dialog.scope_input import scope_name
from kotaku.events import ExportRequested
from kotaku.exports import ExportFormat, ExportKind, ExportNotAllowed, check_export
from kotaku.i18n import fmt_short_date
from kotaku.models import Role
from kotaku.schemas import Choice
from kotaku.services.access import Action, log_refusal
from kotaku.services.scope import Scope, ScopeNotFound
from kotaku.services.summary import OutsideScope, view_scope

# The words people type for each kind (Indonesian and English).
KIND_WORDS: dict[str, Wanted] = {
    **dict.fromkeys(("hadir", "daftar_hadir", "absen", "absensi", "kehadiran", "attendance"), Wanted.HADIR),
    **dict.fromkeys(("upah", "gaji", "bayar", "pembayaran", "wages", "wage", "pay"), Wanted.UPAH),
    **dict.fromkeys(("progres", "progress", "kemajuan"), Wanted.PROGRES),
    **dict.fromkeys(("kendala", "hambatan", "masalah", "obstacle", "obstacles"), Wanted.KENDALA),
    **dict.fromkeys(("foto", "photo", "photos", "gambar"), Wanted.FOTO),
    **dict.fromkeys(("ringkasan", "rekap", "summary"), Wanted.RINGKASAN),
    **dict.fromkeys(("laporan", "pdf", "report", "mingguan", "weekly"), Wanted.LAPORAN),
    **dict.fromkeys(("semua", "all", "xlsx", "excel", "lengkap"), Wanted.SEMUA),
}
KIND_PREFIX = "k:"
PERIOD_PREFIX = "p:"
# A word that names a scope rather than a period: `KSM-BJL-01`, `bkm:BKM-BJL`, `33.22.05`.
_SCOPE_TOKEN = re.compile(
    r"^(?:(?:ksm|bkm|region|wilayah):\S+|\d{2}(?:\.\d{2}){1,2}(?:\.\d{4})?|[A-Za-z]{2,}-[A-Za-z0-9-]+|nasional)$",
    re.IGNORECASE,
)


def parse_kind(word: str) -> Wanted | None:
    raw = word.strip().lower().removeprefix(KIND_PREFIX)
    return KIND_WORDS.get(raw)


def export_shape(kind: Wanted) -> tuple[ExportFormat, tuple[ExportKind, ...], bool]:
    """Format, tables and whether photo files go along, for what was asked."""
    if kind == Wanted.LAPORAN:
        return ExportFormat.PDF, (), False
    if kind == Wanted.SEMUA:
        return ExportFormat.XLSX, tuple(ExportKind), False
    return ExportFormat.XLSX, (ExportKind(kind.value),), kind == Wanted.FOTO


def period_label(period: Period, lang: str) -> str:
    start, end = fmt_short_date(period.start, lang), fmt_short_date(period.end, lang)
    if period.start == period.end:
        return f"{start} {period.start.year}"
    return f"{start} – {end} {period.end.year}"


class DownloadFlow(Flow[DownloadDraft]):
    name = "unduh"
    commands = ("unduh", "download")
    roles = frozenset(Role) - {Role.WORKER, Role.KETUA_KSM}
    draft_type = DownloadDraft

    async def start(self, ctx: Context, args: str) -> None:
        words = args.split()
        kind = parse_kind(words[0]) if words else None
        if kind is not None:
            words = words[1:]
        codes = [w for w in words if _SCOPE_TOKEN.match(w)]
        period_text = " ".join(w for w in words if w not in codes[:1])
        code = codes[0] if codes else ""
        if await self._scope(ctx, code) is None:
            ctx.finish()
            return
        ctx.goto(self.name, State.ASK_KIND)
        draft = self.draft(ctx)
        draft.kind, draft.scope_code = kind, code
        if period_text:
            today = await ctx.person_today()
            period: Period | PeriodError | None = parse_period(period_text, today, ctx.settings)
            if isinstance(period, PeriodError) and kind is None and not period_text[:1].isdigit():
                # An unknown kind (`/unduh rapor minggu ini`): say which work; the period may still be good.
                unknown, _, rest = period_text.partition(" ")
                ctx.say(ctx.t("unduh.unknown_kind", word=unknown))
                period = parse_period(rest, today, ctx.settings) if rest else None
            elif isinstance(period, PeriodError):
                ctx.say(ctx.t(f"unduh.period_error.{period.value}", text=period_text))
            if isinstance(period, Period):
                draft.start, draft.end = period.start, period.end
        await self._next(ctx)

    async def on_kind(self, ctx: Context) -> None:
        if not has_text(ctx):
            ctx.say(ctx.t("unduh.not_text", kind=kind_word(ctx)))
            self._ask_kind(ctx)
            return
        chosen = pick(ctx, self._kind_choices(ctx))
        kind = parse_kind(chosen.value if chosen else ctx.text)
        if kind is None:
            ctx.say(ctx.t("unduh.unknown_kind", word=ctx.text))
            self._ask_kind(ctx)
            return
        self.draft(ctx).kind = kind
        await self._next(ctx)

    async def on_period(self, ctx: Context) -> None:
        if not has_text(ctx):
            ctx.say(ctx.t("unduh.not_text", kind=kind_word(ctx)))
            await self._ask_period(ctx)
            return
        chosen = pick(ctx, await self._period_choices(ctx))
        text = chosen.value.removeprefix(PERIOD_PREFIX) if chosen else ctx.text
        period = parse_period(text, await ctx.person_today(), ctx.settings)
        if isinstance(period, PeriodError):
            ctx.say(ctx.t(f"unduh.period_error.{period.value}", text=ctx.text))
            await self._ask_period(ctx)
            return
        draft = self.draft(ctx)
        draft.start, draft.end = period.start, period.end
        await self._next(ctx)

    steps: ClassVar = {State.ASK_KIND: on_kind, State.ASK_PERIOD: on_period}

    # --- steps -----------------------------------------------------------------------------------

    async def _scope(self, ctx: Context, code: str) -> Scope | None:
        """The scope asked for (one's own when `code` is empty), or None after saying why not."""
        assert ctx.person is not None
        try:
            scope = await view_scope(ctx.session, ctx.person, code)
            await check_export(ctx.session, ctx.person, scope)
        except ScopeNotFound:
            ctx.say(ctx.t("unduh.unknown_scope", code=code))
        except OutsideScope as exc:
            log_refusal(ctx.person, Action.EXPORT, "outside_scope", scope=code)
            ctx.say(ctx.t("unduh.outside_scope", scope=str(exc)))
        except ExportNotAllowed:
            log_refusal(ctx.person, Action.EXPORT, "role", scope=code)
            ctx.say(ctx.t("unduh.not_allowed"))
        else:
            return scope
        return None

    async def _next(self, ctx: Context) -> None:
        draft = self.draft(ctx)
        if draft.kind is None:
            ctx.goto(self.name, State.ASK_KIND)
            self._ask_kind(ctx)
        elif draft.start is None or draft.end is None:
            ctx.goto(self.name, State.ASK_PERIOD)
            await self._ask_period(ctx)
        else:
            await self._request(ctx, draft.kind, Period(draft.start, draft.end), draft.scope_code)

    def _kind_choices(self, ctx: Context) -> list[Choice]:
        return [Choice(label=ctx.t(f"unduh.kind.{k.value}"), value=f"{KIND_PREFIX}{k.value}") for k in Wanted]

    def _ask_kind(self, ctx: Context) -> None:
        ctx.say(ctx.t("unduh.ask_kind"), self._kind_choices(ctx), columns=2)

    async def _period_choices(self, ctx: Context) -> list[Choice]:
        today = await ctx.person_today()
        choices = []
        for name in (Named.THIS_WEEK, Named.LAST_WEEK, Named.THIS_MONTH):
            period = named_period(name, today, ctx.settings)
            label = ctx.t(f"unduh.period.{name.value}", dates=period_label(period, ctx.lang))
            value = f"{PERIOD_PREFIX}{period.start.isoformat()}:{period.end.isoformat()}"
            choices.append(Choice(label=label, value=value))
        return choices

    async def _ask_period(self, ctx: Context) -> None:
        draft = self.draft(ctx)
        what = ctx.t(f"unduh.kind.{draft.kind.value}") if draft.kind else ""
        ctx.say(ctx.t("unduh.ask_period", what=what), await self._period_choices(ctx))

    async def _request(self, ctx: Context, kind: Wanted, period: Period, code: str) -> None:
        assert ctx.person is not None
        ctx.finish()
        scope = await self._scope(ctx, code)
        if scope is None:
            return
        fmt, tables, with_photos = export_shape(kind)
        inbound = ctx.inbound
        chat_id = inbound.chat_id
        if inbound.is_group:  # files with names and wages go to the person's own chat, not the group
            chat_id = (ctx.identity.chat_id if ctx.identity else None) or inbound.user_id
        ctx.uow.record(
            ExportRequested(
                at=ctx.now,
                person_id=ctx.person.id,
                kind=kind.value,
                fmt=fmt.value,
                scope_label=scope.label,
                scope_ksm_id=scope.ksm_id,
                scope_bkm_id=scope.bkm_id,
                scope_region_id=scope.region_id,
                start=period.start,
                end=period.end,
                lang=ctx.lang,
                channel=inbound.channel.value,
                chat_id=chat_id,
                request_id=f"{inbound.channel.value}:{inbound.message_id}",
                tables=tuple(t.value for t in tables),
                with_photos=with_photos,
            )
        )
        ctx.say(
            ctx.t(
                "unduh.preparing",
                what=ctx.t(f"unduh.kind.{kind.value}"),
                scope=scope_name(ctx, scope),
                period=period_label(period, ctx.lang),
            )
        )
        if inbound.is_group:
            ctx.say(ctx.t("unduh.to_private"))
