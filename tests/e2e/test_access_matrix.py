"""The access matrix, cell by cell: every role × every action, inside its own scope and outside it (KSM
Bejalen Makmur in Kabupaten Semarang is inside every scope of the test program's people; KSM Mariso Jaya in
Kota Makassar outside all but the national ones). What `kotaku.services.access.MATRIX` allows is done;
everything else is refused with a catalogue sentence that says why, and logged as `access_refused`.
README's table is the matrix's own."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import structlog
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from structlog.testing import capture_logs

from kotaku import catalogue
from kotaku.bootstrap import bootstrap
from kotaku.config import Settings, load_settings
from kotaku.db import Database
from kotaku.models import (
    Activity,
    Alert,
    AlertSeverity,
    AlertStatus,
    AttendanceDay,
    Base,
    Channel,
    ChannelIdentity,
    GroupBinding,
    Invite,
    Obstacle,
    ObstacleCategory,
    ObstacleStatus,
    Person,
    ProgressReport,
    Role,
    Severity,
)
from kotaku.schemas import Outbound
from kotaku.security import NikVault
from kotaku.services.access import MATRIX, RANK, Action, allowed, markdown_table, may_invite
from tests.catalogue_keys import keys_of, says
from tests.cli import run
from tests.conftest import BACKENDS, PG_URL, TEST_NIK_KEY
from tests.e2e.conftest import DEFAULT_NOW, Clock, World
from tests.factories import Program, build_program

ROOT = Path(__file__).resolve().parents[2]
JAKARTA = ZoneInfo("Asia/Jakarta")

# Who plays each role (tests/factories.py, plus a national manager added here).
PEOPLE = {
    Role.WORKER: "pekerja-a",
    Role.KETUA_KSM: "ketua-a",
    Role.BKM: "bkm-b",
    Role.FASILITATOR: "fasil",
    Role.ASKOT: "askot",
    Role.KORKOT: "korkot",
    Role.PROVINSI: "prov",
    Role.NASIONAL: "nasional",
    Role.ADMIN: "admin",
}
NATIONAL_ROLES = frozenset({Role.NASIONAL, Role.ADMIN})  # nothing is outside their scope


@dataclass(frozen=True)
class Site:
    """A KSM as the test addresses it: its group chat, codes, an open obstacle and three open alerts."""

    key: str  # the factory's KSM key
    group: str
    ksm: str
    ksm_name: str
    activity: str
    obstacle: str


INSIDE = Site("ksm_a", "grp-bejalen", "KSM-BJL-01", "KSM Bejalen Makmur", "ACT-BJL-01", "K-AAAA")
OUTSIDE = Site("ksm_m", "grp-mariso", "KSM-MRS-01", "KSM Mariso Jaya", "ACT-MRS-01", "K-MMMM")


@dataclass
class Outcome:
    done: bool  # the action happened (a row written, or the view shown)
    texts: list[str]  # what the person was told
    cli_log: str | None = None  # the log of a CLI command (its stderr); chat actions are captured instead


@dataclass
class Seeded:
    alerts: dict[str, list[int]]  # per site key: the ids of three open alerts (chat ack, chat resolve, CLI)


async def seed(db: Database, p: Program, now: datetime) -> Seeded:
    today = now.astimezone(ZoneInfo("Asia/Jakarta")).date()
    alerts: dict[str, list[int]] = {}
    async with db.transaction() as s:
        nasional = Person(code="nasional", name="Bu Nasional", role=Role.NASIONAL, language="id")
        s.add(nasional)
        await s.flush()
        s.add(
            ChannelIdentity(
                person_id=nasional.id, channel=Channel.TEST, external_id="nasional", chat_id="nasional"
            )
        )
        for site, activity in ((INSIDE, "road"), (OUTSIDE, "cart")):
            s.add(GroupBinding(channel=Channel.TEST, chat_id=site.group, ksm_id=p[site.key], bound_at=now))
            s.add(
                Obstacle(
                    short_id=site.obstacle,
                    ksm_id=p[site.key],
                    report_date=today,
                    category=ObstacleCategory.MATERIAL,
                    severity=Severity.SEDANG,
                    description="semen terlambat",
                    reported_at=now,
                )
            )
            s.add(
                ProgressReport(
                    activity_id=p[activity], report_date=today - timedelta(days=1), percent=20, entered_at=now
                )
            )
            ids = []
            for n in range(3):
                alert = Alert(
                    kind="critical",
                    subject_type="activity",
                    subject_id=p[activity] * 10 + n,
                    ksm_id=p[site.key],
                    severity=AlertSeverity.WARNING,
                    dedup_key=f"matrix:{site.key}:{n}",
                    figures={},
                    message="Tertinggal dari rencana",
                    opened_at=now,
                    updated_at=now,
                )
                s.add(alert)
                await s.flush()
                ids.append(alert.id)
            alerts[site.key] = ids
    return Seeded(alerts=alerts)


@dataclass(frozen=True)
class Template:
    """The seeded program on SQLite, built once for the module and copied for each cell."""

    path: Path
    program: Program
    seeded: Seeded


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    folder = tmp_path_factory.mktemp("matrix")
    settings = load_settings(database={"url": f"sqlite+aiosqlite:///{folder / 'template.db'}"})

    async def build() -> tuple[Program, Seeded]:
        db = Database(settings)
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            program = await build_program(db, NikVault(TEST_NIK_KEY), DEFAULT_NOW.astimezone(JAKARTA).date())
            return program, await seed(db, program, DEFAULT_NOW)
        finally:
            await db.dispose()

    program, seeded = asyncio.run(build())
    return Template(folder / "template.db", program, seeded)


@pytest.fixture(params=BACKENDS)
async def cell(
    request: pytest.FixtureRequest,
    settings: Settings,
    vault: NikVault,
    clock: Clock,
    pg_schema: str | None,
    template: Template,
) -> AsyncIterator[tuple[World, Seeded]]:
    """A world for one cell of the matrix: a copy of the template on SQLite; built afresh on PostgreSQL."""
    if request.param == "sqlite":
        shutil.copyfile(template.path, make_url(settings.database.url).database or "")
        db = Database(settings)
        program, seeded = template.program, template.seeded
    else:
        assert PG_URL and pg_schema
        db = Database(settings, url=PG_URL, connect_args={"server_settings": {"search_path": pg_schema}})
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)
            await conn.run_sync(Base.metadata.create_all)
        program = await build_program(db, vault, clock().astimezone(JAKARTA).date())
        seeded = await seed(db, program, clock())
    kotaku = bootstrap(settings, db=db, now=clock)
    yield World(db=db, kotaku=kotaku, clock=clock, program=program, vault=vault), seeded
    await db.dispose()


# --- each action, done by one person at one site ------------------------------------------------------


def _texts(replies: list[Outbound]) -> list[str]:
    return [o.text for o in replies] + [c.label for o in replies for c in o.choices]


async def _chat(world: World, who: str, site: Site, *texts: str) -> list[str]:
    ch = world.channel().as_user(who, site.group, group=True)
    for text in texts:
        await ch.text(text)
    return _texts(ch.outbox)


async def _person_id(world: World, code: str) -> int:
    return await _count(world, select(Person.id).where(Person.code == code))


async def _count(world: World, stmt: Any) -> int:
    async with world.db.session() as s:
        return int((await s.execute(stmt)).scalar_one())


def _shown(texts: list[str], key: str) -> bool:
    return key in keys_of(texts)


async def report_attendance(world: World, who: str, site: Site, _: Seeded) -> Outcome:
    ch = world.channel().as_user(who, site.group, group=True)
    await ch.text("/hadir semua")
    if "hadir.confirm_title" in keys_of(ch.outbox):
        await ch.tap("Simpan")
    stmt = select(func.count(AttendanceDay.id)).where(AttendanceDay.ksm_id == world.program[site.key])
    return Outcome(await _count(world, stmt) == 1, _texts(ch.outbox))


async def report_progress(world: World, who: str, site: Site, _: Seeded) -> Outcome:
    texts = await _chat(world, who, site, "/progres 30")
    return Outcome(_shown(texts, "progres.ask_activity"), texts)


async def report_obstacle(world: World, who: str, site: Site, _: Seeded) -> Outcome:
    texts = await _chat(world, who, site, "/kendala material semen terlambat datang")
    return Outcome(_shown(texts, "kendala.ask_severity"), texts)


async def report_message(world: World, who: str, site: Site, _: Seeded) -> Outcome:
    texts = await _chat(world, who, site, "/laporan hadir 12 progres 40")
    return Outcome(any(k.startswith("laporan.") and k != "laporan.menu" for k in keys_of(texts)), texts)


async def correct(world: World, who: str, site: Site, _: Seeded) -> Outcome:
    texts = await _chat(world, who, site, "/ubah")
    return Outcome(_shown(texts, "ubah.choose"), texts)


async def close_obstacle(world: World, who: str, site: Site, _: Seeded) -> Outcome:
    texts = await _chat(world, who, site, f"/selesai {site.obstacle} semen sudah datang")
    stmt = select(func.count(Obstacle.id)).where(
        Obstacle.short_id == site.obstacle, Obstacle.status == ObstacleStatus.CLOSED
    )
    return Outcome(await _count(world, stmt) == 1, texts)


async def alert(world: World, who: str, site: Site, seeded: Seeded) -> Outcome:
    """Acknowledge one alert and resolve another in the chat; resolve a third with the CLI (SQLite)."""
    ack, resolve, by_cli = seeded.alerts[site.key]
    texts = await _chat(
        world, who, site, f"/peringatan {ack} sudah dicek", f"/peringatan tutup {resolve} beres"
    )
    wanted = {ack: AlertStatus.ACKNOWLEDGED, resolve: AlertStatus.RESOLVED}
    cli_log = None
    if world.db.is_sqlite:
        result = await _cli(world, "alerts", "resolve", str(by_cli), "--as", who, "--note", "beres")
        texts.append(result.output)
        cli_log = result.output
        wanted[by_cli] = AlertStatus.RESOLVED
    async with world.db.session() as s:
        statuses = {
            a.id: a.status for a in (await s.execute(select(Alert).where(Alert.id.in_(wanted)))).scalars()
        }
    done = statuses == wanted
    if not done:
        assert all(v == AlertStatus.OPEN for v in statuses.values()), statuses  # all or nothing
    return Outcome(done, texts, cli_log)


async def read_status(world: World, who: str, site: Site, _: Seeded) -> Outcome:
    texts = await _chat(world, who, site, f"/status {site.ksm}")
    return Outcome(_shown(texts, "status.title"), texts)


async def read_summary(world: World, who: str, site: Site, _: Seeded) -> Outcome:
    texts = await _chat(world, who, site, f"/rekap {site.ksm}")
    return Outcome(_shown(texts, "rekap.title"), texts)


async def read_curve(world: World, who: str, site: Site, _: Seeded) -> Outcome:
    texts = await _chat(world, who, site, f"/kurva {site.activity}")
    return Outcome(_shown(texts, "kurva.caption"), texts)


async def export(world: World, who: str, site: Site, _: Seeded) -> Outcome:
    texts = await _chat(world, who, site, f"/unduh {site.ksm}")
    return Outcome(_shown(texts, "unduh.ask_kind"), texts)


async def invite(world: World, who: str, site: Site, _: Seeded) -> Outcome:
    if not world.db.is_sqlite:
        pytest.skip("the CLI runs on the SQLite file")
    result = await _cli(world, "invite", "--as", who, "--role", "worker", "--scope", f"ksm:{site.ksm}")
    made = await _count(
        world, select(func.count(Invite.id)).where(Invite.created_by_id == await _person_id(world, who))
    )
    assert (result.exit_code == 0) == (made == 1), result.output
    return Outcome(made == 1, [result.output], result.output)


async def bind_group(world: World, who: str, site: Site, _: Seeded) -> Outcome:
    """Inside: a new group, linked to the KSM by name. Outside: the other KSM's group, already linked."""
    group = site.group if site is OUTSIDE else "grp-new"
    ch = world.channel().as_user(who, group, group=True)
    await ch.text("/daftarkan_grup" if site is OUTSIDE else f"/daftarkan_grup {site.ksm}")
    async with world.db.session() as s:
        binding = (
            await s.execute(select(GroupBinding).where(GroupBinding.chat_id == group))
        ).scalar_one_or_none()
    moved = binding is not None and binding.bound_by_id is not None
    return Outcome(moved, _texts(ch.outbox))


