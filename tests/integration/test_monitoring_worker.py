"""The monitoring worker (kotaku.monitoring.worker): a report's KSM is evaluated in the background, in a
batch, within `monitoring.batch_seconds`, not in the update's task. A batch evaluates many KSMs in one
`evaluate` and finds and alerts exactly what they would one at a time; a mark left by a crash is found at
start, a mark renewed during a batch stays, one failing KSM holds up no other, `stop()` drains; on
PostgreSQL two processes never claim the same KSM (SKIP LOCKED)."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import structlog
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.bootstrap import WithMonitoring, bootstrap
from kotaku.config import ConfigError, Settings, load_settings
from kotaku.db import Database
from kotaku.metrics import Metrics, read_figures
from kotaku.models import (
    Alert,
    AlertSeverity,
    AlertStatus,
    AttendanceDay,
    AttendanceMode,
    AttendanceRecord,
    Ksm,
    Media,
    MediaKind,
    MonitoringMark,
    OutboxMessage,
    Worker,
)
from kotaku.monitoring import checks, lifecycle, marks
from kotaku.monitoring import evaluate as evaluation
from kotaku.monitoring import worker as worker_module
from kotaku.monitoring.worker import MonitoringWorker, claim, evaluate_marked
from kotaku.security import NikVault
from tests.channel import TestChannel
from tests.conftest import PG_URL
from tests.factories import Program, build_program

TODAY = date(2026, 11, 26)
AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # Thursday 16:00 WIB


def tuned(settings: Settings, **monitoring: Any) -> Settings:
    return settings.model_copy(update={"monitoring": settings.monitoring.model_copy(update=monitoring)})


def without_scheduler(settings: Settings) -> Settings:
    """No reminder scheduler beside the worker: its start-up sweep would evaluate every KSM too."""
    return settings.model_copy(update={"reminders": settings.reminders.model_copy(update={"enabled": False})})


@pytest.fixture
async def program(db: Database, vault: NikVault) -> Program:
    return await build_program(db, vault, TODAY)


def ksms_of(p: Program) -> list[int]:
    return [p["ksm_a"], p["ksm_b"], p["ksm_c"], p["ksm_m"]]


async def mark_all(db: Database, ksm_ids: list[int], at: datetime = AT, step_s: float = 0.0) -> None:
    async with db.transaction() as s:
        for i, ksm_id in enumerate(ksm_ids):
            await marks.mark(s, ksm_id, at + timedelta(seconds=i * step_s))


async def marked(db: Database) -> dict[int, datetime]:
    async with db.session() as s:
        return dict((await s.execute(select(MonitoringMark.ksm_id, MonitoringMark.marked_at))).all())


async def alert_ksms(db: Database) -> set[int]:
    async with db.session() as s:
        found = await s.scalars(select(Alert.ksm_id).where(Alert.ksm_id.is_not(None)))
        return {ksm_id for ksm_id in found if ksm_id is not None}


async def until(condition: Callable[[], Awaitable[bool]], within: float = 3.0) -> float:
    """Wait until `condition()` holds (checked every 10 ms); returns the seconds it took."""
    started = time.monotonic()
    while not await condition():
        assert time.monotonic() - started < within, "condition not met in time"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


def spy_evaluate(
    monkeypatch: pytest.MonkeyPatch,
    before: Callable[[AsyncSession, datetime, list[int]], Awaitable[None]] | None = None,
) -> list[list[int]]:
    """Record the KSMs of every `evaluate` call (after `before`, which may raise or wait)."""
    calls: list[list[int]] = []
    real = evaluation.evaluate

    async def spy(
        session: AsyncSession, settings: Settings, at: datetime, ksm_ids: list[int] | None = None
    ) -> Any:
        calls.append(list(ksm_ids or []))
        if before is not None:
            await before(session, at, list(ksm_ids or []))
        return await real(session, settings, at, ksm_ids)

    monkeypatch.setattr(evaluation, "evaluate", spy)
    return calls


async def report_attendance(ch: TestChannel, text: str = "hadir semua kecuali Agus upah dibayar") -> None:
    await ch.text(text)
    await ch.tap("✅ Simpan")
    assert "Laporan tersimpan" in ch.outbox[-1].text


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    """The SQL statements run on `db` inside the block (transaction control and PRAGMAs aside)."""
    seen: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if head not in {"BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE"}:
            seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)


# --- a batch is what one KSM at a time would be --------------------------------------------------------


async def cross_site_data(db: Database, p: Program) -> None:
    """What makes KSMs depend on each other: the same photo file at A and B, a near-identical picture at C,
    one person (NIK) on the rosters of A and C, present at both on the same day, and for every KSM an open alert that no finding
    supports any more (resolved when, and only when, its KSM is evaluated)."""
    async with db.transaction() as s:
        s.add_all(
            [
                Media(kind=MediaKind.PHOTO, ksm_id=p["ksm_a"], report_date=TODAY - timedelta(days=3),
                      sha256="f" * 64, phash="c3a5f0e1d2b49687"),
                Media(kind=MediaKind.PHOTO, ksm_id=p["ksm_b"], report_date=TODAY - timedelta(days=1),
                      sha256="f" * 64, phash="c3a5f0e1d2b49687"),
                Media(kind=MediaKind.PHOTO, ksm_id=p["ksm_c"], report_date=TODAY,
                      sha256="1" * 64, phash="c3a5f0e1d2b49686"),
                Media(kind=MediaKind.PHOTO, ksm_id=p["ksm_m"], report_date=TODAY,
                      sha256="2" * 64, phash="0123456789abcdef"),
            ]
        )  # fmt: skip
        worker = (await s.scalars(select(Worker).where(Worker.ksm_id == p["ksm_a"]).limit(1))).one()
        # The same person (NIK) on C's roster too, as the roster service would store them.
        twin = Worker(
            ksm_id=p["ksm_c"], name=worker.name, gender=worker.gender, skill=worker.skill,
            nik_encrypted=worker.nik_encrypted, nik_hash=worker.nik_hash, daily_rate=worker.daily_rate,
        )  # fmt: skip
        s.add(twin)
        await s.flush()
        day = TODAY - timedelta(days=2)
        for ksm_id, row in ((p["ksm_a"], worker), (p["ksm_c"], twin)):
            sheet = AttendanceDay(
                ksm_id=ksm_id, work_date=day, mode=AttendanceMode.ROSTER, count_male=1, count_female=0,
                hok=1.0, total_wages=worker.daily_rate, entered_at=AT - timedelta(days=2),
            )  # fmt: skip
            s.add(sheet)
            await s.flush()
            s.add(
                AttendanceRecord(
                    attendance_day_id=sheet.id, worker_id=row.id, ksm_id=ksm_id, work_date=day,
                    nik_hash=row.nik_hash, hok=1.0, wage=row.daily_rate,
                )
            )  # fmt: skip
        for ksm_id, activity in (
            (p["ksm_a"], "road"),
            (p["ksm_b"], "mck"),
            (p["ksm_c"], "well"),
            (p["ksm_m"], "cart"),
        ):
            s.add(
                Alert(
                    kind="jump", subject_type="activity", subject_id=p[activity], ksm_id=ksm_id,
                    severity=AlertSeverity.WARNING, status=AlertStatus.OPEN,
                    dedup_key=lifecycle.dedup_key("jump", "activity", p[activity]), figures={"stale": True},
                    message="lama", opened_at=AT - timedelta(days=1), updated_at=AT - timedelta(days=1),
                )
            )  # fmt: skip


async def state_after(
    db: Database, apply: Callable[[AsyncSession], Awaitable[None]]
) -> tuple[list[str], list[str]]:
    """The alerts and outbox messages after `apply`, which is then rolled back; an alert's id (in the
    order the alerts were inserted) is written as its dedup key."""
    async with db.session() as s:
        await apply(s)
        rows = (await s.scalars(select(Alert))).all()
        alerts = [
            json.dumps([a.kind, a.subject_type, a.subject_id, a.ksm_id, a.region_id, str(a.severity),
                        str(a.status), a.dedup_key, a.figures, a.message, str(a.resolved_at)],
                       sort_keys=True, default=str)
            for a in rows
        ]  # fmt: skip
        key_of = {str(a.id): a.dedup_key for a in rows}
        outbox = [
            re.sub(
                r'(alert:|"alert_id": |ack:|#)(\d+)',
                lambda found: found[1] + key_of[found[2]],
                json.dumps([str(m.channel), m.recipient, m.kind, m.dedup_key, m.payload], sort_keys=True),
            )
            for m in await s.scalars(select(OutboxMessage))
        ]
        await s.rollback()
    return sorted(alerts), sorted(outbox)


async def test_a_batch_finds_and_alerts_what_one_ksm_at_a_time_does(
    db: Database, settings: Settings, program: Program
) -> None:
    p = program
    await cross_site_data(db, p)
    ksms = ksms_of(p)
    cfg = settings.monitoring
    async with db.session() as s:
        alone = {k: await evaluation.evaluate(s, settings, AT, [k]) for k in ksms}
        subsets = [list(c) for n in range(2, len(ksms) + 1) for c in itertools.combinations(ksms, n)]
        for subset in subsets:
            together = await evaluation.evaluate(s, settings, AT, subset)
            got, want = Counter(map(repr, together)), Counter(repr(f) for k in subset for f in alone[k])
            assert got == want, (subset, got - want, want - got)
    kinds = {f.kind for fs in alone.values() for f in fs}
    assert {"photo_duplicate", "nik_double", "critical"} <= kinds  # the cross-site checks took part

    for subset in ([p["ksm_a"], p["ksm_c"]], [p["ksm_b"], p["ksm_c"], p["ksm_m"]], ksms):

        async def one_at_a_time(s: AsyncSession, subset: list[int] = subset) -> None:
            for k in subset:
                found = await evaluation.evaluate(s, settings, AT, [k])
                await lifecycle.apply_findings(
                    s, settings, found, kinds=checks.enabled_kinds(cfg), now=AT, ksm_ids=[k]
                )

        async def batch(s: AsyncSession, subset: list[int] = subset) -> None:
            await evaluate_marked(s, settings, AT, subset)

        expected = await state_after(db, one_at_a_time)
        assert await state_after(db, batch) == expected, subset
        alerts, outbox = expected
        assert outbox  # critical alerts were queued for delivery, the same in both
        resolved = [row[3] for row in map(json.loads, alerts) if row[0] == "jump" and row[6] == "resolved"]
        assert sorted(resolved) == sorted(subset)  # each evaluated KSM's stale alert, no other


# --- the worker ------------------------------------------------------------------------------------------


async def test_a_reports_alerts_come_from_the_workers_batch_within_batch_seconds(
    db: Database, settings: Settings, program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tuned(without_scheduler(settings), batch_seconds=1.0, alert_within_seconds=60.0)
    tasks: list[str] = []

    async def note_task(session: AsyncSession, at: datetime, ksm_ids: list[int]) -> None:
        task = asyncio.current_task()
        tasks.append(task.get_name() if task else "")

    calls = spy_evaluate(monkeypatch, note_task)
    kotaku = bootstrap(cfg, db=db, now=lambda: AT)
    background = await kotaku.start_background()
    worker = kotaku.monitoring
    assert isinstance(background, WithMonitoring) and worker is not None and worker.accepting
    await until(lambda: _true(worker.rounds >= 1))  # the start-up round (nothing marked yet)
    rounds = worker.rounds
    ch = TestChannel(kotaku.engine).as_user("ketua-a")
    await ch.text("hadir semua kecuali Agus upah dibayar")
    with counted(db) as save:
        await ch.tap("✅ Simpan")
    saved = time.monotonic()
    assert "Laporan tersimpan" in ch.outbox[-1].text
    assert worker.rounds == rounds, "the machine was too slow for this test's timing"
    # Saved and marked, not evaluated: the update's task did no monitoring.
    assert calls == [] and await alert_ksms(db) == set()
    assert set(await marked(db)) == {program["ksm_a"]}
    # The save as the bot runs it (the evaluation in the worker): 8 statements, the target is 12; with the
    # evaluation inline (`kotaku chat`, tests/e2e/test_statement_counts.py) 41-44.
    assert len(save) <= 12, save

    # Within the batch time (with room for a slow machine): not at the next sweep.
    await until(lambda: _has_alerts(db, program["ksm_a"]), within=cfg.monitoring.batch_seconds + 10)
    assert time.monotonic() - saved <= cfg.monitoring.batch_seconds + 10
    assert calls == [[program["ksm_a"]]] and tasks == ["monitoring-worker"]
    assert await marked(db) == {}
    metrics = kotaku.metrics
    assert metrics.value("kotaku_monitoring_batch_duration_seconds_count", outcome="ok") == 1
    assert metrics.value("kotaku_monitoring_lag_seconds_count") == 1
    await background.stop(grace=4)
    assert not worker.accepting


async def _true(value: bool) -> bool:
    return value


async def _has_alerts(db: Database, ksm_id: int) -> bool:
    return ksm_id in await alert_ksms(db)


async def test_many_marks_are_evaluated_in_few_batches_oldest_first(
    db: Database, settings: Settings, program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.transaction() as s:
        extra = [Ksm(code=f"KSM-X-{i:02}", name=f"KSM X {i}", bkm_id=program["bkm_b"]) for i in range(46)]
        s.add_all(extra)
        await s.flush()
        ksm_ids = [k.id for k in extra] + ksms_of(program)
    oldest_first = list(reversed(ksm_ids))
    async with db.transaction() as s:  # marked in a scrambled order, one second apart
        for i, ksm_id in sorted(enumerate(oldest_first), key=lambda x: (x[0] * 7) % 50):
            await marks.mark(s, ksm_id, AT + timedelta(seconds=i))
    calls = spy_evaluate(monkeypatch)
    metrics = Metrics()
    worker = MonitoringWorker(
        db,
        tuned(settings, batch_ksms=20),
        now=lambda: AT + timedelta(minutes=5),
        on_batch=metrics.monitoring_batch,
    )
    assert await worker.run_once() == 50
    assert calls == [oldest_first[:20], oldest_first[20:40], oldest_first[40:]]
    assert await marked(db) == {}
    assert await alert_ksms(db) >= set(ksms_of(program))
    assert metrics.value("kotaku_monitoring_batch_duration_seconds_count", outcome="ok") == 3
    assert metrics.value("kotaku_monitoring_lag_seconds_count") == 50
    assert metrics.value("kotaku_monitoring_lag_seconds_sum") == sum(300 - i for i in range(50))


async def test_a_mark_left_by_a_crash_is_evaluated_when_a_worker_starts(
    db: Database, settings: Settings, program: Program
) -> None:
    # The report committed its mark, then the process died before any evaluation.
    await mark_all(db, [program["ksm_c"]])
    figures = await read_figures(db, AT + timedelta(seconds=30))
    assert figures.marks == (1, 30.0)  # kotaku_monitoring_marks_pending, ..._oldest_mark_age_seconds
    worker = MonitoringWorker(db, tuned(settings, batch_seconds=30.0), now=lambda: AT + timedelta(seconds=30))
    worker.start()
    try:
        await until(lambda: _true(worker.rounds >= 1))
        assert await marked(db) == {}
        assert await alert_ksms(db) == {program["ksm_c"]}
    finally:
        await worker.stop()
    assert (await read_figures(db, AT)).marks == (0, 0.0)


async def test_a_mark_renewed_during_its_batch_stays(
    db: Database, settings: Settings, program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = program["ksm_a"], program["ksm_b"], program["ksm_c"]
    await mark_all(db, [a, b, c])
    concurrent: list[asyncio.Task[None]] = []

    async def report_again(ksm_id: int, at: datetime) -> None:
        async with db.transaction() as s:
            await marks.mark(s, ksm_id, at)

    async def renew(session: AsyncSession, at: datetime, ksm_ids: list[int]) -> None:
        if concurrent:
            return
        # A seen by the batch's own transaction: its mark moves past the batch's time.
        await marks.mark(session, a, at + timedelta(seconds=1))
        # B reported again in another transaction: it waits for the batch (SQLite: the one writer;
        # PostgreSQL: the claimed mark row) and commits after it.
        concurrent.append(
            asyncio.create_task(report_again(b, at + timedelta(seconds=2)), context=contextvars.Context())
        )
        await asyncio.sleep(0.05)

    calls = spy_evaluate(monkeypatch, renew)
    worker = MonitoringWorker(db, settings, now=lambda: AT)
    assert await worker.run_once() == 3
    await concurrent[0]
    assert calls == [[a, b, c]]  # one batch, not again in this round
    assert await marked(db) == {a: AT + timedelta(seconds=1), b: AT + timedelta(seconds=2)}


async def test_the_sweep_clears_the_marks_it_read_and_keeps_one_made_while_it_ran(
    db: Database, settings: Settings, program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report committed while the full sweep runs (PostgreSQL reads committed rows statement by
    statement) leaves a mark older than the sweep's time that the sweep has not evaluated: the sweep clears
    only the marks it read before evaluating, so that one stays for the worker."""
    a, b = program["ksm_a"], program["ksm_b"]
    await mark_all(db, [a])
    late = AT - timedelta(seconds=30)  # the report began before the sweep, and committed during it
    original = evaluation.evaluate

    async def report_during(session: AsyncSession, cfg: Settings, at: datetime, ksm_ids: Any = None) -> Any:
        findings = await original(session, cfg, at, ksm_ids)
        await marks.mark(session, b, late)  # after the sweep's reads: B's new figures are not in them
        return findings

    monkeypatch.setattr(evaluation, "evaluate", report_during)
    await evaluation.evaluate_and_apply(db, settings, AT)
    assert await marked(db) == {b: late}


