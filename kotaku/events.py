"""Domain events: what the services record as they change things, so that other parts of the program
(monitoring, notifications) react without the services knowing them. The unit of work collects them;
the bus runs the handlers that `kotaku.bootstrap` registered, in the transaction or after commit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from kotaku.uow import UnitOfWork

log = structlog.get_logger(__name__)


class ReportKind(StrEnum):
    PROGRESS = "progress"
    ATTENDANCE = "attendance"
    MEDIA = "media"
    OBSTACLE = "obstacle"


@dataclass(frozen=True)
class Event:
    """Something that happened, at `at` (UTC)."""

    at: datetime


@dataclass(frozen=True)
class ReportSaved(Event):
    """A KSM's report of a day was saved (new or corrected)."""

    ksm_id: int
    kind: ReportKind
    report_date: date
    activity_id: int | None = None
    corrected: bool = False


@dataclass(frozen=True)
class ObstacleOpened(Event):
    obstacle_id: int
    ksm_id: int
    report_date: date


@dataclass(frozen=True)
class ObstacleClosed(Event):
    obstacle_id: int
    ksm_id: int


@dataclass(frozen=True)
class WorkerAdded(Event):
    worker_id: int
    ksm_id: int


@dataclass(frozen=True)
class GroupBound(Event):
    ksm_id: int
    channel: str
    chat_id: str


@dataclass(frozen=True)
class ExportRequested(Event):
    """Someone asked in chat for an export (/unduh). It is built after commit, in the background, and sent
    to `channel`/`chat_id` through the outbox; `request_id` names the request (its dedup key)."""

    person_id: int
    kind: str  # what was asked: hadir, upah, progres, kendala, foto, ringkasan, laporan (the PDF), semua
    fmt: str  # xlsx, csv or pdf
    scope_label: str
    scope_ksm_id: int | None
    scope_bkm_id: int | None
    scope_region_id: int | None
    start: date
    end: date
    lang: str
    channel: str
    chat_id: str
    request_id: str
    tables: tuple[str, ...] = ()  # the export's tables (kotaku.exports.ExportKind values); PDF: none
    with_photos: bool = False


InTransaction = Callable[["UnitOfWork", Any], Awaitable[None]]
AfterCommit = Callable[[Sequence[Event]], Awaitable[None]]


class EventBus:
    """Handlers by event type. `in_transaction` handlers run before commit in the same transaction (so
    what they write commits with the change, or not at all); `after_commit` handlers get the unit of
    work's events once it has committed, and a failure there is logged, never raised."""

    def __init__(self) -> None:
        self._in_transaction: dict[type[Event], list[InTransaction]] = defaultdict(list)
        self._after_commit: list[tuple[tuple[type[Event], ...], AfterCommit]] = []

    def on(self, event_type: type[Event], handler: InTransaction) -> None:
        self._in_transaction[event_type].append(handler)

    def after_commit(self, event_types: tuple[type[Event], ...], handler: AfterCommit) -> None:
        self._after_commit.append((event_types, handler))

    async def before_commit(self, uow: UnitOfWork) -> None:
        """Run the in-transaction handlers of every event, including events they record themselves."""
        done = 0
        while done < len(uow.events):
            event = uow.events[done]
            done += 1
            for event_type in type(event).__mro__:
                for handler in self._in_transaction.get(event_type, ()):
                    await handler(uow, event)

    async def committed(self, events: Sequence[Event]) -> None:
        for event_types, handler in self._after_commit:
            wanted = [e for e in events if isinstance(e, event_types)]
            if not wanted:
                continue
            try:
                await handler(wanted)
            except Exception:
                log.exception("event_handler_failed", handler=getattr(handler, "__qualname__", repr(handler)))
