"""The program's closed vocabularies: roles, region levels, slum indicators, report categories."""

from __future__ import annotations

import enum


class RegionLevel(enum.StrEnum):
    PROVINSI = "provinsi"
    KABKOTA = "kabkota"
    KECAMATAN = "kecamatan"
    KELURAHAN = "kelurahan"


REGION_LEVEL_ORDER = [RegionLevel.PROVINSI, RegionLevel.KABKOTA, RegionLevel.KECAMATAN, RegionLevel.KELURAHAN]


class Role(enum.StrEnum):
    WORKER = "worker"
    KETUA_KSM = "ketua_ksm"
    BKM = "bkm"
    FASILITATOR = "fasilitator"
    ASKOT = "askot"
    KORKOT = "korkot"
    PROVINSI = "provinsi"
    NASIONAL = "nasional"
    ADMIN = "admin"


REPORTER_ROLES = {Role.WORKER, Role.KETUA_KSM, Role.BKM, Role.FASILITATOR}
MANAGER_ROLES = {Role.ASKOT, Role.KORKOT, Role.PROVINSI, Role.NASIONAL, Role.ADMIN}


class Indicator(enum.StrEnum):
    """The 7 slum indicators an activity belongs to."""

    BANGUNAN_GEDUNG = "bangunan_gedung"
    JALAN_LINGKUNGAN = "jalan_lingkungan"
    AIR_MINUM = "air_minum"
    DRAINASE = "drainase"
    AIR_LIMBAH = "air_limbah"
    PERSAMPAHAN = "persampahan"
    PROTEKSI_KEBAKARAN = "proteksi_kebakaran"


class Gender(enum.StrEnum):
    L = "L"
    P = "P"


class Skill(enum.StrEnum):
    PEKERJA = "pekerja"
    TUKANG = "tukang"
    MANDOR = "mandor"


class Channel(enum.StrEnum):
    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    CONSOLE = "console"
    TEST = "test"


class AttendanceMode(enum.StrEnum):
    ROSTER = "roster"
    COUNT = "count"


class ObstacleCategory(enum.StrEnum):
    CUACA = "cuaca"
    MATERIAL = "material"
    TENAGA_KERJA = "tenaga_kerja"
    DANA = "dana"
    LAHAN_SOSIAL = "lahan_sosial"
    TEKNIS = "teknis"
    K3 = "k3"
    LAINNYA = "lainnya"


class Severity(enum.StrEnum):
    RENDAH = "rendah"
    SEDANG = "sedang"
    TINGGI = "tinggi"


class ObstacleStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class MediaKind(enum.StrEnum):
    PHOTO = "photo"
    DOCUMENT = "document"
    VOICE = "voice"
    LOCATION = "location"


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AlertSeverity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    HELD = "held"  # waits for the recipient (WhatsApp: outside the 24-hour window, no template fits)
