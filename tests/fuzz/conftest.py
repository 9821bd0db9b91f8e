"""Hypothesis profiles of the fuzz suite, chosen with `HYPOTHESIS_PROFILE` (default `fuzz`), and
`run_fuzz`, which runs one parser's property over the profile and says how many inputs it read.

- `fuzz`, the bounded run of `make test` and CI: `EXAMPLES["fuzz"]` examples a parser, each a batch of
  drawn texts and their mutations (`strategies.expanded`): at least `MIN_INPUTS["fuzz"]` (10,000) inputs
  a parser, checked by each test, the parser fuzz tests in about a minute.
- `long`, the release run of `make fuzz`: twenty times as many.

The profiles are registered here and applied by the tests that name them, never loaded for the whole
session: the suite's other Hypothesis tests keep their own settings.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "fuzz")
EXAMPLES = {"fuzz": 300, "long": 6_000}
MIN_INPUTS = {"fuzz": 10_000, "long": 200_000}
BATCH = 4  # texts drawn per example; each is read with its `strategies.VARIANTS` mutations

_COMMON: dict[str, Any] = {
    "deadline": None,  # a batch of 4,096-character inputs may take a while on a loaded machine
    "database": None,  # nothing written to the working tree; a failure prints its reproduction
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    "print_blob": True,
}
for _name, _examples in EXAMPLES.items():
    settings.register_profile(_name, max_examples=_examples, **_COMMON)


def active() -> str:
    return PROFILE if PROFILE in EXAMPLES else "fuzz"


def run_fuzz(strategy: st.SearchStrategy[Any], read: Callable[[Any], int]) -> int:
    """Run `read` on every example of `strategy` under the active profile; the inputs it read in all
    (`read` returns how many one example held). A failing input fails the calling test, shrunk."""
    total = 0

    @settings(settings.get_profile(active()))
    @given(strategy)
    def run(drawn: Any) -> None:
        nonlocal total
        total += read(drawn)

    run()
    return total


def enough(inputs: int) -> bool:
    """Whether a parser read at least the active profile's `MIN_INPUTS`."""
    return inputs >= MIN_INPUTS[active()]
