"""What every flow is: a command, the roles that may use it, named states with a handler each, a typed
draft; and the registry the composition root builds from the list of flows.

A flow package (`kotaku/dialog/flows/<name>/`) defines `class State(StrEnum)`, a `Draft` subclass with the
fields it gathers, and a `Flow` subclass with `start()`, one handler per state and the table `steps`
mapping each state to its handler. Its sentences are in the catalogue (`kotaku/catalogue/<name>.toml`).
The engine saves the state and the draft after every message, so any step resumes after a restart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, Generic

from sqlalchemy import select

from kotaku import catalogue
from kotaku.dialog.context import Context, D, Draft
from kotaku.dialog.inputs import picked_id
from kotaku.models import Ksm, Role
from kotaku.schemas import Choice
from kotaku.services.access import action_of_flow, log_refusal
from kotaku.services.scope import ksm_ids_in_scope, scope_of

STATE_CHOOSE_KSM = "pilih_ksm"
STATE_START = "mulai"
KSM_PREFIX = "ksm:"  # the value of a KSM's button in the chooser: "ksm:" + its id

Step = Callable[[Any, Context], Awaitable[None]]


class UnknownState(Exception):
    """A saved state that the flow has no handler for."""

    def __init__(self, flow: str, state: str | None) -> None:
        super().__init__(f"flow {flow!r} has no state {state!r}")
        self.flow, self.state = flow, state


class Flow(ABC, Generic[D]):
    name: ClassVar[str]
    commands: ClassVar[tuple[str, ...]]
    roles: ClassVar[frozenset[Role]]
    # Flows that write for a KSM resolve which KSM before start(); the draft's `ksm_id` holds it. When the
    # person may report for several, the chooser asks `choose_ksm_key` and waits in `choose_ksm_state`.
    needs_ksm: ClassVar[bool] = False
    choose_ksm_key: ClassVar[str] = "flow.choose_ksm"
    choose_ksm_state: ClassVar[str] = STATE_CHOOSE_KSM
    in_menu: ClassVar[bool] = True
    # A view (a list, a chart, a summary) gathers nothing a person would lose: when another command comes,
    # its leftover state is dropped without a word; asked for while a draft is open, it is shown beside the
    # draft, which stays as it was. Its buttons then come back as commands (`a:12` as `/kurva a:12`), so a
    # view's start() accepts the value of any button it offers.
    keeps_draft: ClassVar[bool] = True
    # The flow's typed draft, and its transition table: state -> handler.
    draft_type: type[D]
    steps: ClassVar[Mapping[str, Step]] = {}

    @abstractmethod
    async def start(self, ctx: Context, args: str) -> None:
        """Begin the flow; `args` is what followed the command (quick form)."""

    def draft(self, ctx: Context) -> D:
        return ctx.draft(self.draft_type)

    async def step(self, ctx: Context) -> None:
        """Handle input in the current state with its handler from `steps` (UnknownState if none)."""
        if ctx.state == self.choose_ksm_state:
            await self._on_choose_ksm(ctx)
            return
        handler = self.steps.get(ctx.state or "")
        if handler is None:
            raise UnknownState(self.name, ctx.state)
        await handler(self, ctx)

    def holds_draft(self, state: str | None) -> bool:
        """Whether being in `state` holds something the person would lose (a draft): for a view, only a
        state that waits for an answer it needs to finish an action."""
        return self.keeps_draft

    def as_commands(self, choices: list[Choice]) -> list[Choice]:
        """Buttons that work without this flow's state: a value that is not a command becomes
        `/<command> <value>` (a view shown beside a draft keeps no state of its own)."""
        prefix = f"/{self.commands[0]} "
        return [
            c if c.value.startswith("/") else Choice(label=c.label, value=prefix + c.value) for c in choices
        ]

    def help(self, ctx: Context) -> str:
        """Help for where the user is: `<flow>.help.<state>` when present, else `<flow>.help`."""
        key = f"{self.name}.help.{ctx.state}"
        if catalogue.has(key):
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
            reason = "outside_scope" if ctx.group_ksm_id is not None else "no_ksm"  # another KSM's group
            log_refusal(ctx.person, action_of_flow(self.name), reason, group_ksm_id=ctx.group_ksm_id)
            ctx.say(ctx.t("flow.no_ksm"))
            ctx.finish()
            return
        ctx.goto(self.name, STATE_START)
        if not await self.hold(ctx, args):
            ctx.finish()
            return
        if len(candidates) == 1:
            ctx.goto(self.name, STATE_START, ksm_id=candidates[0])
            await self.start(ctx, args)
            return
        rows = (
            await ctx.session.execute(select(Ksm).where(Ksm.id.in_(candidates)).order_by(Ksm.name))
        ).scalars()
        ctx.goto(self.name, self.choose_ksm_state, pending_args=args)
        ctx.say(ctx.t(self.choose_ksm_key), [Choice(label=k.name, value=f"{KSM_PREFIX}{k.id}") for k in rows])

    async def hold(self, ctx: Context, args: str) -> bool:
        """Called by begin() before the KSM is resolved: check what this message brought and keep in the
        draft what start() needs of it (after a choice of KSM, start() runs on the message with the
        choice). False, after saying why, ends the flow. The default keeps nothing."""
        return True

    async def _on_choose_ksm(self, ctx: Context) -> None:
        candidates = await reporting_ksm_ids(ctx)
        chosen = None
        value = ctx.text
        if value.startswith(KSM_PREFIX):
            chosen = picked_id(value, KSM_PREFIX)
        else:
            rows = (await ctx.session.execute(select(Ksm).where(Ksm.id.in_(candidates)))).scalars()
            for k in rows:
                if value.lower() in {k.name.lower(), k.code.lower()}:
                    chosen = k.id
        if chosen is None or chosen not in candidates:
            if chosen is not None:  # a KSM by its id, but not one this person may report for
                log_refusal(ctx.person, action_of_flow(self.name), "outside_scope", ksm_id=chosen)
            forged = chosen is None and value.startswith(KSM_PREFIX)
            ctx.say(ctx.t("input.bad_choice" if forged else "flow.bad_ksm"))
            return
        # The draft is kept, with what hold() put in it (flows not yet typed have no draft_type).
        draft = ctx.draft(getattr(self, "draft_type", Draft))
        args, draft.pending_args, draft.ksm_id = draft.pending_args, "", chosen
        ctx.goto(self.name, STATE_START)
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


# The order of the menu; flows not listed come after, in registry order.
MENU_ORDER = ("laporan", "hadir", "progres", "kendala", "foto", "status", "rekap", "selesai", "ubah")


class FlowRegistry:
    """The flows of this program by name and by command; built once by the composition root."""

    def __init__(self, flows: Iterable[Flow[Any]]) -> None:
        self._by_name: dict[str, Flow[Any]] = {}
        self._by_command: dict[str, Flow[Any]] = {}
        for flow in flows:
            if flow.name in self._by_name:
                raise ValueError(f"flow {flow.name!r} registered twice")
            self._by_name[flow.name] = flow
            for command in flow.commands:
                if command in self._by_command:
                    raise ValueError(f"command /{command} registered twice")
                self._by_command[command] = flow

    def __iter__(self) -> Iterator[Flow[Any]]:
        return iter(self._by_name.values())

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def get(self, name: str | None) -> Flow[Any] | None:
        return self._by_name.get(name or "")

    def for_command(self, command: str) -> Flow[Any] | None:
        return self._by_command.get(command)

    def menu_for(self, role: Role) -> list[Flow[Any]]:
        """The flows a role may use, in menu order."""

        def rank(flow: Flow[Any]) -> int:
            return MENU_ORDER.index(flow.name) if flow.name in MENU_ORDER else len(MENU_ORDER)

        return sorted((f for f in self if role in f.roles), key=rank)
