"""Scopes: who may see and report what (KSM < BKM/kelurahan < kecamatan < kota < provinsi < national)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.models import Bkm, Ksm, Person, Region, Role

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
    if raw.lower() in {"nasional", "national", "*"}:
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
        stmt = (
            stmt.join(Bkm, Bkm.id == Ksm.bkm_id)
            .join(Region, Region.id == Bkm.kelurahan_id)
            .where((Region.path == region.path) | Region.path.startswith(region.path + "/"))
        )
    return list((await session.execute(stmt.order_by(Ksm.code))).scalars())


async def scope_contains_ksm(session: AsyncSession, scope: Scope, ksm_id: int) -> bool:
    if scope.is_national:
        return True
    if scope.ksm_id is not None:
        return scope.ksm_id == ksm_id
    return ksm_id in await ksm_ids_in_scope(session, scope)


DEFAULT_TIMEZONE = "Asia/Jakarta"


async def ksm_timezone(session: AsyncSession, ksm_id: int, default: str = DEFAULT_TIMEZONE) -> str:
    """The time zone of a KSM's kelurahan (WIB, WITA or WIT): where "today" and reminder times are read."""
    stmt = (
        select(Region.timezone)
        .join(Bkm, Bkm.kelurahan_id == Region.id)
        .join(Ksm, Ksm.bkm_id == Bkm.id)
        .where(Ksm.id == ksm_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() or default


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
