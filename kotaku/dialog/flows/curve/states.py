"""The state of /kurva (choosing an activity) and its draft, which holds nothing: the choices carry ids."""

from __future__ import annotations

from enum import StrEnum

from kotaku.dialog.context import Draft


class State(StrEnum):
    PICK = "pilih"


class CurveDraft(Draft):
    """Nothing beyond the base: a pressed button names the activity (`a:12`)."""
