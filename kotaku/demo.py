"""A realistic, live demo program: the 2021 PKT works of Ambarawa (Kabupaten Semarang) plus one WITA site.

Every date is relative to "today" in each site's own time zone, so the demo is always mid-way through
its works: activities started about three weeks ago, run about 60 days, and have three weeks of daily
reports behind them. The history is drawn from `random.Random(seed)`, so one `today` always gives the
same program. Today's status of each activity is shaped on purpose: most on plan, one behind
("terlambat"), one critical ("kritis"), and one KSM that has not reported for the last two work days.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import catalogue, clock
from kotaku.catalogue import DEFAULT_LANG, role_label
from kotaku.config import MonitoringConfig, RemindersConfig, Settings
from kotaku.db import Database
from kotaku.domain.calendar import WorkCalendar
from kotaku.domain.plan import Status, assess, default_plan_points, planned_percent, project_finish
from kotaku.domain.regions import child_path
from kotaku.i18n import fmt_date, fmt_number, fmt_short_date, fmt_signed
from kotaku.models import (
    Activity,
    AttendanceDay,
    AttendanceMode,
    AttendanceRecord,
    Base,
    Bkm,
    Channel,
    ChannelIdentity,
    Gender,
    Indicator,
    Ksm,
    Obstacle,
    ObstacleCategory,
    ObstacleStatus,
    Person,
    PlanPoint,
    ProgressReport,
    Region,
    RegionLevel,
    Role,
    Severity,
    Skill,
    Worker,
)
from kotaku.security import NikVault, normalize_nik, normalize_phone, vault_from_settings
from kotaku.services.obstacles import short_id_candidate
from kotaku.services.scope import zone_abbreviation
from kotaku.services.summary import region_label

DEMO_SEED = 2021
# The days the demo's sites work: Monday to Saturday, national public holidays off.
CALENDAR = WorkCalendar(RemindersConfig(work_days=[0, 1, 2, 3, 4, 5], national_holidays=True))
REPORT_TIME = time(16, 30)


class DemoError(RuntimeError):
    """The demo cannot be loaded as asked."""


class DemoNotEmpty(DemoError):
    """The database already holds program data; the demo never mixes with real data."""

    def __init__(self) -> None:
        super().__init__(
            "basis data sudah berisi data program; demo tidak dimuat "
            "(pakai --if-empty untuk melewati, atau --reset --yes untuk menghapus semua data lebih dulu)"
        )


# --- the program, as data -------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionSpec:
    code: str
    name: str
    level: RegionLevel
    timezone: str
    parent: str | None = None


@dataclass(frozen=True)
class ActivitySpec:
    code: str
    name: str
    indicator: Indicator
    unit: str
    target_volume: float
    budget: int
    wage_budget: int
    # How today's status should come out: "ahead", "on_plan", "behind" or "critical".
    outcome: str
    start_days_ago: int = 21
    duration_days: int = 60


@dataclass(frozen=True)
class KsmSpec:
    code: str
    name: str
    kelurahan: str  # region code
    bkm_code: str
    bkm_name: str
    latitude: float
    longitude: float
    roster_size: int  # 0: keeps no roster (attendance by count)
    nik_prefix: str  # province+kabkota+kecamatan digits of the NIK, e.g. "332210"
    names: str  # "jawa" or "makassar": which name pool the roster draws from
    channel: Channel
    activities: tuple[ActivitySpec, ...]
    silent_workdays: int = 0  # reports stop this many work days before today


@dataclass(frozen=True)
class PersonSpec:
    code: str
    name: str
    role: Role
    phone: str
    scope_ksm: str | None = None
    scope_bkm: str | None = None
    scope_region: str | None = None


REGIONS: tuple[RegionSpec, ...] = (
    RegionSpec("33", "Jawa Tengah", RegionLevel.PROVINSI, "Asia/Jakarta"),
    RegionSpec("33.22", "Kabupaten Semarang", RegionLevel.KABKOTA, "Asia/Jakarta", "33"),
    RegionSpec("33.22.10", "Ambarawa", RegionLevel.KECAMATAN, "Asia/Jakarta", "33.22"),
    RegionSpec("33.22.10.1001", "Bejalen", RegionLevel.KELURAHAN, "Asia/Jakarta", "33.22.10"),
    RegionSpec("33.22.10.1002", "Tambakboyo", RegionLevel.KELURAHAN, "Asia/Jakarta", "33.22.10"),
    RegionSpec("33.22.10.1003", "Lodoyong", RegionLevel.KELURAHAN, "Asia/Jakarta", "33.22.10"),
    RegionSpec("33.22.10.1004", "Panjang", RegionLevel.KELURAHAN, "Asia/Jakarta", "33.22.10"),
    RegionSpec("73", "Sulawesi Selatan", RegionLevel.PROVINSI, "Asia/Makassar"),
    RegionSpec("73.71", "Kota Makassar", RegionLevel.KABKOTA, "Asia/Makassar", "73"),
    RegionSpec("73.71.07", "Tallo", RegionLevel.KECAMATAN, "Asia/Makassar", "73.71"),
    RegionSpec("73.71.07.1008", "Buloa", RegionLevel.KELURAHAN, "Asia/Makassar", "73.71.07"),
)

KSMS: tuple[KsmSpec, ...] = (
    KsmSpec(
        code="KSM-BJL-01",
        name="KSM Bejalen Maju",
        kelurahan="33.22.10.1001",
        bkm_code="BKM-BJL",
        bkm_name="BKM Bejalen Sejahtera",
        latitude=-7.2751,
        longitude=110.4138,
        roster_size=16,
        nik_prefix="332210",
        names="jawa",
        channel=Channel.TELEGRAM,
        activities=(
            ActivitySpec(
                "KEG-BJL-01",
                "Rabat beton jalan lingkungan RT 03/RW 02",
                Indicator.JALAN_LINGKUNGAN,
                "m",
                163.0,
                175_000_000,
                110_000_000,
                "ahead",
            ),
            ActivitySpec(
                "KEG-BJL-02",
                "Saluran drainase lingkungan pasangan batu",
                Indicator.DRAINASE,
                "m",
                136.0,
                125_000_000,
                75_000_000,
                "on_plan",
            ),
        ),
    ),
    KsmSpec(
        code="KSM-TBY-01",
        name="KSM Tirta Tambakboyo",
        kelurahan="33.22.10.1002",
        bkm_code="BKM-TBY",
        bkm_name="BKM Tambakboyo Mandiri",
        latitude=-7.2683,
        longitude=110.4231,
        roster_size=14,
        nik_prefix="332210",
        names="jawa",
        channel=Channel.WHATSAPP,
        activities=(
            ActivitySpec(
                "KEG-TBY-01",
                "MCK komunal (4 unit) dengan septic tank",
                Indicator.AIR_LIMBAH,
                "unit",
                4.0,
                180_000_000,
                95_000_000,
                "critical",
            ),
            ActivitySpec(
                "KEG-TBY-02",
                "Sumur bor dan tandon air minum warga",
                Indicator.AIR_MINUM,
                "unit",
                2.0,
                120_000_000,
                66_000_000,
                "ahead",
                start_days_ago=20,
            ),
        ),
    ),
    KsmSpec(
        code="KSM-LDY-01",
        name="KSM Lodoyong Resik",
        kelurahan="33.22.10.1003",
        bkm_code="BKM-LDY",
        bkm_name="BKM Lodoyong Bersatu",
        latitude=-7.2582,
        longitude=110.4046,
        roster_size=12,
        nik_prefix="332210",
        names="jawa",
        channel=Channel.TELEGRAM,
        silent_workdays=2,
        activities=(
            ActivitySpec(
                "KEG-LDY-01",
                "Gerobak sampah dan bak penampungan sementara",
                Indicator.PERSAMPAHAN,
                "unit",
                10.0,
                130_000_000,
                78_000_000,
                "behind",
                start_days_ago=22,
            ),
            ActivitySpec(
                "KEG-LDY-02",
                "Hidran umum dan APAR lingkungan",
                Indicator.PROTEKSI_KEBAKARAN,
                "unit",
                6.0,
                170_000_000,
                92_000_000,
                "on_plan",
                start_days_ago=22,
                duration_days=63,
            ),
        ),
    ),
    KsmSpec(
        code="KSM-PJG-01",
        name="KSM Panjang Guyub Rukun",
        kelurahan="33.22.10.1004",
        bkm_code="BKM-PJG",
        bkm_name="BKM Panjang Makmur",
        latitude=-7.2539,
        longitude=110.3952,
        roster_size=0,
        nik_prefix="332210",
        names="jawa",
        channel=Channel.WHATSAPP,
        activities=(
            ActivitySpec(
                "KEG-PJG-01",
                "Paving block jalan lingkungan RW 05",
                Indicator.JALAN_LINGKUNGAN,
                "m",
                210.0,
                200_000_000,
                130_000_000,
                "on_plan",
                start_days_ago=20,
            ),
            ActivitySpec(
                "KEG-PJG-02",
                "Talud dan saluran drainase",
                Indicator.DRAINASE,
                "m",
                95.0,
                100_000_000,
                60_000_000,
                "ahead",
                start_days_ago=20,
                duration_days=56,
            ),
        ),
    ),
    KsmSpec(
        code="KSM-BLA-01",
        name="KSM Buloa Bersatu",
        kelurahan="73.71.07.1008",
        bkm_code="BKM-BLA",
        bkm_name="BKM Buloa Sipakatau",
        latitude=-5.1068,
        longitude=119.4333,
        roster_size=12,
        nik_prefix="737107",
        names="makassar",
        channel=Channel.WHATSAPP,
        activities=(
            ActivitySpec(
                "KEG-BLA-01",
                "Saluran drainase dan gorong-gorong",
                Indicator.DRAINASE,
                "m",
                120.0,
                170_000_000,
                100_000_000,
                "behind",
            ),
            ActivitySpec(
                "KEG-BLA-02",
                "Rabat beton jalan setapak tepi kanal",
                Indicator.JALAN_LINGKUNGAN,
                "m",
                90.0,
                130_000_000,
                80_000_000,
                "ahead",
            ),
        ),
    ),
)

# The worker who also chats (role worker) is the first name on the Bejalen roster.
PEOPLE: tuple[PersonSpec, ...] = (
    PersonSpec("ketua-bejalen", "Suparno Wibowo", Role.KETUA_KSM, "081225431107", scope_ksm="KSM-BJL-01"),
    PersonSpec("ketua-tambakboyo", "Siti Khotimah", Role.KETUA_KSM, "085640218833", scope_ksm="KSM-TBY-01"),
    PersonSpec("ketua-lodoyong", "Darmanto", Role.KETUA_KSM, "082137760415", scope_ksm="KSM-LDY-01"),
    PersonSpec("ketua-panjang", "Heru Prasetyo", Role.KETUA_KSM, "081390054726", scope_ksm="KSM-PJG-01"),
    PersonSpec(
        "ketua-buloa", "Syamsuddin Daeng Ngalle", Role.KETUA_KSM, "081342217780", scope_ksm="KSM-BLA-01"
    ),
    PersonSpec("pekerja-bejalen", "Slamet Riyadi", Role.WORKER, "087731206654", scope_ksm="KSM-BJL-01"),
    PersonSpec("bkm-bejalen", "H. Mulyono", Role.BKM, "081228803391", scope_bkm="BKM-BJL"),
    PersonSpec("bkm-tambakboyo", "Endang Sulastri", Role.BKM, "085799012264", scope_bkm="BKM-TBY"),
    PersonSpec("bkm-lodoyong", "Purwanto", Role.BKM, "089524418870", scope_bkm="BKM-LDY"),
    PersonSpec("bkm-panjang", "Sri Rejeki", Role.BKM, "081575530912", scope_bkm="BKM-PJG"),
    PersonSpec("bkm-buloa", "Hasnah Rahman", Role.BKM, "085255610483", scope_bkm="BKM-BLA"),
    PersonSpec(
        "fasil-ambarawa", "Wulan Puspitasari", Role.FASILITATOR, "081326674401", scope_region="33.22.10"
    ),
    PersonSpec(
        "fasil-buloa", "Andi Muhammad Ilham", Role.FASILITATOR, "082193345078", scope_region="73.71.07.1008"
    ),
    PersonSpec("askot-semarang", "Hendra Kusuma", Role.ASKOT, "081229907713", scope_region="33.22"),
    PersonSpec("korkot-semarang", "Maya Anggraini", Role.KORKOT, "081390418826", scope_region="33.22"),
    PersonSpec("askot-makassar", "Rahmat Hidayat", Role.ASKOT, "081241156692", scope_region="73.71"),
    PersonSpec("prov-jateng", "Bambang Setyo Nugroho", Role.PROVINSI, "081127705538", scope_region="33"),
    PersonSpec("pmu-nasional", "Dwi Ratnasari", Role.NASIONAL, "081287723340"),
    PersonSpec("admin", "Admin KOTAKU", Role.ADMIN, "081299001122"),
)

NAMES: dict[str, dict[str, list[str]]] = {
    "jawa": {
        "L": [
            "Slamet", "Budi", "Joko", "Agus", "Bambang", "Sugeng", "Wahyu", "Eko", "Hadi", "Sutrisno",
            "Mulyono", "Teguh", "Rudi", "Yanto", "Sigit", "Wawan", "Gunawan", "Bagus", "Arif", "Heri",
            "Suryadi", "Paijo", "Tukiman", "Sarno",
        ],
        "P": [
            "Sri", "Siti", "Dewi", "Rina", "Yuni", "Sari", "Endang", "Tutik", "Suryani", "Puji",
            "Ratna", "Indah", "Umi", "Rini", "Sumiyati", "Wartini",
        ],
        "last_L": [
            "Santoso", "Susilo", "Riyadi", "Prasetyo", "Hartono", "Hidayat", "Purnomo", "Raharjo",
            "Setiawan", "Wibowo", "Nugroho", "Saputro", "Kurniawan", "Widodo", "Utomo", "Sulistyo",
        ],
        "last_P": [
            "Wulandari", "Aminah", "Lestari", "Marlina", "Astuti", "Handayani", "Rahayu", "Susanti",
            "Mulyani", "Wahyuni", "Utami", "Rahmawati",
        ],
    },
    "makassar": {
        "L": [
            "Muhammad", "Abdul", "Syamsul", "Haris", "Ilham", "Rusli", "Jufri", "Basri", "Amir",
            "Ridwan", "Kamaruddin", "Sahabuddin",
        ],
        "P": ["Nurhayati", "Hasmawati", "Nurlina", "Rosmiati", "Sitti", "Hadijah", "Rahmawati", "Irmawati"],
        "last_L": ["Rahman", "Hamid", "Syarif", "Saleh", "Arifin", "Latif", "Daeng Nai", "Daeng Sese"],
        "last_P": ["Rahman", "Hamid", "Saleh", "Daeng Baji", "Daeng Ngai", "Arifin"],
    },
}  # fmt: skip


# --- emptiness and reset --------------------------------------------------------------------------

PROGRAM_TABLES = (Region, Bkm, Ksm, Activity, Person, Worker)


async def _has_program_data(session: AsyncSession) -> bool:
    for model in PROGRAM_TABLES:
        if (await session.execute(select(model.id).limit(1))).first() is not None:
            return True
    return False


async def is_empty(db: Database) -> bool:
    """True when the database holds no regions, BKM, KSM, activities, people or workers."""
    async with db.session() as session:
        return not await _has_program_data(session)


async def _delete_all(session: AsyncSession) -> None:
    # Region rows point at their parent: unlink first, then every table child-first.
    await session.execute(update(Region).values(parent_id=None))
    for table in reversed(Base.metadata.sorted_tables):
        await session.execute(delete(table))


async def reset_program(db: Database) -> None:
    """Delete every row of every program table (regions, people, reports, outbox, audit...)."""
    async with db.transaction() as session:
        await _delete_all(session)


# --- seeding --------------------------------------------------------------------------------------


def _local_dt(day: date, at: time, tz: str) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz))


def _short_id(rng: random.Random, taken: set[str]) -> str:
    """An obstacle code like the chat gives one (`K-7F3Q`), drawn from the demo's seed."""
    while True:
        code = short_id_candidate(rng)
        if code not in taken:
            taken.add(code)
            return code


