"""The engine: one inbound message in, replies out. Dedup, ordering, identity, routing, errors.

Updates of one conversation run in order (an asyncio lock per conversation, plus the row lock on its
state in PostgreSQL); different conversations run concurrently. Each message is one transaction: the
processed-id mark, the report and the draft state commit together, so a redelivered message changes
nothing and a crash loses at most the step being typed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from difflib import get_close_matches
from typing import Any

import structlog
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import catalogue, clock
from kotaku.catalogue import role_label
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.dialog.context import Context, DraftUnreadable
from kotaku.dialog.flow import Flow, FlowRegistry, UnknownState
from kotaku.dialog.quick_report import has_report, split_report, suggest_keyword
from kotaku.locks import KeyedLocks
from kotaku.logs import note_update
from kotaku.models import Channel, ChannelIdentity, ConversationState, Person, ProcessedInbound
from kotaku.notify.outbox import release_held
from kotaku.schemas import Choice, Inbound, InboundKind, Outbound, OutboundKind
from kotaku.security import numbers_were_hidden
from kotaku.services.access import Action, action_of_flow, log_refusal
from kotaku.services.groups import REFUSAL_KEYS, GroupBindingRefused, bind_group, group_ksm_id
from kotaku.services.onboarding import RedeemError, invite_for_phone, redeem_invite
from kotaku.services.scope import place_name, scope_of
from kotaku.uow import UnitOfWork

log = structlog.get_logger(__name__)

COMMAND_RE = re.compile(r"^/([A-Za-z_]+)(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)
DAFTAR_RE = re.compile(r"^(?:daftar|register)\s+(\S+)\s*$", re.IGNORECASE)


# Channels that deliver notices only within a window after the user last wrote (WhatsApp: 24 hours).
WINDOWED_CHANNELS = frozenset({Channel.WHATSAPP})

GLOBAL_CANCEL = {"batal", "cancel"}
GLOBAL_HELP = {"bantuan", "help"}
GLOBAL_LANGUAGE = {"bahasa", "language"}
GLOBAL_MENU = {"menu"}
GLOBAL_GROUP = {"daftarkan_grup", "register_group"}
GLOBAL_START = {"start", "daftar"}
# The one-message daily report, and the commands whose words may hold a whole report.
REPORT_FLOW = "laporan"
QUICK_REPORT_COMMANDS = {
    "hadir",
    "absen",
    "progres",
    "progress",
    "kendala",
    "upah",
    "laporan",
    "lapor",
    "report",
}


# How often a person's `last_seen_at` is written: WhatsApp's 24-hour window and the reachability notices
# need it to the minute, not at every message (a write less on most updates).
LAST_SEEN_EVERY = timedelta(seconds=60)


# The statements every update runs, built once (not per update): values come as bound parameters.
_MARK_PROCESSED = {
    name: insert(ProcessedInbound)
    .values(channel=bindparam("channel"), message_id=bindparam("message_id"), processed_at=bindparam("at"))
    .on_conflict_do_nothing(index_elements=["channel", "message_id"])
    .returning(ProcessedInbound.message_id)
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}
_CONVERSATION = (
    select(ConversationState)
    .where(
        ConversationState.channel == bindparam("channel"),
        ConversationState.chat_id == bindparam("chat_id"),
        ConversationState.user_id == bindparam("user_id"),
    )
    .with_for_update()
)
# The identity and its person in one statement (the person stays in the session's identity map).
_IDENTITY = (
    select(ChannelIdentity, Person)
    .outerjoin(Person, Person.id == ChannelIdentity.person_id)
    .where(
        ChannelIdentity.channel == bindparam("channel"), ChannelIdentity.external_id == bindparam("user_id")
    )
)


async def _mark_processed(session: AsyncSession, inbound: Inbound, now: datetime) -> bool:
    """Record this inbound message as handled in one statement; False when it was already (a redelivery,
    or a concurrent handling of the same update that committed first)."""
    stmt = _MARK_PROCESSED["postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"]
    params = {"channel": inbound.channel, "message_id": inbound.message_id, "at": now}
    return (await session.execute(stmt, params)).scalar_one_or_none() is not None


class Engine:
    """Turns one `Inbound` into replies; safe to call concurrently from many chats. Built by
    `kotaku.bootstrap`, which gives it the flows and the unit of work (transaction plus event handlers)."""

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        flows: FlowRegistry,
        unit_of_work: Callable[[], UnitOfWork],
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.flows = flows
        self._unit_of_work = unit_of_work
        self._now = now or clock.now
        self._locks: KeyedLocks[tuple[str, str, str]] = KeyedLocks()

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        async with self._locks.hold((inbound.channel.value, inbound.chat_id, inbound.user_id)):
            try:
                try:
                    return await self._handle_once(inbound)
                except DBAPIError as exc:
                    if not exc.connection_invalidated:
                        raise
                    # The pooled connection was dropped (server restart, idle timeout): the transaction
                    # never happened, so the update is handled once more on a fresh connection.
                    log.warning("database_connection_lost", channel=inbound.channel.value)
                    return await self._handle_once(inbound)
            except IntegrityError:
                # Another process marked this message id first: a redelivery.
                if await self._already_processed(inbound):
                    note_update(outcome="duplicate")
                    return []
                note_update(outcome="error")
                log.exception("inbound_failed", channel=inbound.channel.value, chat=inbound.chat_id)
                return [Outbound(text=catalogue.t("engine.error", self.settings.app.language))]
            except Exception:
                note_update(outcome="error")
                log.exception(
                    "inbound_failed",
                    channel=inbound.channel.value,
                    chat=inbound.chat_id,
                    user=inbound.user_id,
                    message_id=inbound.message_id,
                )
                lang = await self._language_of(inbound)
                return [Outbound(text=catalogue.t("engine.error", lang))]

    async def _already_processed(self, inbound: Inbound) -> bool:
        async with self.db.session() as session:
            return await session.get(ProcessedInbound, (inbound.channel, inbound.message_id)) is not None

    async def _language_of(self, inbound: Inbound) -> str:
        try:
            async with self.db.session() as session:
                stmt = (
                    select(Person.language)
                    .join(ChannelIdentity, ChannelIdentity.person_id == Person.id)
                    .where(
                        ChannelIdentity.channel == inbound.channel,
                        ChannelIdentity.external_id == inbound.user_id,
                    )
                )
                return (await session.execute(stmt)).scalar_one_or_none() or self.settings.app.language
        except Exception:  # the database itself may be what failed
            return self.settings.app.language

    async def _handle_once(self, inbound: Inbound) -> list[Outbound]:
        now = self._now()
        async with self._unit_of_work() as uow:
            session = uow.session
            if not await _mark_processed(session, inbound, now):
                log.info("inbound_duplicate", channel=inbound.channel.value, message_id=inbound.message_id)
                note_update(outcome="duplicate")
                return []
            conv = await self._conversation(session, inbound, now)
            ctx = Context(
                uow=uow, settings=self.settings, inbound=inbound, conv=conv, now=now, flows=self.flows
            )
            found = (
                await session.execute(_IDENTITY, {"channel": inbound.channel, "user_id": inbound.user_id})
            ).one_or_none()
            ctx.identity = found[0] if found is not None else None
            if ctx.identity is not None:
                ctx.person = found[1] if found is not None else None
                seen = ctx.identity.last_seen_at
                if seen is None or now - seen >= LAST_SEEN_EVERY:  # one write a minute is enough
                    ctx.identity.last_seen_at = now
                if ctx.identity.unreachable_at is not None:  # they wrote again: notices may go there again
                    ctx.identity.unreachable_at = ctx.identity.unreachable_reason = None
                if inbound.channel in WINDOWED_CHANNELS:  # the window is open again: held notices go now
                    await release_held(session, inbound.channel, ctx.identity.chat_id or inbound.chat_id, now)
                if ctx.person is not None and not ctx.person.active:
                    ctx.person = None
            if inbound.is_group:
                ctx.group_ksm_id = await group_ksm_id(session, inbound.channel, inbound.chat_id)
            flow_before = ctx.flow
            try:
                await self._route(ctx)
            except (UnknownState, DraftUnreadable) as exc:
                # A draft saved by another version, or a state no handler knows: say so, start afresh.
                log.error("conversation_state_invalid", flow=ctx.flow, state=ctx.state, error=str(exc))
                ctx.finish()
                ctx.replies.append(Outbound(text=ctx.t("engine.state_lost")))
            # The update's log line: where the conversation is now (or the flow this update finished).
            note_update(flow=ctx.flow or flow_before, step=ctx.state)
            if numbers_were_hidden(session.info):  # a NIK or phone in typed text was stored masked
                ctx.say(ctx.t("privacy.numbers_hidden"))
            ctx.store()
            return ctx.replies

    async def _conversation(
        self, session: AsyncSession, inbound: Inbound, now: datetime
    ) -> ConversationState:
        params = {"channel": inbound.channel, "chat_id": inbound.chat_id, "user_id": inbound.user_id}
        conv = (await session.execute(_CONVERSATION, params)).scalar_one_or_none()
        if conv is None:
            conv = ConversationState(
                channel=inbound.channel,
                chat_id=inbound.chat_id,
                user_id=inbound.user_id,
                data={},
                updated_at=now,
            )
            session.add(conv)
            await session.flush()
        return conv

    # --- routing ---------------------------------------------------------------------------------

    async def _route(self, ctx: Context) -> None:
        text = ctx.text
        command, args = parse_command(text)
        if ctx.person is None:
            await self._stranger(ctx, command, args)
            return

        if ctx.flow and ctx.conv.expires_at is not None and ctx.conv.expires_at <= ctx.now:
            if self._holds_draft(ctx):  # a view left open is no draft: it lapses without a word
                ctx.say(ctx.t("engine.draft_expired", flow=ctx.flow))
            ctx.finish()
        # A view's leftover state does not take a report typed (or a photo captioned) after it.
        view_left_open = ctx.flow and not ctx.is_choice and command is None and not self._holds_draft(ctx)
        if view_left_open and has_report(text):
            ctx.finish()

        report = self.flows.get(REPORT_FLOW)
        if command is not None:
            if report is not None and command in QUICK_REPORT_COMMANDS and len(split_report(text).parts) > 1:
                # `/hadir 15 progres 45`: more than the command's own part is the one-message report.
                await self._start_report(ctx, report, text.lstrip("/"))
                return
            await self._command(ctx, command, args)
            return
        daftar = DAFTAR_RE.match(text) if ctx.inbound.kind == InboundKind.TEXT else None
        if daftar:
            ctx.say(ctx.t("engine.already_registered", name=ctx.person.name))
            return
        current = self.flows.get(ctx.flow)
        if current is not None:
            await current.step(ctx)
            self._offer_next(ctx)
            return
        if ctx.flow:
            raise UnknownState(ctx.flow, ctx.state)
        if report is not None and ctx.person.role in report.roles and self._reads_as_report(ctx):
            await self._start_report(ctx, report, text)
            return
        photo = self.flows.get("foto")
        if (
            ctx.inbound.kind
            in (InboundKind.PHOTO, InboundKind.LOCATION, InboundKind.DOCUMENT, InboundKind.VOICE)
            and photo is not None
        ):
            await photo.begin(ctx, "")
            return
        if ctx.inbound.is_group:
            return  # ordinary chatter in a KSM group is not for the bot
        if ctx.inbound.kind in (InboundKind.TEXT, InboundKind.CHOICE) and (fixed := suggest_keyword(text)):
            ctx.say(ctx.t("engine.did_you_mean_text", text=fixed), [Choice(label=fixed, value=fixed)])
            return
        if ctx.inbound.kind == InboundKind.TEXT and (command_like := self._closest_command(ctx, text)):
            ctx.say(
                ctx.t("engine.did_you_mean_text", text=command_like),
                [Choice(label=command_like, value=command_like)],
            )
            return
        self._menu(ctx, hint=text.lower() not in {"menu", "hai", "halo", "hi", "hello", "p"})

    def _reads_as_report(self, ctx: Context) -> bool:
        """A text (or a photo's caption) that holds a report: `hadir 15 progres 45`. In a group chat only
        one of two parts or more is taken, so chatter that mentions one word is left alone."""
        if ctx.inbound.kind not in (
            InboundKind.TEXT,
            InboundKind.CHOICE,
            InboundKind.PHOTO,
            InboundKind.DOCUMENT,
        ):
            return False
        text = ctx.text
        if not text or not has_report(text):
            return False
        return not ctx.inbound.is_group or len(split_report(text).parts) > 1

    def _holds_draft(self, ctx: Context) -> bool:
        current = self.flows.get(ctx.flow)
        return current is not None and current.holds_draft(ctx.state)

    async def _start_report(self, ctx: Context, report: Flow[Any], text: str) -> None:
        if ctx.flow and ctx.flow != report.name and self._holds_draft(ctx):
            ctx.say(ctx.t("engine.draft_replaced", flow=ctx.flow))
        if ctx.flow:
            ctx.finish()
        assert ctx.person is not None
        if ctx.person.role not in report.roles:
            log_refusal(ctx.person, action_of_flow(report.name), "role", command=report.commands[0])
            ctx.say(
                ctx.t(
                    "engine.not_allowed",
                    command=report.commands[0],
                    role=role_label(ctx.person.role, ctx.lang),
                )
            )
            return
        await report.begin(ctx, text)
        self._offer_next(ctx)

    def _commands_of(self, ctx: Context) -> list[str]:
        assert ctx.person is not None
        mine = [c for f in self.flows if ctx.person.role in f.roles for c in f.commands]
        return [*mine, *GLOBAL_HELP, *GLOBAL_CANCEL, *GLOBAL_MENU, *GLOBAL_LANGUAGE]

    def _closest_command(self, ctx: Context, text: str) -> str | None:
        """`rekap` or `rekp kota` typed without the slash: the command it looks like, with its words."""
        words = text.split()
        if not words or len(words) > 4:
            return None
        close = get_close_matches(words[0].lower(), self._commands_of(ctx), n=1, cutoff=0.75)
        return " ".join([f"/{close[0]}", *words[1:]]) if close else None

    def _unknown_command(self, ctx: Context, command: str, args: str) -> None:
        """`/hadri 15`: the closest command the person may use, as a button that runs it with the same words."""
        close = get_close_matches(command.lower(), self._commands_of(ctx), n=1, cutoff=0.6)
        if not close:
            ctx.say(ctx.t("engine.unknown_command", command=command))
            return
        value = f"/{close[0]} {args}".strip()
        ctx.say(
            ctx.t("engine.did_you_mean", command=command, suggestion=close[0]),
            [Choice(label=value, value=value), Choice(label=ctx.t("engine.menu_help"), value="/bantuan")],
        )

    async def _command(self, ctx: Context, command: str, args: str) -> None:
        assert ctx.person is not None
        current = self.flows.get(ctx.flow)
        # What is open is a draft, rather than a view's leftover state (dropped without a word).
        drafting = bool(ctx.flow) and (current is None or current.holds_draft(ctx.state))
        if command in GLOBAL_CANCEL:
            ctx.finish()
            ctx.say(ctx.t("engine.cancelled" if drafting else "engine.nothing_to_cancel"))
            return
        if command in GLOBAL_HELP:
            self._help(ctx)
            return
        if command in GLOBAL_LANGUAGE:
            await self._language(ctx, args)
            return
        if command in GLOBAL_MENU:
            self._menu(ctx, hint=False)
            return
        if command in GLOBAL_START:
            if args:
                ctx.say(ctx.t("engine.already_registered", name=ctx.person.name))
            else:
                self._menu(ctx, hint=False)
            return
        if command in GLOBAL_GROUP:
            await self._bind_group(ctx)
            return
        flow = self.flows.for_command(command)
        if flow is None:
            self._unknown_command(ctx, command, args)
            return
        if ctx.person.role not in flow.roles:
            log_refusal(ctx.person, action_of_flow(flow.name), "role", command=command)
            ctx.say(ctx.t("engine.not_allowed", command=command, role=role_label(ctx.person.role, ctx.lang)))
            return
        kept: tuple[str, str, dict[str, Any]] | None = None
        if drafting and ctx.flow != flow.name:
            if current is not None and ctx.state and not flow.keeps_draft:
                # A view asked for in the middle of a draft: shown beside it, the draft kept as it was.
                kept = current.name, ctx.state, ctx.draft(current.draft_type).model_dump(mode="json")
            else:
                ctx.say(ctx.t("engine.draft_replaced", flow=ctx.flow))
        ctx.finish()
        shown = len(ctx.replies)
        await flow.begin(ctx, args)
        if kept is not None:
            if ctx.flow == flow.name and flow.holds_draft(ctx.state):
                # The view now waits for an answer it needs (an alert's note): it takes the draft's place.
                ctx.replies.insert(shown, Outbound(text=ctx.t("engine.draft_replaced", flow=kept[0])))
                return
            for reply in ctx.replies[shown:]:
                reply.choices = flow.as_commands(reply.choices)
            ctx.finish()
            ctx.goto(kept[0], kept[1], **kept[2])
            ctx.say(ctx.t("engine.draft_kept", flow=kept[0]))
            return
        self._offer_next(ctx)

    async def _stranger(self, ctx: Context, command: str | None, args: str) -> None:
        code: str | None = None
        vouched = False  # found by the number the channel vouches for: no guess
        if command in GLOBAL_START and args:
            code = args.split()[0]
        elif ctx.inbound.kind == InboundKind.TEXT and (m := DAFTAR_RE.match(ctx.text)):
            code = m.group(1)
        elif ctx.inbound.phone and not ctx.inbound.is_group:
            code = await invite_for_phone(ctx.session, ctx.inbound.phone, ctx.now)
            vouched = code is not None
        if code is None:
            if ctx.inbound.is_group:
                if command is not None:
                    ctx.say(ctx.t("engine.group_stranger", name=ctx.inbound.display_name or ""))
                return
            if command in GLOBAL_START or ctx.text.lower() in {"daftar", "register"}:
                ctx.say(ctx.t("engine.ask_code"))
            else:
                ctx.say(ctx.t("engine.stranger"))
            return
        result = await redeem_invite(
            ctx.session,
            channel=ctx.inbound.channel,
            external_id=ctx.inbound.user_id,
            chat_id=ctx.inbound.user_id if ctx.inbound.is_group else ctx.inbound.chat_id,
            code_text=code,
            display_name=ctx.inbound.display_name,
            now=ctx.now,
            config=self.settings.invite,
            vouched=vouched,
        )
        if result.error is not None:
            key = {
                RedeemError.UNKNOWN: "engine.invite_unknown",
                RedeemError.USED: "engine.invite_used",
                RedeemError.EXPIRED: "engine.invite_expired",
                RedeemError.TOO_MANY: "engine.invite_too_many",
                RedeemError.BUSY: "access.invite_busy",
                RedeemError.ALREADY_REGISTERED: "engine.already_registered",
            }[result.error]
            name = result.person.name if result.person else ""
            ctx.say(ctx.t(key, name=name, minutes=self.settings.invite.window_minutes))
            return
        assert result.person is not None
        ctx.person = result.person
        place = await place_name(ctx.session, scope_of(result.person))
        scope = place if place is not None else ctx.t("engine.scope_national")
        ctx.say(
            ctx.t(
                "engine.welcome",
                name=result.person.name,
                role=role_label(result.person.role, ctx.lang),
                scope=scope,
            )
        )
        self._menu(ctx, hint=False)

    def _offer_next(self, ctx: Context) -> None:
        """When a flow has just ended with a plain message, offer the menu so the next report is one tap."""
        if ctx.flow is None and ctx.person is not None and ctx.replies and not ctx.replies[-1].choices:
            last = ctx.replies[-1]
            if last.kind == OutboundKind.TEXT:
                last.choices = menu_choices(ctx, self.flows)
                last.columns = 2

    # --- global commands -------------------------------------------------------------------------

    def _menu(self, ctx: Context, *, hint: bool) -> None:
        choices = menu_choices(ctx, self.flows)
        ctx.say(ctx.t("engine.hint" if hint else "engine.menu"), choices, columns=2)

    def _help(self, ctx: Context) -> None:
        current = self.flows.get(ctx.flow)
        if current is not None:
            ctx.say(ctx.t("engine.help_in_flow", help=current.help(ctx)))
            return
        assert ctx.person is not None
        lines = [
            f"/{flow.commands[0]} — {ctx.t(f'{flow.name}.summary')}"
            for flow in self.flows
            if ctx.person.role in flow.roles
        ]
        ctx.say(ctx.t("engine.help", commands="\n".join(lines)))

    async def _language(self, ctx: Context, args: str) -> None:
        assert ctx.person is not None
        choice = args.strip().lower()
        wanted = {"id": "id", "indonesia": "id", "en": "en", "english": "en", "inggris": "en"}.get(choice)
        if wanted is None:
            ctx.say(
                ctx.t("engine.language_ask"),
                [
                    Choice(label="Bahasa Indonesia", value="/bahasa id"),
                    Choice(label="English", value="/bahasa en"),
                ],
            )
            return
        ctx.person.language = wanted
        ctx.conv.language = wanted
        ctx.say(ctx.t("engine.language_set"))

    async def _bind_group(self, ctx: Context) -> None:
        """`/daftarkan_grup [KSM-CODE]` in a group: link it to a KSM, or say why not (and log it)."""
        assert ctx.person is not None
        _, args = parse_command(ctx.text)
        try:
            bound = await bind_group(
                ctx.uow,
                person=ctx.person,
                channel=ctx.inbound.channel,
                chat_id=ctx.inbound.chat_id,
                is_group=ctx.inbound.is_group,
                now=ctx.now,
                ksm_code=args.split()[0] if args else "",
            )
        except GroupBindingRefused as exc:
            log_refusal(
                ctx.person,
                Action.BIND_GROUP,
                exc.reason.value,
                channel=ctx.inbound.channel.value,
                chat=ctx.inbound.chat_id,
                ksm=exc.ksm.code if exc.ksm is not None else None,
            )
            name = exc.ksm.name if exc.ksm is not None else ""
            choices = [Choice(label=k.name, value=f"/daftarkan_grup {k.code}") for k in exc.choices]
            ctx.say(ctx.t(REFUSAL_KEYS[exc.reason], ksm=name, code=args), choices)
            return
        ctx.group_ksm_id = bound.ksm.id
        if bound.previous is None:
            ctx.say(ctx.t("engine.group_bound", ksm=bound.ksm.name))
            return
        told = ctx.t("access.group_told", names=", ".join(bound.told)) if bound.told else ""
        ctx.say(ctx.t("access.group_moved", old=bound.previous.name, ksm=bound.ksm.name, told=told))


def parse_command(text: str) -> tuple[str | None, str]:
    """`/hadir 18L 5P` -> ("hadir", "18L 5P"); anything else -> (None, "")."""
    m = COMMAND_RE.match(text.strip())
    if not m:
        return None, ""
    return m.group(1).lower(), (m.group(2) or "").strip()


def menu_choices(ctx: Context, flows: FlowRegistry) -> list[Choice]:
    assert ctx.person is not None
    choices = [
        Choice(label=ctx.t(f"{flow.name}.menu"), value=f"/{flow.commands[0]}")
        for flow in flows.menu_for(ctx.person.role)
        if flow.in_menu
    ]
    choices.append(Choice(label=ctx.t("engine.menu_help"), value="/bantuan"))
    return choices
