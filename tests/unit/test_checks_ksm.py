"""The KSM, worker and obstacle rules at their boundaries: wage share exactly at the minimum, wages exactly
at a bound (national and regional ranges), roster ratio, N-1 vs N idle days, late entries, obstacles."""

from __future__ import annotations

from datetime import date

import pytest

from kotaku import catalogue
from kotaku.config import MonitoringConfig
from kotaku.models import AlertSeverity
from kotaku.monitoring.checks import (
    ALL_KINDS,
    DoublePresence,
    KsmRef,
    OpenObstacle,
    check_idle_attendance,
    check_late_entry,
    check_nik_double,
    check_obstacle,
    check_over_roster,
    check_wage_range,
    check_wage_share,
    enabled_kinds,
    wage_range_for,
)

CFG = MonitoringConfig()
TODAY = date(2026, 11, 20)
KSM = KsmRef(id=4, code="KSM-01", name="KSM Bejalen Makmur", today=TODAY, region_code="33.22.05.2001")
PAPUA = KsmRef(id=9, code="KSM-JAP", name="KSM Jayapura", today=TODAY, region_code="91.71.01.1001")


def kinds(findings: list) -> list[str]:
    return [f.kind for f in findings]


@pytest.mark.parametrize(
    ("wages", "funds", "flagged"),
    [
        (10_000_000, 20_000_000, False),  # exactly 0.5
        (9_999_999, 20_000_000, True),
        (0, 9_999_999, False),  # funds used below wage_share_min_funds: too early to judge
        (0, 10_000_000, True),
    ],
)
def test_wage_share_boundary(wages: int, funds: int, flagged: bool) -> None:
    found = check_wage_share(KSM, wages, funds, CFG)
    assert kinds(found) == (["wage_share"] if flagged else [])
    if flagged:
        f = found[0]
        assert (f.subject_type, f.subject_id, f.ksm_id) == ("ksm", 4, 4)
        assert f.figures["work_value"] == funds and f.figures["minimum"] == 0.5
        assert "Rp" in catalogue.t(f.message_key, "id", **f.params)


@pytest.mark.parametrize(
    ("low", "high", "flagged"),
    [(50_000, 150_000, False), (49_999, 150_000, True), (50_000, 150_001, True)],
)
def test_wage_range_bounds_are_allowed(low: int, high: int, flagged: bool) -> None:
    found = check_wage_range(KSM, {"pekerja": (low, high, 12), "tukang": (120_000, 120_000, 3)}, TODAY, CFG)
    assert kinds(found) == (["wage_range"] if flagged else [])
    if flagged:
        assert found[0].figures["skills"]["pekerja"]["records"] == 12
        assert found[0].params["skill"] == "pekerja"


def test_wage_range_regional_override_longest_prefix() -> None:
    cfg = MonitoringConfig(
        region_wage_ranges={"91": {"pekerja": [100_000, 250_000]}, "91.71": {"pekerja": [120_000, 260_000]}}
    )
    assert wage_range_for(cfg, PAPUA.region_code, "pekerja") == (120_000, 260_000)
    assert wage_range_for(cfg, PAPUA.region_code, "tukang") == (70_000, 200_000)  # national
    assert wage_range_for(cfg, "9.1", "pekerja") == (50_000, 150_000)  # "91" is no prefix of "9.1"
    assert wage_range_for(cfg, KSM.region_code, "mandor") is None
    assert check_wage_range(PAPUA, {"pekerja": (120_000, 260_000, 5)}, TODAY, cfg) == []
    assert kinds(check_wage_range(PAPUA, {"pekerja": (119_999, 200_000, 5)}, TODAY, cfg)) == ["wage_range"]
    # 240,000 would be outside the national range, not the Jayapura one.
    assert check_wage_range(PAPUA, {"pekerja": (150_000, 240_000, 5)}, TODAY, cfg) == []
    assert kinds(check_wage_range(KSM, {"pekerja": (150_000, 240_000, 5)}, TODAY, cfg)) == ["wage_range"]


