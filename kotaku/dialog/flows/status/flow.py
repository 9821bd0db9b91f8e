"""/status: the person's scope, or the KSM or region they name, and who in it reported today.

Facilitators and managers looking at a region (or the whole program) see it grouped by kecamatan,
kabupaten/kota or province, with each late KSM's missed-day streak and a 🔔 button per late KSM:
`/status ingatkan KSM-CODE` reminds its coordinators now, through the outbox, once a day per KSM.
"""

from __future__ import annotations

from typing import ClassVar

from kotaku.dialog.context import Context
from kotaku.dialog.flows.status.render import local_time, render_manager_status, render_status
from kotaku.dialog.flows.status.states import State, StatusDraft
from kotaku.dialog.scope_input import ScopeViewFlow, scope_command
from kotaku.models import Role
from kotaku.schemas import Choice
from kotaku.services.access import log_refusal
from kotaku.services.manual_reminder import Outcome, remind_ksm, sent_today
from kotaku.services.scope import Scope, ScopeNotFound
from kotaku.services.summary import OutsideScope, manager_status, reporting_status, view_scope

# Who gets the grouped view with streaks and may remind a KSM now: the roles above the kelurahan.
MANAGER_ROLES = frozenset(
    {Role.FASILITATOR, Role.ASKOT, Role.KORKOT, Role.PROVINSI, Role.NASIONAL, Role.ADMIN}
)
# `/status ingatkan KSM-CODE` (the 🔔 button) reminds that KSM.
REMIND_WORDS = frozenset({"ingatkan", "remind"})


class StatusFlow(ScopeViewFlow[StatusDraft]):
    name = "status"
    commands = ("status",)
    roles = frozenset({Role.BKM, *MANAGER_ROLES})
    draft_type = StatusDraft

    async def start(self, ctx: Context, args: str) -> None:
        word, _, rest = args.strip().partition(" ")
        if word.lower() in REMIND_WORDS:
            ctx.finish()
            await self.remind(ctx, rest.strip())
            return
        await super().start(ctx, args)

    async def show(self, ctx: Context, scope: Scope, code: str) -> None:
        assert ctx.person is not None
        to_rekap = Choice(label=ctx.t("status.to_rekap"), value=scope_command("rekap", code))
        if ctx.person.role in MANAGER_ROLES and scope.ksm_id is None and scope.bkm_id is None:
            ms = await manager_status(ctx.session, ctx.settings, scope, ctx.now)
            sent = await sent_today(ctx.session, {k.ksm_id: k.today for k in ms.late()}, ctx.now)
            text, buttons = render_manager_status(ctx, scope, ms, sent, await ctx.timezone_of_person())
            ctx.say(text, [to_rekap, *buttons])
            return
        rows = await reporting_status(ctx.session, scope, ctx.now)
        ctx.say(render_status(ctx, scope, rows), [to_rekap])

    async def remind(self, ctx: Context, code: str) -> None:
        """Remind the named KSM's coordinators now (the 🔔 button of the managers' view)."""
        person = ctx.person
        assert person is not None
        if person.role not in MANAGER_ROLES:
            log_refusal(person, "status_remind", "role", ksm=code)
            ctx.say(ctx.t("status.remind_not_allowed"))
            return
        try:
            scope = await view_scope(ctx.session, person, code) if code else None
        except ScopeNotFound:
            ctx.say(ctx.t("status.unknown_scope", code=code))
            return
        except OutsideScope as exc:
            log_refusal(person, "status_remind", "outside_scope", scope=code)
            ctx.say(ctx.t("status.outside_scope", scope=str(exc)))
            return
        if scope is None or scope.ksm_id is None:
            ctx.say(ctx.t("status.remind_usage"))
            return
        result = await remind_ksm(ctx.session, ctx.settings, ksm_id=scope.ksm_id, by=person, now=ctx.now)
        ksm = result.ksm.name
        back = [Choice(label=ctx.t("status.menu"), value="/status")]
        sent = result.reminder
        if result.outcome == Outcome.SENT and sent is not None:
            ctx.say(ctx.t("status.remind_sent", ksm=ksm, names=", ".join(sent.recipients)), back)
        elif result.outcome == Outcome.ALREADY_SENT and sent is not None:
            at = local_time(ctx, sent.at, await ctx.timezone_of_person())
            ctx.say(ctx.t("status.remind_already", ksm=ksm, name=sent.by_name, time=at), back)
        elif result.outcome == Outcome.REPORTED:
            ctx.say(ctx.t("status.remind_reported", ksm=ksm), back)
        elif result.outcome == Outcome.NOT_RUNNING:
            ctx.say(ctx.t("status.remind_not_running", ksm=ksm), back)
        else:
            ctx.say(ctx.t("status.remind_no_coordinator", ksm=ksm), back)

    steps: ClassVar = {State.ASK_SCOPE: ScopeViewFlow.on_ask_scope}