DO: dict[Action, Callable[[World, str, Site, Seeded], Awaitable[Outcome]]] = {
    Action.REPORT_ATTENDANCE: report_attendance,
    Action.REPORT_PROGRESS: report_progress,
    Action.REPORT_OBSTACLE: report_obstacle,
    Action.REPORT_MESSAGE: report_message,
    Action.CORRECT: correct,
    Action.CLOSE_OBSTACLE: close_obstacle,
    Action.ALERT: alert,
    Action.READ_STATUS: read_status,
    Action.READ_SUMMARY: read_summary,
    Action.READ_CURVE: read_curve,
    Action.EXPORT: export,
    Action.INVITE: invite,
    Action.BIND_GROUP: bind_group,
}

# The command a role refusal names (`engine.not_allowed`), per chat action.
COMMANDS = {
    Action.REPORT_ATTENDANCE: "hadir",
    Action.REPORT_PROGRESS: "progres",
    Action.REPORT_OBSTACLE: "kendala",
    Action.REPORT_MESSAGE: "laporan",
    Action.CORRECT: "ubah",
    Action.CLOSE_OBSTACLE: "selesai",
    Action.ALERT: "peringatan",
    Action.READ_STATUS: "status",
    Action.READ_SUMMARY: "rekap",
    Action.READ_CURVE: "kurva",
    Action.EXPORT: "unduh",
}
# What a role that may do the action is told outside its scope.
OUTSIDE_KEYS = {
    Action.REPORT_ATTENDANCE: "flow.no_ksm",
    Action.REPORT_PROGRESS: "flow.no_ksm",
    Action.REPORT_OBSTACLE: "flow.no_ksm",
    Action.REPORT_MESSAGE: "flow.no_ksm",
    Action.CORRECT: "flow.no_ksm",
    Action.CLOSE_OBSTACLE: "selesai.outside_scope",
    Action.ALERT: "peringatan.outside_scope",
    Action.READ_STATUS: "status.outside_scope",
    Action.READ_SUMMARY: "rekap.outside_scope",
    Action.READ_CURVE: "kurva.outside_scope",
    Action.EXPORT: "unduh.outside_scope",
    Action.INVITE: "access.invite_outside_scope",
    Action.BIND_GROUP: "access.group_bound_elsewhere",
}