def _nik(rng: random.Random, prefix: str, gender: Gender, serial: int) -> str:
    day = rng.randint(1, 28) + (40 if gender == Gender.P else 0)
    month = rng.randint(1, 12)
    year = rng.choice([*range(60, 100), *range(0, 4)])
    return normalize_nik(f"{prefix}{day:02d}{month:02d}{year:02d}{serial:04d}")


def _final_percent(outcome: str, planned_today: float, cfg: MonitoringConfig, rng: random.Random) -> float:
    """The last reported percent that gives `outcome` when compared with today's plan."""
    tol = cfg.on_plan_tolerance
    low = cfg.critical_behind_low
    if outcome == "on_plan":
        value = planned_today
    elif outcome == "ahead":
        value = planned_today + tol + rng.uniform(0.8, 3.0)
    elif outcome == "behind":
        value = planned_today - max(tol + 1.0, low * rng.uniform(0.4, 0.65))
    elif outcome == "critical":
        value = planned_today - (low + rng.uniform(4.0, 6.0))
    else:  # pragma: no cover - specs are constants
        raise ValueError(outcome)
    return round(min(99.0, max(0.5, value)), 2)


def _progress_curve(
    days: Sequence[date],
    plan: Sequence[tuple[date, float]],
    start: date,
    end: date,
    final: float,
    rng: random.Random,
) -> list[float]:
    """Cumulative percents on `days`: the plan's shape scaled to end at `final`, noisy, never decreasing."""
    if not days:
        return []
    base = [planned_percent(plan, start, end, d + timedelta(days=1)) for d in days]
    scale = final / base[-1] if base[-1] > 0 else 0.0
    values: list[float] = []
    prev = 0.0
    for i, b in enumerate(base):
        v = final if i == len(base) - 1 else min(final, b * scale * rng.uniform(0.9, 1.08))
        v = round(max(prev, v), 2)
        values.append(v)
        prev = v
    return values


