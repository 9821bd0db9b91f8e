"""Personal data at rest: NIK encrypted (Fernet) plus a keyed hash (HMAC) for matching; phones in E.164."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import tempfile
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, overload

import phonenumbers
import structlog
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kotaku.config import Settings

log = structlog.get_logger(__name__)

NIK_RE = re.compile(r"[0-9]{16}")  # ASCII digits only: `３３２２…` would hash apart from `3322…`
_NIK_SEPARATORS_RE = re.compile(r"[\s.\-]")
MAX_NIK_CHARS = 40  # `3322 1012 0380 0001` with generous separators
MAX_PHONE_CHARS = 32  # `+62 (812) 3456-7890` is 19
# What a typed phone number may hold besides ASCII digits: no letters (phonenumbers would read `0812-ABC`
# as a keypad's digits), no other digits (it would read `０８１２` or `٠٨١٢` as 0812).
_PHONE_CHARS = frozenset("0123456789+-.()/ \t\u00a0")
DEV_KEY_FILE = "nik.key"
# Files holding personal data or keys (database, media, exports, the key file) are the owner's alone.
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


class InvalidNik(ValueError):
    """A NIK that is not 16 digits or has an impossible region/date part."""


class InvalidPhone(ValueError):
    """A phone number that cannot be read as a valid number."""


def normalize_nik(raw: str | int | float) -> str:
    """16 ASCII digits once spaces, dots and dashes are taken out, with a plausible birth date part (day
    1-31 or 41-71, month 1-12). Anything else is refused, never converted: a float (a spreadsheet's number
    has lost the last digits, or is NaN/inf), full-width or Arabic-Indic digits, a text of more than
    `MAX_NIK_CHARS`. What is hashed and stored is what this returns, so each NIK has one spelling."""
    if isinstance(raw, float):
        raise InvalidNik("NIK harus 16 angka (teks, bukan angka pecahan)")
    text = str(raw or "")
    if len(text) > MAX_NIK_CHARS:
        raise InvalidNik("NIK harus 16 angka")
    nik = _NIK_SEPARATORS_RE.sub("", text)
    if not NIK_RE.fullmatch(nik):
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
    """Any common Indonesian spelling (0812..., 62812..., +62 812-...) to E.164 (+62812...).

    Only ASCII digits with spaces, `-`, `.`, `/` and brackets, a `+` only in front, at most
    `MAX_PHONE_CHARS`. A `+` set apart from the number (`+ 812-3456-7890`) is not a country code of its
    own: `+ 62 812...` is +62, anything else after it is read as a national number (`+ 812...` is
    +62812..., never Japan's +81)."""
    text = str(raw or "").strip()
    if not text:
        raise InvalidPhone("nomor telepon kosong")
    if len(text) > MAX_PHONE_CHARS or not set(text) <= _PHONE_CHARS or "+" in text[1:]:
        raise InvalidPhone("nomor telepon tidak dapat dibaca")
    if text.startswith("+") and text[1:2].isspace():
        rest = text[1:].lstrip()
        text = "+" + rest if rest.startswith("62") else rest
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
        return self._digest(normalize_nik(nik))

    def _digest(self, text: str) -> str:
        return hmac.new(self._hmac_key, text.encode(), hashlib.sha256).hexdigest()

    def can_decrypt(self, token: bytes) -> bool:
        try:
            self._fernet.decrypt(token)
        except InvalidToken:
            return False
        return True

    def rekey(self, token: bytes, old: NikVault) -> tuple[bytes, str]:
        """A NIK encrypted by `old` as (ciphertext, keyed hash) under this vault's keys: the hash key is
        derived from the NIK key, so both change. The NIK is kept as it was stored; a stored value the
        rules of today refuse is hashed as it is, so it still matches what it matched before."""
        nik = old.decrypt(token)
        try:
            digest = self.hash(nik)
        except InvalidNik:
            digest = self._digest(nik)
        return self._fernet.encrypt(nik.encode()), digest

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
        return NikVault(read_key_file(key_path))
    key = generate_key()
    try:
        write_private(key_path, (key + "\n").encode(), replace=False)
    except FileExistsError:  # another process made it first: use that one
        return NikVault(read_key_file(key_path))
    log.warning("nik_key_generated", path=str(key_path), hint="set security.nik_key for production")
    return NikVault(key)


def read_key_file(path: Path) -> str:
    """The key written in a key file (surrounding blank space ignored)."""
    return path.read_text(encoding="utf-8").strip()


def configured_key(settings: Settings) -> str | None:
    """The NIK key in use: `security.nik_key`, else (outside production) the local key file in
    `app.data_dir` if there is one."""
    if settings.security.nik_key is not None:
        return settings.security.nik_key.get_secret_value()
    if settings.app.env == "production":
        return None
    key_path = Path(settings.app.data_dir) / DEV_KEY_FILE
    return read_key_file(key_path) if key_path.is_file() else None


# --- private files: created for the owner alone whatever the umask ------------------------------------


def private_dir(path: Path) -> Path:
    """`path` and its missing parents created 0700; folders that are already there keep their mode."""
    missing: list[Path] = []
    here = Path(path)
    while not here.exists():
        missing.append(here)
        here = here.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:  # made meanwhile by another process
            continue
        os.chmod(folder, PRIVATE_DIR_MODE)  # mkdir's mode is cut by the umask
    return Path(path)


def create_private_file(path: Path) -> bool:
    """An empty `path` created 0600 (its missing folders 0700) unless it exists; True when created."""
    private_dir(Path(path).parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return True


def write_private(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Write `data` to `path` as 0600 (missing folders 0700), whole or not at all: a temporary file in the
    same folder, then renamed. With `replace=False` an existing `path` is kept and FileExistsError raised."""
    path = Path(path)
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails when `path` exists, so two writers never overwrite each other
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def make_private(path: Path) -> None:
    """Take group and others' access away from a file written by someone else's code."""
    os.chmod(path, PRIVATE_FILE_MODE)


def random_code(length: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


# --- personal numbers in free text: masked before anything typed is stored --------------------------

# A NIK is 16 digits, typed whole or in groups (3322 0512 0885 0099, 332205 120885 0099,
# 33.22.05.120885.0099); an Indonesian mobile is 08.. / 628.. / +628.., 10 to 13 digits in the 08 form,
# whole or in groups (0812-3456-7890, +62 812 3456 7890, 0812 3456 78 90). Amounts (Rp1.500.000), dates
# (08-12-2024), lengths (120 m) and counts are neither: too few digits, or groups a number never has.
NUMBERS_HIDDEN = "kotaku.personal_numbers_hidden"
NIK_DIGITS = 16
NIK_MAX_GROUPS = 5
PHONE_DIGITS = (10, 13)
_SEPARATOR = " .\\-\u00a0"
_DIGIT_GROUPS = re.compile(rf"\d+(?:[{_SEPARATOR}]\d+)*")
# 62 without the + is read with spaces and dashes only: 62.812.345.678 is an amount in Rupiah.
_PHONE = re.compile(
    rf"(?<!\d)(?:(?:\+62[{_SEPARATOR}]?|0)8\d{{2,}}(?:[{_SEPARATOR}]\d{{2,}})*"
    rf"|62[ \-\u00a0]?8\d{{2,}}(?:[ \-\u00a0]\d{{2,}})*)(?!\d)"
)
_GROUP = re.compile(r"\d+")


def _hidden(digits: str, head: int, tail: int, mask: str) -> str:
    return digits[:head] + mask * (len(digits) - head - tail) + digits[len(digits) - tail :]


def _mask_nik_runs(text: str, mask: str) -> str:
    """Each run of 16 or more digits, and each 16 digits in at most `NIK_MAX_GROUPS` groups, as
    3322••••••••0099."""

    def sequence(m: re.Match[str]) -> str:
        groups = list(_GROUP.finditer(m.group(0)))
        spans: list[tuple[int, int]] = []
        i = 0
        while i < len(groups):
            if len(groups[i].group(0)) >= NIK_DIGITS:
                spans.append((i, i + 1))
                i += 1
                continue
            total, j = 0, i
            while j < len(groups) and j - i < NIK_MAX_GROUPS and total < NIK_DIGITS:
                total += len(groups[j].group(0))
                j += 1
            if total == NIK_DIGITS:
                spans.append((i, j))
                i = j
            else:
                i += 1
        if not spans:
            return m.group(0)
        run, out, at = m.group(0), [], 0
        for first, last in spans:
            start, end = groups[first].start(), groups[last - 1].end()
            digits = "".join(g.group(0) for g in groups[first:last])
            out += [run[at:start], _hidden(digits, 4, 4, mask)]
            at = end
        return "".join([*out, run[at:]])

    return _DIGIT_GROUPS.sub(sequence, text)


def _mask_phone_runs(text: str, mask: str) -> str:
    """Each Indonesian mobile number as 0812••••••90 (+62812••••••90): the operator prefix and the last
    two digits stay, so a reader knows a number was there."""

    def phone(m: re.Match[str]) -> str:
        run = m.group(0)
        groups = list(_GROUP.finditer(run))
        prefix = 1 if run.startswith("0") else 2  # the digits before the 8
        while groups:
            digits = "".join(g.group(0) for g in groups)
            national = len(digits) - prefix + 1
            if PHONE_DIGITS[0] <= national <= PHONE_DIGITS[1]:
                end = groups[-1].end()
                plus = "+" if run.startswith("+") else ""
                return plus + _hidden(digits, prefix + 3, 2, mask) + run[end:]
            if national < PHONE_DIGITS[0]:
                break
            groups.pop()  # a count or another number typed right after it
        return run

    return _PHONE.sub(phone, text)


def mask_personal_numbers(text: str, mask: str = "•") -> tuple[str, bool]:
    """`text` with every NIK-like and Indonesian-mobile-like number masked, and whether any was.

    `/kendala material NIK 3322051208850099 hilang, HP 081234567890` ->
    `/kendala material NIK 3322••••••••0099 hilang, HP 0812••••••90`. Linear in the length of `text`."""
    masked = _mask_phone_runs(_mask_nik_runs(text, mask), mask)
    return masked, masked != text


@overload
def hide_personal_numbers(text: str, flags: MutableMapping[str, Any]) -> str: ...
@overload
def hide_personal_numbers(text: None, flags: MutableMapping[str, Any]) -> None: ...
def hide_personal_numbers(text: str | None, flags: MutableMapping[str, Any]) -> str | None:
    """`text` masked (`mask_personal_numbers`) for storing; when something was hidden `flags` (the
    session's `info`) says so, and whoever answers the person tells them (`numbers_were_hidden`)."""
    if not text:
        return text
    masked, changed = mask_personal_numbers(text)
    if changed:
        flags[NUMBERS_HIDDEN] = True
    return masked


def numbers_were_hidden(flags: MutableMapping[str, Any]) -> bool:
    """Whether text stored in this session had numbers hidden (asked once: the mark is taken away)."""
    return bool(flags.pop(NUMBERS_HIDDEN, False))