async def test_a_failing_ksm_holds_up_no_other(
    db: Database, settings: Settings, program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    ksms = ksms_of(program)
    bad = program["ksm_b"]
    await mark_all(db, ksms)

    async def broken_for_bad(session: AsyncSession, at: datetime, ksm_ids: list[int]) -> None:
        if bad in ksm_ids:
            raise RuntimeError("a check failed on this KSM's data")

    calls = spy_evaluate(monkeypatch, broken_for_bad)
    # The bad KSM's first retry after 30 s (1 s by default): none during this test, however slow the machine.
    monkeypatch.setattr(worker_module, "MIN_BACKOFF_S", 30.0)
    metrics = Metrics()
    worker = MonitoringWorker(
        db, tuned(settings, batch_seconds=0.05), now=lambda: AT, on_batch=metrics.monitoring_batch
    )
    with structlog.testing.capture_logs() as logs:
        assert await worker.run_once() == 3
    assert calls == [ksms, *[[k] for k in ksms]]  # the batch, then KSM by KSM
    assert set(await marked(db)) == {bad}
    assert await alert_ksms(db) == set(ksms) - {bad}
    failures = [e for e in logs if e["log_level"] == "error"]
    assert [(e["event"], e.get("ksm_id")) for e in failures] == [
        ("monitoring_batch_failed", None),
        ("monitoring_ksm_failed", bad),
    ]
    assert failures[0]["ksms"] == 4 and failures[1]["retry_in_s"] == 30.0
    # Ids and counts only: no names, NIKs or phone numbers of the program.
    assert not any(name in repr(logs) for name in ("Pak Darto", "Bejalen", "KSM-", "+62"))
    assert metrics.value("kotaku_monitoring_batch_duration_seconds_count", outcome="failed") == 2

    # The bad KSM waits before it is tried again; the worker goes on with the others meanwhile.
    calls.clear()
    assert await worker.run_once() == 0 and calls == []
    await mark_all(db, [program["ksm_a"]], at=AT)
    worker.start()
    try:
        await until(lambda: _true(worker.rounds >= 3))
        assert worker.accepting
        assert set(await marked(db)) == {bad} and calls == [[program["ksm_a"]]]
    finally:
        await worker.stop()


async def test_stop_drains_what_is_marked(db: Database, settings: Settings, program: Program) -> None:
    cfg = tuned(without_scheduler(settings), batch_seconds=30.0)  # no round would come during the test
    kotaku = bootstrap(cfg, db=db, now=lambda: AT)
    background = await kotaku.start_background()
    worker = kotaku.monitoring
    assert worker is not None
    await until(lambda: _true(worker.rounds >= 1))
    ch = TestChannel(kotaku.engine).as_user("ketua-a")
    await report_attendance(ch)
    assert set(await marked(db)) == {program["ksm_a"]} and await alert_ksms(db) == set()
    started = time.monotonic()
    await background.stop(grace=4)
    assert time.monotonic() - started < 2
    assert await marked(db) == {} and await alert_ksms(db) == {program["ksm_a"]}
    # Stopped, the worker takes no pokes: a later report is evaluated in its update's task again.
    assert not worker.accepting
    ch2 = TestChannel(kotaku.engine).as_user("ketua-c")
    await report_attendance(ch2, "hadir semua upah dibayar")
    assert await marked(db) == {} and await alert_ksms(db) == {program["ksm_a"], program["ksm_c"]}


async def test_stop_gives_up_after_its_grace_and_leaves_the_mark(
    db: Database, settings: Settings, program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def stuck(session: AsyncSession, at: datetime, ksm_ids: list[int]) -> None:
        await asyncio.sleep(30)

    spy_evaluate(monkeypatch, stuck)
    await mark_all(db, [program["ksm_a"]])
    worker = MonitoringWorker(db, settings, now=lambda: AT)
    worker.start()
    await asyncio.sleep(0.1)  # the start-up round is evaluating
    started = time.monotonic()
    await worker.stop(grace=0.3)
    assert time.monotonic() - started < 1.5
    assert set(await marked(db)) == {program["ksm_a"]}  # rolled back: another process or the next start


# --- settings ----------------------------------------------------------------------------------------------


async def test_batch_settings_defaults_validation_and_the_inline_mode(
    db: Database, settings: Settings, program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = settings.monitoring
    assert (cfg.batch_seconds, cfg.batch_ksms, cfg.alert_within_seconds) == (5.0, 200, 60.0)
    with pytest.raises(
        ConfigError, match=r"batch_seconds \(61\) must not exceed alert_within_seconds \(60\)"
    ):
        load_settings(monitoring={"batch_seconds": 61})
    monkeypatch.setenv("KOTAKU_MONITORING__ALERT_WITHIN_SECONDS", "3")
    with pytest.raises(ConfigError, match="alert_within_seconds"):
        load_settings()
    monkeypatch.delenv("KOTAKU_MONITORING__ALERT_WITHIN_SECONDS")
    for bad in ({"batch_seconds": -1}, {"batch_ksms": 0}, {"alert_within_seconds": 0}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            load_settings(monitoring=bad)
    assert (
        load_settings(monitoring={"batch_seconds": 90, "alert_within_seconds": 120}).monitoring.batch_seconds
        == 90
    )

    assert bootstrap(settings, db=db).monitoring is not None
    assert bootstrap(tuned(settings, evaluate_after_report=False), db=db).monitoring is None
    # batch_seconds = 0: marks left from before are evaluated at start, before it returns, and a report
    # is evaluated in its update's task, as before the worker.
    inline = bootstrap(tuned(without_scheduler(settings), batch_seconds=0.0), db=db, now=lambda: AT)
    assert inline.monitoring is None
    await mark_all(db, [program["ksm_c"]])
    background = await inline.start_background()
    assert not isinstance(background, WithMonitoring)
    assert await marked(db) == {} and await alert_ksms(db) == {program["ksm_c"]}
    await report_attendance(TestChannel(inline.engine).as_user("ketua-a"))
    assert await marked(db) == {} and await alert_ksms(db) == {program["ksm_a"], program["ksm_c"]}
    await background.stop()


# --- PostgreSQL: several processes -----------------------------------------------------------------------


async def test_postgresql_processes_never_claim_the_same_ksm(
    db: Database, settings: Settings, program: Program, pg_schema: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite has one writer, so one batch at a time")
    assert PG_URL and pg_schema
    async with db.transaction() as s:
        extra = [Ksm(code=f"KSM-Y-{i:02}", name=f"KSM Y {i}", bkm_id=program["bkm_b"]) for i in range(20)]
        s.add_all(extra)
        await s.flush()
        ksm_ids = ksms_of(program) + [k.id for k in extra]
    await mark_all(db, ksm_ids, step_s=1.0)
    other = Database(settings, url=PG_URL, connect_args={"server_settings": {"search_path": pg_schema}})
    try:
        # A batch in progress holds its marks: a claim from another process skips them, waiting for none.
        async with db.transaction() as mine:
            held = await claim(mine, due_by=AT + timedelta(minutes=1), limit=5)
            async with other.transaction() as theirs:
                started = time.monotonic()
                rest = await claim(theirs, due_by=AT + timedelta(minutes=1), limit=100)
                assert time.monotonic() - started < 1
        assert [m.ksm_id for m in held] == ksm_ids[:5]
        assert [m.ksm_id for m in rest] == ksm_ids[5:]

        # Two workers at once: every KSM evaluated once, by one of them.
        by_process: dict[str, list[int]] = {"db": [], "other": []}

        async def note(session: AsyncSession, at: datetime, ids: list[int]) -> None:
            name = "db" if session.get_bind() is db.engine.sync_engine else "other"
            by_process[name] += ids
            await asyncio.sleep(0.05)  # batches overlap

        spy_evaluate(monkeypatch, note)
        cfg = tuned(settings, batch_ksms=4)
        one = MonitoringWorker(db, cfg, now=lambda: AT + timedelta(minutes=1))
        two = MonitoringWorker(other, cfg, now=lambda: AT + timedelta(minutes=1))
        done = await asyncio.gather(one.run_once(), two.run_once())
        assert sum(done) == len(ksm_ids)
        assert sorted(by_process["db"] + by_process["other"]) == sorted(ksm_ids)
        assert by_process["db"] and by_process["other"]
        assert await marked(db) == {}
    finally:
        await other.dispose()


async def test_postgresql_a_sweep_and_a_worker_batch_at_once_neither_deadlocks_nor_doubles(
    db: Database, settings: Settings, program: Program, pg_schema: str | None
) -> None:
    """The full sweep (the leader) and a worker's batch (any process) opening the same subjects' alerts at
    the same moment: one waits for the other's apply (an advisory lock), so both commit, each subject has
    one open alert, and the sweep leaves the mark the worker holds to the worker."""
    if db.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite's write lock already runs one transaction at a time")
    assert PG_URL and pg_schema
    ksm_ids = ksms_of(program)
    await mark_all(db, ksm_ids)
    other = Database(settings, url=PG_URL, connect_args={"server_settings": {"search_path": pg_schema}})
    try:
        async with db.transaction() as s:
            findings = await evaluation.evaluate(s, settings, AT, ksm_ids)
        assert len(findings) > 3
        kinds = checks.enabled_kinds(settings.monitoring)

        async def apply(database: Database, order: list[Any]) -> None:
            async with database.transaction() as s:
                await lifecycle.apply_findings(s, settings, order, kinds=kinds, now=AT)
                await asyncio.sleep(0.2)  # the other apply starts while this one is open

        # The same alerts opened in opposite orders: without the lock, a unique-key wait cycle.
        await asyncio.wait_for(asyncio.gather(apply(db, findings), apply(other, findings[::-1])), timeout=20)
        async with db.session() as s:
            keys = (
                await s.scalars(select(Alert.dedup_key).where(Alert.status != AlertStatus.RESOLVED))
            ).all()
        assert keys and len(keys) == len(set(keys)) == len(
            {(f.kind, f.subject_type, f.subject_id) for f in findings}
        )

        # A worker's batch holds the mark of the KSM it claimed; a sweep meanwhile neither waits for it
        # nor clears it, and clears the others.
        async with other.transaction() as theirs:
            held = await claim(theirs, due_by=AT + timedelta(minutes=1), limit=1)
            assert len(held) == 1
            await asyncio.wait_for(evaluation.evaluate_and_apply(db, settings, AT), timeout=20)
        assert await marked(db) == {held[0].ksm_id: AT}
    finally:
        await other.dispose()
