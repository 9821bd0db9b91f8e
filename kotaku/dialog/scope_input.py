"""Asking which scope to show: the person's own, or a KSM/BKM/region code inside it. /status and /rekap
are both such views (`ScopeViewFlow`); their sentences are `<flow>.unknown_scope`, `.outside_scope`,
`.ask_scope`, `.not_text` and `.my_scope`."""

from __future__ import annotations

from abc import abstractmethod

from kotaku.dialog.context import Context, D
from kotaku.dialog.flow import Flow
from kotaku.dialog.inputs import has_text, kind_word
from kotaku.schemas import Choice
from kotaku.services.access import action_of_flow, log_refusal
from kotaku.services.scope import Scope, ScopeNotFound
from kotaku.services.summary import OWN_SCOPE_WORDS, OutsideScope, view_scope

# The state in which a view waits for a scope code (saved conversations hold this name).
ASK_SCOPE = "tanya_cakupan"
MY_SCOPE = "semua"  # the value of the "my whole scope" button


def scope_name(ctx: Context, scope: Scope) -> str:
    """A scope's label, or "national" in the user's language."""
    return ctx.t("status.national") if scope.is_national else scope.label


def scope_command(command: str, code: str) -> str:
    """The button value that shows the same scope in another view: `/rekap 33.22.05`, or `/rekap`."""
    first = code.split()[0] if code.strip() else ""
    value = f"/{command} {first}" if first and first.lower() not in OWN_SCOPE_WORDS else f"/{command}"
    return value[:64]


def _ask_scope(ctx: Context, prefix: str) -> None:
    ctx.say(ctx.t(f"{prefix}.ask_scope"), [Choice(label=ctx.t(f"{prefix}.my_scope"), value=MY_SCOPE)])


async def resolve_requested_scope(ctx: Context, flow: str, code: str, ask_state: str) -> Scope | None:
    """The person's scope or the one `code` names; on a bad code, say why and ask (in `ask_state`) again.
    The sentences are the flow's (`<flow>.unknown_scope`, ...)."""
    assert ctx.person is not None
    try:
        return await view_scope(ctx.session, ctx.person, code)
    except ScopeNotFound:
        ctx.say(ctx.t(f"{flow}.unknown_scope", code=code.strip()))
    except OutsideScope as exc:
        log_refusal(ctx.person, action_of_flow(flow), "outside_scope", scope=code.strip())
        ctx.say(ctx.t(f"{flow}.outside_scope", scope=str(exc)))
    ctx.goto(flow, ask_state)
    _ask_scope(ctx, flow)
    return None


def wrong_kind_hint(ctx: Context, prefix: str) -> bool:
    """Say what is expected when something other than text arrives; True when it did."""
    if has_text(ctx):
        return False
    ctx.say(ctx.t(f"{prefix}.not_text", kind=kind_word(ctx)))
    _ask_scope(ctx, prefix)
    return True


class ScopeViewFlow(Flow[D]):
    """A flow that shows something about a scope: `/<command>` for one's own, `/<command> CODE` for a KSM,
    BKM or region inside it; a bad code is explained and asked again in state `ASK_SCOPE`."""

    keeps_draft = False

    async def start(self, ctx: Context, args: str) -> None:
        await self._view(ctx, args)

    async def on_ask_scope(self, ctx: Context) -> None:
        if wrong_kind_hint(ctx, self.name):
            return
        await self._view(ctx, ctx.text)

    async def _view(self, ctx: Context, code: str) -> None:
        scope = await resolve_requested_scope(ctx, self.name, code, ASK_SCOPE)
        if scope is not None:
            ctx.finish()
            await self.show(ctx, scope, code)

    @abstractmethod
    async def show(self, ctx: Context, scope: Scope, code: str) -> None:
        """Say what this view shows for `scope` (`code` is what named it: for links to other views)."""