def _make_name(rng: random.Random, pool: str, gender: Gender, used: set[str]) -> str:
    names = NAMES[pool]
    for _ in range(200):
        name = f"{rng.choice(names[gender.value])} {rng.choice(names['last_' + gender.value])}"
        if name not in used:
            used.add(name)
            return name
    raise DemoError("name pool exhausted")  # pragma: no cover


async def seed_demo(
    db: Database,
    settings: Settings,
    *,
    at: datetime | None = None,
    reset: bool = False,
    seed: int = DEMO_SEED,
    vault: NikVault | None = None,
) -> DemoSummary:
    """Load the demo program in one transaction and return its summary as of `at` (default now).

    Raises `DemoNotEmpty` when the database already has program data, unless `reset` is true, in which
    case every row is deleted first (in the same transaction).
    """
    vault = vault or vault_from_settings(settings)
    at = at or clock.now()
    cfg = settings.monitoring
    rng = random.Random(seed)
    async with db.transaction() as s:
        if await _has_program_data(s):
            if not reset:
                raise DemoNotEmpty()
            await _delete_all(s)
        elif reset:
            await _delete_all(s)  # operational leftovers (outbox, conversation state)

        # Regions
        regions: dict[str, Region] = {}
        for rs in REGIONS:
            parent = regions[rs.parent] if rs.parent else None
            region = Region(
                code=rs.code,
                name=rs.name,
                level=rs.level,
                timezone=rs.timezone,
                parent=parent,
                path=child_path(parent.path if parent else None, rs.code),
            )
            regions[rs.code] = region
            s.add(region)
        await s.flush()

        # BKM and KSM
        bkms: dict[str, Bkm] = {}
        ksms: dict[str, Ksm] = {}
        for ks in KSMS:
            bkm = Bkm(code=ks.bkm_code, name=ks.bkm_name, kelurahan_id=regions[ks.kelurahan].id)
            bkms[ks.bkm_code] = bkm
            s.add(bkm)
        await s.flush()
        for ks in KSMS:
            ksm = Ksm(
                code=ks.code,
                name=ks.name,
                bkm_id=bkms[ks.bkm_code].id,
                keeps_roster=ks.roster_size > 0,
                latitude=ks.latitude,
                longitude=ks.longitude,
            )
            ksms[ks.code] = ksm
            s.add(ksm)
        await s.flush()

        # People, each with a console identity named by their code
        people: dict[str, Person] = {}
        for ps in PEOPLE:
            person = Person(
                code=ps.code,
                name=ps.name,
                role=ps.role,
                phone=normalize_phone(ps.phone),
                language="id",
                scope_ksm_id=ksms[ps.scope_ksm].id if ps.scope_ksm else None,
                scope_bkm_id=bkms[ps.scope_bkm].id if ps.scope_bkm else None,
                scope_region_id=regions[ps.scope_region].id if ps.scope_region else None,
            )
            people[ps.code] = person
            s.add(person)
        await s.flush()
        for person in people.values():
            s.add(
                ChannelIdentity(
                    person_id=person.id,
                    channel=Channel.CONSOLE,
                    external_id=person.code,
                    chat_id=person.code,
                    display_name=person.name,
                )
            )
        ketua = {p.scope_ksm_id: p for p in people.values() if p.role == Role.KETUA_KSM}

        # Activities with their weekly S-curve
        activities: dict[str, Activity] = {}
        plans: dict[str, list[tuple[date, float]]] = {}
        for ks in KSMS:
            tz = regions[ks.kelurahan].timezone
            today = clock.local_today(tz, at)
            for spec in ks.activities:
                start = today - timedelta(days=spec.start_days_ago)
                end = start + timedelta(days=spec.duration_days)
                act = Activity(
                    code=spec.code,
                    ksm_id=ksms[ks.code].id,
                    name=spec.name,
                    indicator=spec.indicator,
                    unit=spec.unit,
                    target_volume=spec.target_volume,
                    budget=spec.budget,
                    wage_budget=spec.wage_budget,
                    start_date=start,
                    end_date=end,
                    latitude=round(ks.latitude + rng.uniform(-0.0015, 0.0015), 6),
                    longitude=round(ks.longitude + rng.uniform(-0.0015, 0.0015), 6),
                    description=f"PKT {spec.duration_days} hari, upah {spec.wage_budget * 100 // spec.budget}%",
                )
                activities[spec.code] = act
                plans[spec.code] = default_plan_points(start, end, cfg.curve)
                s.add(act)
        await s.flush()
        for code, act in activities.items():
            s.add_all(PlanPoint(activity_id=act.id, plan_date=d, planned_percent=p) for d, p in plans[code])

        # Rosters
        serial = 0
        rosters: dict[str, list[Worker]] = {}
        first_worker = {p.scope_ksm_id: p.name for p in people.values() if p.role == Role.WORKER}
        for ks in KSMS:
            ksm = ksms[ks.code]
            used: set[str] = set()
            workers: list[Worker] = []
            n_tukang = max(2, ks.roster_size // 4)
            for i in range(ks.roster_size):
                skill = Skill.TUKANG if i < n_tukang else Skill.PEKERJA
                gender = Gender.L if skill == Skill.TUKANG or rng.random() < 0.62 else Gender.P
                if i == 0 and ksm.id in first_worker:
                    name = first_worker[ksm.id]
                    gender, skill = Gender.L, Skill.PEKERJA
                    used.add(name)
                else:
                    name = _make_name(rng, ks.names, gender, used)
                serial += 1
                enc, nik_hash = vault.protect(_nik(rng, ks.nik_prefix, gender, serial))
                rate = (
                    rng.choice([100_000, 110_000, 115_000, 120_000, 125_000])
                    if skill == Skill.TUKANG
                    else rng.choice([80_000, 85_000, 90_000])
                )
                workers.append(
                    Worker(
                        ksm_id=ksm.id,
                        code=f"{ks.code.removeprefix('KSM-')}-{i + 1:02d}",
                        name=name,
                        gender=gender,
                        skill=skill,
                        nik_encrypted=enc,
                        nik_hash=nik_hash,
                        daily_rate=rate,
                        is_phk=rng.random() < 0.4,
                    )
                )
            rosters[ks.code] = workers
            s.add_all(workers)
        await s.flush()

        # History: progress, attendance, obstacles
        short_ids: set[str] = set()
        for ks in KSMS:
            ksm = ksms[ks.code]
            tz = regions[ks.kelurahan].timezone
            today = clock.local_today(tz, at)
            reporter = ketua[ksm.id]
            first_start = min(activities[a.code].start_date for a in ks.activities)
            days = CALENDAR.days_between(first_start, today - timedelta(days=1))
            if ks.silent_workdays:
                silent = set(CALENDAR.days_before(today, ks.silent_workdays))
                days = [d for d in days if d not in silent]

            for spec in ks.activities:
                act = activities[spec.code]
                plan = plans[spec.code]
                planned_today = planned_percent(plan, act.start_date, act.end_date, today, cfg.curve)
                final = _final_percent(spec.outcome, planned_today, cfg, rng)
                act_days = [d for d in days if d >= act.start_date]
                curve = _progress_curve(act_days, plan, act.start_date, act.end_date, final, rng)
                s.add_all(
                    ProgressReport(
                        activity_id=act.id,
                        report_date=d,
                        percent=pct,
                        volume=round(spec.target_volume * pct / 100, 2),
                        entered_by_id=reporter.id,
                        entered_at=_local_dt(d, REPORT_TIME, tz) + timedelta(minutes=rng.randint(0, 75)),
                        channel=ks.channel,
                    )
                    for d, pct in zip(act_days, curve, strict=True)
                )

            # Wages are paid at the end of each week; the last few days are still to be paid.
            for d in days:
                paid = (today - d).days > 3
                entered_at = _local_dt(d, REPORT_TIME, tz) + timedelta(minutes=rng.randint(0, 75))
                if ks.roster_size == 0:
                    male, female = rng.randint(11, 15), rng.randint(3, 6)
                    s.add(
                        AttendanceDay(
                            ksm_id=ksm.id,
                            work_date=d,
                            mode=AttendanceMode.COUNT,
                            count_male=male,
                            count_female=female,
                            hok=float(male + female),
                            total_wages=(male + female) * 90_000,
                            wages_paid=paid,
                            entered_by_id=reporter.id,
                            entered_at=entered_at,
                            channel=ks.channel,
                        )
                    )
                    continue
                p_present = 0.9
                if _has_outcome(ks, "critical") and (today - d).days <= 6:
                    p_present = 0.55  # waiting for cement: fewer hands on site
                present = [w for w in rosters[ks.code] if rng.random() < p_present]
                if len(present) < 3:
                    present = rosters[ks.code][:3]
                records = [
                    AttendanceRecord(
                        worker_id=w.id,
                        ksm_id=ksm.id,
                        work_date=d,
                        nik_hash=w.nik_hash,
                        hok=1.0,
                        wage=w.daily_rate,
                        paid=paid,
                    )
                    for w in present
                ]
                s.add(
                    AttendanceDay(
                        ksm_id=ksm.id,
                        work_date=d,
                        mode=AttendanceMode.ROSTER,
                        count_male=sum(1 for w in present if w.gender == Gender.L),
                        count_female=sum(1 for w in present if w.gender == Gender.P),
                        hok=float(len(present)),
                        total_wages=sum(w.daily_rate for w in present),
                        wages_paid=paid,
                        entered_by_id=reporter.id,
                        entered_at=entered_at,
                        channel=ks.channel,
                        records=records,
                    )
                )

        s.add_all(_obstacles(regions, ksms, activities, people, at, rng, short_ids))

    return await summarize(db, settings, at=at)


def _has_outcome(ks: KsmSpec, outcome: str) -> bool:
    return any(a.outcome == outcome for a in ks.activities)


def _obstacles(
    regions: dict[str, Region],
    ksms: dict[str, Ksm],
    activities: dict[str, Activity],
    people: dict[str, Person],
    at: datetime | None,
    rng: random.Random,
    short_ids: set[str],
) -> Iterable[Obstacle]:
    def today_of(ksm_code: str) -> tuple[date, str]:
        spec = next(k for k in KSMS if k.code == ksm_code)
        tz = regions[spec.kelurahan].timezone
        return clock.local_today(tz, at), tz

    today, tz = today_of("KSM-TBY-01")
    day = CALENDAR.days_before(today, 5)[-1]
    yield Obstacle(
        short_id=_short_id(rng, short_ids),
        ksm_id=ksms["KSM-TBY-01"].id,
        activity_id=activities["KEG-TBY-01"].id,
        report_date=day,
        category=ObstacleCategory.MATERIAL,
        severity=Severity.TINGGI,
        description="Material semen belum datang dari toko bangunan; pengecoran lantai dan dinding MCK tertunda.",
        status=ObstacleStatus.OPEN,
        reported_by_id=people["ketua-tambakboyo"].id,
        reported_at=_local_dt(day, time(10, 20), tz),
    )

    today, tz = today_of("KSM-BJL-01")
    day = CALENDAR.days_before(today, 10)[-1]
    yield Obstacle(
        short_id=_short_id(rng, short_ids),
        ksm_id=ksms["KSM-BJL-01"].id,
        activity_id=activities["KEG-BJL-01"].id,
        report_date=day,
        category=ObstacleCategory.CUACA,
        severity=Severity.SEDANG,
        description="Hujan deras sejak siang, pengecoran rabat beton dihentikan sementara.",
        status=ObstacleStatus.CLOSED,
        reported_by_id=people["ketua-bejalen"].id,
        reported_at=_local_dt(day, time(13, 5), tz),
        closed_by_id=people["fasil-ambarawa"].id,
        closed_at=_local_dt(day + timedelta(days=1), time(9, 30), tz),
        close_note="Cuaca cerah, pengecoran dilanjutkan; jadwal digeser satu hari.",
    )

    today, tz = today_of("KSM-BLA-01")
    day = CALENDAR.days_before(today, 3)[-1]
    yield Obstacle(
        short_id=_short_id(rng, short_ids),
        ksm_id=ksms["KSM-BLA-01"].id,
        activity_id=activities["KEG-BLA-01"].id,
        report_date=day,
        category=ObstacleCategory.LAHAN_SOSIAL,
        severity=Severity.SEDANG,
        description="Dua rumah warga belum setuju jalur saluran melewati halaman; menunggu musyawarah RT.",
        status=ObstacleStatus.OPEN,
        reported_by_id=people["ketua-buloa"].id,
        reported_at=_local_dt(day, time(15, 40), tz),
    )


# --- summary --------------------------------------------------------------------------------------

STATUS_STYLES = {
    Status.AHEAD: "green",
    Status.ON_PLAN: "green",
    Status.BEHIND: "yellow",
    Status.CRITICAL: "bold red",
    Status.DONE: "cyan",
}


@dataclass(frozen=True)
class RegionLine:
    code: str
    name: str
    level: str
    timezone: str


@dataclass(frozen=True)
class KsmLine:
    code: str
    name: str
    bkm: str
    kelurahan: str
    timezone: str
    today: date
    keeps_roster: bool
    workers: int
    last_report: date | None
    missed_workdays: int


@dataclass(frozen=True)
class ActivityLine:
    code: str
    name: str
    ksm: str
    kelurahan: str
    indicator: str
    unit: str
    target_volume: float
    budget: int
    wage_budget: int
    start_date: date
    end_date: date
    today: date
    planned: float
    actual: float | None
    deviation: float | None
    status: Status
    last_report: date | None


@dataclass(frozen=True)
class PersonLine:
    code: str
    name: str
    role: str
    scope: str
    phone: str | None


@dataclass(frozen=True)
class DemoSummary:
    """What the program looks like on one day: counts, regions, KSMs, activities with status, people."""

    at: datetime
    counts: dict[str, int]
    regions: list[RegionLine] = field(default_factory=list)
    ksms: list[KsmLine] = field(default_factory=list)
    activities: list[ActivityLine] = field(default_factory=list)
    people: list[PersonLine] = field(default_factory=list)
    open_obstacles: list[dict[str, Any]] = field(default_factory=list)

    def activity(self, code: str) -> ActivityLine:
        return next(a for a in self.activities if a.code == code)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: dates as ISO strings, statuses by value."""

        def conv(value: Any) -> Any:
            if isinstance(value, datetime | date):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: conv(v) for k, v in value.items()}
            if isinstance(value, list):
                return [conv(v) for v in value]
            return value

        data = asdict(self)
        for line in data["activities"]:
            line["status"] = Status(line["status"]).value
        return conv(data)  # type: ignore[no-any-return]

    def render(self, console: Console, lang: str = DEFAULT_LANG) -> None:
        """A readable summary in `lang`. Who one can be is `kotaku chat --list` (and the picker of
        `kotaku run`), so the people are not listed here again."""

        def t(key: str, **params: Any) -> str:
            return catalogue.t(key, lang, **params)

        def table(title_key: str, *columns: str) -> Table:
            out = Table(title=t(title_key), title_justify="left")
            for col in columns:
                out.add_column(t(f"cli.demo.col.{col}"), no_wrap=col == "code")
            return out

        days = sorted({(k.today, k.timezone) for k in self.ksms})
        today_text = ", ".join(f"{fmt_date(d, lang)} {zone_abbreviation(tz)}" for d, tz in days)
        console.print(t("cli.demo.heading", today=today_text), style="bold", markup=False)
        console.print(t("cli.demo.counts", **self.counts), markup=False)

        regions = table("cli.demo.regions", "code", "name", "level", "zone")
        for r in self.regions:
            regions.add_row(r.code, r.name, r.level, zone_abbreviation(r.timezone))
        console.print(regions)

        ksms = table("cli.demo.ksms", "code", "name", "kelurahan", "workers", "last_report", "note")
        for k in self.ksms:
            roster = str(k.workers) if k.keeps_roster else t("cli.demo.by_count")
            last = fmt_short_date(k.last_report, lang) if k.last_report else "-"
            note = (
                Text(t("cli.demo.missed", n=k.missed_workdays), style="yellow")
                if k.missed_workdays >= 2
                else t("cli.demo.routine")
            )
            ksms.add_row(k.code, k.name, k.kelurahan, roster, last, note)
        console.print(ksms)

        acts = Table(title=t("cli.demo.activities"), title_justify="left")
        acts.add_column(t("cli.demo.col.code"), no_wrap=True)
        acts.add_column(t("cli.demo.col.activity"), ratio=1)
        for col in ("target", "planned", "actual", "deviation"):
            acts.add_column(t(f"cli.demo.col.{col}"), justify="right", no_wrap=True)
        acts.add_column(t("cli.demo.col.status"), no_wrap=True)
        for a in self.activities:
            acts.add_row(
                a.code,
                a.name,
                f"{fmt_number(a.target_volume, lang)} {a.unit}",
                fmt_number(a.planned, lang, 1),
                fmt_number(a.actual, lang, 1) if a.actual is not None else "-",
                fmt_signed(round(a.deviation, 1), lang) if a.deviation is not None else "-",
                Text(t(f"cli.demo.status.{a.status.name.lower()}"), style=STATUS_STYLES.get(a.status, "")),
            )
        console.print(acts)

        if self.open_obstacles:
            obs = table("cli.demo.obstacles", "code", "ksm", "date", "severity", "description")
            for o in self.open_obstacles:
                obs.add_row(
                    o["short_id"],
                    o["ksm"],
                    fmt_date(o["report_date"], lang),
                    catalogue.t(f"kendala.sev.{o['severity']}", lang),
                    o["description"],
                )
            console.print(obs)


async def summarize(db: Database, settings: Settings, *, at: datetime | None = None) -> DemoSummary:
    """Read the program back: each activity's plan vs latest progress on its site's local today."""
    cfg = settings.monitoring
    at = at or clock.now()
    async with db.session() as s:
        counts: dict[str, int] = {}
        for name, model in (
            ("region", Region),
            ("bkm", Bkm),
            ("ksm", Ksm),
            ("activity", Activity),
            ("plan_point", PlanPoint),
            ("worker", Worker),
            ("person", Person),
            ("channel_identity", ChannelIdentity),
            ("progress_report", ProgressReport),
            ("attendance_day", AttendanceDay),
            ("attendance_record", AttendanceRecord),
            ("obstacle", Obstacle),
        ):
            counts[name] = int((await s.execute(select(func.count()).select_from(model))).scalar_one())

        region_rows = list((await s.execute(select(Region).order_by(Region.path))).scalars())
        by_id = {r.id: r for r in region_rows}
        bkms = {b.id: b for b in (await s.execute(select(Bkm))).scalars()}
        ksm_rows = list((await s.execute(select(Ksm).order_by(Ksm.code))).scalars())
        ksm_by_id = {k.id: k for k in ksm_rows}
        acts = list((await s.execute(select(Activity).order_by(Activity.code))).scalars())

        plan_by_act: dict[int, list[tuple[date, float]]] = defaultdict(list)
        for aid, d, p in await s.execute(
            select(PlanPoint.activity_id, PlanPoint.plan_date, PlanPoint.planned_percent)
        ):
            plan_by_act[aid].append((d, p))
        history: dict[int, list[tuple[date, float]]] = defaultdict(list)
        for aid, d, p in await s.execute(
            select(ProgressReport.activity_id, ProgressReport.report_date, ProgressReport.percent)
        ):
            history[aid].append((d, p))
        worker_counts = dict(
            (
                await s.execute(
                    select(Worker.ksm_id, func.count()).where(Worker.active).group_by(Worker.ksm_id)
                )
            ).all()
        )
        last_attendance = dict(
            (
                await s.execute(
                    select(AttendanceDay.ksm_id, func.max(AttendanceDay.work_date)).group_by(
                        AttendanceDay.ksm_id
                    )
                )
            ).all()
        )
        people_rows = list((await s.execute(select(Person).order_by(Person.id))).scalars())
        open_obs = list(
            (
                await s.execute(
                    select(Obstacle)
                    .where(Obstacle.status == ObstacleStatus.OPEN)
                    .order_by(Obstacle.report_date)
                )
            ).scalars()
        )

    def tz_of_ksm(ksm: Ksm) -> tuple[str, Region]:
        kel = by_id[bkms[ksm.bkm_id].kelurahan_id]
        return kel.timezone, kel

    activities: list[ActivityLine] = []
    last_progress_by_ksm: dict[int, date] = {}
    for act in acts:
        ksm = ksm_by_id[act.ksm_id]
        tz, kel = tz_of_ksm(ksm)
        today = clock.local_today(tz, at)
        hist = sorted(h for h in history[act.id] if h[0] <= today)
        planned = planned_percent(plan_by_act[act.id], act.start_date, act.end_date, today, cfg.curve)
        actual = hist[-1][1] if hist else None
        result = assess(
            planned=planned,
            actual=actual,
            cfg=cfg,
            end=act.end_date,
            projected_finish=project_finish(hist),
        )
        last = hist[-1][0] if hist else None
        if last is not None:
            last_progress_by_ksm[ksm.id] = max(last, last_progress_by_ksm.get(ksm.id, last))
        activities.append(
            ActivityLine(
                code=act.code,
                name=act.name,
                ksm=ksm.code,
                kelurahan=kel.name,
                indicator=act.indicator.value,
                unit=act.unit,
                target_volume=act.target_volume,
                budget=act.budget,
                wage_budget=act.wage_budget,
                start_date=act.start_date,
                end_date=act.end_date,
                today=today,
                planned=planned,
                actual=actual,
                deviation=result.deviation,
                status=result.status,
                last_report=last,
            )
        )

    ksms: list[KsmLine] = []
    for ksm in ksm_rows:
        tz, kel = tz_of_ksm(ksm)
        today = clock.local_today(tz, at)
        candidates = [d for d in (last_progress_by_ksm.get(ksm.id), last_attendance.get(ksm.id)) if d]
        last = max(candidates) if candidates else None
        starts = [a.start_date for a in acts if a.ksm_id == ksm.id]
        since = (last + timedelta(days=1)) if last else (min(starts) if starts else today)
        missed = len(CALENDAR.days_between(since, today - timedelta(days=1)))
        ksms.append(
            KsmLine(
                code=ksm.code,
                name=ksm.name,
                bkm=bkms[ksm.bkm_id].name,
                kelurahan=kel.name,
                timezone=tz,
                today=today,
                keeps_roster=ksm.keeps_roster,
                workers=int(worker_counts.get(ksm.id, 0)),
                last_report=last,
                missed_workdays=missed,
            )
        )

    def scope_label(p: Person) -> str:
        if p.scope_ksm_id is not None:
            return ksm_by_id[p.scope_ksm_id].name
        if p.scope_bkm_id is not None:
            return bkms[p.scope_bkm_id].name
        if p.scope_region_id is not None:
            return region_label(by_id[p.scope_region_id])
        return "nasional"

    return DemoSummary(
        at=at,
        counts=counts,
        regions=[RegionLine(r.code, r.name, r.level.value, r.timezone) for r in region_rows],
        ksms=ksms,
        activities=activities,
        people=[PersonLine(p.code, p.name, role_label(p.role), scope_label(p), p.phone) for p in people_rows],
        open_obstacles=[
            {
                "short_id": o.short_id,
                "ksm": ksm_by_id[o.ksm_id].code,
                "report_date": o.report_date,
                "category": o.category.value,
                "severity": o.severity.value,
                "description": o.description,
            }
            for o in open_obs
        ],
    )
