"""Reading one cell: dates, numbers, yes/no and the program's vocabularies, tolerant of how people type them.

Every parser takes the raw cell value (str, int, float, bool, date/datetime from Excel) and returns a
clean value or raises `CellError(key, **params)` whose key is in the message catalogue; never anything
else. Numbers in text are ASCII digits (full-width or Arabic-Indic digits are refused), texts read as
numbers, dates and zones are bounded in length, numbers in size and dates to a window around today.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kotaku import clock
from kotaku.i18n import MAX_NUMBER, foreign_digits
from kotaku.models import Gender, Indicator, RegionLevel, Role, Skill
from kotaku.security import MAX_NIK_CHARS, InvalidNik, InvalidPhone, mask_nik, normalize_nik, normalize_phone


class CellError(ValueError):
    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def show(value: Any) -> str:
    """A raw value as it may appear in a message (shortened)."""
    text = value.isoformat() if isinstance(value, date | datetime | time) else str(value)
    text = text.strip()
    return text if len(text) <= 40 else text[:37] + "..."


def _key(value: Any) -> str:
    """Lower case, punctuation to single spaces: `Jalan-Lingkungan` -> `jalan lingkungan`."""
    return re.sub(r"[^0-9a-z]+", " ", str(value).lower()).strip()


def text(value: Any, max_len: int | None = None) -> str:
    if isinstance(value, bool | date | datetime | time):
        raise CellError("bad_text", value=show(value))
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a code typed as a number in Excel: 33 not 33.0
    result = re.sub(r"\s+", " ", str(value)).strip()
    if max_len is not None and len(result) > max_len:
        raise CellError("too_long", length=len(result), max=max_len)
    return result


EXCEL_EPOCH = date(1899, 12, 30)
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y")
EARLIEST_DATE = date(2000, 1, 1)  # no region, activity or plan of the program is older
YEARS_AHEAD = 2  # a plan may be imported before its year starts, not a decade ahead
MAX_VALUE_CHARS = 64  # a date, number or zone typed in a cell is far shorter


def latest_date() -> date:
    """The last date a cell may hold: `YEARS_AHEAD` years after today (29 February: the 28th)."""
    today = clock.now().date()
    try:
        return today.replace(year=today.year + YEARS_AHEAD)
    except ValueError:
        return today.replace(year=today.year + YEARS_AHEAD, day=28)


def _in_window(day: date, value: Any) -> date:
    latest = latest_date()
    if not EARLIEST_DATE <= day <= latest:
        raise CellError(
            "date_range", value=show(value), earliest=EARLIEST_DATE.isoformat(), latest=latest.isoformat()
        )
    return day


def _ascii_text(value: Any) -> str:
    """A cell as stripped text for a number, date or time reader: bounded, no digits other than 0-9."""
    raw = str(value).strip()
    if len(raw) > MAX_VALUE_CHARS or foreign_digits(raw):
        raise ValueError(raw[:MAX_VALUE_CHARS])
    return raw


def to_date(value: Any) -> date:
    """An Excel date, a serial number or a typed date, between `EARLIEST_DATE` and `latest_date()`."""
    if isinstance(value, datetime):
        return _in_window(value.date(), value)
    if isinstance(value, date):
        return _in_window(value, value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        # An Excel serial number in a cell not formatted as a date (1990..2100 only).
        if 32874 <= value <= 73051 and float(value).is_integer():
            return _in_window(EXCEL_EPOCH + timedelta(days=int(value)), value)
        raise CellError("bad_date", value=show(value))
    try:
        raw = _ascii_text(value)
    except ValueError:
        raise CellError("bad_date", value=show(value)) from None
    candidate = raw[:10] if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T]00:00(:00)?", raw) else raw
    for fmt in DATE_FORMATS:
        try:
            day = datetime.strptime(candidate, fmt).date()
        except ValueError:
            continue
        return _in_window(day, value)
    raise CellError("bad_date", value=show(value))


def to_time(value: Any) -> time:
    if isinstance(value, datetime):
        return value.time().replace(second=0, microsecond=0)
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0)
    if isinstance(value, float) and 0 <= value < 1:  # Excel time as a day fraction
        minutes = round(value * 24 * 60)
        return time(minutes // 60 % 24, minutes % 60)
    m = re.fullmatch(r"([0-9]{1,2})[:.]([0-9]{2})(?::[0-9]{2})?", str(value).strip()[:MAX_VALUE_CHARS])
    if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
        return time(int(m.group(1)), int(m.group(2)))
    raise CellError("bad_time", value=show(value))


# A number as float() may read it once separators are settled: ASCII, no `inf`, `nan` or `1_000`.
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


def to_number(value: Any) -> float:
    """A plain number; in text, `163,5` (decimal comma) and `1.234,5` / `1,234.5` are understood. Finite
    and at most `MAX_NUMBER` in size ("number_too_big" beyond)."""
    if isinstance(value, bool | date | datetime | time):
        raise CellError("bad_number", value=show(value))
    if isinstance(value, int) and abs(value) > MAX_NUMBER:
        raise CellError("number_too_big", value=show(value))  # (before float() of a huge int overflows)
    if isinstance(value, int | float):
        result = float(value)
    else:
        try:
            raw = _ascii_text(value)
        except ValueError:
            raise CellError("bad_number", value=show(value)) from None
        raw = re.sub(r"(?i)^rp\.?", "", raw).replace(" ", "").rstrip("%")
        if "," in raw and "." in raw:
            decimal = "," if raw.rfind(",") > raw.rfind(".") else "."
            raw = raw.replace("." if decimal == "," else ",", "").replace(",", ".")
        elif raw.count(",") == 1:
            raw = raw.replace(",", ".")
        elif re.fullmatch(r"-?[0-9]{1,3}([.,][0-9]{3}){2,}", raw):
            raw = re.sub(r"[.,]", "", raw)
        if not _FLOAT_RE.fullmatch(raw):
            raise CellError("bad_number", value=show(value))
        result = float(raw)
    if math.isnan(result) or math.isinf(result):
        raise CellError("bad_number", value=show(value))
    if abs(result) > MAX_NUMBER:
        raise CellError("number_too_big", value=show(value))
    return result


def to_integer(value: Any) -> int:
    """Rupiah amounts: 150000000, `150.000.000`, `Rp150.000.000`, `150,000,000`."""
    if isinstance(value, str):
        if len(value.strip()) > MAX_VALUE_CHARS:
            raise CellError("bad_integer", value=show(value))
        raw = re.sub(r"(?i)^rp\.?", "", value.strip()).replace(" ", "")
        if re.fullmatch(r"-?[0-9]{1,3}([.,][0-9]{3})+", raw):
            raw = re.sub(r"[.,]", "", raw)
        value = raw
    try:
        number = to_number(value)
    except CellError as exc:
        if exc.key == "number_too_big":
            raise
        raise CellError("bad_integer", value=show(value)) from None
    if not number.is_integer():
        raise CellError("bad_integer", value=show(value))
    return int(number)


def non_negative_integer(value: Any) -> int:
    number = to_integer(value)
    if number < 0:
        raise CellError("negative", value=number)
    return number


def positive_number(value: Any) -> float:
    number = to_number(value)
    if number <= 0:
        raise CellError("not_positive", value=_fmt(number))
    return number


def percent(value: Any) -> float:
    number = to_number(value)
    if not 0 <= number <= 100:
        raise CellError("percent_range", value=_fmt(number))
    return number


def latitude(value: Any) -> float:
    number = to_number(value)
    if not -90 <= number <= 90:
        raise CellError("latitude_range", value=_fmt(number))
    return number


def longitude(value: Any) -> float:
    number = to_number(value)
    if not -180 <= number <= 180:
        raise CellError("longitude_range", value=_fmt(number))
    return number


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


YES = {"ya", "y", "yes", "true", "benar", "1", "iya", "v", "x"}
NO = {"tidak", "t", "tdk", "no", "n", "false", "salah", "0", "bukan"}


def yes_no(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    key = _key(value)
    if key in YES:
        return True
    if key in NO:
        return False
    raise CellError("bad_bool", value=show(value))


def _lookup(value: Any, table: dict[str, Any], error: str, choices: str) -> Any:
    key = _key(value)
    if key in table:
        return table[key]
    raise CellError(error, value=show(value), choices=choices)


LEVELS: dict[str, RegionLevel] = {
    **{_key(level.value): level for level in RegionLevel},
    "prov": RegionLevel.PROVINSI,
    "province": RegionLevel.PROVINSI,
    "kabupaten": RegionLevel.KABKOTA,
    "kota": RegionLevel.KABKOTA,
    "kab": RegionLevel.KABKOTA,
    "kabupaten kota": RegionLevel.KABKOTA,
    "kab kota": RegionLevel.KABKOTA,
    "regency": RegionLevel.KABKOTA,
    "city": RegionLevel.KABKOTA,
    "kec": RegionLevel.KECAMATAN,
    "district": RegionLevel.KECAMATAN,
    "kel": RegionLevel.KELURAHAN,
    "desa": RegionLevel.KELURAHAN,
    "kelurahan desa": RegionLevel.KELURAHAN,
    "village": RegionLevel.KELURAHAN,
}


def region_level(value: Any) -> RegionLevel:
    return _lookup(value, LEVELS, "bad_level", ", ".join(level.value for level in RegionLevel))


INDICATORS: dict[str, Indicator] = {
    **{_key(ind.value): ind for ind in Indicator},
    "bangunan": Indicator.BANGUNAN_GEDUNG,
    "kondisi bangunan gedung": Indicator.BANGUNAN_GEDUNG,
    "building": Indicator.BANGUNAN_GEDUNG,
    "buildings": Indicator.BANGUNAN_GEDUNG,
    "jalan": Indicator.JALAN_LINGKUNGAN,
    "kondisi jalan lingkungan": Indicator.JALAN_LINGKUNGAN,
    "road": Indicator.JALAN_LINGKUNGAN,
    "neighbourhood road": Indicator.JALAN_LINGKUNGAN,
    "neighborhood road": Indicator.JALAN_LINGKUNGAN,
    "penyediaan air minum": Indicator.AIR_MINUM,
    "kondisi penyediaan air minum": Indicator.AIR_MINUM,
    "drinking water": Indicator.AIR_MINUM,
    "water supply": Indicator.AIR_MINUM,
    "drainase lingkungan": Indicator.DRAINASE,
    "kondisi drainase lingkungan": Indicator.DRAINASE,
    "drainage": Indicator.DRAINASE,
    "pengelolaan air limbah": Indicator.AIR_LIMBAH,
    "kondisi pengelolaan air limbah": Indicator.AIR_LIMBAH,
    "sanitasi": Indicator.AIR_LIMBAH,
    "wastewater": Indicator.AIR_LIMBAH,
    "waste water": Indicator.AIR_LIMBAH,
    "sanitation": Indicator.AIR_LIMBAH,
    "pengelolaan persampahan": Indicator.PERSAMPAHAN,
    "kondisi pengelolaan persampahan": Indicator.PERSAMPAHAN,
    "sampah": Indicator.PERSAMPAHAN,
    "solid waste": Indicator.PERSAMPAHAN,
    "waste": Indicator.PERSAMPAHAN,
    "proteksi kebakaran": Indicator.PROTEKSI_KEBAKARAN,
    "kondisi proteksi kebakaran": Indicator.PROTEKSI_KEBAKARAN,
    "fire protection": Indicator.PROTEKSI_KEBAKARAN,
    **{str(i): ind for i, ind in enumerate(Indicator, start=1)},
}


def indicator(value: Any) -> Indicator:
    choices = "bangunan gedung, jalan lingkungan, penyediaan air minum, drainase lingkungan, " + (
        "pengelolaan air limbah, pengelolaan persampahan, proteksi kebakaran"
    )
    return _lookup(value, INDICATORS, "bad_indicator", choices)


ROLES: dict[str, Role] = {
    **{_key(role.value): role for role in Role},
    "pekerja": Role.WORKER,
    "ketua": Role.KETUA_KSM,
    "koordinator ksm": Role.KETUA_KSM,
    "mandor": Role.KETUA_KSM,
    "lkm": Role.BKM,
    "bkm lkm": Role.BKM,
    "faskel": Role.FASILITATOR,
    "fasilitator kelurahan": Role.FASILITATOR,
    "senior fasilitator": Role.FASILITATOR,
    "facilitator": Role.FASILITATOR,
    "asisten kota": Role.ASKOT,
    "koordinator kota": Role.KORKOT,
    "province": Role.PROVINSI,
    "national": Role.NASIONAL,
    "administrator": Role.ADMIN,
}


def role(value: Any) -> Role:
    return _lookup(value, ROLES, "bad_role", ", ".join(r.value for r in Role))


GENDERS: dict[str, Gender] = {
    "l": Gender.L,
    "lk": Gender.L,
    "laki laki": Gender.L,
    "laki": Gender.L,
    "pria": Gender.L,
    "m": Gender.L,
    "male": Gender.L,
    "p": Gender.P,
    "pr": Gender.P,
    "perempuan": Gender.P,
    "wanita": Gender.P,
    "f": Gender.P,
    "female": Gender.P,
}


def gender(value: Any) -> Gender:
    return _lookup(value, GENDERS, "bad_gender", "L, P")


SKILLS: dict[str, Skill] = {
    **{_key(s.value): s for s in Skill},
    "labourer": Skill.PEKERJA,
    "laborer": Skill.PEKERJA,
    "worker": Skill.PEKERJA,
    "buruh": Skill.PEKERJA,
    "skilled": Skill.TUKANG,
    "mason": Skill.TUKANG,
    "tukang batu": Skill.TUKANG,
    "tukang kayu": Skill.TUKANG,
    "foreman": Skill.MANDOR,
}


def skill(value: Any) -> Skill:
    return _lookup(value, SKILLS, "bad_skill", ", ".join(s.value for s in Skill))


LANGUAGE_NAMES = {
    "id": "id",
    "ind": "id",
    "indonesia": "id",
    "bahasa indonesia": "id",
    "indonesian": "id",
    "en": "en",
    "eng": "en",
    "english": "en",
    "inggris": "en",
    "bahasa inggris": "en",
}


def language(value: Any) -> str:
    key = _key(value)
    if key in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[key]
    raise CellError("bad_language", value=show(value))


TZ_ALIASES = {"wib": "Asia/Jakarta", "wita": "Asia/Makassar", "wit": "Asia/Jayapura"}


MAX_ZONE_CHARS = 40  # the longest IANA name, `America/Argentina/ComodRivadavia`, is 32
_NOT_ZONES = frozenset({"localtime", "factory"})  # files in the zone folder that are not a place's zone


def timezone(value: Any) -> str:
    """An IANA time zone name (or WIB/WITA/WIT); anything the zone database cannot open is "bad_timezone",
    a name too long for the file system (`Etc/GMT+999…`) or a folder (`Asia`) included."""
    raw = str(value).strip()
    raw = TZ_ALIASES.get(raw.lower(), raw)
    if (
        len(raw) > MAX_ZONE_CHARS
        or raw.lower() in _NOT_ZONES
        or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*", raw)
    ):
        raise CellError("bad_timezone", value=show(value))
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CellError("bad_timezone", value=show(value)) from None
    return raw


def phone(value: Any) -> str:
    raw = text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raw = "0" + raw if not raw.startswith("62") else raw  # Excel dropped the leading zero
    try:
        return normalize_phone(raw)
    except InvalidPhone:
        raise CellError("bad_phone", value=show(value)) from None


def nik(value: Any) -> str:
    """A valid NIK, or a CellError that shows it only masked. A number cell is refused ("nik_text"):
    Excel keeps 15 significant digits, so a NIK stored as a number has already lost its last one (and a
    NaN or an infinity is no NIK at all)."""
    if isinstance(value, float):
        raise CellError("bad_nik", nik="•" * 16, reason_key="nik_text")
    raw = text(value)
    try:
        return normalize_nik(raw)
    except InvalidNik:
        digits = re.sub(r"[\s.\-]", "", raw)[:MAX_NIK_CHARS]
        if not re.fullmatch(r"[0-9]{16}", digits):
            reason = "nik_digits"
        elif digits[:2] == "00":
            reason = "nik_province"
        else:
            reason = "nik_birthdate"
        raise CellError("bad_nik", nik=mask_nik(digits), reason_key=reason) from None
