"""The CSV export: one UTF-8 file per table, zipped into one file; machine-friendly.

Every file has a header row of stable snake_case column names (docs/exports.md lists them), ISO dates
(`2026-11-26`) and timestamps with their offset, plain numbers (a point for decimals, no thousands
separator), `true`/`false`, codes instead of labels (`kritis`, `material`, `tinggi`, `L`/`P`), and an empty
field for "nothing". NIKs are masked (`3322********0001`) unless the request unmasks them.

Files: hadir.csv (one row per worker present per day) and hadir_harian.csv (one row per attendance
sheet, roster or count mode) for `hadir`; upah.csv, progres.csv, kendala.csv, foto.csv, ringkasan.csv.
With photos, the files are in the same zip under foto/. The files are written to a temporary folder
beside the target as the rows are read, then zipped, so memory stays flat.
"""

from __future__ import annotations

import asyncio
import csv
import io
import multiprocessing
import os
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from kotaku.config import Settings
from kotaku.db import Database
from kotaku.exports import MIME_TYPES, ExportKind, ExportRequest, ExportResult, ProgressCallback
from kotaku.exports.data import ExportData, FotoRow, KsmInfo, UpahBlock, count_hok
from kotaku.exports.parallel import PartJob, parallel_processes, part_data, spawned_pool
from kotaku.exports.photos import add_photo
from kotaku.exports.xlsx import kinds_for
from kotaku.models import AttendanceMode, Gender, Skill

ZIP_LEVEL = 1
# What makes `csv.writer` (QUOTE_MINIMAL, comma, `\n` line ends) quote a field.
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')
# Workers whose upah.csv fields are kept quoted (emptied at this size).
WORKERS_KEPT = 200_000
# Floats written as text, by value: HOK, percents and volumes repeat (1, 0.5, 37.25), and formatting one is
# most of the cost of a number field (emptied at this size). 0.0 and -0.0 share an entry: both are "0".
FLOATS_KEPT = 100_000
_FLOAT_TEXT: dict[float, str] = {}

COLUMNS: dict[str, tuple[str, ...]] = {
    "hadir": (
        "ksm_code",
        "ksm_name",
        "bkm_code",
        "kelurahan_code",
        "kelurahan",
        "work_date",
        "worker_id",
        "worker_code",
        "worker_name",
        "nik",
        "gender",
        "skill",
        "is_phk",
        "hok",
        "wage",
        "paid",
    ),
    "hadir_harian": (
        "ksm_code",
        "ksm_name",
        "kelurahan_code",
        "work_date",
        "mode",
        "male",
        "female",
        "workers",
        "hok",
        "total_wages",
        "wages_paid",
    ),
    "upah": (
        "ksm_code",
        "ksm_name",
        "kelurahan_code",
        "period_start",
        "period_end",
        "line_type",
        "worker_id",
        "worker_code",
        "worker_name",
        "nik",
        "gender",
        "skill",
        "work_date",
        "male",
        "female",
        "days",
        "hok",
        "daily_rate",
        "total_wage",
        "paid_amount",
        "payment_status",
    ),
    "progres": (
        "ksm_code",
        "ksm_name",
        "kelurahan_code",
        "activity_code",
        "activity_name",
        "indicator",
        "unit",
        "target_volume",
        "report_date",
        "planned_percent",
        "actual_percent",
        "deviation_points",
        "status",
        "volume",
        "photos",
        "note",
    ),
    "kendala": (
        "obstacle_id",
        "ksm_code",
        "ksm_name",
        "kelurahan_code",
        "activity_code",
        "report_date",
        "category",
        "severity",
        "description",
        "status",
        "closed_date",
        "days_open",
        "reported_by",
        "closed_by",
        "follow_up",
    ),
    "foto": (
        "media_id",
        "report_date",
        "ksm_code",
        "ksm_name",
        "kelurahan_code",
        "activity_code",
        "milestone",
        "latitude",
        "longitude",
        "distance_m",
        "taken_at",
        "file_name",
        "sha256",
        "mime_type",
        "size_bytes",
        "caption",
    ),
    "ringkasan": (
        "row_type",
        "kelurahan_code",
        "kelurahan",
        "ksm_code",
        "ksm_name",
        "activity_code",
        "activity_name",
        "as_of",
        "planned_percent",
        "actual_percent",
        "deviation_points",
        "status",
        "last_report",
        "hok",
        "worker_days",
        "wages_recorded",
        "wages_paid",
        "wage_budget",
        "work_value",
        "budget",
        "open_obstacles",
        "open_alerts",
    ),
}


