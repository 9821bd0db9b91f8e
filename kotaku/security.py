"""Personal data at rest: NIK encrypted (Fernet) plus a keyed hash (HMAC) for matching; phones in E.164."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from pathlib import Path

import phonenumbers
import structlog
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kotaku.config import Settings

log = structlog.get_logger(__name__)

NIK_RE = re.compile(r"^\d{16}$")
DEV_KEY_FILE = "nik.key"


class InvalidNik(ValueError):
    """A NIK that is not 16 digits or has an impossible region/date part."""


class InvalidPhone(ValueError):
    """A phone number that cannot be read as a valid number."""


def normalize_nik(raw: str) -> str:
    """Digits only, 16 of them, with a plausible birth date part (day 1-31 or 41-71, month 1-12)."""
    nik = re.sub(r"[\s.\-]", "", str(raw or ""))
    if not NIK_RE.match(nik):
        raise InvalidNik("NIK harus 16 angka")
    if nik[:2] == "00":
        raise InvalidNik("kode provinsi NIK tidak valid")
    day, month = int(nik[6:8]), int(nik[8:10])
    if not (1 <= day <= 31 or 41 <= day <= 71) or not 1 <= month <= 12:
        raise InvalidNik("tanggal lahir di NIK tidak valid")
    return nik


def mask_nik(nik: str) -> str:
    """For display to roles that need to recognise a NIK, never the whole number: 3322••••••••0001."""
    return nik[:4] + "•" * 8 + nik[-4:] if len(nik) == 16 else "•" * len(nik)


def normalize_phone(raw: str, region: str = "ID") -> str:
    """Any common Indonesian spelling (0812..., 62812..., +62 812-...) to E.164 (+62812...)."""
    text = str(raw or "").strip()
    if not text:
        raise InvalidPhone("nomor telepon kosong")
    if text.startswith("62") and not text.startswith("+"):
        text = "+" + text
    try:
        num = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"nomor telepon tidak dapat dibaca: {raw}") from exc
    if not phonenumbers.is_valid_number(num):
        raise InvalidPhone(f"nomor telepon tidak valid: {raw}")
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    return phone[:5] + "•" * max(0, len(phone) - 8) + phone[-3:]


def generate_key() -> str:
    return Fernet.generate_key().decode()


class NikVault:
    """Encrypts, decrypts and hashes NIKs with keys derived from `security.nik_key`."""

    def __init__(self, master_key: str) -> None:
        try:
            raw = base64.urlsafe_b64decode(master_key.encode())
        except (ValueError, TypeError) as exc:
            raise ValueError("security.nik_key must be a Fernet key (run `kotaku keygen`)") from exc
        if len(raw) != 32:
            raise ValueError("security.nik_key must be a Fernet key (run `kotaku keygen`)")
        self._fernet = Fernet(master_key.encode())
        self._hmac_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"kotaku nik hmac v1"
        ).derive(raw)

    def encrypt(self, nik: str) -> bytes:
        return self._fernet.encrypt(normalize_nik(nik).encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise ValueError("NIK cannot be decrypted with this security.nik_key") from exc

    def hash(self, nik: str) -> str:
        return hmac.new(self._hmac_key, normalize_nik(nik).encode(), hashlib.sha256).hexdigest()

    def protect(self, nik: str) -> tuple[bytes, str]:
        """(ciphertext, keyed hash) for storage."""
        return self.encrypt(nik), self.hash(nik)


def vault_from_settings(settings: Settings) -> NikVault:
    """The vault for the configured key; outside production a local key is made once in `app.data_dir`."""
    if settings.security.nik_key is not None:
        return NikVault(settings.security.nik_key.get_secret_value())
    if settings.app.env == "production":
        raise ValueError("security.nik_key must be set in production (run `kotaku keygen`)")
    key_path = Path(settings.app.data_dir) / DEV_KEY_FILE
    if key_path.is_file():
        return NikVault(key_path.read_text().strip())
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    key_path.write_text(key + "\n")
    key_path.chmod(0o600)
    log.warning("nik_key_generated", path=str(key_path), hint="set security.nik_key for production")
    return NikVault(key)


def random_code(length: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))
