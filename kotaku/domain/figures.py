"""The money figures managers read, each defined once: `/rekap`, `/status`, the alerts and the exports
compute them here and label them with the same catalogue key (`figure.<name>`), so one label always means
one number.

- **Upah tercatat** (`wages_recorded`, `figure.wages_recorded`): the wages on the attendance sheets up to a
  day, paid or not (roster: each record's wage; count mode: the sheet's total). It is what the chat knows
  of the money spent: material spending is not reported through the chat.
- **Perkiraan nilai pekerjaan** (`work_value`, `figure.work_value`): Σ budget × actual % of the activities;
  the value of the work done so far if it cost what its budget says. An estimate, not funds used.
- **Porsi upah** (`wage_share`, `figure.wage_share`): upah tercatat ÷ perkiraan nilai pekerjaan, the share
  the `wage_share` alert judges against `monitoring.min_wage_share`.
"""

from __future__ import annotations

from collections.abc import Iterable

# The catalogue key of each figure's label (kotaku/catalogue/summary.toml).
WAGES_RECORDED = "figure.wages_recorded"
WORK_VALUE = "figure.work_value"
WAGE_SHARE = "figure.wage_share"


def work_value(budget: int | float, actual_percent: float | None) -> float:
    """One activity's estimated value of the work done: its budget × its latest actual % (0 without one)."""
    if actual_percent is None or budget <= 0:
        return 0.0
    return float(budget) * max(0.0, min(float(actual_percent), 100.0)) / 100.0


def total_work_value(activities: Iterable[tuple[int | float, float | None]]) -> float:
    """Σ `work_value` over (budget, actual %) pairs."""
    return sum(work_value(budget, actual) for budget, actual in activities)


def progress_of_budget(value: float, budget: int | float) -> float | None:
    """The work value as a percent of the budget (the budget-weighted progress); None without a budget."""
    return 100.0 * value / budget if budget > 0 else None


def wage_share(wages: int | float, value: float) -> float | None:
    """Upah tercatat ÷ perkiraan nilai pekerjaan (a fraction); None while no work has a value yet."""
    return float(wages) / value if value > 0 else None