def plain(value: Any) -> str:
    """A value as a CSV field: ISO dates, plain numbers, true/false, empty for None."""
    kind = type(value)  # the common exact types first (a bool is an int, a datetime a date)
    if kind is str or kind is int:
        return str(value)
    if kind is float:
        return _plain_float(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return _plain_float(value)
    return str(value)


def _quoted(fields: Sequence[str]) -> str:
    """Fields as `csv.writer` joins them, without the line end (written with the files' own line end,
    which decides what is quoted: a field with a line break is)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    return buf.getvalue()[:-1]


def text_field(text: str | None) -> str:
    """One text field as `csv.writer` writes it among others (quoted only when it must be)."""
    if text is None:
        return ""
    if not _NEEDS_QUOTES.search(text):
        return text
    return _quoted(["", text])[1:]


def _plain_float(value: float) -> str:
    text = _FLOAT_TEXT.get(value)
    if text is None:
        text = str(int(value)) if value.is_integer() else format(round(value, 6), "f").rstrip("0").rstrip(".")
        if len(_FLOAT_TEXT) >= FLOATS_KEPT:
            _FLOAT_TEXT.clear()
        _FLOAT_TEXT[value] = text
    return text


class CsvFile:
    """One CSV file being written row by row."""

    def __init__(self, folder: Path, table: str) -> None:
        self.table = table
        self.path = folder / f"{table}.csv"
        self._fh: IO[str] = self.path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._fh, lineterminator="\n")
        self._writer.writerow(COLUMNS[table])
        self._width = len(COLUMNS[table])
        self.rows = 0

    def add(self, values: Sequence[Any]) -> None:
        self.add_plain([plain(v) for v in values])

    def add_plain(self, fields: Sequence[str]) -> None:
        """A row of fields already made `plain()` (the parts shared by many rows are made once)."""
        if len(fields) != self._width:
            raise ValueError(f"{self.table}.csv: {len(fields)} values for {self._width} columns")
        self._writer.writerow(fields)
        self.rows += 1

    def quoted(self, values: Sequence[Any]) -> str:
        """Some consecutive fields of a row, `plain()` and quoted as `csv.writer` quotes them, joined by
        commas: the part of many rows that is the same."""
        return _quoted([plain(v) for v in values])

    def add_lines(self, lines: list[str], fields: int) -> None:
        """Rows already joined (each ending with a newline) of `fields` fields."""
        if fields != self._width:
            raise ValueError(f"{self.table}.csv: {fields} values for {self._width} columns")
        self._fh.write("".join(lines))
        self.rows += len(lines)

    def close(self) -> None:
        self._fh.close()


def _ksm(k: KsmInfo) -> list[Any]:
    return [k.code, k.name, k.kelurahan_code]


class CsvWriter:
    def __init__(
        self,
        folder: Path,
        data: ExportData,
        request: ExportRequest,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.folder = folder
        self.data = data
        self.request = request
        self.on_progress = on_progress
        self.position = {k.id: i for i, k in enumerate(data.ksms)}
        self.total = data.ksm_count  # what the progress counts to (a parallel part: its own KSMs)
        self.files: list[CsvFile] = []
        self._upah_workers: dict[int | None, str] = {}  # a worker's fields of upah.csv, quoted
        self.photos: list[FotoRow] = []

    def _open(self, table: str) -> CsvFile:
        f = CsvFile(self.folder, table)
        self.files.append(f)
        return f

    def progress(self, table: str, ksm_id: int) -> None:
        if self.on_progress is not None:
            self.on_progress(table, self.position.get(ksm_id, 0) + 1, self.total)

    async def hadir(self, with_upah: bool = False) -> dict[str, int]:
        """hadir.csv and hadir_harian.csv; `with_upah`: upah.csv too, from the same attendance rows (read
        once for the three files, not twice)."""
        records_csv, days_csv = self._open("hadir"), self._open("hadir_harian")
        upah_csv = self._open("upah") if with_upah else None
        try:
            async for batch, days, records, workers in self.data.attendance_batches():
                self._upah_workers.clear()  # the last batch's workers (of other KSMs) do not come again
                by_id = {k.id: k for k in batch}
                # One line per record: the KSM's and the worker's fields are quoted once each (by the
                # csv module, as the whole row would be); the record's own (a date, numbers, true/false)
                # never need quoting, so the line is joined here rather than by `writerow`.
                worker_fields: dict[int, str] = {}
                dates: dict[date, str] = {}
                lines: list[str] = []
                # hadir_harian.csv of the roster sheets, in the same pass: per KSM and day the heads,
                # women, HOK and wages (added in the records' order, as the sums were); the records of
                # one sheet follow each other, so its sums and fields are looked up once per sheet.
                per_day: dict[tuple[int, date], list[Any]] = {}
                women = Gender.P
                women_ids = {w.id for w in workers.values() if w.gender == women}
                agg: list[Any] = []
                last_ksm, last_day = None, None
                kf = day = ""
                for ksm_id, work_date, worker_id, hok, wage, paid in records:
                    if ksm_id != last_ksm or work_date != last_day:
                        # A new sheet (the records come by KSM and date): its sums, fields and date.
                        if ksm_id != last_ksm:
                            k = by_id[ksm_id]
                            kf = records_csv.quoted(
                                [k.code, k.name, k.bkm_code, k.kelurahan_code, k.kelurahan_name]
                            )
                        last_ksm, last_day = ksm_id, work_date
                        on = self.data.day[work_date]  # read raw, parsed once per date
                        agg = per_day.setdefault((ksm_id, on), [0, 0, 0, 0])
                        shown = dates.get(on)
                        if shown is None:
                            shown = dates[on] = plain(on)
                        day = shown
                    wage = int(wage)
                    agg[0] += 1
                    if worker_id in women_ids:
                        agg[1] += 1
                    agg[2] += float(hok)
                    agg[3] += wage
                    wf = worker_fields.get(worker_id)
                    if wf is None:
                        w = workers[worker_id]
                        wf = worker_fields[worker_id] = records_csv.quoted(
                            [
                                w.id,
                                w.code,
                                w.name,
                                self.data.nik(w.nik_encrypted),
                                Gender(w.gender).value,
                                Skill(w.skill).value,
                                w.is_phk,
                            ]
                        )
                    lines.append(
                        f"{kf},{day},{wf},{_plain_float(hok) if type(hok) is float else plain(float(hok))},"
                        f"{wage},{'true' if paid else 'false'}\n"
                    )
                records_csv.add_lines(lines, 16)
                none = (0, 0, 0, 0)
                roster = AttendanceMode.ROSTER
                day_ksm: dict[int, str] = {}
                day_lines: list[str] = []
                for d in days:
                    df = day_ksm.get(d.ksm_id)
                    if df is None:
                        k = by_id[d.ksm_id]
                        df = day_ksm[d.ksm_id] = days_csv.quoted([k.code, k.name, k.kelurahan_code])
                    if d.mode == roster:
                        heads, female, hok, wages = per_day.get((d.ksm_id, d.work_date), none)
                        male = heads - female
                    else:
                        male, female = int(d.count_male), int(d.count_female)
                        hok = count_hok(d.hok, d.count_male, d.count_female)
                        wages = int(d.total_wages)
                    shown = dates.get(d.work_date)
                    if shown is None:
                        shown = dates[d.work_date] = plain(d.work_date)
                    # The sheet's own fields: a date, a code, numbers and true/false (never quoted).
                    day_lines.append(
                        f"{df},{shown},{d.mode},{male},{female},{male + female},"
                        f"{plain(hok)},{wages},{'true' if d.wages_paid else 'false'}\n"
                    )
                days_csv.add_lines(day_lines, 11)
                if batch:
                    self.progress("hadir", batch[-1].id)
                if upah_csv is not None:
                    for block in self.data.upah_blocks_of(batch, days, records, workers):
                        self._upah_block(upah_csv, block)
        finally:
            records_csv.close()
            days_csv.close()
            if upah_csv is not None:
                upah_csv.close()
        rows = {"hadir": records_csv.rows, "hadir_harian": days_csv.rows}
        if upah_csv is not None:
            rows["upah"] = upah_csv.rows
        return rows

    async def upah(self) -> dict[str, int]:
        f = self._open("upah")
        try:
            async for block in self.data.upah_blocks():
                self._upah_block(f, block)
        finally:
            f.close()
        return {"upah": f.rows}

    def _upah_block(self, f: CsvFile, block: UpahBlock) -> None:
        self.progress("upah", block.ksm.id)
        head = f.quoted([*_ksm(block.ksm), block.start, block.end])  # once per block
        lines = []
        for ln in block.lines:
            if ln.work_date is None:
                # A worker's line: its worker fields quoted once per worker, the figures plain; the
                # count-mode fields (work_date, male, female) empty.
                who = self._upah_workers.get(ln.worker_id)
                if who is None:
                    who = f.quoted(
                        [
                            "worker",
                            ln.worker_id,
                            ln.code,
                            ln.name or None,
                            ln.nik or None,
                            ln.gender,
                            ln.skill,
                        ]
                    )
                    if len(self._upah_workers) >= WORKERS_KEPT:
                        self._upah_workers.clear()
                    self._upah_workers[ln.worker_id] = who
                # The amounts are whole Rupiah (ints, written as they are); HOK a float.
                lines.append(
                    f"{head},{who},,,,{ln.days},{_FLOAT_TEXT.get(ln.hok) or plain(ln.hok)},{ln.rate},"
                    f"{ln.total},{ln.paid_amount},{ln.status}\n"
                )
                continue
            values = (
                "count_day",
                ln.worker_id,
                ln.code,
                ln.name or None,
                ln.nik or None,
                ln.gender,
                ln.skill,
                ln.work_date,
                ln.male,
                ln.female,
                ln.days,
                ln.hok,
                ln.rate,
                ln.total,
                ln.paid_amount,
                ln.status,
            )
            lines.append(f"{head},{f.quoted(values)}\n")
        f.add_lines(lines, 21)

    async def progres(self) -> dict[str, int]:
        f = self._open("progres")
        # The KSM's and the activity's fields, quoted once per activity (its reports follow each other);
        # a report's own fields are dates, numbers and codes that never need quoting, and its note.
        activity_id, head = None, ""
        dates: dict[date, str] = {}
        lines: list[str] = []
        known: dict[Any, str] = _FLOAT_TEXT  # looked up with None too (no entry: `plain` writes "")
        try:
            async for r in self.data.progres_rows():
                a = r.activity
                if a.id != activity_id:
                    self.progress("progres", r.ksm.id)
                    activity_id = a.id
                    head = f.quoted([*_ksm(r.ksm), a.code, a.name, a.indicator, a.unit, a.target_volume])
                day = dates.get(r.report_date)
                if day is None:
                    day = dates[r.report_date] = plain(r.report_date)
                note = text_field(r.note)
                # Numbers as `plain` writes them, the texts already made looked up first (percents and
                # volumes repeat); a status is a StrEnum, written as its code.
                lines.append(
                    f"{head},{day},{known.get(r.planned) or plain(r.planned)},"
                    f"{known.get(r.actual) or plain(r.actual)},{known.get(r.deviation) or plain(r.deviation)},"
                    f"{r.status},{known.get(r.volume) or plain(r.volume)},{r.photos},{note}\n"
                )
                if len(lines) >= 5_000:
                    f.add_lines(lines, 16)
                    lines = []
            f.add_lines(lines, 16)
        finally:
            f.close()
        return {"progres": f.rows}

    async def kendala(self) -> dict[str, int]:
        f = self._open("kendala")
        try:
            async for r in self.data.kendala_rows():
                self.progress("kendala", r.ksm.id)
                f.add(
                    [
                        r.short_id,
                        *_ksm(r.ksm),
                        r.activity.code if r.activity else None,
                        r.report_date,
                        r.category,
                        r.severity,
                        r.description,
                        r.status,
                        r.closed_date,
                        r.days_open,
                        r.reported_by,
                        r.closed_by,
                        r.close_note,
                    ]
                )
        finally:
            f.close()
        return {"kendala": f.rows}

    async def foto(self) -> dict[str, int]:
        f = self._open("foto")
        try:
            async for r in self.data.foto_rows():
                self.progress("foto", r.ksm.id)
                f.add(
                    [
                        r.media_id,
                        r.report_date,
                        r.ksm.code,
                        r.ksm.name,
                        r.ksm.kelurahan_code,
                        r.activity.code if r.activity else None,
                        r.milestone,
                        r.latitude,
                        r.longitude,
                        r.distance_m,
                        r.taken_at,
                        r.file_name,
                        r.sha256,
                        r.mime_type,
                        r.size_bytes,
                        r.caption,
                    ]
                )
                if self.request.with_photos:
                    self.photos.append(r)
        finally:
            f.close()
        return {"foto": f.rows}

    async def ringkasan(self) -> dict[str, int]:
        report = self.on_progress
        on_ksm = (lambda done, total: report("ringkasan", done, total)) if report is not None else None
        entries = await self.data.ringkasan(on_ksm=on_ksm)
        f = self._open("ringkasan")
        try:
            for e in entries:
                k = e.ksm
                place = [k.kelurahan_code, k.kelurahan_name, k.code, k.name]
                worst = e.worst_status
                f.add(
                    [
                        "ksm",
                        *place,
                        None,
                        None,
                        e.as_of,
                        None,
                        None,
                        None,
                        worst.value if worst else None,
                        None,
                        e.hok,
                        e.workers,
                        e.wages,
                        e.wages_paid,
                        e.wage_budget,
                        round(e.work_value),
                        e.budget,
                        e.open_obstacles,
                        e.open_alerts,
                    ]
                )
                for a in e.activities:
                    f.add(
                        [
                            "activity",
                            *place,
                            a.activity.code,
                            a.activity.name,
                            e.as_of,
                            a.planned,
                            a.actual,
                            a.deviation,
                            a.status.value,
                            a.last_report,
                            None,
                            None,
                            None,
                            None,
                            a.activity.wage_budget,
                            round(a.work_value),
                            a.activity.budget,
                            a.open_obstacles,
                            a.open_alerts,
                        ]
                    )
        finally:
            f.close()
        return {"ringkasan": f.rows}

    async def write(self, kinds: Sequence[ExportKind] | None = None) -> dict[str, int]:
        """Write the request's tables (or `kinds` of them), in the request's order."""
        kinds = kinds_for(self.request) if kinds is None else kinds
        both = ExportKind.HADIR in kinds and ExportKind.UPAH in kinds
        writers = {
            ExportKind.HADIR: (lambda: self.hadir(with_upah=True)) if both else self.hadir,
            ExportKind.UPAH: self.upah,
            ExportKind.PROGRES: self.progres,
            ExportKind.KENDALA: self.kendala,
            ExportKind.FOTO: self.foto,
            ExportKind.RINGKASAN: self.ringkasan,
        }
        rows: dict[str, int] = {}
        for kind in kinds:
            if kind == ExportKind.UPAH and both:
                continue  # written with hadir
            rows.update(await writers[kind]())
        return rows


def _zip(target: Path, tables: Iterable[Sequence[Path]], photos: Sequence[FotoRow], media_dir: Path) -> int:
    """Zip the CSV files (and the photo files under foto/) to `target`; the number of photos added. Each
    table is one file, or the parts of one written in parallel: the first part's header, then every
    part's rows in order."""
    added = 0
    # Level 1: a fraction of the time of the default level for some more bytes (the files are the same).
    with zipfile.ZipFile(
        target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL, allowZip64=True
    ) as zf:
        for paths in tables:
            if len(paths) == 1:
                zf.write(paths[0], paths[0].name)
                continue
            # Dated now, and compressed as `zf.write` compresses (the level has no public name before 3.13).
            info = zipfile.ZipInfo(paths[0].name, date_time=time.localtime()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info._compresslevel = ZIP_LEVEL  # type: ignore[attr-defined]
            with zf.open(info, "w", force_zip64=True) as entry:
                for i, path in enumerate(paths):
                    with path.open("rb") as fh:
                        header = fh.readline()
                        if i == 0:
                            entry.write(header)
                        shutil.copyfileobj(fh, entry, 1 << 20)
        for row in photos:
            added += add_photo(zf, media_dir, row)
    return added


async def write_csv(
    db: Database,
    settings: Settings,
    request: ExportRequest,
    out: Path,
    *,
    on_progress: ProgressCallback | None = None,
) -> ExportResult:
    """Write one CSV per table into a zip at `out` (`.zip` is added when `out` has another suffix). A
    large scope is written by worker processes, each for a run of its KSMs (`parallel_processes`); the
    files are the same."""
    out = Path(out)
    final = out if out.suffix.lower() == ".zip" else out.with_suffix(".zip")
    part = final.with_name(f".{final.name}.part")
    with tempfile.TemporaryDirectory(prefix=".kotaku-export-", dir=final.parent) as tmp:
        async with db.read() as session:
            data = await ExportData.load(session, settings, request)
            writer = CsvWriter(Path(tmp), data, request, on_progress)
            processes = parallel_processes(settings, db, data.ksm_count, data.batch_size)
            if processes > 1:
                rows, parts = await _write_parallel(db, writer, processes)
            else:
                rows, parts = await writer.write(), [[f.path] for f in writer.files]
        try:
            photos = _zip(part, parts, writer.photos, Path(settings.media.dir))
            os.replace(part, final)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    if request.with_photos:
        rows["foto_files"] = photos
    return ExportResult(path=final, mime_type=MIME_TYPES["zip"], rows=rows)


# --- in parallel ------------------------------------------------------------------------------------

# The tables written by the workers, each for its own KSMs; the others (Ringkasan, sorted worst first over
# every KSM, and Foto when its photo files go into the zip) by the process asking, meanwhile.
_SPLIT_KINDS = (ExportKind.HADIR, ExportKind.UPAH, ExportKind.PROGRES, ExportKind.KENDALA, ExportKind.FOTO)
# A file's kind, when its name is not the kind's.
_KIND_OF: dict[str, str] = {"hadir_harian": ExportKind.HADIR.value}
_PROGRESS_EVERY = 0.2  # seconds between reading the workers' progress

_progress_queue: Any = None  # a worker process's queue to the process asking (set by `_worker_init`)


def _worker_init(queue: Any) -> None:
    global _progress_queue
    _progress_queue = queue
    # Progress is a hint: a worker ending never waits for the asking process to read what is left.
    queue.cancel_join_thread()


@dataclass(frozen=True)
class _Part:
    """A worker's part of a parallel CSV export: the tables `kinds` of `job`'s KSMs into `folder`."""

    job: PartJob
    kinds: list[ExportKind]
    folder: str
    number: int


def _write_part(part: _Part) -> tuple[dict[str, int], list[str]]:
    """In a worker process: the part's tables into its folder; (rows, files in order)."""
    return asyncio.run(_write_part_async(part))


async def _write_part_async(part: _Part) -> tuple[dict[str, int], list[str]]:
    queue = _progress_queue
    last: dict[str, float] = {}

    def report(table: str, done: int, total: int) -> None:
        # A few times a second, and the last KSM of each table.
        now = time.monotonic()
        if queue is not None and (done >= total or now - last.get(table, 0.0) >= _PROGRESS_EVERY):
            last[table] = now
            queue.put((part.number, table, done))

    async with part_data(part.job) as data:
        writer = CsvWriter(Path(part.folder), data, part.job.request, report)
        rows = await writer.write(part.kinds)
    return rows, [str(f.path) for f in writer.files]


async def _write_parallel(
    db: Database, writer: CsvWriter, processes: int
) -> tuple[dict[str, int], list[list[Path]]]:
    """Write `writer`'s tables with `processes` workers, each for a run of the KSMs in order (so the
    parts joined in order are the files one process writes), and Ringkasan (and Foto with photos) here
    meanwhile; (rows per table, the files of each table in order)."""
    data, request = writer.data, writer.request
    here = {ExportKind.RINGKASAN} | ({ExportKind.FOTO} if request.with_photos else set())
    kinds = kinds_for(request)
    split = [k for k in kinds if k in _SPLIT_KINDS and k not in here]
    mine = [k for k in kinds if k not in split]
    ksms = data.ksms
    # Cut at whole batches of the reading (rows come by KSM id within a batch): the parts joined are then
    # exactly the files one process writes.
    size = data.batch_size
    batches = -(-len(ksms) // size)
    bounds = [min(len(ksms), round(i * batches / processes) * size) for i in range(processes + 1)]
    queue = multiprocessing.get_context("spawn").Queue()
    whole = PartJob.of(db, data, request)
    done: dict[tuple[int, str], int] = {}
    loop = asyncio.get_running_loop()

    def drain() -> None:
        while True:
            try:
                part, table, n = queue.get_nowait()
            except Exception:  # queue.Empty, or the queue closed
                return
            done[(part, table)] = n
            if writer.on_progress is not None:
                writer.on_progress(table, sum(v for (_, t), v in done.items() if t == table), len(ksms))

    async def follow() -> None:
        while True:
            await asyncio.sleep(_PROGRESS_EVERY)
            drain()

    with spawned_pool(processes, initializer=_worker_init, initargs=(queue,)) as pool:
        futures = []
        for i in range(processes):
            folder = writer.folder / f"part{i}"
            folder.mkdir()
            job = _Part(
                job=whole.with_ksms(ksms[bounds[i] : bounds[i + 1]]),
                kinds=split,
                folder=str(folder),
                number=i,
            )
            futures.append(loop.run_in_executor(pool, _write_part, job))
        follower = asyncio.create_task(follow())
        try:
            own = await writer.write(mine) if mine else {}
            results = await asyncio.gather(*futures)
        finally:
            follower.cancel()
            for f in futures:
                f.cancel()
        drain()
    queue.close()
    rows: dict[str, int] = {}
    for part_rows, _files in results:
        for table, n in part_rows.items():
            rows[table] = rows.get(table, 0) + n
    rows.update(own)
    # The tables in the order one process writes them: the workers' (part by part), then this one's.
    by_table: dict[str, list[Path]] = {}
    for _rows, names in results:
        for name in names:
            by_table.setdefault(Path(name).stem, []).append(Path(name))
    for own_file in writer.files:
        by_table[own_file.table] = [own_file.path]
    position = {kind.value: i for i, kind in enumerate(kinds)}
    tables = list(COLUMNS)
    order = sorted(by_table, key=lambda t: (position[_KIND_OF.get(t) or t], tables.index(t)))
    return rows, [by_table[t] for t in order]
