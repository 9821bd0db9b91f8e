"""What every flow is: a command, the roles that may use it, named states, and a handler per state.

A flow module defines `class State(StrEnum)`, a `Flow` subclass with `start()` and one `on_<state>()` per
state, registers its sentences in the catalogue, and decorates the class with `@register_flow`. The engine
persists `ctx.conv.flow/state/data` after every message, so any step can resume after a restart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import ClassVar

from sqlalchemy import select

from kotaku import catalogue
from kotaku.dialog.context import Context
from kotaku.models import Ksm, Role
from kotaku.schemas import Choice
from kotaku.services.scope import ksm_ids_in_scope, scope_of

FLOWS: dict[str, Flow] = {}
COMMANDS: dict[str, Flow] = {}

STATE_CHOOSE_KSM = "pilih_ksm"


class Flow(ABC):
    name: ClassVar[str]
    commands: ClassVar[tuple[str, ...]]
    roles: ClassVar[frozenset[Role]]
    # Flows that write for a KSM resolve which KSM before start(); ctx.data["ksm_id"] holds it.
    needs_ksm: ClassVar[bool] = False

    @abstractmethod
    async def start(self, ctx: Context, args: str) -> None:
        """Begin the flow; `args` is what followed the command (quick form)."""

    async def step(self, ctx: Context) -> None:
        """Handle input in the current state by calling `on_<state>`."""
        if ctx.state == STATE_CHOOSE_KSM:
            await self._on_choose_ksm(ctx)
            return
        handler: Callable[[Context], Awaitable[None]] | None = getattr(self, f"on_{ctx.state}", None)
        if handler is None:
            ctx.finish()
            return
        await handler(ctx)

    def help(self, ctx: Context) -> str:
        """Help for where the user is: `<flow>.help.<state>` when present, else `<flow>.help`."""
        key = f"{self.name}.help.{ctx.state}"
        if key in catalogue.default():
            return ctx.t(key)
        return ctx.t(f"{self.name}.help")

    # --- KSM resolution --------------------------------------------------------------------------

    async def begin(self, ctx: Context, args: str) -> None:
        """Engine entry point: resolve the KSM when needed, then start()."""
        if not self.needs_ksm:
            await self.start(ctx, args)
            return
        candidates = await reporting_ksm_ids(ctx)
        if not candidates:
            ctx.say(ctx.t("flow.no_ksm"))
            ctx.finish()
            return
        if len(candidates) == 1:
            ctx.goto(self.name, "mulai", ksm_id=candidates[0])
            await self.start(ctx, args)
            return
        rows = (
            await ctx.session.execute(select(Ksm).where(Ksm.id.in_(candidates)).order_by(Ksm.name))
        ).scalars()
        ctx.goto(self.name, STATE_CHOOSE_KSM, pending_args=args)
        ctx.say(ctx.t("flow.choose_ksm"), [Choice(label=k.name, value=f"ksm:{k.id}") for k in rows])

    async def _on_choose_ksm(self, ctx: Context) -> None:
        candidates = await reporting_ksm_ids(ctx)
        chosen = None
        value = ctx.text
        if value.startswith("ksm:") and value[4:].isdigit():
            chosen = int(value[4:])
        else:
            rows = (await ctx.session.execute(select(Ksm).where(Ksm.id.in_(candidates)))).scalars()
            for k in rows:
                if value.lower() in {k.name.lower(), k.code.lower()}:
                    chosen = k.id
        if chosen is None or chosen not in candidates:
            ctx.say(ctx.t("flow.bad_ksm"))
            return
        args = ctx.data.get("pending_args", "")
        ctx.conv.data = {}
        ctx.goto(self.name, "mulai", ksm_id=chosen)
        await self.start(ctx, args)


async def reporting_ksm_ids(ctx: Context) -> list[int]:
    """KSMs this person may report for here: the group's KSM, their own KSM, or those in their scope."""
    person = ctx.person
    assert person is not None
    scope = scope_of(person)
    if ctx.group_ksm_id is not None:
        allowed = await ksm_ids_in_scope(ctx.session, scope)
        return [ctx.group_ksm_id] if ctx.group_ksm_id in allowed or scope.is_national else []
    return await ksm_ids_in_scope(ctx.session, scope)


def register_flow(cls: type[Flow]) -> type[Flow]:
    flow = cls()
    FLOWS[cls.name] = flow
    for command in cls.commands:
        if command in COMMANDS:
            raise ValueError(f"command /{command} registered twice")
        COMMANDS[command] = flow
    return cls
