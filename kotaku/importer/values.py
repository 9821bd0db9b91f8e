"""Reading one cell: dates, numbers, yes/no and the program's vocabularies, tolerant of how people type them.

Every parser takes the raw cell value (str, int, float, bool, date/datetime from Excel) and returns a
clean value or raises `CellError(key, **params)` whose key is in the message catalogue.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kotaku.models import Gender, Indicator, RegionLevel, Role, Skill
from kotaku.security import InvalidNik, InvalidPhone, mask_nik, normalize_nik, normalize_phone


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


def to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        # An Excel serial number in a cell not formatted as a date (1990..2100 only).
        if 32874 <= value <= 73051 and float(value).is_integer():
            return EXCEL_EPOCH + timedelta(days=int(value))
        raise CellError("bad_date", value=show(value))
    raw = str(value).strip()
    candidate = raw[:10] if re.match(r"^\d{4}-\d{2}-\d{2}[ T]00:00(:00)?$", raw) else raw
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(candidate, fmt).date()
        except ValueError:
            continue
    raise CellError("bad_date", value=show(value))


def to_time(value: Any) -> time:
    if isinstance(value, datetime):
        return value.time().replace(second=0, microsecond=0)
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0)
    if isinstance(value, float) and 0 <= value < 1:  # Excel time as a day fraction
        minutes = round(value * 24 * 60)
        return time(minutes // 60 % 24, minutes % 60)
    m = re.match(r"^(\d{1,2})[:.](\d{2})(?::\d{2})?$", str(value).strip())
    if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
        return time(int(m.group(1)), int(m.group(2)))
    raise CellError("bad_time", value=show(value))


def to_number(value: Any) -> float:
    """A plain number; in text, `163,5` (decimal comma) and `1.234,5` / `1,234.5` are understood."""
    if isinstance(value, bool | date | datetime | time):
        raise CellError("bad_number", value=show(value))
    if isinstance(value, int | float):
        result = float(value)
    else:
        raw = re.sub(r"(?i)^rp\.?", "", str(value).strip()).replace(" ", "").rstrip("%")
        if "," in raw and "." in raw:
            decimal = "," if raw.rfind(",") > raw.rfind(".") else "."
            raw = raw.replace("." if decimal == "," else ",", "").replace(",", ".")
        elif raw.count(",") == 1:
            raw = raw.replace(",", ".")
        elif re.fullmatch(r"-?\d{1,3}([.,]\d{3}){2,}", raw):
            raw = re.sub(r"[.,]", "", raw)
        try:
            result = float(raw)
        except ValueError:
            raise CellError("bad_number", value=show(value)) from None
    if math.isnan(result) or math.isinf(result):
        raise CellError("bad_number", value=show(value))
    return result


def to_integer(value: Any) -> int:
    """Rupiah amounts: 150000000, `150.000.000`, `Rp150.000.000`, `150,000,000`."""
    if isinstance(value, str):
        raw = re.sub(r"(?i)^rp\.?", "", value.strip()).replace(" ", "")
        if re.fullmatch(r"-?\d{1,3}([.,]\d{3})+", raw):
            raw = re.sub(r"[.,]", "", raw)
        value = raw
    try:
        number = to_number(value)
    except CellError:
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


def timezone(value: Any) -> str:
    raw = str(value).strip()
    raw = TZ_ALIASES.get(raw.lower(), raw)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*", raw):
        raise CellError("bad_timezone", value=show(value))
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
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
    """A valid NIK, or a CellError that shows it only masked."""
    raw = text(value) if not isinstance(value, float) else str(int(value))
    try:
        return normalize_nik(raw)
    except InvalidNik:
        digits = re.sub(r"[\s.\-]", "", raw)
        if not re.fullmatch(r"\d{16}", digits):
            reason = "nik_digits"
        elif digits[:2] == "00":
            reason = "nik_province"
        else:
            reason = "nik_birthdate"
        raise CellError("bad_nik", nik=mask_nik(digits), reason_key=reason) from None
