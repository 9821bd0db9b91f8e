"""The states of /unduh and its draft: what to export, for which scope, over which period."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from kotaku.dialog.context import Draft


class State(StrEnum):
    ASK_KIND = "pilih_jenis"
    ASK_PERIOD = "pilih_periode"


class Wanted(StrEnum):
    """What can be asked for: one table of the workbook, the weekly PDF report, or every table."""

    HADIR = "hadir"
    UPAH = "upah"
    PROGRES = "progres"
    KENDALA = "kendala"
    FOTO = "foto"
    RINGKASAN = "ringkasan"
    LAPORAN = "laporan"
    SEMUA = "semua"


class DownloadDraft(Draft):
    kind: Wanted | None = None
    scope_code: str = ""  # a KSM/BKM/region code inside the person's scope; empty for their own
    start: date | None = None
    end: date | None = None
