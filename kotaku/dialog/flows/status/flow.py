"""/status: the person's scope, or the KSM or region they name, and who in it reported today."""

from __future__ import annotations

from typing import ClassVar

from kotaku.dialog.context import Context
from kotaku.dialog.flows.status.render import render_status
from kotaku.dialog.flows.status.states import State, StatusDraft
from kotaku.dialog.scope_input import ScopeViewFlow, scope_command
from kotaku.models import Role
from kotaku.schemas import Choice
from kotaku.services.scope import Scope
from kotaku.services.summary import reporting_status


class StatusFlow(ScopeViewFlow[StatusDraft]):
    name = "status"
    commands = ("status",)
    roles = frozenset(
        {Role.FASILITATOR, Role.BKM, Role.ASKOT, Role.KORKOT, Role.PROVINSI, Role.NASIONAL, Role.ADMIN}
    )
    draft_type = StatusDraft

    async def show(self, ctx: Context, scope: Scope, code: str) -> None:
        rows = await reporting_status(ctx.session, scope, ctx.now)
        to_rekap = Choice(label=ctx.t("status.to_rekap"), value=scope_command("rekap", code))
        ctx.say(render_status(ctx, scope, rows), [to_rekap])

    steps: ClassVar = {State.ASK_SCOPE: ScopeViewFlow.on_ask_scope}