def _role_refusal(action: Action, role: Role, texts: list[str]) -> bool:
    label = catalogue.role_label(role, "id")
    if action == Action.INVITE:
        return any(says(t, "access.invite_not_allowed", role=label) for t in texts)
    if action == Action.BIND_GROUP:
        return _shown(texts, "engine.group_not_allowed")
    return any(says(t, "engine.not_allowed", command=COMMANDS[action], role=label) for t in texts)


async def _cli(world: World, *args: str) -> Any:
    settings = world.db.settings
    env = {
        "KOTAKU_DATABASE__URL": settings.database.url,
        "KOTAKU_APP__DATA_DIR": str(settings.app.data_dir),
        "KOTAKU_MEDIA__DIR": str(settings.media.dir),
        "KOTAKU_APP__LANGUAGE": "id",
    }
    try:
        return await asyncio.to_thread(run, env, *args)
    finally:
        structlog.reset_defaults()  # the command configured logging for itself


_FIELD = re.compile(r"(\w+)=('[^']*'|\S+)")


def _cli_refusals(log: str) -> list[dict[str, str]]:
    """The `access_refused` lines of a CLI command's log, as dicts of their fields."""
    return [
        {k: v.strip("'") for k, v in _FIELD.findall(line)}
        for line in log.splitlines()
        if "access_refused" in line
    ]


