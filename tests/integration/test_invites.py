"""Invite codes and scopes: code format and uniqueness, expiry, role/scope fit, scope lookup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from kotaku.db import Database
from kotaku.models import Bkm, Invite, Ksm, Person, Region, RegionLevel, Role
from kotaku.services.invites import (
    INVITE_ALPHABET,
    INVITE_LENGTH,
    InviteScopeMismatch,
    check_role_scope,
    create_invite,
    normalize_code,
    telegram_link,
    whatsapp_link,
    whatsapp_text,
)
from kotaku.services.scope import (
    NATIONAL,
    Scope,
    ScopeNotFound,
    ksm_ids_in_scope,
    resolve_scope,
    scope_contains_ksm,
    scope_of,
)

AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@dataclass
class Tree:
    prov: int
    kab: int
    kec: int
    kel_a: int
    kel_b: int
    other_kab: int
    bkm_a: int
    bkm_b: int
    ksm_a: int
    ksm_b: int
    ksm_far: int


def region(code: str, level: RegionLevel, parent: Region | None) -> Region:
    return Region(
        code=code,
        name=f"Wilayah {code}",
        level=level,
        parent=parent,
        timezone="Asia/Jakarta",
        path=f"{parent.path}/{code}" if parent else code,
    )


@pytest.fixture
async def tree(db: Database) -> Tree:
    """Jawa Tengah > Brebes (33.22) > one kecamatan > two kelurahan, each with a BKM and a KSM;
    plus a KSM in a neighbouring kabupaten whose code shares a prefix (33.2)."""
    async with db.transaction() as s:
        prov = region("33", RegionLevel.PROVINSI, None)
        kab = region("33.22", RegionLevel.KABKOTA, prov)
        kec = region("33.22.05", RegionLevel.KECAMATAN, kab)
        kel_a = region("33.22.05.2001", RegionLevel.KELURAHAN, kec)
        kel_b = region("33.22.05.2002", RegionLevel.KELURAHAN, kec)
        other_kab = region("33.2", RegionLevel.KABKOTA, prov)
        other_kec = region("33.2.01", RegionLevel.KECAMATAN, other_kab)
        other_kel = region("33.2.01.2001", RegionLevel.KELURAHAN, other_kec)
        bkm_a = Bkm(code="BKM-A", name="Maju", kelurahan=kel_a)
        bkm_b = Bkm(code="BKM-B", name="Makmur", kelurahan=kel_b)
        bkm_far = Bkm(code="BKM-F", name="Jauh", kelurahan=other_kel)
        ksm_a = Ksm(code="KSM-A", name="Sejahtera", bkm=bkm_a)
        ksm_b = Ksm(code="KSM-B", name="Sentosa", bkm=bkm_b)
        ksm_far = Ksm(code="KSM-F", name="Seberang", bkm=bkm_far)
        s.add_all([prov, kab, kec, kel_a, kel_b, other_kab, other_kec, other_kel])
        s.add_all([bkm_a, bkm_b, bkm_far, ksm_a, ksm_b, ksm_far])
        await s.flush()
        return Tree(
            prov.id, kab.id, kec.id, kel_a.id, kel_b.id, other_kab.id,
            bkm_a.id, bkm_b.id, ksm_a.id, ksm_b.id, ksm_far.id,
        )  # fmt: skip


# --- codes ----------------------------------------------------------------------------------------


def test_alphabet_has_no_confusable_characters() -> None:
    assert not set("0O1IL") & set(INVITE_ALPHABET)
    assert len(set(INVITE_ALPHABET)) == len(INVITE_ALPHABET) == 31
    assert INVITE_LENGTH == 8


async def test_codes_format_unique_and_stored(db: Database, tree: Tree) -> None:
    codes = []
    async with db.transaction() as s:
        for _ in range(200):
            created = await create_invite(
                s, role=Role.KETUA_KSM, scope=Scope(ksm_id=tree.ksm_a), valid_days=14, at=AT
            )
            codes.append(created.code)
    for code in codes:
        assert len(code) == INVITE_LENGTH
        assert set(code) <= set(INVITE_ALPHABET), code
    assert len(set(codes)) == len(codes)
    # the codes really differ in content, not only in one position
    assert len({c[0] for c in codes}) > 10
    async with db.session() as s:
        stored = set((await s.execute(select(Invite.code))).scalars())
    assert stored == set(codes)


async def test_expiry_and_stored_fields(db: Database, tree: Tree) -> None:
    async with db.transaction() as s:
        created = await create_invite(
            s,
            role=Role.BKM,
            scope=Scope(bkm_id=tree.bkm_a),
            valid_days=10,
            name="Pak Ahmad",
            phone="+6281234567890",
            at=AT,
        )
    assert created.expires_at == AT + timedelta(days=10)
    assert created.role is Role.BKM
    async with db.session() as s:
        row = (await s.execute(select(Invite).where(Invite.code == created.code))).scalar_one()
    assert row.role is Role.BKM
    assert row.scope_bkm_id == tree.bkm_a
    assert row.scope_ksm_id is None and row.scope_region_id is None
    assert row.created_at == AT
    assert row.expires_at == AT + timedelta(days=10)
    assert row.expires_at.tzinfo is not None
    assert row.used_at is None
    assert (row.name, row.phone) == ("Pak Ahmad", "+6281234567890")


async def test_expiry_defaults_to_now(db: Database, tree: Tree) -> None:
    before = datetime.now(UTC)
    async with db.transaction() as s:
        created = await create_invite(s, role=Role.ADMIN, scope=NATIONAL, valid_days=3)
    after = datetime.now(UTC)
    assert before + timedelta(days=3) <= created.expires_at <= after + timedelta(days=3)


@pytest.mark.parametrize(
    ("role", "scope"),
    [
        (Role.WORKER, NATIONAL),
        (Role.KETUA_KSM, Scope(bkm_id=1)),
        (Role.KETUA_KSM, Scope(region_id=1)),
        (Role.BKM, Scope(ksm_id=1)),
        (Role.BKM, NATIONAL),
        (Role.FASILITATOR, NATIONAL),
        (Role.KORKOT, NATIONAL),
        (Role.PROVINSI, NATIONAL),
    ],
)
def test_role_scope_mismatch_raises(role: Role, scope: Scope) -> None:
    with pytest.raises(InviteScopeMismatch, match=role.value):
        check_role_scope(role, scope)


@pytest.mark.parametrize(
    ("role", "scope"),
    [
        (Role.WORKER, Scope(ksm_id=1)),
        (Role.KETUA_KSM, Scope(ksm_id=1)),
        (Role.BKM, Scope(bkm_id=1)),
        (Role.FASILITATOR, Scope(region_id=1)),
        (Role.PROVINSI, Scope(region_id=1)),
        (Role.NASIONAL, NATIONAL),
        (Role.ADMIN, NATIONAL),
    ],
)
def test_role_scope_fit_accepted(role: Role, scope: Scope) -> None:
    check_role_scope(role, scope)


async def test_create_invite_with_mismatch_writes_nothing(db: Database, tree: Tree) -> None:
    async with db.session() as s:
        with pytest.raises(InviteScopeMismatch):
            await create_invite(s, role=Role.WORKER, scope=NATIONAL, valid_days=14, at=AT)
        await s.commit()
    async with db.session() as s:
        assert (await s.execute(select(Invite.id))).first() is None


def test_code_helpers() -> None:
    assert normalize_code(" ab3d-ef 7h ") == "AB3DEF7H"
    assert telegram_link("kotaku_bot", "AB3DEF7H") == "https://t.me/kotaku_bot?start=AB3DEF7H"
    assert whatsapp_text("AB3DEF7H") == "DAFTAR AB3DEF7H"
    assert (
        whatsapp_link("+62 811-2345-678", "AB3DEF7H") == "https://wa.me/628112345678?text=DAFTAR%20AB3DEF7H"
    )
    assert whatsapp_link(None, "AB3DEF7H") is None


# --- scopes ---------------------------------------------------------------------------------------


async def test_resolve_scope_forms(db: Database, tree: Tree) -> None:
    async with db.session() as s:
        ksm = await resolve_scope(s, "ksm:KSM-A")
        assert ksm == Scope(ksm_id=tree.ksm_a, label="KSM Sejahtera")
        assert (await resolve_scope(s, "KSM-B")).ksm_id == tree.ksm_b  # bare code
        bkm = await resolve_scope(s, "bkm:BKM-B")
        assert bkm.bkm_id == tree.bkm_b and bkm.ksm_id is None
        assert bkm.label == "BKM Makmur"
        kab = await resolve_scope(s, "33.22")
        assert kab.region_id == tree.kab
        assert kab.label == "kabkota Wilayah 33.22"
        assert (await resolve_scope(s, "region:33")).region_id == tree.prov
        assert (await resolve_scope(s, "wilayah:33.22.05")).region_id == tree.kec
        assert (await resolve_scope(s, " KSM:KSM-A ")).ksm_id == tree.ksm_a  # case of the kind, spaces
        for word in ("nasional", "NASIONAL", "national", "*"):
            scope = await resolve_scope(s, word)
            assert scope.is_national
            assert scope == NATIONAL


@pytest.mark.parametrize("text", ["ksm:NOPE", "bkm:KSM-A", "ksm:BKM-A", "region:KSM-A", "99.99", "planet:33"])
async def test_resolve_scope_unknown_raises(db: Database, tree: Tree, text: str) -> None:
    async with db.session() as s:
        with pytest.raises(ScopeNotFound) as info:
            await resolve_scope(s, text)
    assert text in str(info.value)


async def test_ksm_ids_in_scope_via_region_path(db: Database, tree: Tree) -> None:
    async with db.session() as s:

        async def ids(scope: Scope) -> set[int]:
            return set(await ksm_ids_in_scope(s, scope))

        assert await ids(Scope(region_id=tree.prov)) == {tree.ksm_a, tree.ksm_b, tree.ksm_far}
        # 33.22 must not pick up 33.2's KSM although "33.2" is a prefix of "33.22"
        assert await ids(Scope(region_id=tree.kab)) == {tree.ksm_a, tree.ksm_b}
        assert await ids(Scope(region_id=tree.other_kab)) == {tree.ksm_far}
        assert await ids(Scope(region_id=tree.kec)) == {tree.ksm_a, tree.ksm_b}
        assert await ids(Scope(region_id=tree.kel_a)) == {tree.ksm_a}
        assert await ids(Scope(region_id=tree.kel_b)) == {tree.ksm_b}
        assert await ids(Scope(bkm_id=tree.bkm_b)) == {tree.ksm_b}
        assert await ids(Scope(ksm_id=tree.ksm_a)) == {tree.ksm_a}
        assert await ids(NATIONAL) == {tree.ksm_a, tree.ksm_b, tree.ksm_far}

        assert await scope_contains_ksm(s, Scope(region_id=tree.kec), tree.ksm_b)
        assert not await scope_contains_ksm(s, Scope(region_id=tree.kel_a), tree.ksm_b)
        assert not await scope_contains_ksm(s, Scope(ksm_id=tree.ksm_a), tree.ksm_b)
        assert await scope_contains_ksm(s, NATIONAL, tree.ksm_far)


async def test_resolved_scope_feeds_ksm_lookup(db: Database, tree: Tree) -> None:
    async with db.session() as s:
        scope = await resolve_scope(s, "33.22.05.2002")
        assert await ksm_ids_in_scope(s, scope) == [tree.ksm_b]


def test_scope_of_person() -> None:
    p = Person(code="P", name="X", role=Role.FASILITATOR, scope_region_id=7)
    assert scope_of(p) == Scope(region_id=7)
    assert scope_of(Person(code="Q", name="Y", role=Role.ADMIN)).is_national
