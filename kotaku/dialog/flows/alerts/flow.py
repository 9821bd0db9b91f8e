"""/peringatan: list the alerts in scope page by page, acknowledge one (with an optional note) or resolve
one by hand; refusals say why."""

from __future__ import annotations

import re
from typing import ClassVar

from kotaku.dialog.context import Context, DraftUnreadable
from kotaku.dialog.flow import Flow
from kotaku.dialog.flows.alerts.render import alert_line, ksm_name, refusal
from kotaku.dialog.flows.alerts.states import AlertsDraft, State
from kotaku.dialog.inputs import MAX_PAGE, bounded_int, echoed, has_text, parse_id, picked_id, picked_page
from kotaku.i18n import fmt_number
from kotaku.models import AlertStatus
from kotaku.monitoring.lifecycle import (
    ALERT_ROLES,
    AlertError,
    acknowledge,
    acknowledgeable,
    alert_text,
    list_alerts,
    resolve_by_hand,
)
from kotaku.schemas import Choice
from kotaku.services.scope import scope_of

PAGE_SIZE = 5
NO_NOTE = "-"  # the value of the "no note" button
ACK_PREFIX, PAGE_PREFIX = "ack:", "hal:"  # an alert's button ("ack:" + its id) and a page's ("hal:" + page)

_ACK_RE = re.compile(r"^(?:ack:|#)?(\d+)(?:\s+(.*))?$", re.S)
_RESOLVE_RE = re.compile(r"^(?:tutup|resolve|selesai)[: ]+#?(\d+)(?:\s+(.*))?$", re.S | re.I)
_PAGE_RE = re.compile(r"^(?:hal|page):(\d+)$")


def _note(m: re.Match[str]) -> str:
    return (m.group(2) or "").strip()


