"""The `kotaku` command: database, demo program, import, invites, chat and run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import clock, migrate
from kotaku.bootstrap import bootstrap
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


def _scope_not_found(exc: ScopeNotFound) -> typer.Exit:
    """Say that a `--scope` names nothing; the exit to raise (code 2)."""
    err.print(f"[red]Cakupan tidak ditemukan: {exc}. Contoh: ksm:KSM-BJL-01, 33.22, nasional[/red]")
    return typer.Exit(2)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def run_with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` on the database of a freshly wired program, and dispose of it."""

    async def _go() -> T:
        async with bootstrap(settings) as kotaku:
            return await work(kotaku.db)

    return run_async(_go())


def run_in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one unit of work in one transaction on a fresh engine, and dispose of it."""

    async def _go(db: Database) -> T:
        async with db.transaction() as session:
            return await work(session)

    return run_with_db(settings, _go)


def run_in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run a read on a fresh engine (a session without a transaction of its own), and dispose of it."""

    async def _go(db: Database) -> T:
        async with db.session() as session:
            return await work(session)

    return run_with_db(settings, _go)


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

    async def _create(session: AsyncSession) -> invite_service.CreatedInvite:
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

    try:
        created = run_in_transaction(settings, _create)
    except ScopeNotFound as exc:
        raise _scope_not_found(exc) from exc
    except invite_service.InviteScopeMismatch as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    link = invite_service.telegram_link(settings.telegram.bot_username, created.code)
    wa_text = invite_service.whatsapp_text(created.code)
    wa_link = invite_service.whatsapp_link(settings.whatsapp.display_number, created.code)
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


# --- import ---------------------------------------------------------------------------------------


