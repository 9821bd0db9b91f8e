"""The states of /foto and the draft it keeps while the KSM or the activity is asked for."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

from kotaku.dialog.context import Draft
from kotaku.dialog.photos import StagedPhoto


class State(StrEnum):
    WAIT = "tunggu_foto"
    CHOOSE_KSM = "pilih_ksm_foto"
    ACTIVITY = "pilih_kegiatan"


class SitePoint(BaseModel):
    """A location sent for the report: where the works are."""

    kind: Literal["location"] = "location"
    latitude: float
    longitude: float


class PhotoDraft(Draft):
    pending: StagedPhoto | SitePoint | None = None  # what was sent, waiting for its KSM or activity
    caption: str = ""  # what followed /foto, read together with the photo's own caption
    milestone: int | None = None

    @property
    def chosen_ksm_id(self) -> int:
        """The KSM reported for (resolved before start())."""
        assert self.ksm_id is not None
        return self.ksm_id
