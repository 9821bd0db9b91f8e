"""The unit of work and the event bus: handlers in the transaction commit with it or not at all;
after-commit handlers see only committed events and never break the caller; marks survive a crash."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from kotaku.bootstrap import bootstrap, event_bus
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.events import Event, EventBus, ObstacleClosed, ReportKind, ReportSaved
from kotaku.models import Alert, AuditLog, MonitoringMark
from kotaku.monitoring import marks
from kotaku.uow import UnitOfWork
from tests.factories import build_program

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def saved(ksm_id: int = 1) -> ReportSaved:
    return ReportSaved(at=AT, ksm_id=ksm_id, kind=ReportKind.PROGRESS, report_date=date(2026, 11, 26))


async def audit_count(db: Database) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(AuditLog)) or 0)


async def test_handlers_run_in_the_transaction_then_after_commit(db: Database) -> None:
    order: list[str] = []
    bus = EventBus()

    async def in_tx(uow: UnitOfWork, event: Event) -> None:
        order.append(f"in:{type(event).__name__}")
        uow.session.add(AuditLog(at=AT, action="handled", entity="test"))
        if isinstance(event, ReportSaved):  # a handler may record more events; they are handled too
            uow.record(ObstacleClosed(at=AT, obstacle_id=7, ksm_id=event.ksm_id))

    async def after(events: Sequence[Event]) -> None:
        order.append(f"after:{len(events)}")
        order.append(f"committed:{await audit_count(db)}")

    bus.on(Event, in_tx)
    bus.after_commit((ReportSaved, ObstacleClosed), after)
    async with UnitOfWork(db, bus) as uow:
        uow.record(saved())
    assert order == ["in:ReportSaved", "in:ObstacleClosed", "after:2", "committed:2"]


async def test_an_error_rolls_back_and_runs_no_handler(db: Database) -> None:
    calls: list[str] = []
    bus = EventBus()

    async def in_tx(uow: UnitOfWork, event: Event) -> None:
        calls.append("in")

    async def after(events: Sequence[Event]) -> None:
        calls.append("after")

    bus.on(ReportSaved, in_tx)
    bus.after_commit((ReportSaved,), after)
    with pytest.raises(RuntimeError):
        async with UnitOfWork(db, bus) as uow:
            uow.session.add(AuditLog(at=AT, action="lost", entity="test"))
            uow.record(saved())
            raise RuntimeError("the service failed")
    assert calls == [] and await audit_count(db) == 0


async def test_a_failing_in_transaction_handler_rolls_everything_back(db: Database) -> None:
    bus = EventBus()

    async def broken(uow: UnitOfWork, event: Event) -> None:
        raise ValueError("handler bug")

    bus.on(ReportSaved, broken)
    with pytest.raises(ValueError):
        async with UnitOfWork(db, bus) as uow:
            uow.session.add(AuditLog(at=AT, action="lost", entity="test"))
            uow.record(saved())
    assert await audit_count(db) == 0


async def test_a_failing_after_commit_handler_is_logged_not_raised(db: Database) -> None:
    bus = EventBus()
    seen: list[int] = []

    async def broken(events: Sequence[Event]) -> None:
        raise ValueError("monitoring is down")

    async def fine(events: Sequence[Event]) -> None:
        seen.append(len(events))

    bus.after_commit((ReportSaved,), broken)
    bus.after_commit((ReportSaved,), fine)
    async with UnitOfWork(db, bus) as uow:
        uow.session.add(AuditLog(at=AT, action="kept", entity="test"))
        uow.record(saved())
    assert await audit_count(db) == 1 and seen == [1]


async def test_monitoring_handlers_follow_the_setting(db: Database, settings: Settings) -> None:
    off = settings.model_copy(
        update={"monitoring": settings.monitoring.model_copy(update={"evaluate_after_report": False})}
    )
    bus_off = event_bus(off, db)
    assert not bus_off._in_transaction
    assert not [h for _, h in bus_off._after_commit if isinstance(h, marks.AfterReport)]
    on = event_bus(settings, db)
    assert set(marks.MARKING_EVENTS) <= set(on._in_transaction)
    assert len([h for _, h in on._after_commit if isinstance(h, marks.AfterReport)]) == 1


async def test_a_mark_left_by_a_crash_is_evaluated_at_start(
    db: Database, settings: Settings, vault: object
) -> None:
    program = await build_program(db, vault, date(2026, 11, 26))  # type: ignore[arg-type]
    ksm_id = program["ksm_a"]
    # The report's transaction committed its mark, then the process died before the evaluation.
    async with db.transaction() as s:
        await marks.mark(s, ksm_id, AT)
        await marks.mark(s, ksm_id, AT)  # marking twice keeps one row
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(MonitoringMark)) == 1
    kotaku = bootstrap(settings, db=db, now=lambda: AT)
    background = await kotaku.start_background()
    await background.stop()
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(MonitoringMark)) == 0
        alerts = (await s.execute(select(Alert.kind).where(Alert.ksm_id == ksm_id))).scalars().all()
    assert alerts  # the test program has a KSM behind plan: the evaluation opened its alerts
