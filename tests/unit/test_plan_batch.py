"""The exports' batch forms of the plan rules give what the one-by-one forms give: `planned_percents`
(many dates of one activity at once) is `planned_percent` on each date; `assess_without_trend` (the verdict
when no trend projection can change it) is `assess` with any projection."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kotaku.config import MonitoringConfig
from kotaku.domain.plan import (
    Status,
    assess,
    assess_without_trend,
    planned_percent,
    planned_percents,
)

BASE = date(2026, 3, 1)
CFG = MonitoringConfig()

days_off = st.integers(min_value=-10, max_value=70)
plan_points = st.lists(
    st.tuples(days_off.map(lambda n: BASE + timedelta(days=n)), st.floats(0, 100, allow_nan=False)),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(
    points=plan_points,
    start=days_off,
    length=st.integers(min_value=0, max_value=60),
    on=st.lists(days_off.map(lambda n: BASE + timedelta(days=n)), max_size=20),
    shape=st.sampled_from(["s", "linear"]),
)
def test_batch_equals_one_by_one(
    points: list[tuple[date, float]], start: int, length: int, on: list[date], shape: str
) -> None:
    s = BASE + timedelta(days=start)
    e = s + timedelta(days=length)
    assert planned_percents(points, s, e, on, shape) == [planned_percent(points, s, e, d, shape) for d in on]


def test_duplicate_dates_and_the_edges() -> None:
    # Two points on one date (sorted: 20 then 40; the first pair holding a date wins), dates before,
    # on and after the points.
    points = [
        (BASE + timedelta(days=10), 40.0),
        (BASE + timedelta(days=10), 20.0),
        (BASE + timedelta(days=20), 90.0),
    ]
    start, end = BASE, BASE + timedelta(days=30)
    on = [BASE - timedelta(days=1), BASE, BASE + timedelta(days=5), BASE + timedelta(days=10),
          BASE + timedelta(days=15), BASE + timedelta(days=20), BASE + timedelta(days=25)]  # fmt: skip
    got = planned_percents(points, start, end, on)
    assert got == [planned_percent(points, start, end, d) for d in on]
    assert got == [0.0, 0.0, 10.0, 20.0, 65.0, 90.0, 90.0]


@settings(max_examples=500, deadline=None)
@given(
    planned=st.floats(0, 100, allow_nan=False),
    actual=st.none() | st.floats(0, 100, allow_nan=False),
    end=st.none() | days_off.map(lambda n: BASE + timedelta(days=n)),
    finish=st.none() | days_off.map(lambda n: BASE + timedelta(days=n)),
)
def test_assess_without_trend_is_assess_whatever_the_projection(
    planned: float, actual: float | None, end: date | None, finish: date | None
) -> None:
    fixed = assess_without_trend(planned=planned, actual=actual, cfg=CFG, end=end)
    want = assess(planned=planned, actual=actual, cfg=CFG, end=end, projected_finish=finish)
    if fixed is not None:  # no projection changes the verdict
        assert (fixed.status, fixed.deviation, fixed.reason) == (want.status, want.deviation, want.reason)
        assert (fixed.planned, fixed.actual, fixed.projected_finish) == (want.planned, want.actual, None)
    else:  # some projection does: the latest possible one and none give different verdicts
        late = assess(planned=planned, actual=actual, cfg=CFG, end=end, projected_finish=date.max)
        early = assess(planned=planned, actual=actual, cfg=CFG, end=end, projected_finish=None)
        assert (late.status, late.reason) != (early.status, early.reason)


def test_assess_without_trend_leaves_to_the_trend_only_what_it_decides() -> None:
    # 80% planned, 77% done (3 points behind: not critical by the gap), ends on day 30: a projection after
    # the end makes it critical, so the trend decides; a finished activity never needs it.
    end = BASE + timedelta(days=30)
    assert assess_without_trend(planned=80.0, actual=77.0, cfg=CFG, end=end) is None
    late = assess(planned=80.0, actual=77.0, cfg=CFG, end=end, projected_finish=end + timedelta(days=5))
    assert late.status == Status.CRITICAL
    done = assess_without_trend(planned=80.0, actual=100.0, cfg=CFG, end=end)
    assert done is not None and done.status == Status.DONE
