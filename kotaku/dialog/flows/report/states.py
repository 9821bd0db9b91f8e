"""The states of /laporan and the draft: every part read from the message, resolved against the KSM's
roster and activities, with what could not be read (saved with the conversation)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, Field

from kotaku.dialog.context import Draft
from kotaku.dialog.photos import StagedPhoto
from kotaku.models import AttendanceMode, ObstacleCategory, Severity


class State(StrEnum):
    WAIT = "tunggu"  # /laporan alone: waiting for the report text
    CONFIRM = "konfirmasi"  # the summary is shown: Simpan, an edit, more parts or a photo
    EDIT = "ubah"  # a part is being typed again


class Problem(BaseModel):
    """Something that keeps a part from being saved (`blocking`) or worth a look before saving: a catalogue
    key under `laporan.` and its arguments."""

    part: str
    key: str
    args: dict[str, str] = Field(default_factory=dict)
    blocking: bool = True


class AttendancePart(BaseModel):
    text: str
    mode: AttendanceMode
    worker_ids: list[int] = Field(default_factory=list)  # roster mode: who was present
    absent_ids: list[int] = Field(default_factory=list)  # roster mode: named as absent (`kecuali`)
    male: int = 0
    female: int = 0
    total: int = 0
    split: bool = True  # count mode: the L/P split was given (or chosen with a button)
    rate: int | None = None
    total_wages: int | None = None
    ok: bool = False  # resolved: can be saved


class ProgressPart(BaseModel):
    activity_id: int
    percent: float
    volume: float | None = None
    previous: float | None = None
    milestone: int | None = None
    photo_required: bool = False


class ObstaclePart(BaseModel):
    text: str
    category: ObstacleCategory
    category_given: bool
    severity: Severity
    severity_given: bool
    description: str
    activity_id: int | None = None


class WagesPart(BaseModel):
    paid: bool | None = None
    amount: int | None = None
    is_total: bool = False


class ReportDraft(Draft):
    date: dt.date | None = None
    attendance: AttendancePart | None = None
    progress: list[ProgressPart] = Field(default_factory=list)
    obstacle: ObstaclePart | None = None
    wages: WagesPart | None = None
    photos: list[StagedPhoto] = Field(default_factory=list)
    photo_activity: list[int | None] = Field(default_factory=list)  # the activity of each photo
    problems: list[Problem] = Field(default_factory=list)
    unread: list[str] = Field(default_factory=list)
    editing: str | None = None
    confirmed_warnings: bool = False

    @property
    def day(self) -> dt.date:
        assert self.date is not None
        return self.date

    @property
    def ksm(self) -> int:
        assert self.ksm_id is not None
        return self.ksm_id

    @property
    def blocked(self) -> list[Problem]:
        return [p for p in self.problems if p.blocking]

    @property
    def empty(self) -> bool:
        return (
            self.attendance is None and not self.progress and self.obstacle is None and self.wages is None
        ) and not self.photos
