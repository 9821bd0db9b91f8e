"""The states of /hadir and the draft it fills in, saved with the conversation after every message."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, Field

from kotaku.dialog.context import Draft
from kotaku.models import AttendanceMode, Gender, Skill


class State(StrEnum):
    ASK_DATE = "tanggal"
    LATE_REASON = "alasan_terlambat"
    EXISTS = "sudah_ada"
    CHECKLIST = "daftar"
    RESOLVE_NAME = "pilih_nama"
    NEW_NAME = "nama_baru"
    NEW_GENDER = "jk_baru"
    NEW_SKILL = "keahlian_baru"
    NEW_NIK = "nik_baru"
    NEW_RATE = "upah_baru"
    ASK_COUNT = "jumlah"
    ASK_SPLIT = "rincian_lp"
    ASK_WAGES = "upah"
    ASK_PAID = "dibayar"
    CONFIRM = "konfirmasi"


class Next(StrEnum):
    """Where the flow goes once the date is settled (and an existing sheet was shown)."""

    ENTRY = "entry"  # the checklist, or the count question
    NAMES = "names"  # names of the quick form that need a choice, then the confirmation
    CONFIRM = "confirm"


class PendingName(BaseModel):
    """A name typed in the quick form that matched several workers (`ids`) or none."""

    q: str
    ids: list[int] = Field(default_factory=list)


class NewWorker(BaseModel):
    """A worker being added from the checklist; the NIK only encrypted (`nik_token`) and masked. Once
    complete it waits in the draft (`AttendanceDraft.added`), ticked by its `key` (below zero), and goes
    on the roster when the sheet is saved."""

    name: str = ""
    gender: Gender | None = None
    skill: Skill | None = None
    nik_token: str | None = None
    nik_hash: str | None = None
    nik_masked: str | None = None
    daily_rate: int | None = None
    key: int = 0


class AttendanceDraft(Draft):
    mode: AttendanceMode = AttendanceMode.COUNT
    date: dt.date | None = None
    next: Next = Next.ENTRY
    checked_existing: bool = False  # an existing sheet of the date was looked for (and shown)
    replacing: bool = False
    late_reason: str | None = None
    # Roster mode: the workers ticked, the checklist page, the numbering shown (typed numbers refer to it),
    # the count the quick form gave, names to resolve.
    present: list[int] = Field(default_factory=list)
    page: int = 0
    numbered: list[int] = Field(default_factory=list)  # worker ids in the order the checklist numbered them
    target: int | None = None
    queue: list[PendingName] = Field(default_factory=list)
    new: NewWorker | None = None  # the worker being entered
    added: list[NewWorker] = Field(default_factory=list)  # entered, on the roster once the sheet is saved
    # Count mode: the counts (`split` False: only a total was given, stored as men) and the wages.
    male: int = 0
    female: int = 0
    total: int = 0
    split: bool = True
    rate: int | None = None
    total_wages: int | None = None
    paid: bool = False

    @property
    def roster(self) -> bool:
        return self.mode == AttendanceMode.ROSTER

    @property
    def day(self) -> dt.date:
        assert self.date is not None, "the work date is chosen first"
        return self.date

    @property
    def ksm(self) -> int:
        assert self.ksm_id is not None, "the KSM is resolved before start()"
        return self.ksm_id
