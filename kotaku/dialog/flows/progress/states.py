"""The states of /progres and the draft it fills on the way (saved with the conversation)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from kotaku.dialog.context import Draft
from kotaku.dialog.photos import StagedPhoto


class State(StrEnum):
    ACTIVITY = "pilih_kegiatan"
    AMOUNT = "jumlah"
    CONFIRM = "yakin"
    PHOTO = "foto"
    SUMMARY = "ringkasan"


class ProgressDraft(Draft):
    report_date: date | None = None  # the KSM's local date when the flow began
    pending_amount: str = ""  # a figure typed with the command, waiting for the choice of activity
    activity_id: int | None = None
    previous: float | None = None  # the activity's last cumulative percent before the report date
    previous_date: date | None = None
    percent: float | None = None
    volume: float | None = None  # when the amount was given in the activity's unit
    milestone: int | None = None  # the milestone this report reaches
    photo_required: bool = False
    photo: StagedPhoto | None = None

    @property
    def chosen_ksm_id(self) -> int:
        """The KSM reported for (resolved before start())."""
        assert self.ksm_id is not None
        return self.ksm_id
