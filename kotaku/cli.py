"""The `kotaku` command: database, demo program, import, invites, chat and run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from typer.core import TyperGroup

from kotaku import catalogue, clock, migrate
from kotaku.bootstrap import bootstrap
from kotaku.config import ConfigError, Settings, load_settings
from kotaku.db import Database
from kotaku.i18n import fmt_date
from kotaku.logs import configure_logging
from kotaku.models import Role
from kotaku.security import InvalidPhone, generate_key, normalize_phone, numbers_were_hidden
from kotaku.services import invites as invite_service
from kotaku.services.access import Action, log_refusal
from kotaku.services.scope import ScopeNotFound, resolve_scope, zone_abbreviation

T = TypeVar("T")


class _Commands(TyperGroup):
    """The `kotaku` command group: a command that fails on something unforeseen says so in one line, in the
    configured language, and exits 1 (2 when the database is not migrated) instead of a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # exits, usage errors: typer's own
            raise
        except BrokenPipeError:  # the reader went away (`| head`): nothing left to say to anyone
            raise typer.Exit(1) from None
        except Exception as exc:
            if state.log_level.upper() == "DEBUG":
                err.print_exception()
            raise _unexpected(exc) from exc


app = typer.Typer(
    cls=_Commands,
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
    log_level: str = "WARNING"
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
            except ConfigError as exc:
                err.print(str(exc), style="red", markup=False, highlight=False)
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
    state.log_level = log_level
    state._settings = None
    configure_logging(log_level)


# --- what a person reads: the catalogue, in the configured language and local time ------------------


def _lang() -> str:
    """`app.language` once the settings are read (Indonesian before that)."""
    return state._settings.app.language if state._settings is not None else catalogue.DEFAULT_LANG


def _t(key: str, **params: Any) -> str:
    return catalogue.t(key, _lang(), **params)


def _say(key: str, **params: Any) -> None:
    out.print(_t(key, **params), markup=False, highlight=False, soft_wrap=True)


def _fail(key: str, status: int = 2, /, **params: Any) -> typer.Exit:
    """Say what went wrong (stderr, red); the exit (with `status`) to raise."""
    err.print(_t(key, **params), style="red", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(status)


def _unexpected(exc: Exception) -> typer.Exit:
    """The one-line report of an error no command expected, and its exit (2: not migrated, else 1)."""
    reason = (str(exc).strip().splitlines() or [""])[0][:300]
    if isinstance(exc, SQLAlchemyError):
        text = str(getattr(exc, "orig", None) or exc).lower()
        if "no such table" in text or ("relation" in text and "does not exist" in text):
            return _fail("cli.not_migrated", 2)
        return _fail("cli.database_error", 1, error=type(exc).__name__, reason=reason)
    return _fail("cli.failed", 1, error=type(exc).__name__, reason=reason)


def _local_time(at: datetime) -> str:
    """A moment as people read it, in `app.default_timezone`: `7 Maret 2026 pukul 08.00 WIB`."""
    tz = state.settings.app.default_timezone
    local = at.astimezone(ZoneInfo(tz))
    clock_time = f"{local:%H.%M}" if _lang() == "id" else f"{local:%H:%M}"
    return _t("cli.moment", date=fmt_date(local.date(), _lang()), time=clock_time, zone=zone_abbreviation(tz))


class _Refused(Exception):
    """Raised inside a unit of work to end it with a catalogue sentence (key and parameters)."""

    def __init__(self, key: str, /, **params: Any) -> None:
        super().__init__(key)
        self.key, self.params = key, params


def _scope_not_found(exc: ScopeNotFound) -> typer.Exit:
    """Say that a `--scope` names nothing; the exit to raise (code 2)."""
    return _fail("cli.scope_not_found", 2, scope=str(exc))


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


def _migrate(step: Callable[[Settings, str], None], revision: str) -> None:
    """Run one Alembic step; a refusal or a failure is said in one line (the step is one transaction, so a
    failed one leaves the database as it was) and exits non-zero."""
    from alembic.util import CommandError

    settings = state.settings
    try:
        step(settings, revision)
    except CommandError as exc:
        raise _fail("cli.db.bad_revision", 2, revision=revision, reason=str(exc)) from exc
    except Exception as exc:
        reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0][:300]
        raise _fail("cli.db.failed", 1, error=type(exc).__name__, reason=reason) from exc
    _say("cli.db.at", revision=migrate.current_revision(settings) or _t("cli.db.base"))


@db_app.command("upgrade", context_settings={"ignore_unknown_options": True})
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database to the newest schema (or REVISION)."""
    _migrate(migrate.upgrade, revision)


@db_app.command("downgrade", context_settings={"ignore_unknown_options": True})
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")] = "-1",
) -> None:
    """Step the schema back (default one revision); the data of dropped tables is lost."""
    _migrate(migrate.downgrade, revision)


@db_app.command("current")
def db_current(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the database's revision and the newest one."""
    current, head = migrate.current_revision(state.settings), migrate.head_revision()
    if as_json:
        print(json.dumps({"current": current, "head": head, "up_to_date": current == head}))
        return
    _say("cli.db.current", current=current or _t("cli.db.base"), head=head or "-")
    if current != head:
        _say("cli.db.run_upgrade")


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
    as_: Annotated[
        str | None,
        typer.Option(
            "--as", help="Kode orang yang mengundang: peran dan cakupannya diperiksa (bawaan: operator)."
        ),
    ] = None,
) -> None:
    """Create a single-use invite code and print the Telegram link and WhatsApp text."""
    from sqlalchemy import select

    from kotaku.models import Person
    from kotaku.services.summary import labelled_scope

    settings = state.settings
    if phone:
        try:
            phone = normalize_phone(phone)
        except InvalidPhone as exc:
            raise _fail("cli.invite.bad_phone", 2, phone=phone) from exc
    try:
        when = clock.parse_at(at, settings.app.default_timezone)
    except ValueError as exc:
        raise _fail("cli.bad_at", 2, value=at) from exc

    inviter_name = ""

    async def _create(session: AsyncSession) -> tuple[invite_service.CreatedInvite, str]:
        nonlocal inviter_name
        inviter = None
        if as_:
            inviter = (await session.execute(select(Person).where(Person.code == as_))).scalar_one_or_none()
            if inviter is None:
                raise LookupError(as_)
            inviter_name = inviter.name
            sc = await invite_service.check_inviter(session, inviter, role, scope)
        else:
            sc = await resolve_scope(session, scope)
        created = await invite_service.create_invite(
            session,
            role=role,
            scope=sc,
            valid_days=days or settings.invite.valid_days,
            name=name,
            phone=phone,
            created_by_id=inviter.id if inviter is not None else None,
            at=when,
        )
        return created, (await labelled_scope(session, sc)).label

    try:
        created, scope_label = run_in_transaction(settings, _create)
    except ScopeNotFound as exc:
        raise _scope_not_found(exc) from exc
    except LookupError as exc:
        raise _fail("cli.person_not_found", 2, code=as_ or "") from exc
    except invite_service.InviteNotAllowed as exc:
        raise _fail(
            invite_service.REFUSAL_KEYS[exc.reason],
            1,
            role=catalogue.role_label(exc.role.value, _lang()),
            invited=catalogue.role_label(role.value, _lang()),
            name=inviter_name,
            scope=exc.scope,
        ) from exc
    except invite_service.InviteScopeMismatch as exc:
        from kotaku.services.scope import ROLE_SCOPES

        raise _fail(
            "cli.invite.scope_mismatch",
            2,
            role=catalogue.role_label(role.value, _lang()),
            code=role.value,
            scope=scope,
            allowed=", ".join(ROLE_SCOPES[role]),
        ) from exc
    link = invite_service.telegram_link(settings.telegram.bot_username, created.code)
    wa_text = invite_service.whatsapp_text(created.code)
    wa_link = invite_service.whatsapp_link(settings.whatsapp.display_number, created.code)
    if as_json:
        print(
            json.dumps(
                {
                    "code": created.code,
                    "role": created.role.value,
                    "scope": scope_label,
                    "name": name,
                    "expires_at": created.expires_at.isoformat(),
                    "telegram_link": link,
                    "whatsapp_text": wa_text,
                    "whatsapp_link": wa_link,
                }
            )
        )
        return
    if created.scope.is_national:
        scope_label = _t("people.scope_national")
    _say(
        "cli.invite.created",
        code=created.code,
        role=catalogue.role_label(created.role.value, _lang()),
        scope=scope_label,
    )
    _say("cli.invite.expires", at=_local_time(created.expires_at))
    _say("cli.invite.telegram", link=link)
    _say("cli.invite.whatsapp_link" if wa_link else "cli.invite.whatsapp", text=wa_text, link=wa_link or "")


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
    lang: Annotated[
        str | None, typer.Option("--lang", help="Bahasa pesan: id atau en (bawaan: app.language).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """Load the program structure and people from a workbook (all-or-nothing, safe to repeat)."""
    from rich.progress import Progress
    from rich.table import Table
    from rich.text import Text

    from kotaku import importer
    from kotaku.importer.messages import msg, normalize_lang
    from kotaku.security import vault_from_settings

    lang = normalize_lang(lang or state.settings.app.language)

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
    lang: Annotated[
        str | None, typer.Option("--lang", help="Bahasa judul dan kolom: id atau en (bawaan: app.language).")
    ] = None,
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

    from rich.progress import Progress
    from rich.table import Table
    from sqlalchemy import select

    from kotaku import exports as ex
    from kotaku.models import Person
    from kotaku.services.scope import NATIONAL, Scope, person_timezone, scope_of
    from kotaku.services.summary import OutsideScope, labelled_scope

    settings = state.settings
    lang = lang or settings.app.language
    try:
        export_format = ex.ExportFormat(fmt.lower())
    except ValueError:
        raise _fail("cli.unknown_option", 2, option="--format", value=fmt, known="xlsx, csv, pdf") from None
    if lang not in catalogue.LANGUAGES:
        raise _fail("cli.unknown_option", 2, option="--lang", value=lang, known="id, en")
    try:
        kinds = (
            tuple(dict.fromkeys(ex.ExportKind(k.strip().lower()) for k in jenis.split(",") if k.strip()))
            if jenis
            else tuple(ex.ExportKind)
        )
    except ValueError:
        names = ", ".join(k.value for k in ex.ExportKind)
        raise _fail("cli.unknown_option", 2, option="--jenis", value=jenis, known=names) from None
    if not kinds:
        raise _fail("cli.export.no_kinds", 2)
    dates: dict[str, date_cls | None] = {}
    for name, value in (("--from", start), ("--to", end)):
        try:
            dates[name] = date_cls.fromisoformat(value) if value else None
        except ValueError:
            raise _fail("cli.bad_date", 2, option=name, value=value) from None

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
            except ex.ExportNotAllowed:
                log_refusal(person, Action.EXPORT, "role")
                raise
            except OutsideScope as exc:
                log_refusal(person, Action.EXPORT, "outside_scope", scope=str(exc))
                own = await labelled_scope(session, scope_of(person))
                raise _Refused(
                    "cli.export.outside_scope", scope=str(exc), name=person.name, own=own.label
                ) from exc
        tz = await person_timezone(session, person, settings.app.default_timezone) if person else None
        return wanted, person, unmask, clock.local_today(tz or settings.app.default_timezone)

    try:
        wanted, person, unmask, today = run_in_session(settings, _prepare)
    except ScopeNotFound as exc:
        raise _scope_not_found(exc) from exc
    except LookupError as exc:
        raise _fail("cli.person_not_found", 2, code=as_) from exc
    except _Refused as exc:
        raise _fail(exc.key, 2, **exc.params) from exc
    except ex.ExportNotAllowed as exc:
        raise _fail("cli.export.not_allowed", 2, role=catalogue.role_label(exc.role.value, _lang())) from exc
    except SQLAlchemyError as exc:
        raise _fail("cli.database_unusable", 2, error=type(exc).__name__) from None

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
        raise _fail("cli.export.backwards", 2, start=first.isoformat(), end=last.isoformat())

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
        raise _fail("cli.export.no_pdf", 2) from None
    except SQLAlchemyError as exc:
        raise _fail("cli.database_unusable", 2, error=type(exc).__name__) from None

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
    table = Table(
        title=_t(
            "cli.export.title",
            scope=wanted.label,
            start=fmt_date(first, _lang()),
            end=fmt_date(last, _lang()),
        )
    )
    table.add_column(_t("cli.export.col_table"))
    table.add_column(_t("cli.export.col_rows"), justify="right")
    for name, n in result.rows.items():
        key = f"export.sheet.{name}"
        table.add_row(catalogue.t(key, _lang()) if catalogue.has(key) else name, str(n))
    out.print(table)
    _say("cli.export.saved_unmasked" if unmask else "cli.export.saved", path=str(result.path))


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
        raise _fail("cli.bad_at", 2, value=at) from exc


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
    lang: Annotated[
        str | None, typer.Option("--lang", help="Bahasa teks peringatan: id atau en (bawaan: app.language).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Paling banyak sekian baris.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """List alerts in a scope, most severe and newest first."""
    from rich.table import Table

    from kotaku.models import AlertStatus
    from kotaku.monitoring import lifecycle

    settings = state.settings
    if status not in _ALERT_STATUSES:
        raise _fail(
            "cli.unknown_option", 2, option="--status", value=status, known=", ".join(sorted(_ALERT_STATUSES))
        )
    lang = lang or settings.app.language
    if lang not in catalogue.LANGUAGES:
        raise _fail("cli.unknown_option", 2, option="--lang", value=lang, known="id, en")
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
    zone = zone_abbreviation(settings.app.default_timezone)
    table = Table(title=catalogue.t("cli.alert.list_title", lang, status=status, n=page.total))
    for col in ("id", "severity", "status", "kind", "ksm", "opened", "level", "text"):
        table.add_column(catalogue.t(f"cli.alert.col.{col}", lang, zone=zone), overflow="fold")
    for a, r in zip(page.alerts, rows, strict=True):
        table.add_row(
            str(r["id"]),
            lifecycle.severity_label(a.severity, lang),
            catalogue.t(f"cli.alert.status.{a.status.value}", lang),
            _kind_label(a.kind, lang, with_id=False),
            r["ksm"] or "-",
            a.opened_at.astimezone(ZoneInfo(settings.app.default_timezone)).strftime("%Y-%m-%d %H:%M"),
            str(r["escalation_level"]),
            r["text"],
        )
    out.print(table)


def _kind_label(kind: str, lang: str, *, with_id: bool = True) -> str:
    """A check's name for people (`kritis`), with its id for `monitoring.disabled_checks` (`critical`)."""
    key = f"alert.kind.{kind}"
    if not catalogue.has(key):
        return kind
    label = catalogue.t(key, lang)
    return catalogue.t("cli.alert.kind", lang, label=label, kind=kind) if with_id else label


def _alert_action(alert_id: int, person_code: str, note: str | None, at: str | None, resolve: bool) -> None:
    from sqlalchemy import select

    from kotaku.models import Ksm, Person
    from kotaku.monitoring import lifecycle

    settings = state.settings
    when = _alert_at(at, settings)
    hidden: list[bool] = []  # whether the note was stored with a NIK or phone number masked

    async def _ksm_name(session: AsyncSession, ksm_id: int | None) -> str:
        ksm = await session.get(Ksm, ksm_id) if ksm_id is not None else None
        return ksm.name if ksm is not None else "-"

    async def _refusal(session: AsyncSession, exc: lifecycle.AlertError, person: Person) -> _Refused:
        lang = _lang()
        if isinstance(exc, lifecycle.AlertNotFound):
            return _Refused("cli.alert.not_found", id=exc.alert_id)
        if isinstance(exc, lifecycle.AlertNotAllowed):
            log_refusal(person, Action.ALERT, "role", alert=alert_id)
            return _Refused("cli.alert.not_allowed", role=catalogue.role_label(exc.role.value, lang))
        if isinstance(exc, lifecycle.NoteRequired):
            return _Refused("cli.alert.note_required")
        if isinstance(exc, lifecycle.AlertOutsideScope):
            log_refusal(person, Action.ALERT, "outside_scope", alert=alert_id)
            ksm = await _ksm_name(session, exc.alert.ksm_id)
            return _Refused("cli.alert.outside_scope", id=exc.alert.id, ksm=ksm, name=person.name)
        if isinstance(exc, lifecycle.AlertAlreadyAcknowledged):
            a = exc.alert
            at = _local_time(a.acknowledged_at) if a.acknowledged_at else "-"
            return _Refused("cli.alert.already_acked", id=a.id, name=exc.by_name, at=at)
        if isinstance(exc, lifecycle.AlertAlreadyResolved):
            a = exc.alert
            by = await session.get(Person, a.resolved_by_id) if a.resolved_by_id else None
            how = (
                catalogue.t("peringatan.resolved_by", lang, name=by.name)
                if by is not None
                else catalogue.t("peringatan.resolved_auto", lang)
            )
            at = _local_time(a.resolved_at) if a.resolved_at else "-"
            return _Refused("cli.alert.already_resolved", id=a.id, at=at, how=how)
        return _Refused("cli.failed", error=type(exc).__name__, reason=str(exc))

    async def _act(session: AsyncSession) -> tuple[str, dict[str, Any]]:
        person = (
            await session.execute(select(Person).where(Person.code == person_code))
        ).scalar_one_or_none()
        if person is None:
            raise LookupError(person_code)
        try:
            if resolve:
                alert = await lifecycle.resolve_by_hand(session, alert_id, person, note or "", when)
            else:
                alert = await lifecycle.acknowledge(session, alert_id, person, note, when)
        except lifecycle.AlertError as exc:
            raise await _refusal(session, exc, person) from exc
        hidden.append(numbers_were_hidden(session.info))
        said = {"id": alert.id, "ksm": await _ksm_name(session, alert.ksm_id), "name": person.name}
        if resolve:
            return "cli.alert.resolved", {**said, "note": alert.resolve_note or "-"}
        noted = catalogue.t("peringatan.note_suffix", _lang(), note=alert.ack_note) if alert.ack_note else ""
        return "cli.alert.acknowledged", {**said, "note": noted}

    try:
        key, params = run_in_transaction(settings, _act)
    except LookupError as exc:
        raise _fail("cli.person_not_found", 2, code=person_code) from exc
    except _Refused as exc:
        raise _fail(exc.key, 1, **exc.params) from exc
    _say(key, **params)
    if any(hidden):
        _say("privacy.numbers_hidden")


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
    _say("cli.alert.escalated", n=len(done))
    for i, lvl in done:
        _say("cli.alert.escalated_line", id=i, level=lvl)


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
    _say("cli.alert.digest_queued", n=queued)


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
    lang = _lang()
    table = Table(title=_t("cli.evaluate.title", at=_local_time(when), scope=scope, n=len(findings)))
    table.add_column(_t("cli.evaluate.col_kind"))
    table.add_column(_t("cli.evaluate.col_count"), justify="right")
    for kind, n in sorted(by_kind.items()):
        table.add_row(_kind_label(kind, lang), str(n))
    out.print(table)
    if applied is not None:
        _say("cli.evaluate.applied", **applied, seconds=f"{seconds:.2f}")


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
    from kotaku import demo
    from kotaku.security import vault_from_settings

    settings = state.settings
    if reset and not yes:
        raise _fail("cli.demo.reset_needs_yes", 2)
    when = _parse_at(at, settings)
    try:
        vault = vault_from_settings(settings)
    except ValueError as exc:
        raise _fail("cli.config_error", 2, reason=str(exc)) from exc

    async def _seed(db: Database) -> demo.DemoSummary | None:
        if if_empty and not reset and not await demo.is_empty(db):
            return None
        return await demo.seed_demo(db, settings, at=when, reset=reset, vault=vault)

    try:
        summary = run_with_db(settings, _seed)
    except demo.DemoNotEmpty as exc:
        if as_json:
            print(json.dumps({"seeded": False, "reason": "not_empty", "message": _t("cli.demo.not_empty")}))
            raise typer.Exit(1) from None
        raise _fail("cli.demo.not_empty", 1) from exc
    except SQLAlchemyError as exc:
        raise _fail("cli.database_unusable", 2, error=type(exc).__name__) from None

    if summary is None:
        if as_json:
            print(json.dumps({"seeded": False, "reason": "not_empty"}))
        else:
            _say("cli.demo.kept")
        return
    if as_json:
        print(json.dumps({"seeded": True, **summary.to_dict()}, ensure_ascii=False))
        return
    summary.render(out, _lang())
    _say("cli.demo.try")


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
        raise _fail("cli.bad_date", 2, option="--date", value=day) from exc

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
    lang = _lang()
    zone = zone_abbreviation(settings.app.default_timezone)
    table = Table(title=_t("cli.reminders.title", date=fmt_date(when, lang, with_weekday=True)))
    for col in ("local", "zone", "here", "kind", "to"):
        table.add_column(_t(f"cli.reminders.col.{col}", zone=zone))
    for s in slots:
        table.add_row(
            s.local_time.strftime("%H:%M"),
            zone_abbreviation(s.timezone),
            s.at.astimezone(ZoneInfo(settings.app.default_timezone)).strftime("%H:%M"),
            _reminder_kind(s.kind),
            s.target,
        )
    out.print(table)
    for tz, what, why in skipped:
        _say("cli.reminders.skipped", zone=zone_abbreviation(tz), what=what, reason=_skip_reason(why))


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
    when = _parse_at(at, settings)
    assert when is not None

    report = run_in_transaction(settings, lambda s: run_due(s, settings, when))
    if as_json:
        print(json.dumps(report.as_dict()))
        return
    queued = report.as_dict()["queued"]
    if not queued:
        _say("cli.reminders.nothing_due", at=_local_time(when))
        return
    _say(
        "cli.reminders.queued",
        at=_local_time(when),
        what=", ".join(f"{_reminder_kind(k)} {v}" for k, v in queued.items()),
    )


def _reminder_kind(kind: str) -> str:
    key = f"cli.reminders.kind.{kind}"
    return _t(key) if catalogue.has(key) else kind


def _skip_reason(why: str) -> str:
    """The reason a day or a person is skipped (kotaku.domain.calendar, kotaku.reminders), for people."""
    holiday = why.removeprefix("holiday: ")
    if holiday != why:
        return _t("cli.reminders.skip.holiday", name=holiday)
    key = {
        "extra non-working day": "cli.reminders.skip.extra",
        "not a work day": "cli.reminders.skip.weekday",
        "paused with /pengingat": "cli.reminders.skip.paused",
    }.get(why)
    return _t(key) if key else why


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
        "text": str(m.payload.get("text", "")),
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
        known = ", ".join(s.value for s in OutboxStatus)
        raise _fail("cli.unknown_option", 2, option="--status", value=status, known=known) from exc

    async def _read(s: AsyncSession) -> tuple[dict[str, int], list[dict[str, Any]]]:
        totals = await admin.counts(s)
        messages = await admin.list_messages(s, status=wanted, kind=kind, limit=limit)
        return totals, [_outbox_row(m) for m in messages]

    totals, rows = run_in_session(settings, _read)
    if as_json:
        print(json.dumps({"counts": totals, "messages": rows}, ensure_ascii=False))
        return
    _say("cli.outbox.counts", counts=", ".join(f"{_outbox_status(k)}: {v}" for k, v in totals.items()) or "-")
    table = Table()
    for col in ("id", "kind", "channel", "recipient", "status", "attempts", "error", "text"):
        # The text gives way on a narrow terminal (cut with …); the full text is in `--json`.
        wide = col == "text"
        table.add_column(
            _t(f"cli.outbox.col.{col}"), no_wrap=wide, overflow="ellipsis", max_width=30 if wide else None
        )
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["kind"],
            r["channel"],
            r["recipient"],
            _outbox_status(r["status"]),
            str(r["attempts"]),
            r["last_error"] or "",
            r["text"].replace("\n", " ")[:60],
        )
    out.print(table)


def _outbox_status(status: str) -> str:
    key = f"cli.outbox.status.{status}"
    return _t(key) if catalogue.has(key) else status


@outbox_app.command("retry")
def outbox_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Id pesan; tanpa id: semua yang gagal.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """Put failed messages back in the queue (attempts reset); an id that names no message changes nothing."""
    from sqlalchemy import select

    from kotaku.models import OutboxMessage
    from kotaku.notify import admin

    settings = state.settings
    wanted = sorted(set(ids or ()))

    async def _retry(s: AsyncSession) -> int:
        if wanted:
            found = set(
                (await s.execute(select(OutboxMessage.id).where(OutboxMessage.id.in_(wanted)))).scalars()
            )
            missing = [i for i in wanted if i not in found]
            if missing:
                raise _Refused("cli.outbox.not_found", ids=", ".join(map(str, missing)))
        return await admin.retry(s, clock.now(), wanted)

    try:
        n = run_in_transaction(settings, _retry)
    except _Refused as exc:
        raise _fail(exc.key, 2, **exc.params) from exc
    if as_json:
        print(json.dumps({"requeued": n}))
        return
    _say("cli.outbox.requeued", n=n)


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
    _say("cli.outbox.purged", n=n, days=days)


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
        raise _fail("cli.unknown_option", 2, option="--lang", value=lang, known="id, en, all")
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
        _say("cli.whatsapp.none", lang=lang)
        return
    other = _t("cli.whatsapp.other_kinds")
    for t in texts:
        kinds = ", ".join(f"{k} ({other})" if k == DEFAULT_TEMPLATE else k for k in t.kinds)
        params = ", ".join(f"{{{{{i}}}}} = {f}" for i, f in enumerate(t.params, start=1)) or "-"
        out.print(
            f"[bold]{escape(t.name)}[/bold]  "
            + escape(_t("cli.whatsapp.heading", category=t.category, language=t.language, lang=t.lang)),
            soft_wrap=True,
        )
        _say("cli.whatsapp.kinds", kinds=kinds)
        _say("cli.whatsapp.params", params=params)
        for key, text in (("cli.whatsapp.body", t.body), ("cli.whatsapp.example", t.example)):
            _say(key)
            for line in (text or _t("cli.whatsapp.no_text")).splitlines():
                out.print(f"    {line}" if line else "", markup=False, highlight=False, soft_wrap=True)
        for problem in t.problems:
            err_text = _t("cli.whatsapp.problem", problem=problem)
            out.print(err_text, style="yellow", markup=False, highlight=False, soft_wrap=True)
        out.print()


# --- security ----------------------------------------------------------------------------------------

security_app = typer.Typer(help="Keamanan data pribadi: rotasi kunci NIK.", no_args_is_help=True)
app.add_typer(security_app, name="security")

OLD_NIK_KEY_ENV = "KOTAKU_OLD_NIK_KEY"


def _old_nik_key(old_key_file: Path | None) -> str:
    """The old key, given once: `--old-key-file`, else KOTAKU_OLD_NIK_KEY, else asked for (hidden) on a
    terminal. Never a command-line value, which shell history and `ps` would keep."""
    import os
    import sys

    from kotaku.security import read_key_file

    if old_key_file is not None:
        try:
            return read_key_file(old_key_file)
        except (OSError, UnicodeDecodeError) as exc:
            raise _fail("security.rotate.old_key_unreadable", 2, path=str(old_key_file)) from exc
    if os.environ.get(OLD_NIK_KEY_ENV):
        return os.environ[OLD_NIK_KEY_ENV].strip()
    if sys.stdin.isatty():
        return str(typer.prompt(_t("security.rotate.prompt_old"), hide_input=True)).strip()
    raise _fail("security.rotate.no_old_key", 2, env=OLD_NIK_KEY_ENV)


@security_app.command("rotate-nik-key")
def security_rotate_nik_key(
    old_key_file: Annotated[
        Path | None,
        typer.Option(
            "--old-key-file", help=f"Berkas berisi kunci NIK lama (atau {OLD_NIK_KEY_ENV}, atau ditanya)."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Pekerja per transaksi.")] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """Re-encrypt every stored NIK under the configured `security.nik_key` (the new key), given the old key.

    Batches commit one by one; an interrupted run continues where it stopped when run again. Stop the bot
    first: until the rotation ends, NIKs under the old and the new key do not match each other."""
    from rich.progress import Progress

    from kotaku.security import NikVault, configured_key
    from kotaku.services.nik_rotation import Rotation, WrongOldKey, rotate_nik_key

    settings = state.settings
    new_key = configured_key(settings)
    if new_key is None:
        raise _fail("security.rotate.no_new_key", 2)
    old_key = _old_nik_key(old_key_file)
    vaults: list[NikVault] = []
    for key, error in ((old_key, "security.rotate.bad_old_key"), (new_key, "security.rotate.bad_new_key")):
        try:
            vaults.append(NikVault(key))
        except ValueError as exc:
            raise _fail(error, 2) from exc
    if old_key == new_key:
        raise _fail("security.rotate.same_key", 2)
    old, new = vaults

    progress = Progress(console=err, transient=True) if err.is_terminal and not as_json else None
    task: list[Any] = []

    def on_batch(done: Rotation) -> None:
        assert progress is not None
        if not task:
            task.append(progress.add_task(_t("security.rotate.progress"), total=max(done.total, 1)))
        progress.update(task[0], completed=done.seen, total=max(done.total, done.seen, 1))

    def _rotate(db: Database) -> Awaitable[Rotation]:
        return rotate_nik_key(
            db,
            old,
            new,
            now=clock.now(),
            batch_size=batch_size,
            on_batch=on_batch if progress is not None else None,
        )

    try:
        if progress is not None:
            with progress:
                result = run_with_db(settings, _rotate)
        else:
            result = run_with_db(settings, _rotate)
    except WrongOldKey as exc:
        raise _fail("security.rotate.wrong_old_key", 2) from exc
    if as_json:
        print(json.dumps(result.as_dict()))
    else:
        _say(
            "security.rotate.done",
            rekeyed=result.rekeyed,
            already=result.already,
            records=result.records,
            drafts=result.drafts,
        )
        _say("security.rotate.backups")
    if result.unreadable or result.unreadable_drafts:
        shown = ", ".join(map(str, result.unreadable[:20])) + (" …" if len(result.unreadable) > 20 else "")
        raise _fail(
            "security.rotate.unreadable",
            1,
            n=len(result.unreadable) + result.unreadable_drafts,
            ids=shown or "-",
        )


# --- readiness ------------------------------------------------------------------------------------


@app.command("ready")
def ready_cmd(
    wait: Annotated[
        float,
        typer.Option("--wait", min=0, help="Tunggu sampai siap, paling lama sekian detik (0: sekali tanya)."),
    ] = 0.0,
    url: Annotated[
        str | None, typer.Option("--url", help="Alamat /readyz (bawaan: server.host dan server.port).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Ask a running `kotaku run` whether it is ready (`/readyz`): exit 0 when it is, 1 with the reasons
    when it is not within `--wait` seconds (the systemd units wait on it after start)."""
    import time

    import httpx

    server = state.settings.server
    host = "127.0.0.1" if server.host in ("0.0.0.0", "::", "") else server.host
    target = url or f"http://{host}:{server.port}/readyz"
    deadline = time.monotonic() + wait
    answer: dict[str, Any] = {"ok": False, "error": "no answer"}
    while True:
        try:
            response = httpx.get(target, timeout=5)
            answer = (
                response.json()
                if response.headers.get("content-type", "").startswith("application/json")
                else {}
            )
            answer = {"ok": response.status_code == 200, **answer}
        except (httpx.HTTPError, ValueError) as exc:
            answer = {"ok": False, "error": type(exc).__name__}
        if answer.get("ok") or time.monotonic() >= deadline:
            break
        time.sleep(min(1.0, max(deadline - time.monotonic(), 0.05)))
    if as_json:
        print(json.dumps({"url": target, **answer}))
    elif answer.get("ok"):
        _say("cli.ready.ok", url=target)
    else:
        reasons = [
            f"{name}: {check.get('reason', '')}"
            for name, check in (answer.get("checks") or {}).items()
            if isinstance(check, dict) and not check.get("ok", True)
        ] or [str(answer.get("error", ""))]
        _say("cli.ready.not", url=target, reasons="; ".join(reasons))
    if not answer.get("ok"):
        raise typer.Exit(1)


# --- backup and restore ---------------------------------------------------------------------------


def _page_progress(label_key: str, as_json: bool) -> tuple[Any, Callable[[int, int], None] | None]:
    """A transient progress bar on a terminal (none for --json or a pipe), and its page callback."""
    from rich.progress import Progress

    if as_json or not err.is_terminal:
        return None, None
    progress = Progress(console=err, transient=True)
    task = progress.add_task(_t(label_key), total=None)

    def on_progress(done: int, total: int) -> None:
        progress.update(task, completed=done, total=max(total, done, 1))

    return progress, on_progress


def _with_progress(progress: Any, work: Callable[[], T]) -> T:
    if progress is None:
        return work()
    with progress:
        return work()


def _table_counts(tables: dict[str, int]) -> None:
    from rich.table import Table

    from kotaku.i18n import fmt_number

    table = Table()
    table.add_column(_t("cli.backup.col.table"))
    table.add_column(_t("cli.backup.col.rows"), justify="right")
    for name, rows in tables.items():
        table.add_row(name, fmt_number(rows, _lang()))
    out.print(table)


def _pg_hint(intro: str, command: str, then: str | None, not_made: str, as_json: bool) -> typer.Exit:
    """PostgreSQL without --pg-tools: the exact command for the configured URL, and exit 1 (nothing was
    copied, so a timer running this never passes for a backup)."""
    if as_json:
        print(json.dumps({"done": False, "command": command, "message": _t(not_made)}, ensure_ascii=False))
        return typer.Exit(1)
    _say(intro)
    out.print("  " + command, markup=False, highlight=False, soft_wrap=True)
    _say("cli.backup.pg_password")
    if then is not None:
        _say(then)
    return _fail(not_made, 1)


def _backup_refused(exc: Any) -> typer.Exit:
    """A refused backup or restore in one sentence: exit 2 for a file that is not there, else 1."""
    return _fail(
        exc.key, 2 if exc.key in ("cli.restore.missing", "cli.backup.no_database") else 1, **exc.params
    )


PgToolsOption = Annotated[
    bool,
    typer.Option(
        "--pg-tools", help="PostgreSQL: jalankan pg_dump/pg_restore dari PATH (tanpa ini: cetak perintahnya)."
    ),
]


@app.command("backup")
def backup_cmd(
    path: Annotated[Path, typer.Argument(help="Berkas cadangan (atau folder: kotaku-WAKTU.db di dalamnya).")],
    force: Annotated[bool, typer.Option("--force", help="Timpa PATH bila sudah ada.")] = False,
    pg_tools: PgToolsOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """Back up the configured database to PATH (0600), safe while the bot runs and writes.

    SQLite: the online backup API, checked with PRAGMA integrity_check, with the rows of every table.
    PostgreSQL: prints the pg_dump command for the configured URL (runs it with --pg-tools)."""
    from kotaku import backup
    from kotaku.i18n import fmt_number

    settings = state.settings
    database = backup.sqlite_file(settings.database.url)
    try:
        if database is None:
            target = backup.backup_target(path, clock.now(), ".dump")
            if not pg_tools:
                command = backup.pg_dump_command(settings.database.url, target).shown()
                raise _pg_hint("cli.backup.pg_intro", command, None, "cli.backup.pg_not_made", as_json)
            size = backup.run_pg_dump(settings.database.url, target, force=force)
            if as_json:
                print(json.dumps({"done": True, "path": str(target), "size": size}))
            else:
                _say("cli.backup.pg_done", path=str(target), size=fmt_number(size, _lang()))
            return
        target = backup.backup_target(path, clock.now())
        progress, on_progress = _page_progress("cli.backup.progress", as_json)
        copy = _with_progress(
            progress,
            lambda: backup.backup_sqlite(
                database,
                target,
                force=force,
                busy_timeout_ms=settings.database.sqlite_busy_timeout_ms,
                on_progress=on_progress,
            ),
        )
    except backup.BackupRefused as exc:
        raise _backup_refused(exc) from exc
    if as_json:
        print(json.dumps({"done": True, **copy.as_dict()}))
        return
    _say(
        "cli.backup.done",
        path=str(copy.path),
        size=fmt_number(copy.size, _lang()),
        pages=fmt_number(copy.pages, _lang()),
        revision=copy.revision or _t("cli.db.base"),
    )
    _table_counts(copy.tables)


@app.command("restore")
def restore_cmd(
    path: Annotated[Path, typer.Argument(help="Berkas cadangan dari `kotaku backup`.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Ganti basis data yang berisi data (yang lama disimpan di sebelahnya)."),
    ] = False,
    pg_tools: PgToolsOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """Restore a backup into the configured database; stop the bot first.

    The backup must be a kotaku database at a revision this version knows (an older one: run
    `kotaku db upgrade` after). SQLite: a database with data is replaced only with --force, and kept
    as `<name>.before-restore-<time>`. PostgreSQL: prints the pg_restore command (runs it with --pg-tools)."""
    from kotaku import backup

    settings = state.settings
    database = backup.sqlite_file(settings.database.url)
    try:
        if database is None:
            if not pg_tools:
                command = backup.pg_restore_command(settings.database.url, path).shown()
                raise _pg_hint(
                    "cli.restore.pg_intro", command, "cli.restore.pg_then", "cli.restore.pg_not_made", as_json
                )
            revision_state = backup.run_pg_restore(settings, path, force=force)
            revision = migrate.current_revision(settings)
            if as_json:
                print(
                    json.dumps({"done": True, "revision": revision, "revision_state": revision_state.value})
                )
                return
            _say("cli.restore.pg_done", path=str(path), revision=revision or _t("cli.db.base"))
            if revision_state is backup.RevisionState.OLDER:
                _say("cli.restore.upgrade", revision=revision or _t("cli.db.base"))
            return
        progress, on_progress = _page_progress("cli.restore.progress", as_json)
        done = _with_progress(
            progress,
            lambda: backup.restore_sqlite(
                path, database, now=clock.now(), force=force, on_progress=on_progress
            ),
        )
    except backup.BackupRefused as exc:
        raise _backup_refused(exc) from exc
    if as_json:
        print(
            json.dumps(
                {
                    "done": True,
                    "database": str(done.database),
                    "revision": done.copy.revision,
                    "revision_state": done.revision_state.value,
                    "aside": str(done.aside) if done.aside else None,
                    "tables": done.copy.tables,
                }
            )
        )
        return
    revision = done.copy.revision or _t("cli.db.base")
    _say("cli.restore.done", path=str(done.database), backup=str(path), revision=revision)
    if done.aside is not None:
        _say("cli.restore.aside", path=str(done.aside))
    _table_counts(done.copy.tables)
    if done.revision_state is backup.RevisionState.OLDER:
        _say("cli.restore.upgrade", revision=revision)


if __name__ == "__main__":  # pragma: no cover
    app()
