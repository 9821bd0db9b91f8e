"""A small, complete program for tests: two kelurahan in WIB, one in WITA, KSMs with and without roster,
activities with plans, people for every role, each with a test-channel identity named by their code."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from kotaku.db import Database
from kotaku.domain.plan import default_plan_points
from kotaku.models import (
    Activity,
    Bkm,
    Channel,
    ChannelIdentity,
    Gender,
    Indicator,
    Ksm,
    Person,
    PlanPoint,
    Region,
    RegionLevel,
    Role,
    Skill,
    Worker,
)
from kotaku.security import NikVault

WORKER_NAMES = [
    ("Budi Santoso", Gender.L, Skill.TUKANG),
    ("Sari Wulandari", Gender.P, Skill.PEKERJA),
    ("Joko Susilo", Gender.L, Skill.PEKERJA),
    ("Slamet Riyadi", Gender.L, Skill.TUKANG),
    ("Siti Aminah", Gender.P, Skill.PEKERJA),
    ("Agus Salim", Gender.L, Skill.PEKERJA),
    ("Dewi Lestari", Gender.P, Skill.PEKERJA),
    ("Eko Prasetyo", Gender.L, Skill.PEKERJA),
    ("Rina Marlina", Gender.P, Skill.PEKERJA),
    ("Bambang Hartono", Gender.L, Skill.TUKANG),
    ("Wahyu Hidayat", Gender.L, Skill.PEKERJA),
    ("Yuni Astuti", Gender.P, Skill.PEKERJA),
    ("Hadi Purnomo", Gender.L, Skill.PEKERJA),
    ("Tri Handayani", Gender.P, Skill.PEKERJA),
    ("Sugeng Raharjo", Gender.L, Skill.PEKERJA),
]


def nik_for(i: int) -> str:
    return f"332205{(i % 28) + 1:02d}0{(i % 9) + 1}85{i:04d}"


@dataclass
class Program:
    ids: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, key: str) -> int:
        return self.ids[key]


async def build_program(db: Database, vault: NikVault, today: date) -> Program:
    """Activities started 20 days before `today`, 60 days long, with weekly S-curve plan points."""
    p = Program()
    start = today - timedelta(days=20)
    end = start + timedelta(days=60)
    async with db.transaction() as s:
        jateng = Region(
            code="33", name="Jawa Tengah", level=RegionLevel.PROVINSI, timezone="Asia/Jakarta", path="33"
        )
        s.add(jateng)
        await s.flush()
        kab = Region(
            code="33.22",
            name="Kabupaten Semarang",
            level=RegionLevel.KABKOTA,
            parent_id=jateng.id,
            timezone="Asia/Jakarta",
            path="33/33.22",
        )
        s.add(kab)
        await s.flush()
        kec = Region(
            code="33.22.05",
            name="Ambarawa",
            level=RegionLevel.KECAMATAN,
            parent_id=kab.id,
            timezone="Asia/Jakarta",
            path="33/33.22/33.22.05",
        )
        s.add(kec)
        await s.flush()
        kels = {}
        for code, name in [("33.22.05.1001", "Bejalen"), ("33.22.05.1002", "Tambakboyo")]:
            kel = Region(
                code=code,
                name=name,
                level=RegionLevel.KELURAHAN,
                parent_id=kec.id,
                timezone="Asia/Jakarta",
                path=f"{kec.path}/{code}",
            )
            s.add(kel)
            kels[name] = kel
        sulsel = Region(
            code="73",
            name="Sulawesi Selatan",
            level=RegionLevel.PROVINSI,
            timezone="Asia/Makassar",
            path="73",
        )
        s.add(sulsel)
        await s.flush()
        mks = Region(
            code="73.71",
            name="Kota Makassar",
            level=RegionLevel.KABKOTA,
            parent_id=sulsel.id,
            timezone="Asia/Makassar",
            path="73/73.71",
        )
        s.add(mks)
        await s.flush()
        kel_m = Region(
            code="73.71.01.1001",
            name="Mariso",
            level=RegionLevel.KELURAHAN,
            parent_id=mks.id,
            timezone="Asia/Makassar",
            path="73/73.71/73.71.01.1001",
        )
        s.add(kel_m)
        await s.flush()
        p.ids.update(
            jateng=jateng.id,
            kab=kab.id,
            kec=kec.id,
            bejalen=kels["Bejalen"].id,
            tambakboyo=kels["Tambakboyo"].id,
            sulsel=sulsel.id,
            mariso=kel_m.id,
        )

        bkm_b = Bkm(code="BKM-BJL", name="BKM Bejalen Sejahtera", kelurahan_id=kels["Bejalen"].id)
        bkm_t = Bkm(code="BKM-TMB", name="BKM Tambakboyo Maju", kelurahan_id=kels["Tambakboyo"].id)
        bkm_m = Bkm(code="BKM-MRS", name="BKM Mariso Bersatu", kelurahan_id=kel_m.id)
        s.add_all([bkm_b, bkm_t, bkm_m])
        await s.flush()
        ksm_a = Ksm(
            code="KSM-BJL-01",
            name="KSM Bejalen Makmur",
            bkm_id=bkm_b.id,
            keeps_roster=True,
            latitude=-7.2650,
            longitude=110.4120,
        )
        ksm_b = Ksm(
            code="KSM-BJL-02",
            name="KSM Bejalen Guyub",
            bkm_id=bkm_b.id,
            keeps_roster=False,
            latitude=-7.2660,
            longitude=110.4130,
        )
        ksm_c = Ksm(code="KSM-TMB-01", name="KSM Tambakboyo Rukun", bkm_id=bkm_t.id, keeps_roster=True)
        ksm_m = Ksm(code="KSM-MRS-01", name="KSM Mariso Jaya", bkm_id=bkm_m.id, keeps_roster=False)
        s.add_all([ksm_a, ksm_b, ksm_c, ksm_m])
        await s.flush()
        p.ids.update(
            bkm_b=bkm_b.id, bkm_t=bkm_t.id, ksm_a=ksm_a.id, ksm_b=ksm_b.id, ksm_c=ksm_c.id, ksm_m=ksm_m.id
        )

        acts = [
            (
                "ACT-BJL-01",
                ksm_a,
                "Rabat beton jalan lingkungan",
                Indicator.JALAN_LINGKUNGAN,
                "m",
                163.0,
                "road",
            ),
            ("ACT-BJL-02", ksm_a, "Saluran drainase lingkungan", Indicator.DRAINASE, "m", 136.0, "drain"),
            ("ACT-BJL-03", ksm_b, "MCK komunal", Indicator.AIR_LIMBAH, "unit", 4.0, "mck"),
            ("ACT-TMB-01", ksm_c, "Sumur bor air minum", Indicator.AIR_MINUM, "unit", 2.0, "well"),
            ("ACT-MRS-01", ksm_m, "Gerobak sampah", Indicator.PERSAMPAHAN, "unit", 6.0, "cart"),
        ]
        for code, ksm, name, ind, unit, vol, key in acts:
            a = Activity(
                code=code,
                ksm_id=ksm.id,
                name=name,
                indicator=ind,
                unit=unit,
                target_volume=vol,
                budget=150_000_000,
                wage_budget=90_000_000,
                start_date=start,
                end_date=end,
                latitude=ksm.latitude,
                longitude=ksm.longitude,
            )
            s.add(a)
            await s.flush()
            for d, pct in default_plan_points(start, end):
                s.add(PlanPoint(activity_id=a.id, plan_date=d, planned_percent=pct))
            p.ids[key] = a.id

        for i, (name, gender, skill) in enumerate(WORKER_NAMES):
            enc, h = vault.protect(nik_for(i + 1))
            w = Worker(
                ksm_id=ksm_a.id,
                name=name,
                gender=gender,
                skill=skill,
                nik_encrypted=enc,
                nik_hash=h,
                daily_rate=120_000 if skill == Skill.TUKANG else 85_000,
                is_phk=i % 3 == 0,
            )
            s.add(w)
        for i, (name, gender, skill) in enumerate(WORKER_NAMES[:5]):
            enc, h = vault.protect(nik_for(100 + i))
            s.add(
                Worker(
                    ksm_id=ksm_c.id,
                    name=name + " Jr",
                    gender=gender,
                    skill=skill,
                    nik_encrypted=enc,
                    nik_hash=h,
                    daily_rate=85_000,
                )
            )

        people = [
            ("ketua-a", "Pak Darto", Role.KETUA_KSM, {"scope_ksm_id": ksm_a.id}),
            ("ketua-b", "Bu Ratna", Role.KETUA_KSM, {"scope_ksm_id": ksm_b.id}),
            ("ketua-c", "Pak Joni", Role.KETUA_KSM, {"scope_ksm_id": ksm_c.id}),
            ("ketua-m", "Daeng Rudi", Role.KETUA_KSM, {"scope_ksm_id": ksm_m.id}),
            ("pekerja-a", "Mas Anto", Role.WORKER, {"scope_ksm_id": ksm_a.id}),
            ("bkm-b", "Pak Harun", Role.BKM, {"scope_bkm_id": bkm_b.id}),
            ("fasil", "Mbak Wulan", Role.FASILITATOR, {"scope_region_id": kec.id}),
            ("fasil-m", "Andi Baso", Role.FASILITATOR, {"scope_region_id": kel_m.id}),
            ("askot", "Pak Hendra", Role.ASKOT, {"scope_region_id": kab.id}),
            ("korkot", "Bu Maya", Role.KORKOT, {"scope_region_id": kab.id}),
            ("prov", "Pak Gatot", Role.PROVINSI, {"scope_region_id": jateng.id}),
            ("admin", "Admin Pusat", Role.ADMIN, {}),
        ]
        for code, name, role, scope in people:
            person = Person(code=code, name=name, role=role, language="id", **scope)
            s.add(person)
            await s.flush()
            s.add(ChannelIdentity(person_id=person.id, channel=Channel.TEST, external_id=code, chat_id=code))
            p.ids[code] = person.id
    return p
