"""/rekap: the summary of the person's scope, or of the KSM or region they name."""

from __future__ import annotations

from typing import ClassVar

from kotaku.dialog.context import Context
from kotaku.dialog.flows.status import StatusFlow
from kotaku.dialog.flows.summary.render import render_summary
from kotaku.dialog.flows.summary.states import State, SummaryDraft
from kotaku.dialog.scope_input import ScopeViewFlow, scope_command
from kotaku.models import Role
from kotaku.schemas import Choice
from kotaku.services.scope import Scope
from kotaku.services.summary import scope_summary


class SummaryFlow(ScopeViewFlow[SummaryDraft]):
    name = "rekap"
    commands = ("rekap", "summary")
    roles = frozenset(Role)
    draft_type = SummaryDraft

    async def show(self, ctx: Context, scope: Scope, code: str) -> None:
        summary = await scope_summary(ctx.session, ctx.settings, scope, ctx.now)
        assert ctx.person is not None
        choices = []
        if ctx.person.role in StatusFlow.roles:
            choices.append(Choice(label=ctx.t("rekap.to_status"), value=scope_command("status", code)))
        ctx.say(render_summary(ctx, scope, summary), choices)

    steps: ClassVar = {State.ASK_SCOPE: ScopeViewFlow.on_ask_scope}