CASES = [
    pytest.param(role, action, where, id=f"{action.value}-{role.value}-{where}")
    for action in Action
    for role in Role
    for where in ("inside", "outside")
    if not (where == "outside" and role in NATIONAL_ROLES)
]


@pytest.mark.parametrize(("role", "action", "where"), CASES)
async def test_access_matrix(cell: tuple[World, Seeded], role: Role, action: Action, where: str) -> None:
    world, seeded = cell
    site = INSIDE if where == "inside" else OUTSIDE
    who = PEOPLE[role]
    with capture_logs() as logs:
        outcome = await DO[action](world, who, site, seeded)
    refusals = [e for e in logs if e["event"] == "access_refused"]
    if outcome.cli_log is not None:
        refusals += _cli_refusals(outcome.cli_log)

    if where == "inside" and allowed(role, action):
        assert outcome.done, outcome.texts
        assert refusals == [], refusals
        return
    assert not outcome.done, outcome.texts
    # Explained: why, in a catalogue sentence ...
    if not allowed(role, action):
        assert _role_refusal(action, role, outcome.texts), outcome.texts
    else:
        assert _shown(outcome.texts, OUTSIDE_KEYS[action]), outcome.texts
    if action == Action.ALERT and outcome.cli_log is not None:  # the CLI says why in its own words
        key = "cli.alert.outside_scope" if allowed(role, action) else "cli.alert.not_allowed"
        assert _shown([outcome.cli_log], key), outcome.cli_log
    # ... and logged: who, which action, why (by the chat and by the CLI alike).
    assert refusals, f"refusal not logged: {outcome.texts}"
    if outcome.cli_log is not None:
        assert _cli_refusals(outcome.cli_log), outcome.cli_log
    for entry in refusals:
        assert (entry["person"], entry["role"], entry["action"]) == (who, role.value, action.value)
        assert (entry["reason"] == "role") == (not allowed(role, action)), entry
    # Nothing was written for the KSM outside the scope.
    if where == "outside":
        assert await _written(world, OUTSIDE) == (0, 1, 1, 0)


