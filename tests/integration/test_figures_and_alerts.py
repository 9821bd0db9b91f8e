"""The figures managers trust: one definition and one label each in /rekap, the alerts and the exports; and
the demo's alert list, which shows the problems the demo plants and no noise.

The demo (kotaku/demo.py) plants: an activity of KSM Tirta Tambakboyo *kritis* (waiting for cement, with
its severe open obstacle), activities *terlambat* at KSM Lodoyong Resik and KSM Buloa Bersatu, KSM
Lodoyong Resik silent for the last two work days, an open obstacle at Buloa. KSM Bejalen Maju and KSM
Panjang Guyub Rukun are on plan or ahead and report every day.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import select

from kotaku import catalogue
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.demo import seed_demo
from kotaku.domain import figures
from kotaku.exports import ExportFormat, ExportKind, ExportRequest, build_export
from kotaku.models import Activity, AttendanceDay, AttendanceMode, Ksm, Obstacle, ProgressReport
from kotaku.monitoring.evaluate import evaluate
from kotaku.security import NikVault
from kotaku.services.scope import NATIONAL, Scope
from kotaku.services.summary import scope_summary
from tests.factories import Program, build_program

# Thursday 26 November 2026, 16:00 WIB; and a Monday two weeks on (the demo's dates follow "today").
AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
MONDAY_AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
# The demo's KSMs that are on plan or ahead and report daily: nothing to alert about.
QUIET_KSMS = {"KSM-BJL-01", "KSM-PJG-01"}
MAX_DEMO_ALERTS = 8


async def _codes(db: Database) -> tuple[dict[int, str], dict[int, str], dict[int, int]]:
    """KSM id -> code, activity id -> code, obstacle id -> KSM id."""
    async with db.session() as s:
        ksms = {k.id: k.code for k in (await s.execute(select(Ksm))).scalars()}
        acts = {a.id: a.code for a in (await s.execute(select(Activity))).scalars()}
        obstacles = {o.id: o.ksm_id for o in (await s.execute(select(Obstacle))).scalars()}
    return ksms, acts, obstacles


# --- the demo's alerts ------------------------------------------------------------------------------


@pytest.mark.parametrize("at", [AT, MONDAY_AT], ids=["thursday", "monday"])
async def test_the_demo_raises_the_few_alerts_that_matter(
    db: Database, settings: Settings, vault: NikVault, at: datetime
) -> None:
    await seed_demo(db, settings, at=at, vault=vault)
    async with db.session() as s:
        findings = await evaluate(s, settings, at)
    ksms, acts, obstacles = await _codes(db)
    found = {(f.kind, acts.get(f.subject_id) if f.subject_type == "activity" else None) for f in findings}
    # Short, and free of the wage-share warning every KSM used to get.
    assert len(findings) <= MAX_DEMO_ALERTS, [(f.kind, ksms.get(f.ksm_id or 0)) for f in findings]
    assert not [f for f in findings if f.kind == "wage_share"]
    # The planted problems are there: the kritis activity and the severe obstacle holding it up.
    assert ("critical", "KEG-TBY-01") in found
    high = [f for f in findings if f.kind == "obstacle_high"]
    assert [ksms[obstacles[f.subject_id]] for f in high] == ["KSM-TBY-01"]
    # Every alert is about a KSM with a planted problem; the quiet ones get none.
    assert {ksms[f.ksm_id] for f in findings if f.ksm_id is not None}.isdisjoint(QUIET_KSMS)


# --- the wage-share rule waits for enough data --------------------------------------------------------


@pytest.fixture
def program_at() -> Iterator[None]:
    with time_machine.travel(AT, tick=False):
        yield


async def _wage_share_case(db: Database, program: Program, percent: float, days: int, wage: int) -> None:
    """KSM Bejalen Makmur: both activities (Rp150.000.000 each) at `percent`, and `days` count sheets of
    10 people with `wage` Rupiah each in the days before today."""
    today = AT.astimezone(ZoneInfo("Asia/Jakarta")).date()
    async with db.transaction() as s:
        for key in ("road", "drain"):
            s.add(ProgressReport(activity_id=program[key], report_date=today, percent=percent))
        for i in range(days):
            s.add(
                AttendanceDay(
                    ksm_id=program["ksm_a"],
                    work_date=today - timedelta(days=i),
                    mode=AttendanceMode.COUNT,
                    count_male=10,
                    count_female=0,
                    hok=10.0,
                    total_wages=10 * wage,
                )
            )


@pytest.mark.parametrize(
    ("percent", "days", "flagged"),
    [
        (60.0, 12, True),  # 12 days × Rp1.000.000 of Rp180.000.000 done: 6,7%
        (60.0, 9, False),  # fewer than wage_share_min_days (10) days of attendance
        (49.9, 12, False),  # works less than wage_share_min_progress (50%) done
        (50.0, 10, True),  # both minimums exactly
    ],
)
async def test_wage_share_is_judged_once_there_is_enough_data(
    db: Database,
    settings: Settings,
    vault: NikVault,
    program_at: None,
    percent: float,
    days: int,
    flagged: bool,
) -> None:
    program = await build_program(db, vault, date(2026, 11, 26))
    await _wage_share_case(db, program, percent, days, 100_000)
    async with db.session() as s:
        findings = [f for f in await evaluate(s, settings, AT) if f.kind == "wage_share"]
        summary = await scope_summary(s, settings, Scope(ksm_id=program["ksm_a"]), AT)
    assert [f.ksm_id for f in findings] == ([program["ksm_a"]] if flagged else [])
    if flagged:
        f = findings[0]
        # The alert's figures are the /rekap figures of the same KSM.
        assert f.figures["wages"] == summary.wages_recorded == days * 1_000_000
        assert f.figures["work_value"] == round(summary.work_value) == 300_000_000 * percent / 100
        assert f.figures["share"] == round(summary.wage_share or 0, 4)
        assert f.figures["days"] == days and f.figures["progress"] == percent
        text = catalogue.t(f.message_key, "id", **f.params)
        assert (
            catalogue.t(figures.WORK_VALUE).lower() in text
            and catalogue.t(figures.WAGES_RECORDED).lower() in text
        )


# --- one label, one number -----------------------------------------------------------------------------


def _workbook_rows(path: Path) -> tuple[list[str], list[list[object]]]:
    sheet = load_workbook(path, data_only=True)["Ringkasan"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = [str(h) for h in rows[4]]
    return header, [r for r in rows[5:] if isinstance(r[2], str) and r[2].startswith("KSM-")]


async def test_the_same_label_means_the_same_number_in_rekap_alerts_and_exports(
    db: Database, settings: Settings, vault: NikVault, tmp_path: Path
) -> None:
    await seed_demo(db, settings, at=AT, vault=vault)
    # A configuration under which every KSM's wage share is judged, so the alert shows its figures.
    judge_all = settings.model_copy(
        update={
            "monitoring": settings.monitoring.model_copy(
                update={
                    "min_wage_share": 1.0,
                    "wage_share_min_days": 0,
                    "wage_share_min_progress": 0.0,
                    "wage_share_min_funds": 0,
                }
            )
        }
    )
    async with db.session() as s:
        alerts = {f.ksm_id: f for f in await evaluate(s, judge_all, AT) if f.kind == "wage_share"}
        ksms = {k.code: k.id for k in (await s.execute(select(Ksm))).scalars()}
        summaries = {code: await scope_summary(s, settings, Scope(ksm_id=i), AT) for code, i in ksms.items()}
    assert set(alerts) == set(ksms.values())

    with time_machine.travel(AT, tick=False):
        request = ExportRequest(
            scope=NATIONAL, start=date(2026, 11, 23), end=date(2026, 11, 29), fmt=ExportFormat.XLSX
        )
        xlsx = await build_export(db, settings, request, tmp_path / "semua.xlsx")
        csv_request = ExportRequest(
            scope=NATIONAL,
            start=date(2026, 11, 23),
            end=date(2026, 11, 29),
            fmt=ExportFormat.CSV,
            kinds=(ExportKind.RINGKASAN,),
        )
        zipped = await build_export(db, settings, csv_request, tmp_path / "semua.zip")
    header, rows = _workbook_rows(xlsx.path)
    wages_col = header.index(catalogue.t(figures.WAGES_RECORDED))
    value_col = header.index(catalogue.t(figures.WORK_VALUE))
    by_code = {r[2]: r for r in rows}
    with zipfile.ZipFile(zipped.path) as zf:
        ringkasan = list(csv.DictReader(io.StringIO(zf.read("ringkasan.csv").decode("utf-8"))))
    csv_rows = {r["ksm_code"]: r for r in ringkasan if r["row_type"] == "ksm"}

    for code, summary in summaries.items():
        value, wages = round(summary.work_value), summary.wages_recorded
        alert = alerts[ksms[code]]
        assert value > 0 and wages > 0
        assert alert.figures["work_value"] == value and alert.figures["wages"] == wages, code
        assert by_code[code][value_col] == value and by_code[code][wages_col] == wages, code
        assert int(csv_rows[code]["work_value"]) == value and int(csv_rows[code]["wages_recorded"]) == wages


def test_no_sentence_calls_an_estimate_funds_used() -> None:
    """ "Dana terpakai" named the wages in /rekap and an estimate in the alert; neither is funds used (the
    chat does not learn material spending), so no sentence says it any more."""
    retired = ("dana terpakai", "funds used", "penyerapan")
    found = [
        key
        for key, texts in catalogue.all_messages().items()
        if any(word in text.lower() for text in texts.values() for word in retired)
    ]
    assert found == []