def test_invalid_wage_range_is_refused() -> None:
    with pytest.raises(ValueError):
        MonitoringConfig(wage_ranges={"pekerja": [90_000, 80_000]})


@pytest.mark.parametrize(("present", "flagged"), [(15, False), (16, True)])
def test_over_roster(present: int, flagged: bool) -> None:
    assert kinds(check_over_roster(KSM, 15, TODAY, present, CFG)) == (["over_roster"] if flagged else [])
    assert check_over_roster(KSM, 0, TODAY, present, CFG) == []  # no roster: nothing to compare with


def test_over_roster_ratio() -> None:
    cfg = MonitoringConfig(max_roster_ratio=1.2)
    assert check_over_roster(KSM, 10, TODAY, 12, cfg) == []
    assert kinds(check_over_roster(KSM, 10, TODAY, 13, cfg)) == ["over_roster"]


@pytest.mark.parametrize(("days", "flagged"), [(2, False), (3, True)])
def test_idle_attendance_n_minus_one_vs_n(days: int, flagged: bool) -> None:
    found = check_idle_attendance(KSM, days, date(2026, 11, 16), CFG)
    assert kinds(found) == (["idle_attendance"] if flagged else [])


@pytest.mark.parametrize(("worst", "flagged"), [(2, False), (3, True)])
def test_late_entry_more_than_n_days(worst: int, flagged: bool) -> None:
    found = check_late_entry(KSM, 1, worst, date(2026, 11, 14), CFG)
    assert kinds(found) == (["late_entry"] if flagged else [])
    if flagged:
        assert found[0].severity == AlertSeverity.INFO


def test_nik_double_names_the_other_sites() -> None:
    d = DoublePresence(31, "Budi Santoso", 4, "KSM Bejalen Makmur", TODAY, ("KSM Tambakboyo Rukun",))
    (f,) = check_nik_double(d)
    assert (f.kind, f.subject_type, f.subject_id, f.ksm_id) == ("nik_double", "worker", 31, 4)
    assert "KSM Tambakboyo Rukun" in catalogue.t(f.message_key, "en", **f.params)


def obstacle(days_open: int, severity: str = "sedang") -> OpenObstacle:
    return OpenObstacle(
        5,
        "K7QX",
        4,
        "KSM Bejalen Makmur",
        date(2026, 11, 20 - days_open),
        TODAY,
        severity,
        "material",
        "Semen",
    )


@pytest.mark.parametrize(("days", "flagged"), [(7, False), (8, True)])
def test_obstacle_open_more_than_n_days(days: int, flagged: bool) -> None:
    assert kinds(check_obstacle(obstacle(days), CFG)) == (["obstacle_open"] if flagged else [])


def test_obstacle_high_severity_is_critical() -> None:
    (f,) = check_obstacle(obstacle(0, "tinggi"), CFG)
    assert f.kind == "obstacle_high" and f.severity == AlertSeverity.CRITICAL
    assert kinds(check_obstacle(obstacle(9, "tinggi"), CFG)) == ["obstacle_high", "obstacle_open"]
    assert check_obstacle(obstacle(9, "tinggi"), CFG, kinds={"obstacle_open"})[0].kind == "obstacle_open"


def test_disabled_checks() -> None:
    assert enabled_kinds(MonitoringConfig(disabled_checks=["jump", "late_entry"])) == set(ALL_KINDS) - {
        "jump",
        "late_entry",
    }
    with pytest.raises(ValueError, match="unknown checks"):
        enabled_kinds(MonitoringConfig(disabled_checks=["jumps"]))


def test_every_kind_has_both_sentences() -> None:
    messages = catalogue.all_messages()
    for kind in ALL_KINDS:
        assert set(messages[f"alert.{kind}"]) >= {"id", "en"}
