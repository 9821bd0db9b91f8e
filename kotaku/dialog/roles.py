"""How roles are named to people, in the message catalogue (used by the chat, the demo and the CLI)."""

from __future__ import annotations

from kotaku import catalogue
from kotaku.models import Role


def role_label(role: Role, lang: str = catalogue.DEFAULT_LANG) -> str:
    return catalogue.t(f"role.{role.value}", lang)