@app.command("import")
def import_program_cmd(
    source: Annotated[
        Path, typer.Argument(help="Berkas .xlsx, atau folder berisi satu CSV per lembar (wilayah.csv, ...).")
    ],
    template: Annotated[
        bool, typer.Option("--template", help="Tulis templat kosong (dengan baris contoh) ke SOURCE.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Timpa templat yang sudah ada.")] = False,
    lang: Annotated[str, typer.Option("--lang", help="Bahasa pesan: id atau en.")] = "id",
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """Load the program structure and people from a workbook (all-or-nothing, safe to repeat)."""
    from rich.progress import Progress
    from rich.table import Table
    from rich.text import Text
    from sqlalchemy.exc import SQLAlchemyError

    from kotaku import importer
    from kotaku.importer.messages import msg, normalize_lang
    from kotaku.security import vault_from_settings

    lang = normalize_lang(lang)

    def fail(key: str, code: int, **params: Any) -> typer.Exit:
        text = msg(key, lang, **params)
        if as_json:
            print(json.dumps({"ok": False, "exit_code": code, "errors": [{"key": key, "message": text}]}))
        else:
            err.print(Text(text, style="red"))
        return typer.Exit(code)

    if template:
        try:
            written = importer.write_template(source, lang, overwrite=force)
        except FileExistsError as exc:
            raise fail("target_exists", 2, path=str(source)) from exc
        if as_json:
            print(json.dumps({"ok": True, "template": str(written)}))
        else:
            out.print(Text(msg("template_written", lang, path=str(written))))
        return

    settings = state.settings
    try:
        vault = vault_from_settings(settings)
    except ValueError as exc:
        raise fail("config_error", 2, reason=str(exc)) from exc

    big = source.is_dir() or (source.is_file() and source.stat().st_size > 512 * 1024)
    progress = Progress(console=err, transient=True) if big and not as_json and err.is_terminal else None
    tasks: dict[str, Any] = {}

    def on_progress(sheet: str, done: int, total: int) -> None:
        assert progress is not None
        if sheet not in tasks:
            tasks[sheet] = progress.add_task(msg("reading", lang, sheet=sheet), total=max(total, 1))
        progress.update(tasks[sheet], completed=done, total=max(total, done, 1))

    def _load(db: Database) -> Awaitable[importer.ImportReport]:
        return importer.import_program(
            db,
            source,
            vault=vault,
            settings=settings,
            lang=lang,
            on_progress=on_progress if progress is not None else None,
        )

    try:
        if progress is not None:
            with progress:
                report = run_with_db(settings, _load)
        else:
            report = run_with_db(settings, _load)
    except importer.ImportFailed as exc:
        code = exc.exit_code
        if as_json:
            errors = [e.to_dict() for e in exc.errors]
            print(json.dumps({"ok": False, "exit_code": code, "source": str(source), "errors": errors}))
            raise typer.Exit(code) from None
        if isinstance(exc, importer.SourceUnreadable):
            for e in exc.errors:
                err.print(Text(f"{msg('refused', lang)}: {e.message}", style="red"))
            raise typer.Exit(code) from None
        shown = exc.errors[:200]
        title = msg("errors_title", lang, count=len(exc.errors), source=str(source))
        table = Table(title=title, title_style="bold red")
        for key in ("col_sheet", "col_row", "col_column", "col_problem"):
            table.add_column(msg(key, lang), overflow="fold")
        for e in shown:
            table.add_row(e.sheet or "", str(e.row or ""), e.column or "", Text(e.message))
        err.print(table)
        if len(exc.errors) > len(shown):
            err.print(f"... +{len(exc.errors) - len(shown)}")
        raise typer.Exit(code) from None
    except SQLAlchemyError as exc:
        raise fail("database_error", 2, reason=type(exc).__name__) from None

    if as_json:
        print(json.dumps(report.to_dict()))
        return
    table = Table(title=msg("summary_title", lang, source=str(source)))
    table.add_column(msg("col_sheet", lang))
    for key in ("col_created", "col_updated", "col_unchanged", "col_deleted"):
        table.add_column(msg(key, lang), justify="right")
    for name, c in report.sheets.items():
        table.add_row(name, str(c.created), str(c.updated), str(c.unchanged), str(c.deleted))
    out.print(table)
    if not report.changed:
        out.print(Text(msg("summary_nothing", lang)))


# --- exports --------------------------------------------------------------------------------------


def _export_slug(text: str) -> str:
    """A file-name-safe piece of text: `Kelurahan Bejalen` -> `kelurahan-bejalen`."""
    out = "".join(ch.lower() if ch.isalnum() else "-" for ch in text)
    return "-".join(part for part in out.split("-") if part) or "ekspor"


@app.command("export")
def export_cmd(
    scope: Annotated[
        str | None,
        typer.Option(
            help="Cakupan: ksm:KODE, bkm:KODE, kode wilayah Kemendagri, atau nasional "
            "(bawaan: cakupan orang --as, tanpa --as: nasional)."
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--from", help="Tanggal awal YYYY-MM-DD (bawaan: awal periode pembayaran berjalan)."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="Tanggal akhir YYYY-MM-DD (bawaan: akhir periode pembayaran berjalan)."),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="xlsx, csv (zip berisi satu CSV per tabel) atau pdf.")
    ] = "xlsx",
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Berkas hasil (bawaan: kotaku-<cakupan>-<awal>-<akhir>.<format> di folder ini)."
        ),
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Bahasa judul dan kolom: id atau en.")] = "id",
    as_: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Kode orang yang mengekspor: cakupannya menjadi bawaan dan diperiksa; admin melihat NIK utuh.",
        ),
    ] = None,
    jenis: Annotated[
        str | None,
        typer.Option(
            "--jenis", help="Tabel, dipisah koma: hadir,upah,progres,kendala,foto,ringkasan (bawaan: semua)."
        ),
    ] = None,
    with_photos: Annotated[
        bool, typer.Option("--with-photos", help="Sertakan berkas foto (hasilnya satu zip).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """Export the program's papers: Daftar Hadir, Daftar Pembayaran Upah, Progres, Kendala, Foto, Ringkasan."""
    from datetime import date as date_cls

    from rich.markup import escape
    from rich.progress import Progress
    from rich.table import Table
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from kotaku import catalogue
    from kotaku import exports as ex
    from kotaku.models import Person
    from kotaku.services.scope import NATIONAL, Scope, person_timezone, scope_of
    from kotaku.services.summary import OutsideScope, labelled_scope

    settings = state.settings
    try:
        export_format = ex.ExportFormat(fmt.lower())
    except ValueError:
        err.print(f"[red]--format tidak dikenal: {fmt} (xlsx, csv, pdf)[/red]")
        raise typer.Exit(2) from None
    if lang not in catalogue.LANGUAGES:
        err.print(f"[red]--lang tidak dikenal: {lang} (id, en)[/red]")
        raise typer.Exit(2)
    try:
        kinds = (
            tuple(dict.fromkeys(ex.ExportKind(k.strip().lower()) for k in jenis.split(",") if k.strip()))
            if jenis
            else tuple(ex.ExportKind)
        )
    except ValueError:
        names = ", ".join(k.value for k in ex.ExportKind)
        err.print(f"[red]--jenis tidak dikenal: {jenis} (pilih dari: {names})[/red]")
        raise typer.Exit(2) from None
    if not kinds:
        err.print("[red]--jenis kosong: sebutkan paling sedikit satu tabel.[/red]")
        raise typer.Exit(2)
    dates: dict[str, date_cls | None] = {}
    for name, value in (("--from", start), ("--to", end)):
        try:
            dates[name] = date_cls.fromisoformat(value) if value else None
        except ValueError:
            err.print(f"[red]{name} tidak dapat dibaca: {value} (contoh: 2026-11-23)[/red]")
            raise typer.Exit(2) from None

    async def _prepare(session: AsyncSession) -> tuple[Scope, Person | None, bool, date_cls]:
        person = None
        if as_:
            person = (await session.execute(select(Person).where(Person.code == as_))).scalar_one_or_none()
            if person is None:
                raise LookupError(as_)
        if scope:
            found = await resolve_scope(session, scope)
        elif person is not None:
            found = Scope(
                ksm_id=person.scope_ksm_id, bkm_id=person.scope_bkm_id, region_id=person.scope_region_id
            )
        else:
            found = NATIONAL
        labelled = await labelled_scope(session, found)
        wanted = Scope(
            ksm_id=found.ksm_id,
            bkm_id=found.bkm_id,
            region_id=found.region_id,
            label=labelled.label,
            kind=found.kind,
        )
        unmask = False
        if person is not None:
            try:
                unmask = await ex.check_export(session, person, wanted)
            except OutsideScope as exc:
                own = await labelled_scope(session, scope_of(person))
                raise OutsideScope(f"{exc} di luar cakupan {person.name} ({own.label})") from exc
        tz = await person_timezone(session, person, settings.app.default_timezone) if person else None
        return wanted, person, unmask, clock.local_today(tz or settings.app.default_timezone)

    try:
        wanted, person, unmask, today = run_in_session(settings, _prepare)
    except ScopeNotFound as exc:
        raise _scope_not_found(exc) from exc
    except LookupError as exc:
        err.print(f"[red]Orang dengan kode {as_} tidak ditemukan (lihat `kotaku chat --list`).[/red]")
        raise typer.Exit(2) from exc
    except OutsideScope as exc:
        err.print(
            f"[red]Ditolak: {exc}. Pilih cakupan di dalam cakupan sendiri atau jalankan tanpa --scope.[/red]"
        )
        raise typer.Exit(2) from exc
    except ex.ExportNotAllowed as exc:
        err.print(
            f"[red]Ditolak: peran {catalogue.role_label(exc.role.value)} tidak boleh mengekspor data "
            "(atau orangnya tidak aktif).[/red]"
        )
        raise typer.Exit(2) from exc
    except SQLAlchemyError as exc:
        err.print(
            f"[red]basis data tidak dapat dipakai ({type(exc).__name__}); "
            "jalankan `kotaku db upgrade` lebih dulu.[/red]"
        )
        raise typer.Exit(2) from None

    first, last = dates["--from"], dates["--to"]
    if first is None and last is None:
        first, last = ex.payment_period(today, settings)
    elif first is None:
        assert last is not None
        first = ex.payment_period(last, settings)[0]
    elif last is None:
        last = ex.payment_period(first, settings)[1]
    assert first is not None and last is not None
    if last < first:
        err.print(f"[red]--to ({last}) lebih awal dari --from ({first}).[/red]")
        raise typer.Exit(2)

    suffix = {ex.ExportFormat.XLSX: ".xlsx", ex.ExportFormat.CSV: ".zip", ex.ExportFormat.PDF: ".pdf"}
    target = out_path or Path(
        f"kotaku-{_export_slug(wanted.label)}-{first.isoformat()}-{last.isoformat()}{suffix[export_format]}"
    )
    request = ex.ExportRequest(
        scope=wanted,
        start=first,
        end=last,
        fmt=export_format,
        kinds=kinds,
        lang=lang,
        person_id=person.id if person is not None else None,
        unmask_nik=unmask,
        with_photos=with_photos,
    )
    progress = Progress(console=err, transient=True) if err.is_terminal else None
    tasks: dict[str, Any] = {}

    def on_progress(table: str, done: int, total: int) -> None:
        assert progress is not None
        if table not in tasks:
            key = f"export.sheet.{table}"
            label = catalogue.t(key, lang) if catalogue.has(key) else table
            tasks[table] = progress.add_task(label, total=max(total, 1))
        progress.update(tasks[table], completed=done, total=max(total, done, 1))

    def _build(db: Database) -> Awaitable[ex.ExportResult]:
        return ex.build_export(
            db, settings, request, target, on_progress=on_progress if progress is not None else None
        )

    try:
        if progress is not None:
            with progress:
                result = run_with_db(settings, _build)
        else:
            result = run_with_db(settings, _build)
    except ModuleNotFoundError as exc:
        if exc.name != "kotaku.exports.pdf":
            raise
        err.print("[red]Format pdf belum tersedia di instalasi ini; pakai --format xlsx atau csv.[/red]")
        raise typer.Exit(2) from None
    except SQLAlchemyError as exc:
        err.print(
            f"[red]basis data tidak dapat dipakai ({type(exc).__name__}); "
            "jalankan `kotaku db upgrade` lebih dulu.[/red]"
        )
        raise typer.Exit(2) from None

    if as_json:
        doc = {
            "path": str(result.path),
            "format": export_format.value,
            "mime_type": result.mime_type,
            "scope": wanted.label,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "kinds": [k.value for k in kinds],
            "unmasked_nik": unmask,
            "rows": result.rows,
        }
        print(json.dumps(doc, ensure_ascii=False))
        return
    table = Table(title=f"Ekspor {wanted.label}, {first.isoformat()} s.d. {last.isoformat()}")
    table.add_column("tabel")
    table.add_column("baris", justify="right")
    for name, n in result.rows.items():
        table.add_row(name, str(n))
    out.print(table)
    out.print(
        f"Tersimpan: [bold]{escape(str(result.path))}[/bold]"
        + (" (NIK utuh)" if unmask else " (NIK disamarkan)"),
        soft_wrap=True,
    )


# --- alerts ---------------------------------------------------------------------------------------

alerts_app = typer.Typer(
    help="Peringatan pemantauan: daftar, tindak lanjut, eskalasi, ringkasan harian.", no_args_is_help=True
)
app.add_typer(alerts_app, name="alerts")

_ALERT_STATUSES = {"open", "acknowledged", "resolved", "active", "all"}


def _parse_at(at: str | None, settings: Settings) -> datetime | None:
    """`--at` as a moment (no zone: the default zone); None without it; exit 2 when unreadable."""
    try:
        return clock.parse_at(at, settings.app.default_timezone)
    except ValueError as exc:
        err.print(f"[red]--at tidak dapat dibaca: {at} (contoh: 2021-12-02T16:00)[/red]")
        raise typer.Exit(2) from exc


def _alert_at(at: str | None, settings: Settings) -> datetime:
    return _parse_at(at, settings) or clock.now()


def _alert_dict(a: Any, ksm_names: dict[int, str], lang: str) -> dict[str, Any]:
    from kotaku.monitoring import lifecycle

    return {
        "id": a.id,
        "kind": a.kind,
        "severity": a.severity.value,
        "status": a.status.value,
        "subject_type": a.subject_type,
        "subject_id": a.subject_id,
        "ksm_id": a.ksm_id,
        "ksm": ksm_names.get(a.ksm_id) if a.ksm_id else None,
        "region_id": a.region_id,
        "dedup_key": a.dedup_key,
        "text": lifecycle.alert_text(a, lang),
        "figures": lifecycle.public_figures(a),
        "opened_at": a.opened_at.isoformat(),
        "updated_at": a.updated_at.isoformat(),
        "acknowledged_by_id": a.acknowledged_by_id,
        "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None,
        "ack_note": a.ack_note,
        "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
        "resolved_by_id": a.resolved_by_id,
        "resolve_note": a.resolve_note,
        "escalation_level": a.escalation_level,
        "escalated_at": a.escalated_at.isoformat() if a.escalated_at else None,
    }


@alerts_app.command("list")
def alerts_list(
    scope: Annotated[
        str, typer.Option(help="Cakupan: ksm:KODE, bkm:KODE, kode wilayah Kemendagri, atau nasional.")
    ] = "nasional",
    status: Annotated[
        str, typer.Option(help="open, acknowledged, resolved, active (open+acknowledged) atau all.")
    ] = "active",
    lang: Annotated[str, typer.Option("--lang", help="Bahasa teks peringatan: id atau en.")] = "id",
    limit: Annotated[int, typer.Option(help="Paling banyak sekian baris.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """List alerts in a scope, most severe and newest first."""
    from rich.table import Table

    from kotaku.models import AlertStatus
    from kotaku.monitoring import lifecycle

    settings = state.settings
    if status not in _ALERT_STATUSES:
        err.print(f"[red]--status {status}: pilih salah satu dari {', '.join(sorted(_ALERT_STATUSES))}[/red]")
        raise typer.Exit(2)
    statuses = {
        "active": [AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED],
        "all": list(AlertStatus),
    }.get(status, [AlertStatus(status)] if status in {s.value for s in AlertStatus} else [])

    async def _list(session: AsyncSession) -> lifecycle.AlertPage:
        sc = await resolve_scope(session, scope)
        return await lifecycle.list_alerts(session, sc, statuses=statuses, limit=limit)

    try:
        page = run_in_session(settings, _list)
    except ScopeNotFound as exc:
        raise _scope_not_found(exc) from exc
    rows = [_alert_dict(a, page.ksm_names, lang) for a in page.alerts]
    if as_json:
        print(json.dumps({"total": page.total, "alerts": rows}, ensure_ascii=False))
        return
    table = Table(title=f"Peringatan ({status}): {page.total}")
    for col in ("id", "tingkat", "status", "jenis", "KSM", "dibuka (UTC)", "esk.", "keterangan"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["severity"],
            r["status"],
            r["kind"],
            r["ksm"] or "-",
            r["opened_at"][:16],
            str(r["escalation_level"]),
            r["text"],
        )
    out.print(table)


def _alert_action(alert_id: int, person_code: str, note: str | None, at: str | None, resolve: bool) -> None:
    from sqlalchemy import select

    from kotaku.models import Person
    from kotaku.monitoring import lifecycle

    settings = state.settings
    when = _alert_at(at, settings)

    async def _act(session: AsyncSession) -> Any:
        person = (
            await session.execute(select(Person).where(Person.code == person_code))
        ).scalar_one_or_none()
        if person is None:
            raise LookupError(person_code)
        if resolve:
            return await lifecycle.resolve_by_hand(session, alert_id, person, note or "", when)
        return await lifecycle.acknowledge(session, alert_id, person, note, when)

    try:
        alert = run_in_transaction(settings, _act)
    except LookupError as exc:
        err.print(
            f"[red]Orang dengan kode {person_code} tidak ditemukan (lihat `kotaku chat` untuk kode).[/red]"
        )
        raise typer.Exit(2) from exc
    except lifecycle.AlertError as exc:
        err.print(f"[red]Ditolak: {exc}[/red]")
        raise typer.Exit(1) from exc
    out.print(f"peringatan #{alert.id}: {alert.status.value}")


@alerts_app.command("ack")
def alerts_ack(
    alert_id: Annotated[int, typer.Argument(help="Nomor peringatan.")],
    as_: Annotated[str, typer.Option("--as", help="Kode orang yang menindaklanjuti.")],
    note: Annotated[str | None, typer.Option(help="Catatan tindak lanjut.")] = None,
    at: Annotated[str | None, typer.Option(help="Waktu acuan ISO (untuk uji ulang).")] = None,
) -> None:
    """Acknowledge an open alert as a person (scope checked)."""
    _alert_action(alert_id, as_, note, at, resolve=False)


@alerts_app.command("resolve")
def alerts_resolve(
    alert_id: Annotated[int, typer.Argument(help="Nomor peringatan.")],
    as_: Annotated[str, typer.Option("--as", help="Kode orang yang menutup.")],
    note: Annotated[str, typer.Option(help="Catatan penutupan (wajib).")],
    at: Annotated[str | None, typer.Option(help="Waktu acuan ISO (untuk uji ulang).")] = None,
) -> None:
    """Resolve an alert by hand with a note (scope checked)."""
    _alert_action(alert_id, as_, note, at, resolve=True)


@alerts_app.command("escalate")
def alerts_escalate(
    at: Annotated[str | None, typer.Option(help="Waktu acuan ISO (untuk uji ulang).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """Escalate unacknowledged critical alerts older than monitoring.escalate_after_hours one level up."""
    from kotaku.monitoring import lifecycle

    settings = state.settings
    when = _alert_at(at, settings)

    async def _escalate(session: AsyncSession) -> list[tuple[int, int]]:
        return [(a.id, a.escalation_level) for a in await lifecycle.escalate_due(session, settings, when)]

    done = run_in_transaction(settings, _escalate)
    if as_json:
        print(json.dumps({"escalated": [{"id": i, "level": lvl} for i, lvl in done]}))
        return
    out.print(f"{len(done)} peringatan dinaikkan" + "".join(f"\n  #{i} -> level {lvl}" for i, lvl in done))


@alerts_app.command("digest")
def alerts_digest(
    at: Annotated[str | None, typer.Option(help="Waktu acuan ISO (untuk uji ulang).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """Queue today's digest of warnings for every recipient past monitoring.digest_time (safe to repeat)."""
    from kotaku.monitoring import lifecycle

    settings = state.settings
    when = _alert_at(at, settings)

    queued = run_in_transaction(settings, lambda session: lifecycle.queue_digest(session, settings, when))
    if as_json:
        print(json.dumps({"queued": queued}))
        return
    out.print(f"{queued} pesan ringkasan diantrekan")


@alerts_app.command("evaluate")
def alerts_evaluate(
    at: Annotated[str | None, typer.Option(help="Waktu acuan ISO (bawaan: sekarang).")] = None,
    scope: Annotated[
        str, typer.Option(help="Cakupan: ksm:KODE, bkm:KODE, kode wilayah Kemendagri, atau nasional.")
    ] = "nasional",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Hanya tampilkan temuan; peringatan tidak diubah.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """Run every monitoring check (full sweep, or one scope) and open, update or resolve the alerts."""
    import time as _time

    from rich.table import Table

    from kotaku import catalogue
    from kotaku.monitoring import evaluate as evaluation
    from kotaku.services.scope import ksm_ids_in_scope

    settings = state.settings
    when = _alert_at(at, settings)

    async def _sweep(db: Database) -> tuple[list[Any], dict[str, Any] | None, float]:
        started = _time.perf_counter()
        async with db.session() as session:
            sc = await resolve_scope(session, scope)
            ksm_ids = None if sc.kind == "nasional" else await ksm_ids_in_scope(session, sc)
        if dry_run:
            async with db.session() as session:
                found = await evaluation.evaluate(session, settings, when, ksm_ids)
            return found, None, _time.perf_counter() - started
        result = await evaluation.evaluate_and_apply(db, settings, when, ksm_ids)
        return result.findings, result.applied.to_dict(), _time.perf_counter() - started

    try:
        findings, applied, seconds = run_with_db(settings, _sweep)
    except ScopeNotFound as exc:
        raise _scope_not_found(exc) from exc
    by_kind: dict[str, int] = {}
    for f in findings:
        by_kind[f.kind] = by_kind.get(f.kind, 0) + 1
    if as_json:
        doc = {
            "at": when.isoformat(),
            "scope": scope,
            "findings": len(findings),
            "by_kind": dict(sorted(by_kind.items())),
            "alerts": applied,
            "seconds": round(seconds, 3),
            "items": [
                {
                    "kind": f.kind,
                    "severity": f.severity.value,
                    "subject_type": f.subject_type,
                    "subject_id": f.subject_id,
                    "ksm_id": f.ksm_id,
                    "figures": f.figures,
                    "text": catalogue.t(f.message_key, settings.app.language, **f.params),
                }
                for f in findings
            ],
        }
        print(json.dumps(doc, ensure_ascii=False))
        return
    table = Table(title=f"Temuan pemantauan {when.isoformat()} ({scope}): {len(findings)}")
    table.add_column("jenis")
    table.add_column("jumlah", justify="right")
    for kind, n in sorted(by_kind.items()):
        table.add_row(kind, str(n))
    out.print(table)
    if applied is not None:
        out.print(
            f"peringatan: {applied['opened']} baru, {applied['updated']} diperbarui, "
            f"{applied['resolved']} selesai otomatis, {applied['unchanged']} tetap; "
            f"{applied['queued']} pesan diantrekan ({seconds:.2f} s)"
        )


# --- demo -----------------------------------------------------------------------------------------


@app.command("demo")
def demo_cmd(
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Muat demo hanya bila basis data kosong (selain itu keluar 0).")
    ] = False,
    reset: Annotated[
        bool, typer.Option("--reset", help="Hapus SEMUA data program dulu, lalu muat demo (perlu --yes).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Konfirmasi --reset.")] = False,
    at: Annotated[
        str | None, typer.Option(help="Waktu acuan ISO: demo disusun untuk hari itu (bawaan: sekarang).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """Load a live demo program (Ambarawa, Kabupaten Semarang, plus one WITA site) with 3 weeks of reports."""
    from sqlalchemy.exc import SQLAlchemyError

    from kotaku import demo
    from kotaku.security import vault_from_settings

    settings = state.settings
    if reset and not yes:
        err.print("[red]--reset menghapus semua data program; ulangi dengan --reset --yes untuk yakin.[/red]")
        raise typer.Exit(2)
    when = _parse_at(at, settings)
    try:
        vault = vault_from_settings(settings)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc

    async def _seed(db: Database) -> demo.DemoSummary | None:
        if if_empty and not reset and not await demo.is_empty(db):
            return None
        return await demo.seed_demo(db, settings, at=when, reset=reset, vault=vault)

    try:
        summary = run_with_db(settings, _seed)
    except demo.DemoNotEmpty as exc:
        if as_json:
            print(json.dumps({"seeded": False, "reason": "not_empty", "message": str(exc)}))
        else:
            err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    except SQLAlchemyError as exc:
        err.print(
            f"[red]basis data tidak dapat dipakai ({type(exc).__name__}); "
            "jalankan `kotaku db upgrade` lebih dulu.[/red]"
        )
        raise typer.Exit(2) from None

    if summary is None:
        if as_json:
            print(json.dumps({"seeded": False, "reason": "not_empty"}))
        else:
            out.print("Basis data sudah berisi data program; demo tidak dimuat.")
        return
    if as_json:
        print(json.dumps({"seeded": True, **summary.to_dict()}, ensure_ascii=False))
        return
    summary.render(out)
    out.print("Coba: [bold]kotaku chat --as ketua-bejalen[/bold] (atau kode lain di tabel Pengguna).")


# --- reminders and the outbox ---------------------------------------------------------------------

reminders_app = typer.Typer(
    help="Pengingat: rencana per hari dan menjalankan yang jatuh tempo.", no_args_is_help=True
)
app.add_typer(reminders_app, name="reminders")
outbox_app = typer.Typer(
    help="Kotak keluar (outbox): daftar, kirim ulang yang gagal, bersihkan.", no_args_is_help=True
)
app.add_typer(outbox_app, name="outbox")


@reminders_app.command("plan")
def reminders_plan(
    day: Annotated[
        str | None, typer.Option("--date", help="Tanggal setempat YYYY-MM-DD (bawaan: hari ini).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """Show what goes out when on a local date: every reminder, digest, escalation check and weekly summary."""
    from datetime import date as date_cls

    from rich.table import Table

    from kotaku.reminders.service import plan_day

    settings = state.settings
    try:
        when = date_cls.fromisoformat(day) if day else clock.local_today(settings.app.default_timezone)
    except ValueError as exc:
        err.print(f"[red]--date tidak dapat dibaca: {day} (contoh: 2026-12-22)[/red]")
        raise typer.Exit(2) from exc

    slots, skipped = run_in_session(settings, lambda s: plan_day(s, settings, when))
    if as_json:
        doc = {
            "date": when.isoformat(),
            "slots": [
                {
                    "kind": s.kind,
                    "local_time": s.local_time.strftime("%H:%M"),
                    "timezone": s.timezone,
                    "at": s.at.isoformat(),
                    "target": s.target,
                    "ksm_id": s.ksm_id,
                    "person_id": s.person_id,
                }
                for s in slots
            ],
            "skipped": [{"timezone": tz, "what": what, "reason": why} for tz, what, why in skipped],
        }
        print(json.dumps(doc, ensure_ascii=False))
        return
    table = Table(title=f"Pengingat {when.isoformat()}")
    for col in ("UTC", "setempat", "zona", "jenis", "untuk"):
        table.add_column(col)
    for s in slots:
        table.add_row(s.at.strftime("%H:%M"), s.local_time.strftime("%H:%M"), s.timezone, s.kind, s.target)
    out.print(table)
    for tz, what, why in skipped:
        out.print(f"dilewati {tz} {what}: {why}")


@reminders_app.command("run")
def reminders_run(
    at: Annotated[
        str, typer.Option("--at", help="Waktu ISO (mis. 2026-12-22T15:00, zona bawaan bila tanpa zona).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """Queue what is due at that moment (a replay); already queued messages are not queued again."""
    from kotaku.reminders.service import run_due

    settings = state.settings
    try:
        when = clock.parse_at(at, settings.app.default_timezone)
    except ValueError as exc:
        err.print(f"[red]--at tidak dapat dibaca: {at}[/red]")
        raise typer.Exit(2) from exc
    assert when is not None

    report = run_in_transaction(settings, lambda s: run_due(s, settings, when))
    if as_json:
        print(json.dumps(report.as_dict()))
        return
    queued = report.as_dict()["queued"]
    out.print(
        f"{when.isoformat()}: "
        + (", ".join(f"{k} {v}" for k, v in queued.items()) or "tidak ada yang jatuh tempo")
    )


def _outbox_row(m: Any) -> dict[str, Any]:
    return {
        "id": m.id,
        "kind": m.kind,
        "channel": m.channel.value,
        "recipient": m.recipient,
        "priority": m.priority,
        "status": m.status.value,
        "attempts": m.attempts,
        "next_attempt_at": m.next_attempt_at.isoformat(),
        "sent_at": m.sent_at.isoformat() if m.sent_at else None,
        "last_error": m.last_error,
        "text": str(m.payload.get("text", ""))[:200],
    }


@outbox_app.command("list")
def outbox_list(
    status: Annotated[str | None, typer.Option(help="pending, sending, sent, failed.")] = None,
    kind: Annotated[
        str | None, typer.Option(help="reminder, digest, escalation, weekly_summary, obstacle ...")
    ] = None,
    limit: Annotated[int, typer.Option(help="Paling banyak sekian baris (terbaru dulu).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """List outbox messages (newest first) with the count per status."""
    from rich.table import Table

    from kotaku.models import OutboxStatus
    from kotaku.notify import admin

    settings = state.settings
    try:
        wanted = OutboxStatus(status) if status else None
    except ValueError as exc:
        err.print(f"[red]status tidak dikenal: {status}[/red]")
        raise typer.Exit(2) from exc

    async def _read(s: AsyncSession) -> tuple[dict[str, int], list[dict[str, Any]]]:
        totals = await admin.counts(s)
        messages = await admin.list_messages(s, status=wanted, kind=kind, limit=limit)
        return totals, [_outbox_row(m) for m in messages]

    totals, rows = run_in_session(settings, _read)
    if as_json:
        print(json.dumps({"counts": totals, "messages": rows}, ensure_ascii=False))
        return
    out.print(", ".join(f"{k}: {v}" for k, v in totals.items()))
    table = Table()
    for col in ("id", "jenis", "kanal", "penerima", "status", "coba", "galat", "teks"):
        table.add_column(col, no_wrap=col == "teks", overflow="ellipsis")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["kind"],
            r["channel"],
            r["recipient"],
            r["status"],
            str(r["attempts"]),
            r["last_error"] or "",
            r["text"][:60],
        )
    out.print(table)


@outbox_app.command("retry")
def outbox_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Id pesan; tanpa id: semua yang gagal.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """Put failed messages back in the queue (attempts reset)."""
    from kotaku.notify import admin

    settings = state.settings

    n = run_in_transaction(settings, lambda s: admin.retry(s, clock.now(), ids or ()))
    if as_json:
        print(json.dumps({"requeued": n}))
        return
    out.print(f"{n} pesan diantrekan ulang")


@outbox_app.command("purge")
def outbox_purge(
    older_than_days: Annotated[int | None, typer.Option(help="Bawaan: delivery.purge_after_days.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """Delete sent and failed messages older than N days (pending ones are never purged)."""
    from kotaku.notify import admin

    settings = state.settings
    days = older_than_days if older_than_days is not None else settings.delivery.purge_after_days

    n = run_in_transaction(settings, lambda s: admin.purge(s, clock.now(), days))
    if as_json:
        print(json.dumps({"purged": n, "older_than_days": days}))
        return
    out.print(f"{n} pesan dihapus (lebih lama dari {days} hari)")


# --- WhatsApp ----------------------------------------------------------------------------------------

whatsapp_app = typer.Typer(
    help="WhatsApp: templat pesan (di luar jendela 24 jam) yang didaftarkan ke Meta.", no_args_is_help=True
)
app.add_typer(whatsapp_app, name="whatsapp")


@whatsapp_app.command("templates")
def whatsapp_templates(
    lang: Annotated[str, typer.Option("--lang", help="id, en, atau all (bawaan: all).")] = "all",
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """Print the message templates to register with Meta (category UTILITY), from `whatsapp.templates`."""
    from rich.markup import escape

    from kotaku.catalogue import LANGUAGES
    from kotaku.notify.templates import DEFAULT_TEMPLATE, template_texts

    if lang != "all" and lang not in LANGUAGES:
        err.print(f"[red]--lang tidak dikenal: {lang} (id, en, all)[/red]")
        raise typer.Exit(2)
    settings = state.settings
    texts = [
        t
        for code in (LANGUAGES if lang == "all" else (lang,))
        for t in template_texts(settings.whatsapp.templates, code)
    ]
    if as_json:
        doc = {"window_hours": settings.whatsapp.window_hours, "templates": [t.as_dict() for t in texts]}
        print(json.dumps(doc, ensure_ascii=False))
        return
    if not texts:
        out.print(f"Tidak ada templat ({lang}) di whatsapp.templates: di luar jendela 24 jam pesan ditahan.")
        return
    for t in texts:
        kinds = ", ".join(f"{k} (jenis lain)" if k == DEFAULT_TEMPLATE else k for k in t.kinds)
        params = ", ".join(f"{{{{{i}}}}} = {f}" for i, f in enumerate(t.params, start=1)) or "-"
        out.print(
            f"[bold]{escape(t.name)}[/bold]  kategori {t.category}  bahasa {escape(t.language)} ({t.lang})"
        )
        out.print(f"dipakai untuk: {kinds}", markup=False, soft_wrap=True)
        out.print(f"parameter: {params}", markup=False, soft_wrap=True)
        for label, text in (("isi", t.body), ("contoh", t.example)):
            out.print(f"{label}:")
            for line in (text or "(tidak ada teks di katalog)").splitlines():
                out.print(f"    {line}" if line else "", markup=False, highlight=False, soft_wrap=True)
        for problem in t.problems:
            out.print(f"[yellow]masalah: {escape(problem)}[/yellow]", soft_wrap=True)
        out.print()


if __name__ == "__main__":  # pragma: no cover
    app()
