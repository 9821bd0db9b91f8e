"""NIK validation, encryption and keyed hashing; phone normalisation and masking."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kotaku.config import Settings, load_settings
from kotaku.security import (
    DEV_KEY_FILE,
    InvalidNik,
    InvalidPhone,
    NikVault,
    generate_key,
    mask_nik,
    mask_phone,
    normalize_nik,
    normalize_phone,
    vault_from_settings,
)

# province 33, kabkota 22, kecamatan 05, born 17-08-1990, serial 0001
MALE_NIK = "3322051708900001"
# a woman born on the 1st: day + 40
FEMALE_NIK = "3322054101950002"


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("KOTAKU_"):
            monkeypatch.delenv(key, raising=False)
    return tmp_path


def dev_settings(tmp_path: Path, env: str = "local", nik_key: str | None = None) -> Settings:
    return load_settings(
        app={"env": env, "data_dir": str(tmp_path / "data")},
        security={"nik_key": nik_key},
    )


# --- NIK ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (MALE_NIK, MALE_NIK),
        (FEMALE_NIK, FEMALE_NIK),
        ("3322 0517 0890 0001", MALE_NIK),
        ("3322.0517.0890.0001", MALE_NIK),
        ("3322-051708-900001", MALE_NIK),
        ("3322053112990001", "3322053112990001"),  # day 31, month 12
        ("3322057101000001", "3322057101000001"),  # woman born on the 31st (31 + 40)
    ],
)
def test_normalize_nik_valid(raw: str, expected: str) -> None:
    assert normalize_nik(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "332205170890000",  # 15 digits
        "33220517089000012",  # 17 digits
        "33220517089000A1",  # a letter
        "0022051708900001",  # province 00
        "3322050008900001",  # day 00
        "3322053208900001",  # day 32
        "3322054008900001",  # day 40: neither a man's nor a woman's day
        "3322057208900001",  # day 72 (31 + 41)
        "3322051700900001",  # month 00
        "3322051713900001",  # month 13
    ],
)
def test_normalize_nik_invalid(raw: str) -> None:
    with pytest.raises(InvalidNik):
        normalize_nik(raw)


def test_invalid_nik_is_a_value_error_with_indonesian_message() -> None:
    with pytest.raises(ValueError, match="16 angka"):
        normalize_nik("12345")


def test_mask_nik_shows_only_ends() -> None:
    masked = mask_nik(MALE_NIK)
    assert masked.startswith("3322")
    assert masked.endswith("0001")
    assert len(masked) == 16
    assert "05170890" not in masked
    assert mask_nik("123") == "•••"


# --- vault ----------------------------------------------------------------------------------------


def test_vault_roundtrip() -> None:
    vault = NikVault(generate_key())
    token = vault.encrypt("3322 0517 0890 0001")
    assert isinstance(token, bytes)
    assert MALE_NIK.encode() not in token
    assert vault.decrypt(token) == MALE_NIK


def test_ciphertext_differs_per_call() -> None:
    vault = NikVault(generate_key())
    a, b = vault.encrypt(MALE_NIK), vault.encrypt(MALE_NIK)
    assert a != b
    assert vault.decrypt(a) == vault.decrypt(b) == MALE_NIK


def test_hash_is_stable_and_keyed() -> None:
    key = generate_key()
    vault, same_key, other = NikVault(key), NikVault(key), NikVault(generate_key())
    h = vault.hash(MALE_NIK)
    assert len(h) == 64
    assert h == vault.hash("3322-0517-0890-0001")  # normalised before hashing
    assert h == same_key.hash(MALE_NIK)
    assert h != other.hash(MALE_NIK)
    assert h != vault.hash(FEMALE_NIK)


def test_protect_returns_ciphertext_and_hash() -> None:
    vault = NikVault(generate_key())
    token, h = vault.protect(MALE_NIK)
    assert vault.decrypt(token) == MALE_NIK
    assert h == vault.hash(MALE_NIK)


def test_vault_rejects_invalid_nik() -> None:
    vault = NikVault(generate_key())
    with pytest.raises(InvalidNik):
        vault.encrypt("1234")
    with pytest.raises(InvalidNik):
        vault.hash("1234")


def test_wrong_key_cannot_decrypt() -> None:
    token = NikVault(generate_key()).encrypt(MALE_NIK)
    with pytest.raises(ValueError, match="nik_key"):
        NikVault(generate_key()).decrypt(token)


@pytest.mark.parametrize("bad_key", ["", "not-a-key", "c2hvcnQ="])
def test_vault_rejects_malformed_key(bad_key: str) -> None:
    with pytest.raises(ValueError, match="nik_key"):
        NikVault(bad_key)


def test_vault_from_settings_uses_configured_key(clean_env: Path) -> None:
    key = generate_key()
    vault = vault_from_settings(dev_settings(clean_env, nik_key=key))
    assert vault.hash(MALE_NIK) == NikVault(key).hash(MALE_NIK)
    assert not (clean_env / "data" / DEV_KEY_FILE).exists()


def test_vault_from_settings_creates_dev_key_once(clean_env: Path) -> None:
    settings = dev_settings(clean_env)
    key_path = clean_env / "data" / DEV_KEY_FILE
    assert not key_path.exists()
    first = vault_from_settings(settings)
    assert key_path.is_file()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    content = key_path.read_text()
    token = first.encrypt(MALE_NIK)

    second = vault_from_settings(settings)
    assert key_path.read_text() == content  # reused, not replaced
    assert second.decrypt(token) == MALE_NIK
    assert second.hash(MALE_NIK) == first.hash(MALE_NIK)
    assert second.hash(MALE_NIK) == NikVault(content.strip()).hash(MALE_NIK)


def test_vault_from_settings_refuses_in_production_without_key(clean_env: Path) -> None:
    settings = dev_settings(clean_env, nik_key=generate_key())
    prod = settings.model_copy(
        update={
            "app": settings.app.model_copy(update={"env": "production"}),
            "security": settings.security.model_copy(update={"nik_key": None}),
        }
    )
    with pytest.raises(ValueError, match="production"):
        vault_from_settings(prod)
    assert not (clean_env / "data" / DEV_KEY_FILE).exists()


# --- phones ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "0812-3456-7890",
        "081234567890",
        "6281234567890",
        "+6281234567890",
        "+62 812 3456 7890",
        " +62 812-3456-7890 ",
    ],
)
def test_normalize_phone_to_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+6281234567890"


@pytest.mark.parametrize("raw", ["", "   ", "abc", "12", "0812", "+62 812", "08123456789012345"])
def test_normalize_phone_invalid(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)


def test_mask_phone() -> None:
    masked = mask_phone("+6281234567890")
    assert masked == "+6281" + "•" * 6 + "890"
    assert "234567" not in masked
    assert mask_phone(None) == ""
    assert mask_phone("") == ""