class AlertsFlow(Flow[AlertsDraft]):
    name = "peringatan"
    commands = ("peringatan", "alerts")
    roles = ALERT_ROLES
    draft_type = AlertsDraft
    keeps_draft = False  # the list is a view; only an acknowledgement waiting for its note is a draft

    def holds_draft(self, state: str | None) -> bool:
        return state == State.NOTE

    async def start(self, ctx: Context, args: str) -> None:
        if not await self._act(ctx, args.strip(), then_list=False):
            await self._list(ctx, 1)

    async def on_list(self, ctx: Context) -> None:
        if not (has_text(ctx) and await self._act(ctx, ctx.text, then_list=True)):
            await self._list(ctx, self.draft(ctx).page, prefix=ctx.t("peringatan.bad_pick"))

    async def on_note(self, ctx: Context) -> None:
        if ctx.is_choice and ctx.text != NO_NOTE:
            # Another button of the list: an alert's (that one instead) or a page's; any other data is no
            # button of this flow, and the note is still awaited.
            alert_id, page = picked_id(ctx.text, ACK_PREFIX), picked_page(ctx.text, PAGE_PREFIX)
            if alert_id is not None:
                await self._pick(ctx, alert_id, "", then_list=False)
            elif page is not None:
                await self._list(ctx, page)
            else:
                no_note = Choice(label=ctx.t("peringatan.no_note"), value=NO_NOTE)
                ctx.say(ctx.t("input.bad_choice"), [no_note])
            return
        if not has_text(ctx):
            no_note = Choice(label=ctx.t("peringatan.no_note"), value=NO_NOTE)
            ctx.say(ctx.t("peringatan.note_not_text"), [no_note])
            return
        alert_id = self.draft(ctx).alert_id
        if alert_id is None:
            raise DraftUnreadable("peringatan: a note is awaited for no alert")
        await self._acknowledge(ctx, alert_id, "" if ctx.text == NO_NOTE else ctx.text)

    steps: ClassVar = {State.LIST: on_list, State.NOTE: on_note}

    async def _act(self, ctx: Context, text: str, *, then_list: bool) -> bool:
        """A page (`hal:2`), a resolution (`tutup 12 note`) or an alert to acknowledge (`ack:12`, `12`);
        False when `text` is none of them."""
        if m := _PAGE_RE.match(text):
            page = bounded_int(m.group(1), 0, MAX_PAGE)
            if page is None:
                await self._list(ctx, self.draft(ctx).page, prefix=ctx.t("input.bad_choice"))
            else:
                await self._list(ctx, page)
            return True
        m = _RESOLVE_RE.match(text) or _ACK_RE.match(text)
        if m is None:
            return False
        alert_id = parse_id(m.group(1))
        if alert_id is None:  # no alert has that number: said before any query
            ctx.say(ctx.t("peringatan.bad_id", id=echoed(m.group(1))))
            if then_list:
                await self._list(ctx, self.draft(ctx).page)
            else:
                ctx.finish()
        elif m.re is _RESOLVE_RE:
            await self._resolve(ctx, alert_id, _note(m))
        else:
            await self._pick(ctx, alert_id, _note(m), then_list=then_list)
        return True

    # --- listing ---------------------------------------------------------------------------------

    async def _list(self, ctx: Context, page: int, prefix: str | None = None) -> None:
        assert ctx.person is not None
        scope = scope_of(ctx.person)
        lines = [prefix] if prefix else []
        total = (await list_alerts(ctx.session, scope, limit=0)).total
        if total == 0:
            ctx.say("\n".join([*lines, ctx.t("peringatan.none")]))
            ctx.finish()
            return
        pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
        page = min(max(page, 1), pages)
        found = await list_alerts(ctx.session, scope, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        lines.append(ctx.t("peringatan.title", n=fmt_number(total, ctx.lang), page=page, pages=pages))
        choices = []
        for a in found.alerts:
            lines += ["", await alert_line(ctx, a, found.ksm_names.get(a.ksm_id or 0, "-"))]
            if a.status == AlertStatus.OPEN:
                choices.append(
                    Choice(label=ctx.t("peringatan.ack_button", id=a.id), value=f"{ACK_PREFIX}{a.id}")
                )
        if page > 1:
            choices.append(Choice(label=ctx.t("peringatan.prev"), value=f"{PAGE_PREFIX}{page - 1}"))
        if page < pages:
            choices.append(Choice(label=ctx.t("peringatan.next"), value=f"{PAGE_PREFIX}{page + 1}"))
        ctx.goto(self.name, State.LIST, page=page)
        ctx.say("\n".join(lines), choices, columns=2)

    # --- acknowledging and resolving -------------------------------------------------------------

    async def _pick(self, ctx: Context, alert_id: int, note: str, *, then_list: bool) -> None:
        """Acknowledge at once when a note came along; else check the alert and ask for a note."""
        assert ctx.person is not None
        if note:
            await self._acknowledge(ctx, alert_id, note)
            return
        page = self.draft(ctx).page
        try:
            alert = await acknowledgeable(ctx.session, alert_id, ctx.person)
        except AlertError as exc:
            ctx.say(await refusal(ctx, exc, alert_id))
            if then_list:
                await self._list(ctx, page)
            else:
                ctx.finish()
            return
        ctx.goto(self.name, State.NOTE, alert_id=alert_id, page=page)
        ctx.say(
            ctx.t(
                "peringatan.ask_note",
                id=alert.id,
                ksm=await ksm_name(ctx, alert),
                text=alert_text(alert, ctx.lang),
            ),
            [Choice(label=ctx.t("peringatan.no_note"), value=NO_NOTE)],
        )

    async def _acknowledge(self, ctx: Context, alert_id: int, note: str) -> None:
        assert ctx.person is not None
        ctx.finish()
        try:
            alert = await acknowledge(ctx.session, alert_id, ctx.person, note or None, ctx.now)
        except AlertError as exc:
            ctx.say(await refusal(ctx, exc, alert_id))
            return
        suffix = ctx.t("peringatan.note_suffix", note=alert.ack_note) if alert.ack_note else ""
        ksm = await ksm_name(ctx, alert)
        ctx.say(ctx.t("peringatan.acknowledged", id=alert.id, ksm=ksm, name=ctx.person.name, note=suffix))

    async def _resolve(self, ctx: Context, alert_id: int, note: str) -> None:
        assert ctx.person is not None
        ctx.finish()
        try:
            alert = await resolve_by_hand(ctx.session, alert_id, ctx.person, note, ctx.now)
        except AlertError as exc:
            ctx.say(await refusal(ctx, exc, alert_id))
            return
        ksm = await ksm_name(ctx, alert)
        ctx.say(ctx.t("peringatan.resolved", id=alert.id, ksm=ksm, note=alert.resolve_note))
