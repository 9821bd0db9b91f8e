"""Scopes: who may see and report what (KSM < BKM/kelurahan < kecamatan < kota < provinsi < national),
and where a KSM lies: its kelurahan, its time zone and its local today, in Python and in SQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVarTuple

from sqlalchemy import Date, Select, and_, bindparam, case, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from kotaku.db import structure_cache
from kotaku.domain.regions import PATH_SEP, path_codes
from kotaku.models import Bkm, Ksm, Person, Region, Role

Ts = TypeVarTuple("Ts")

# Which scope each role may have: "ksm", "bkm", a region level, or "nasional" (import and invites alike).
ROLE_SCOPES: dict[Role, tuple[str, ...]] = {
    Role.WORKER: ("ksm",),
    Role.KETUA_KSM: ("ksm",),
    Role.BKM: ("bkm",),
    Role.FASILITATOR: ("bkm", "kelurahan", "kecamatan", "kabkota"),
    Role.ASKOT: ("kecamatan", "kabkota"),
    Role.KORKOT: ("kabkota",),
    Role.PROVINSI: ("provinsi",),
    Role.NASIONAL: ("nasional",),
    Role.ADMIN: ("nasional",),
}


# The words that name the whole program (chat, CLI and import sheets alike).
NATIONAL_WORDS = frozenset({"nasional", "national", "*"})


class ScopeNotFound(LookupError):
    """The scope text names no KSM, BKM or region."""


@dataclass(frozen=True)
class Scope:
    """Exactly one of ksm/bkm/region, or none of them for the whole program."""

    ksm_id: int | None = None
    bkm_id: int | None = None
    region_id: int | None = None
    label: str = "nasional"
    kind: str = ""  # "ksm", "bkm", a region level ("region" when unknown), or "nasional"

    def __post_init__(self) -> None:
        if not self.kind:
            kind = (
                "ksm" if self.ksm_id else "bkm" if self.bkm_id else "region" if self.region_id else "nasional"
            )
            object.__setattr__(self, "kind", kind)

    @property
    def is_national(self) -> bool:
        return self.ksm_id is None and self.bkm_id is None and self.region_id is None


NATIONAL = Scope()


async def resolve_scope(session: AsyncSession, text: str) -> Scope:
    """Read `ksm:CODE`, `bkm:CODE`, `region:CODE` (or a bare Kemendagri code), `nasional`."""
    raw = text.strip()
    kind, _, code = raw.partition(":")
    if not code:
        kind, code = "", raw
    kind = kind.lower()
    if raw.lower() in NATIONAL_WORDS:
        return NATIONAL
    if kind in {"", "ksm"}:
        ksm = (await session.execute(select(Ksm).where(Ksm.code == code))).scalar_one_or_none()
        if ksm is not None:
            return Scope(ksm_id=ksm.id, label=f"KSM {ksm.name}", kind="ksm")
    if kind in {"", "bkm"}:
        bkm = (await session.execute(select(Bkm).where(Bkm.code == code))).scalar_one_or_none()
        if bkm is not None:
            return Scope(bkm_id=bkm.id, label=f"BKM {bkm.name}", kind="bkm")
    if kind in {"", "region", "wilayah"}:
        region = (await session.execute(select(Region).where(Region.code == code))).scalar_one_or_none()
        if region is not None:
            return Scope(
                region_id=region.id, label=f"{region.level.value} {region.name}", kind=region.level.value
            )
    raise ScopeNotFound(raw)


def scope_of(person: Person) -> Scope:
    return Scope(ksm_id=person.scope_ksm_id, bkm_id=person.scope_bkm_id, region_id=person.scope_region_id)


async def ksm_ids_in_scope(session: AsyncSession, scope: Scope) -> list[int]:
    """Every KSM inside a scope, via the region's materialised path."""
    stmt = select(Ksm.id)
    if scope.ksm_id is not None:
        stmt = stmt.where(Ksm.id == scope.ksm_id)
    elif scope.bkm_id is not None:
        stmt = stmt.where(Ksm.bkm_id == scope.bkm_id)
    elif scope.region_id is not None:
        region = await session.get(Region, scope.region_id)
        assert region is not None
        stmt = join_kelurahan(stmt).where(region_path_within(region.path))
    return list((await session.execute(stmt.order_by(Ksm.code))).scalars())


async def scope_contains_ksm(session: AsyncSession, scope: Scope, ksm_id: int) -> bool:
    if scope.is_national:
        return True
    if scope.ksm_id is not None:
        return scope.ksm_id == ksm_id
    return ksm_id in await ksm_ids_in_scope(session, scope)


DEFAULT_TIMEZONE = "Asia/Jakarta"


@dataclass(frozen=True)
class KsmPlace:
    """Where a KSM lies: its code and name, its BKM, and its kelurahan's time zone and region path."""

    id: int
    code: str
    name: str
    bkm_id: int
    timezone: str
    path: str


# Built once (no statement construction per call): `join_kelurahan` spelled out, as it is defined below.
_KSM_PLACE = (
    select(Ksm.id, Ksm.code, Ksm.name, Ksm.bkm_id, Region.timezone, Region.path)
    .join(Bkm, Bkm.id == Ksm.bkm_id)
    .join(Region, Region.id == Bkm.kelurahan_id)
    .where(Ksm.id == bindparam("ksm_id"))
)


