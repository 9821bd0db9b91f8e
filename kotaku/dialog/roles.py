"""How roles are named to people, in the message catalogue (used by the chat, the demo and the CLI)."""

from __future__ import annotations

from kotaku.dialog import catalogue
from kotaku.models import Role

catalogue.register(
    {
        "role.worker": {"id": "pekerja", "en": "worker"},
        "role.ketua_ksm": {"id": "ketua KSM", "en": "KSM coordinator"},
        "role.bkm": {"id": "BKM/LKM", "en": "BKM/LKM"},
        "role.fasilitator": {"id": "fasilitator", "en": "facilitator"},
        "role.askot": {"id": "Askot", "en": "Askot (city assistant)"},
        "role.korkot": {"id": "Korkot", "en": "Korkot (city coordinator)"},
        "role.provinsi": {"id": "pengelola provinsi", "en": "province manager"},
        "role.nasional": {"id": "pengelola nasional", "en": "national manager"},
        "role.admin": {"id": "admin", "en": "administrator"},
    }
)


def role_label(role: Role, lang: str = catalogue.DEFAULT_LANG) -> str:
    return catalogue.t(f"role.{role.value}", lang)
