"""The usual crew of a KSM (`usual_crew`, shared by the chat's sanity check and monitoring) and the
`crew_spike` rule on its boundaries, with the thresholds from `[monitoring]`."""

from __future__ import annotations

from datetime import date

import pytest

from kotaku.config import MonitoringConfig
from kotaku.monitoring.checks import CrewDay, KsmRef, check_crew_spike
from kotaku.services.attendance import usual_crew
from tests.catalogue_keys import says

KSM = KsmRef(id=7, code="KSM-PJG-01", name="KSM Panjang Guyub Rukun", today=date(2026, 11, 26))
DAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([], None),
        ([14, 15], None),  # fewer than 3 days to judge by
        ([0, 0, 14, 15], None),  # days nobody worked do not count
        ([16, 12, 14], (12, 16)),
        ([12, 13, 14, 14, 15, 15, 16, 16, 13, 90], (13, 16)),  # ten days: one odd day each end dropped
        ([5] + [14] * 18 + [60], (14, 14)),
    ],
)
def test_usual_crew(counts: list[int], expected: tuple[int, int] | None) -> None:
    assert usual_crew(counts) == expected


def test_usual_crew_minimum_days() -> None:
    assert usual_crew([14, 15], min_days=2) == (14, 15)
    assert usual_crew([14, 15, 16], min_days=4) is None


HISTORY = (12, 14, 13, 15, 14, 16, 12)  # median 14, usual 12-16


def test_far_above_the_usual_crew() -> None:
    cfg = MonitoringConfig()
    [f] = check_crew_spike(KSM, CrewDay(DAY, 500, HISTORY), cfg)
    assert f.kind == "crew_spike" and f.subject_type == "ksm" and f.subject_id == KSM.id
    assert f.figures == {
        "date": "2026-11-26",
        "present": 500,
        "usual_low": 12,
        "usual_high": 16,
        "usual_median": 14,
        "days": 7,
    }
    assert says(f.params["basis_id"], "alert.crew_spike.usual", "id", low=12, high=16, median="14")


@pytest.mark.parametrize(
    ("present", "found"),
    [
        (28, False),  # exactly twice the median: not more
        (29, True),
        (25, False),  # ... and it must also be 10 above the usual high (16)
    ],
)
def test_usual_crew_boundaries(present: int, found: bool) -> None:
    cfg = MonitoringConfig(crew_spike_ratio=2.0, crew_spike_min_extra=10)
    assert bool(check_crew_spike(KSM, CrewDay(DAY, present, HISTORY), cfg)) is found


def test_thresholds_come_from_the_configuration() -> None:
    strict = MonitoringConfig(crew_spike_ratio=1.2, crew_spike_min_extra=2)
    assert check_crew_spike(KSM, CrewDay(DAY, 18, HISTORY), strict)
    assert not check_crew_spike(KSM, CrewDay(DAY, 18, HISTORY), MonitoringConfig())
    few = MonitoringConfig(crew_min_days=10)
    assert not check_crew_spike(KSM, CrewDay(DAY, 500, HISTORY), few)  # 7 days are not enough


def test_far_above_the_planned_crew_without_history() -> None:
    cfg = MonitoringConfig()  # crew_plan_ratio 3
    [f] = check_crew_spike(KSM, CrewDay(DAY, 61, (), planned=20.0), cfg)
    assert f.figures == {"date": "2026-11-26", "present": 61, "planned": 20.0}
    assert says(f.params["basis_en"], "alert.crew_spike.planned", "en", planned=20)
    assert not check_crew_spike(KSM, CrewDay(DAY, 60, (), planned=20.0), cfg)  # 3 × planned is allowed
    assert not check_crew_spike(KSM, CrewDay(DAY, 13, (), planned=4.0), cfg)  # not 10 above the plan


def test_both_reasons_in_one_sentence() -> None:
    [f] = check_crew_spike(KSM, CrewDay(DAY, 500, HISTORY, planned=20.0), MonitoringConfig())
    assert f.figures["planned"] == 20.0 and f.figures["usual_median"] == 14
    assert says(f.params["basis_id"], "alert.crew_spike.both", "id", low=12, high=16, planned=20)