async def ksm_place(session: AsyncSession, ksm_id: int) -> KsmPlace | None:
    """The KSM's place (None when there is no such KSM), from the process's structure cache when it has it
    (`kotaku.db.StructureCache`), else one query (then cached)."""
    cache = structure_cache(session)
    key = ("ksm_place", ksm_id)
    if cache is not None and (found := cache.get(key)) is not None:
        return found  # type: ignore[no-any-return]
    row = (await session.execute(_KSM_PLACE, {"ksm_id": ksm_id})).one_or_none()
    if row is None:
        return None
    place = KsmPlace(*row)
    if cache is not None:
        cache.put(key, place)
    return place


async def ksm_timezone(session: AsyncSession, ksm_id: int, default: str = DEFAULT_TIMEZONE) -> str:
    """The time zone of a KSM's kelurahan (WIB, WITA or WIT): where "today" and reminder times are read."""
    place = await ksm_place(session, ksm_id)
    return (place.timezone if place is not None else None) or default


async def person_timezone(session: AsyncSession, person: Person, default: str = DEFAULT_TIMEZONE) -> str:
    """A person's zone: their KSM's, BKM's or region's; `default` for national scope."""
    if person.scope_ksm_id is not None:
        return await ksm_timezone(session, person.scope_ksm_id, default)
    region_id = person.scope_region_id
    if person.scope_bkm_id is not None:
        bkm = await session.get(Bkm, person.scope_bkm_id)
        region_id = bkm.kelurahan_id if bkm else None
    if region_id is not None:
        region = await session.get(Region, region_id)
        if region is not None:
            return region.timezone
    return default


# Indonesia's three zones by their usual names (Asia/Pontianak is WIB too).
ZONE_ABBREVIATIONS = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}


def zone_abbreviation(tz: str) -> str:
    """`WIB`, `WITA`, `WIT` for an Indonesian time zone; the zone's own name otherwise."""
    return ZONE_ABBREVIATIONS.get(tz, tz)


async def scope_place(session: AsyncSession, scope: Scope) -> Ksm | Bkm | Region | None:
    """The KSM, BKM or region a scope is (in that order); None for the whole program or when it is gone."""
    if scope.ksm_id is not None:
        return await session.get(Ksm, scope.ksm_id)
    if scope.bkm_id is not None:
        return await session.get(Bkm, scope.bkm_id)
    if scope.region_id is not None:
        return await session.get(Region, scope.region_id)
    return None


async def place_name(session: AsyncSession, scope: Scope) -> str | None:
    """The own name of the KSM, BKM or region a scope is ("-" when it is gone); None for the whole program."""
    if scope.is_national:
        return None
    place = await scope_place(session, scope)
    return place.name if place is not None else "-"


# --- the same in SQL ------------------------------------------------------------------------------


def join_kelurahan(stmt: Select[*Ts], ksm_col: Any = None) -> Select[*Ts]:
    """Join a statement to the KSM's BKM and kelurahan (`Region`): from `Ksm` already in the statement,
    or, given `ksm_col` (a column holding a KSM id), joining `Ksm` on it first."""
    if ksm_col is not None:
        stmt = stmt.join(Ksm, Ksm.id == ksm_col)
    return stmt.join(Bkm, Bkm.id == Ksm.bkm_id).join(Region, Region.id == Bkm.kelurahan_id)


def region_path_within(path: str) -> ColumnElement[bool]:
    """SQL: `Region.path` is `path` or lies below it (`kotaku.domain.regions.within` for a query)."""
    return (Region.path == path) | Region.path.startswith(path + PATH_SEP)


def by_timezone(values: Mapping[str, Any], type_: TypeEngine[Any] | None = None) -> ColumnElement[Any]:
    """SQL: the value for the row's `Region.timezone` (a CASE; a constant when every zone has the same)."""
    items = sorted(values.items())
    if len({v for _, v in items}) == 1:
        return literal(items[0][1], type_)
    return case(
        *[(Region.timezone == tz, literal(v, type_)) for tz, v in items[:-1]],
        else_=literal(items[-1][1], type_),
    )


def local_today_sql(today_by_tz: Mapping[str, date]) -> ColumnElement[Any]:
    """SQL: the local today of the row's site, given the local today of each time zone."""
    return by_timezone(today_by_tz, Date())


async def people_in_scope_of_ksm(session: AsyncSession, ksm_id: int, roles: Sequence[Role]) -> list[Person]:
    """Active people with one of `roles` whose scope contains the KSM: the KSM itself, its BKM, one of
    the regions above it (by the region path), or the whole program. One query."""
    place = (
        await session.execute(join_kelurahan(select(Ksm.bkm_id, Region.path)).where(Ksm.id == ksm_id))
    ).one_or_none()
    if place is None:
        return []
    bkm_id, path = place
    regions_above = select(Region.id).where(Region.code.in_(path_codes(path)))
    national = and_(
        Person.scope_ksm_id.is_(None), Person.scope_bkm_id.is_(None), Person.scope_region_id.is_(None)
    )
    stmt = (
        select(Person)
        .where(
            Person.role.in_(list(roles)),
            Person.active.is_(True),
            or_(
                Person.scope_ksm_id == ksm_id,
                Person.scope_bkm_id == bkm_id,
                Person.scope_region_id.in_(regions_above),
                national,
            ),
        )
        .order_by(Person.id)
    )
    return list((await session.execute(stmt)).scalars())