async def _written(world: World, site: Site) -> tuple[int, int, int, int]:
    """Attendance days, progress reports, obstacles and invites of a site's KSM (the seed wrote one progress
    report and one obstacle)."""
    ksm_id = world.program[site.key]
    return (
        await _count(world, select(func.count(AttendanceDay.id)).where(AttendanceDay.ksm_id == ksm_id)),
        await _count(
            world,
            select(func.count(ProgressReport.id))
            .join(Activity, Activity.id == ProgressReport.activity_id)
            .where(Activity.ksm_id == ksm_id),
        ),
        await _count(world, select(func.count(Obstacle.id)).where(Obstacle.ksm_id == ksm_id)),
        await _count(world, select(func.count(Invite.id)).where(Invite.scope_ksm_id == ksm_id)),
    )


def test_every_role_and_action_is_in_the_matrix() -> None:
    assert set(MATRIX) == set(Action) == set(DO) == set(OUTSIDE_KEYS)
    assert set(PEOPLE) == set(Role)
    cells = {(c.values[0], c.values[1]) for c in CASES}
    assert cells == {(r, a) for r in Role for a in Action}


def test_readme_table_is_the_matrix() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "README's access matrix differs from kotaku.services.access.MATRIX"


async def test_an_inviter_invites_only_roles_below_their_own(cell: tuple[World, Seeded]) -> None:
    world, _ = cell
    if not world.db.is_sqlite:
        pytest.skip("the CLI runs on the SQLite file")
    above = await _cli(world, "invite", "--as", "fasil", "--role", "askot", "--scope", "33.22")
    assert above.exit_code == 1
    assert says(above.output, "access.invite_role_above", name="Mbak Wulan", invited="Askot")
    assert [(e["person"], e["reason"]) for e in _cli_refusals(above.output)] == [("fasil", "role_above")]
    below = await _cli(world, "invite", "--as", "fasil", "--role", "ketua_ksm", "--scope", "ksm:KSM-BJL-01")
    assert below.exit_code == 0, below.output
    # Without --as the operator of the machine invites (any role, any scope), as before.
    operator = await _cli(world, "invite", "--role", "admin", "--scope", "nasional")
    assert operator.exit_code == 0, operator.output
    unknown = await _cli(world, "invite", "--as", "nobody", "--role", "worker", "--scope", "ksm:KSM-BJL-01")
    assert unknown.exit_code == 2 and says(unknown.output, "cli.person_not_found", code="nobody")
    async with world.db.session() as s:
        made = {(i.role, i.created_by_id) for i in (await s.execute(select(Invite))).scalars()}
    assert made == {(Role.KETUA_KSM, world.program["fasil"]), (Role.ADMIN, None)}


@pytest.mark.parametrize("inviter", list(Role))
def test_who_may_invite_whom(inviter: Role) -> None:
    invitable = {r for r in Role if may_invite(inviter, r)}
    if not allowed(inviter, Action.INVITE):
        assert invitable == set()
    elif inviter == Role.ADMIN:
        assert invitable == set(Role)
    else:
        assert invitable == {r for r in Role if RANK[r] < RANK[inviter]} and inviter not in invitable
