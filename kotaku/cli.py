"""The `kotaku` command: database, demo program, import, invites, chat and run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from kotaku import clock, migrate
from kotaku.config import ConfigError, Settings, load_settings
from kotaku.db import Database
from kotaku.logs import configure_logging
from kotaku.models import Role
from kotaku.security import InvalidPhone, generate_key, normalize_phone
from kotaku.services import invites as invite_service
from kotaku.services.scope import ScopeNotFound, resolve_scope

T = TypeVar("T")

app = typer.Typer(
    help="kotaku: pelaporan lapangan Program KOTAKU lewat chat (Telegram, WhatsApp, konsol).",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Skema basis data (Alembic): upgrade, downgrade, current.", no_args_is_help=True)
app.add_typer(db_app, name="db")

out = Console()
err = Console(stderr=True)


class State:
    config_path: Path | None = None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
            except ConfigError as exc:
                err.print(f"[red]{exc}[/red]")
                raise typer.Exit(2) from exc
        return self._settings


state = State()


@app.callback()
def main(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Berkas config.toml (bawaan: ./config.toml).")
    ] = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING.")] = "WARNING",
) -> None:
    state.config_path = config
    state._settings = None
    configure_logging(log_level)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


# --- database -------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database to the newest schema (or REVISION)."""
    migrate.upgrade(state.settings, revision)
    out.print(f"database at {migrate.current_revision(state.settings)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")] = "-1",
) -> None:
    """Step the schema back (default one revision)."""
    migrate.downgrade(state.settings, revision)
    out.print(f"database at {migrate.current_revision(state.settings) or 'base (empty)'}")


@db_app.command("current")
def db_current(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the database's revision and the newest one."""
    current, head = migrate.current_revision(state.settings), migrate.head_revision()
    if as_json:
        print(json.dumps({"current": current, "head": head, "up_to_date": current == head}))
        return
    out.print(f"current: {current or 'base (empty)'}\nhead:    {head}")
    if current != head:
        out.print("run `kotaku db upgrade` to migrate")


@app.command()
def keygen() -> None:
    """Print a new key for `security.nik_key` (encrypts workers' NIK)."""
    print(generate_key())


# --- invites --------------------------------------------------------------------------------------


@app.command()
def invite(
    role: Annotated[Role, typer.Option(help="Peran orang yang diundang.", case_sensitive=False)],
    scope: Annotated[
        str, typer.Option(help="Cakupan: ksm:KODE, bkm:KODE, kode wilayah Kemendagri, atau nasional.")
    ],
    name: Annotated[str | None, typer.Option(help="Nama orang yang diundang.")] = None,
    phone: Annotated[str | None, typer.Option(help="Nomor HP (disimpan E.164).")] = None,
    days: Annotated[int | None, typer.Option(help="Masa berlaku (hari).")] = None,
    at: Annotated[str | None, typer.Option(help="Waktu acuan ISO (untuk uji ulang).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Satu objek JSON di stdout.")] = False,
) -> None:
    """Create a single-use invite code and print the Telegram link and WhatsApp text."""
    settings = state.settings
    if phone:
        try:
            phone = normalize_phone(phone)
        except InvalidPhone as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc

    async def _go() -> invite_service.CreatedInvite:
        db = Database(settings)
        try:
            async with db.transaction() as session:
                sc = await resolve_scope(session, scope)
                return await invite_service.create_invite(
                    session,
                    role=role,
                    scope=sc,
                    valid_days=days or settings.invite.valid_days,
                    name=name,
                    phone=phone,
                    at=clock.parse_at(at, settings.app.default_timezone),
                )
        finally:
            await db.dispose()

    try:
        created = run_async(_go())
    except ScopeNotFound as exc:
        err.print(f"[red]Cakupan tidak ditemukan: {exc}. Contoh: ksm:KSM-BJL-01, 33.22, nasional[/red]")
        raise typer.Exit(2) from exc
    except invite_service.InviteScopeMismatch as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    link = invite_service.telegram_link(settings.telegram.bot_username, created.code)
    wa_text = invite_service.whatsapp_text(created.code)
    wa_link = invite_service.whatsapp_link(settings.whatsapp.phone_number, created.code)
    if as_json:
        print(
            json.dumps(
                {
                    "code": created.code,
                    "role": created.role.value,
                    "scope": created.scope.label,
                    "name": name,
                    "expires_at": created.expires_at.isoformat(),
                    "telegram_link": link,
                    "whatsapp_text": wa_text,
                    "whatsapp_link": wa_link,
                }
            )
        )
        return
    out.print(f"Kode undangan: [bold]{created.code}[/bold] ({created.role.value}, {created.scope.label})")
    out.print(f"Berlaku sampai: {created.expires_at:%Y-%m-%d %H:%M} UTC, sekali pakai")
    out.print(f"Telegram: {link}")
    out.print(f'WhatsApp: kirim pesan "{wa_text}"' + (f" ke {wa_link}" if wa_link else ""))


if __name__ == "__main__":  # pragma: no cover
    app()
