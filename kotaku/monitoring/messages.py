"""The explanation sentence of every monitoring finding (Indonesian and English), and the helpers that put
Babel-formatted figures into a finding's parameters.

A finding is rendered later, in each reader's language, from its catalogue key and parameters
(`lifecycle.alert_text`). Parameters must be JSON, so every figure is stored raw (dates as ISO strings)
and already formatted for each language: `{planned_id}` in the Indonesian sentence, `{planned_en}` in
the English one.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

from kotaku.dialog import catalogue
from kotaku.i18n import SUPPORTED, fmt_date

catalogue.register(
    {
        "alert.critical": {
            "id": "Kegiatan {activity} KRITIS pada {date_id}: rencana {planned_id}%, realisasi {actual_id}, "
            "deviasi {deviation_id} poin (batas: lebih dari {limit_id} poin di belakang rencana).",
            "en": "Activity {activity} is CRITICAL on {date_en}: planned {planned_en}%, actual {actual_en}, "
            "deviation {deviation_en} points (limit: more than {limit_en} points behind plan).",
        },
        "alert.late_finish": {
            "id": "Kegiatan {activity}: dengan laju {n} laporan terakhir ({actual_id}% pada {date_id}) "
            "diperkirakan selesai {projected_id}, melewati tanggal selesai {end_id}.",
            "en": "Activity {activity}: at the pace of its last {n} reports ({actual_en}% on {date_en}) it "
            "would finish on {projected_en}, after its end date {end_en}.",
        },
        "alert.behind_streak": {
            "id": "Kegiatan {activity} di belakang rencana pada {n} laporan berturut-turut "
            "(terakhir {date_id}: deviasi {deviation_id} poin).",
            "en": "Activity {activity} has been behind plan in {n} consecutive reports "
            "(latest {date_en}: deviation {deviation_en} points).",
        },
        "alert.no_report": {
            "id": "Kegiatan {activity} belum melaporkan progres selama {days} hari kerja "
            "(laporan terakhir: {last_id}).",
            "en": "Activity {activity} has not reported progress for {days} work days (last report: {last_en}).",
        },
        "alert.backwards": {
            "id": "Progres kegiatan {activity} mundur: {previous_id}% pada {previous_date_id} menjadi "
            "{percent_id}% pada {date_id}.",
            "en": "Progress of activity {activity} went backwards: {previous_en}% on {previous_date_en} to "
            "{percent_en}% on {date_en}.",
        },
        "alert.jump": {
            "id": "Progres kegiatan {activity} melonjak {delta_id} poin dalam {days} hari "
            "({previous_id}% → {percent_id}% pada {date_id}); batas {limit_id} poin per hari.",
            "en": "Progress of activity {activity} jumped {delta_en} points in {days} days "
            "({previous_en}% → {percent_en}% on {date_en}); limit {limit_en} points a day.",
        },
        "alert.wage_share": {
            "id": "Porsi upah {ksm} hanya {share_id}%: upah {wages_id} dari perkiraan dana terpakai "
            "{funds_id} (minimal {minimum_id}%).",
            "en": "The wage share of {ksm} is only {share_en}%: wages {wages_en} of an estimated "
            "{funds_en} of funds used (minimum {minimum_en}%).",
        },
        "alert.wage_range": {
            "id": "Upah harian {skill} di {ksm} di luar kisaran {low_id}–{high_id}: {min_id} sampai "
            "{max_id} ({n} catatan sejak {since_id}).",
            "en": "Daily wages of {skill} at {ksm} are outside {low_en}–{high_en}: {min_en} to {max_en} "
            "({n} records since {since_en}).",
        },
        "alert.over_roster": {
            "id": "{ksm} mencatat {present} pekerja hadir pada {date_id}, lebih dari {roster} pekerja "
            "di daftar (batas {limit_id}).",
            "en": "{ksm} recorded {present} workers present on {date_en}, more than the {roster} on its "
            "roster (limit {limit_en}).",
        },
        "alert.nik_double": {
            "id": "Pekerja {worker} ({ksm}) tercatat hadir juga di {others} pada {date_id} (NIK sama).",
            "en": "Worker {worker} ({ksm}) was also recorded present at {others} on {date_en} (same NIK).",
        },
        "alert.idle_attendance": {
            "id": "{ksm} mencatat kehadiran pada {days} hari sejak {since_id} tanpa kenaikan progres.",
            "en": "{ksm} recorded attendance on {days} days since {since_en} with no progress gained.",
        },
        "alert.late_entry": {
            "id": "{ksm} memasukkan {n} laporan lebih dari {limit} hari setelah harinya "
            "(terlambat sampai {worst} hari, sejak {since_id}).",
            "en": "{ksm} entered {n} reports more than {limit} days after the day they describe "
            "(up to {worst} days late, since {since_en}).",
        },
        "alert.photo_duplicate": {
            "id": "Foto {ksm} tanggal {date_id} {how_id} foto {other_ksm} tanggal {other_date_id}.",
            "en": "Photo from {ksm} dated {date_en} {how_en} the photo from {other_ksm} dated {other_date_en}.",
        },
        "alert.photo_duplicate.same": {"id": "sama persis dengan", "en": "is the same file as"},
        "alert.photo_duplicate.near": {
            "id": "hampir sama (jarak {distance}) dengan",
            "en": "is nearly identical (distance {distance}) to",
        },
        "alert.photo_far": {
            "id": "Lokasi {what_id} {ksm} tanggal {date_id} berjarak {distance_id} m dari lokasi kegiatan "
            "(batas {limit_id} m).",
            "en": "The {what_en} from {ksm} dated {date_en} is {distance_en} m from the site (limit {limit_en} m).",
        },
        "alert.photo_far.photo": {"id": "foto", "en": "photo"},
        "alert.photo_far.location": {"id": "kiriman lokasi", "en": "shared location"},
        "alert.obstacle_high": {
            "id": "Kendala berat {code} di {ksm} sejak {date_id}: {description}",
            "en": "Severe obstacle {code} at {ksm} since {date_en}: {description}",
        },
        "alert.obstacle_open": {
            "id": "Kendala {code} di {ksm} belum selesai sejak {date_id} ({days} hari): {description}",
            "en": "Obstacle {code} at {ksm} still open since {date_en} ({days} days): {description}",
        },
    }
)


# A national sweep formats tens of thousands of figures: numbers and Rupiah are formatted here with the
# separators of each locale (the same output as kotaku.i18n, which calls Babel for every value); dates are
# few, so Babel is called once per date.
_SEPARATORS = {"id": (".", ","), "en": (",", ".")}  # (grouping, decimal)


def _number(value: float, lang: str, digits: int) -> str:
    group, decimal = _SEPARATORS.get(lang, _SEPARATORS["id"])
    text = f"{round(value, digits):,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text.replace(",", "\0").replace(".", decimal).replace("\0", group)


@lru_cache(maxsize=4096)
def _date(value: date, lang: str) -> str:
    return fmt_date(value, lang)


def _rupiah(value: float, lang: str) -> str:
    return "Rp" + f"{round(value):,}".replace(",", ".")


def num(name: str, value: float | None, digits: int = 2) -> dict[str, Any]:
    """`{name: 12.5, name_id: "12,5", name_en: "12.5"}`; None is shown as "-"."""
    raw = None if value is None else round(float(value), digits)
    out: dict[str, Any] = {name: raw}
    for lang in SUPPORTED:
        out[f"{name}_{lang}"] = "-" if raw is None else _number(raw, lang, digits)
    return out


def signed(name: str, value: float) -> dict[str, Any]:
    """A deviation with its sign: `−10,01` / `+2.5`."""
    raw = round(float(value), 2)
    out: dict[str, Any] = {name: raw}
    sign = "+" if raw > 0 else ("−" if raw < 0 else "±")
    for lang in SUPPORTED:
        out[f"{name}_{lang}"] = sign + _number(abs(raw), lang, 2)
    return out


def day(name: str, value: date | None) -> dict[str, Any]:
    out: dict[str, Any] = {name: value.isoformat() if value else None}
    for lang in SUPPORTED:
        out[f"{name}_{lang}"] = _date(value, lang) if value else "-"
    return out


def rupiah(name: str, value: int | float) -> dict[str, Any]:
    raw = round(value)
    out: dict[str, Any] = {name: raw}
    for lang in SUPPORTED:
        out[f"{name}_{lang}"] = _rupiah(raw, lang)
    return out


def text(name: str, key: str, **kwargs: Any) -> dict[str, Any]:
    """A phrase from the catalogue in each language (e.g. "the same file as")."""
    return {f"{name}_{lang}": catalogue.t(key, lang, **kwargs) for lang in SUPPORTED}
