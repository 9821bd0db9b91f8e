"""/foto, and any photo, image file or location sent outside a flow: attached to today's report of the KSM.

A caption `#0`, `#50` or `#100` marks the milestone; an activity code or a word of its name picks the
activity. A voice note sent outside a flow is pointed to /kendala.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from kotaku.dialog import catalogue
from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow, register_flow, reporting_ksm_ids
from kotaku.i18n import fmt_date, fmt_number
from kotaku.models import Activity, Ksm, MediaKind
from kotaku.models.enums import REPORTER_ROLES
from kotaku.schemas import Choice, InboundKind
from kotaku.services.media import (
    MediaTooLarge,
    NotAnImage,
    attach_staged,
    human_size,
    parse_milestone,
    site_distance,
    stage_photo,
    store_media,
)
from kotaku.services.progress import match_activities, other_ksm_activity


class State(StrEnum):
    WAIT = "tunggu_foto"
    CHOOSE_KSM = "pilih_ksm_foto"
    ACTIVITY = "pilih_kegiatan"


MEDIA_KINDS = (InboundKind.PHOTO, InboundKind.DOCUMENT, InboundKind.LOCATION)
GENERAL = {"umum", "general", "tanpa kegiatan", "none"}

catalogue.register(
    {
        "foto.summary": {
            "id": "kirim foto atau lokasi pekerjaan untuk laporan hari ini",
            "en": "send a photo or the location of the works for today's report",
        },
        "foto.menu": {"id": "📷 Foto", "en": "📷 Photo"},
        "foto.help": {
            "id": "Kirim foto kapan saja (📎 → Kamera): foto masuk ke laporan hari ini. Tulis #0, #50 atau "
            "#100 di keterangan untuk foto tonggak, dan kode atau nama kegiatan (contoh: #50 drainase). "
            "Kirim lokasi (📎 → Lokasi) untuk mencatat titik pekerjaan.",
            "en": "Send a photo at any time (📎 → Camera): it goes into today's report. Write #0, #50 or "
            "#100 in the caption for a milestone photo, and the activity's code or name (e.g. #50 drainase). "
            "Send a location (📎 → Location) to record where the works are.",
        },
        "foto.help.tunggu_foto": {
            "id": "Saya menunggu foto atau lokasi. Kirim lewat 📎 → Kamera atau 📎 → Lokasi, atau /batal.",
            "en": "I am waiting for a photo or a location. Send it via 📎 → Camera or 📎 → Location, or /batal.",
        },
        "foto.help.pilih_kegiatan": {
            "id": "Pilih kegiatan untuk foto ini, atau Umum bila foto tidak untuk satu kegiatan.",
            "en": "Choose the activity for this photo, or General if it is not about one activity.",
        },
        "foto.how": {
            "id": "📷 Kirim foto pekerjaan untuk {ksm} sekarang (📎 → Kamera), atau lokasi (📎 → Lokasi).\n"
            "Untuk foto tonggak tulis #0, #50 atau #100 di keterangan foto, dan kode atau nama kegiatan "
            "bila ada beberapa kegiatan (contoh: #50 drainase).",
            "en": "📷 Send a photo of the works for {ksm} now (📎 → Camera), or a location (📎 → Location).\n"
            "For a milestone photo write #0, #50 or #100 in the caption, and the activity's code or name "
            "if there are several activities (e.g. #50 drainase).",
        },
        "foto.not_allowed": {
            "id": "Maaf, foto dan lokasi laporan dikirim oleh KSM, BKM atau fasilitator. Peran Anda ({role}) "
            "hanya melihat laporan: gunakan /status atau /rekap.",
            "en": "Sorry, report photos and locations are sent by the KSM, BKM or facilitator. Your role "
            "({role}) only reads reports: use /status or /rekap.",
        },
        "foto.voice": {
            "id": "🎤 Pesan suara dipakai untuk melaporkan kendala: ketik /kendala, lalu kirim pesan suara "
            "di sana.",
            "en": "🎤 Voice notes are for reporting obstacles: type /kendala, then send the voice note there.",
        },
        "foto.waiting_hint": {
            "id": "Saya menunggu foto atau lokasi, bukan teks. Kirim foto (📎 → Kamera), atau /batal.",
            "en": "I am waiting for a photo or a location, not text. Send a photo (📎 → Camera), or /batal.",
        },
        "foto.too_large": {
            "id": "Foto terlalu besar ({size}; paling besar {limit}). Kirim sebagai foto biasa (bukan "
            "file), atau foto yang lebih kecil.",
            "en": "The photo is too large ({size}; at most {limit}). Send it as a normal photo (not a "
            "file), or a smaller one.",
        },
        "foto.not_image": {
            "id": "File ini bukan gambar yang bisa dibaca. Di sini hanya foto (JPG/PNG) atau lokasi.",
            "en": "This file is not a readable image. Only photos (JPG/PNG) or locations are taken here.",
        },
        "foto.choose_ksm": {"id": "Foto/lokasi ini untuk KSM mana?", "en": "For which KSM is this?"},
        "foto.choose_activity": {
            "id": "Foto ini untuk kegiatan mana? ({ksm})",
            "en": "Which activity is this photo for? ({ksm})",
        },
        "foto.general": {"id": "🗂️ Umum (tanpa kegiatan)", "en": "🗂️ General (no activity)"},
        "foto.choose_first": {
            "id": "Pilih dulu dari tombol di atas (atau /batal).",
            "en": "First choose from the buttons above (or /batal).",
        },
        "foto.other_ksm": {
            "id": "Kegiatan {code} milik {owner}, bukan {ksm}; foto tidak disimpan. Kirim ulang tanpa kode "
            "itu, atau dengan kode kegiatan {ksm}.",
            "en": "Activity {code} belongs to {owner}, not {ksm}; the photo was not saved. Send it again "
            "without that code, or with an activity code of {ksm}.",
        },
        "foto.saved": {
            "id": "📷 Foto diterima untuk laporan {date} — {ksm}.",
            "en": "📷 Photo received for the report of {date} — {ksm}.",
        },
        "foto.already": {
            "id": "📷 Foto ini sudah diterima untuk laporan {date} — {ksm}; tidak disimpan dua kali.",
            "en": "📷 This photo was already received for the report of {date} — {ksm}; it is not stored twice.",
        },
        "foto.activity_line": {"id": "Kegiatan: {name}", "en": "Activity: {name}"},
        "foto.milestone_line": {"id": "Tonggak: {m}%", "en": "Milestone: {m}%"},
        "foto.bad_milestone": {
            "id": "#{m} bukan tonggak ({allowed}); foto disimpan tanpa tonggak.",
            "en": "#{m} is not a milestone ({allowed}); the photo was stored without one.",
        },
        "foto.location_saved": {
            "id": "📍 Lokasi diterima untuk laporan {date} — {ksm}.",
            "en": "📍 Location received for the report of {date} — {ksm}.",
        },
        "foto.distance": {
            "id": "Jarak ke titik lokasi pekerjaan: ± {meters} m.",
            "en": "Distance to the site's coordinates: about {meters} m.",
        },
        "foto.no_site_point": {
            "id": "Titik lokasi pekerjaan belum tercatat, jadi jarak tidak bisa dihitung.",
            "en": "The site's coordinates are not recorded, so the distance cannot be computed.",
        },
    }
)


@register_flow
class PhotoFlow(Flow):
    name = "foto"
    commands = ("foto", "photo")
    roles = frozenset(REPORTER_ROLES)
    needs_ksm = True

    # --- entry -----------------------------------------------------------------------------------

    async def begin(self, ctx: Context, args: str) -> None:
        """Also the engine's entry for media sent outside any flow, so roles are checked here too."""
        assert ctx.person is not None
        if ctx.person.role not in self.roles:
            from kotaku.dialog.roles import role_label

            ctx.say(ctx.t("foto.not_allowed", role=role_label(ctx.person.role, ctx.lang)))
            return
        if ctx.inbound.kind == InboundKind.VOICE:
            ctx.say(ctx.t("foto.voice"))
            return
        candidates = await reporting_ksm_ids(ctx)
        if not candidates:
            ctx.say(ctx.t("flow.no_ksm"))
            ctx.finish()
            return
        pending = None
        if ctx.inbound.kind in MEDIA_KINDS:
            pending = self._stage(ctx)
            if pending is None:
                return
        if len(candidates) == 1:
            ctx.goto(self.name, "mulai", ksm_id=candidates[0])
            await self._go(ctx, pending, args)
            return
        rows = (
            await ctx.session.execute(select(Ksm).where(Ksm.id.in_(candidates)).order_by(Ksm.name))
        ).scalars()
        ctx.goto(self.name, State.CHOOSE_KSM, pending=pending, caption=args)
        ctx.say(ctx.t("foto.choose_ksm"), [Choice(label=k.name, value=f"ksm:{k.id}") for k in rows])

    async def start(self, ctx: Context, args: str) -> None:
        await self._go(ctx, self._stage(ctx) if ctx.inbound.kind in MEDIA_KINDS else None, args)

    async def _go(self, ctx: Context, pending: dict[str, Any] | None, caption: str) -> None:
        if pending is not None:
            await self._attach(ctx, pending, caption)
            return
        ksm = await ctx.ksm(ctx.data["ksm_id"])
        ctx.goto(self.name, State.WAIT, caption=caption)
        ctx.say(ctx.t("foto.how", ksm=ksm.name))

    def _stage(self, ctx: Context) -> dict[str, Any] | None:
        """What came in, made JSON: a staged image or a point. None (after saying why) when refused."""
        inbound = ctx.inbound
        if inbound.kind == InboundKind.LOCATION:
            if inbound.latitude is None or inbound.longitude is None:
                ctx.say(ctx.t("foto.not_image"))
                return None
            return {"kind": "location", "latitude": inbound.latitude, "longitude": inbound.longitude}
        try:
            staged = stage_photo(ctx.settings, inbound.file_bytes or b"", inbound.mime_type or "image/jpeg")
        except MediaTooLarge as exc:
            ctx.say(
                ctx.t(
                    "foto.too_large",
                    size=human_size(exc.size, ctx.lang),
                    limit=human_size(exc.limit, ctx.lang),
                )
            )
            return None
        except NotAnImage:
            ctx.say(ctx.t("foto.not_image"))
            return None
        staged.update(
            kind="photo",
            caption=inbound.text,
            taken_at=inbound.taken_at.isoformat() if inbound.taken_at else None,
            latitude=inbound.latitude,
            longitude=inbound.longitude,
        )
        return staged

    # --- states ----------------------------------------------------------------------------------

    async def on_tunggu_foto(self, ctx: Context) -> None:
        if ctx.inbound.kind == InboundKind.VOICE:
            ctx.say(ctx.t("foto.voice"))
            return
        if ctx.inbound.kind not in MEDIA_KINDS:
            ctx.say(ctx.t("foto.waiting_hint"))
            return
        pending = self._stage(ctx)
        if pending is not None:
            await self._attach(ctx, pending, ctx.data.get("caption") or "")

    async def on_pilih_ksm_foto(self, ctx: Context) -> None:
        candidates = await reporting_ksm_ids(ctx)
        chosen = None
        value = ctx.text if ctx.inbound.kind in (InboundKind.TEXT, InboundKind.CHOICE) else ""
        if value.startswith("ksm:") and value[4:].isdigit():
            chosen = int(value[4:])
        elif value:
            rows = (await ctx.session.execute(select(Ksm).where(Ksm.id.in_(candidates)))).scalars()
            chosen = next((k.id for k in rows if value.lower() in {k.name.lower(), k.code.lower()}), None)
        if chosen is None or chosen not in candidates:
            ctx.say(ctx.t("flow.bad_ksm") if value else ctx.t("foto.choose_first"))
            return
        pending, caption = ctx.data.get("pending"), ctx.data.get("caption") or ""
        ctx.conv.data = {}
        ctx.goto(self.name, "mulai", ksm_id=chosen)
        await self._go(ctx, pending, caption)

    async def on_pilih_kegiatan(self, ctx: Context) -> None:
        activities = await self._activities(ctx)
        value = ctx.text if ctx.inbound.kind in (InboundKind.TEXT, InboundKind.CHOICE) else ""
        if not value:
            ctx.say(ctx.t("foto.choose_first"), self._activity_choices(ctx, activities))
            return
        if value.lower() in GENERAL or value.lower() == ctx.t("foto.general").lower():
            await self._store(ctx, ctx.data["pending"], None, ctx.data.get("milestone"))
            return
        chosen = None
        if value.startswith("a:") and value[2:].isdigit():
            chosen = next((a for a in activities if a.id == int(value[2:])), None)
        else:
            matches = [a for a in activities if a.name.lower() == value.lower()] or match_activities(
                activities, value
            )
            chosen = matches[0] if len(matches) == 1 else None
        if chosen is None:
            ctx.say(ctx.t("foto.choose_first"), self._activity_choices(ctx, activities))
            return
        await self._store(ctx, ctx.data["pending"], chosen, ctx.data.get("milestone"))

    # --- attaching -------------------------------------------------------------------------------

    async def _activities(self, ctx: Context) -> list[Activity]:
        stmt = select(Activity).where(Activity.ksm_id == ctx.data["ksm_id"]).order_by(Activity.code)
        return list((await ctx.session.execute(stmt)).scalars())

    def _activity_choices(self, ctx: Context, activities: list[Activity]) -> list[Choice]:
        return [Choice(label=a.name, value=f"a:{a.id}") for a in activities] + [
            Choice(label=ctx.t("foto.general"), value="umum")
        ]

    async def _attach(self, ctx: Context, pending: dict[str, Any], caption: str) -> None:
        activities = await self._activities(ctx)
        if pending["kind"] == "location":
            await self._store(ctx, pending, activities[0] if len(activities) == 1 else None, None)
            return
        text = " ".join(filter(None, [pending.get("caption"), caption]))
        milestone, bad = parse_milestone(text, ctx.settings.dialog.photo_milestones)
        if bad is not None:
            allowed = ", ".join(f"#{m}" for m in ctx.settings.dialog.photo_milestones)
            ctx.say(ctx.t("foto.bad_milestone", m=bad, allowed=allowed))
        matches = match_activities(activities, text) if text else []
        if not matches and text and await self._other_ksm(ctx, text):
            ctx.finish()
            return
        if len(matches) == 1:
            activity: Activity | None = matches[0]
        elif len(activities) == 1:
            activity = activities[0]
        elif not activities:
            activity = None
        else:
            ksm = await ctx.ksm(ctx.data["ksm_id"])
            ctx.goto(self.name, State.ACTIVITY, pending=pending, milestone=milestone)
            ctx.say(
                ctx.t("foto.choose_activity", ksm=ksm.name),
                self._activity_choices(ctx, matches or activities),
            )
            return
        await self._store(ctx, pending, activity, milestone)

    async def _other_ksm(self, ctx: Context, text: str) -> bool:
        found = await other_ksm_activity(ctx.session, ctx.data["ksm_id"], text)
        if found is None:
            return False
        other, owner = found
        ksm = await ctx.ksm(ctx.data["ksm_id"])
        ctx.say(ctx.t("foto.other_ksm", code=other.code, owner=owner.name, ksm=ksm.name))
        return True

    async def _store(
        self, ctx: Context, pending: dict[str, Any], activity: Activity | None, milestone: int | None
    ) -> None:
        assert ctx.person is not None
        ksm_id = ctx.data["ksm_id"]
        ksm = await ctx.ksm(ksm_id)
        today: date = await ctx.today_for_ksm(ksm_id)
        day = fmt_date(today, ctx.lang)
        lines: list[str] = []
        if pending["kind"] == "location":
            media = await store_media(
                ctx.session,
                ctx.settings,
                kind=MediaKind.LOCATION,
                ksm_id=ksm_id,
                report_date=today,
                entered_by_id=ctx.person.id,
                channel=ctx.inbound.channel,
                now=ctx.now,
                activity_id=activity.id if activity else None,
                latitude=pending["latitude"],
                longitude=pending["longitude"],
            )
            lines.append(ctx.t("foto.location_saved", date=day, ksm=ksm.name))
        else:
            media, already = await attach_staged(
                ctx.session,
                ctx.settings,
                staged=pending,
                ksm_id=ksm_id,
                report_date=today,
                activity_id=activity.id if activity else None,
                milestone=milestone,
                entered_by_id=ctx.person.id,
                channel=ctx.inbound.channel,
                now=ctx.now,
            )
            lines.append(ctx.t("foto.already" if already else "foto.saved", date=day, ksm=ksm.name))
            if activity is not None:
                lines.append(ctx.t("foto.activity_line", name=activity.name))
            if media.milestone is not None:
                lines.append(ctx.t("foto.milestone_line", m=media.milestone))
        if media.latitude is not None and media.longitude is not None:
            meters = await site_distance(
                ctx.session,
                ksm_id=ksm_id,
                activity_id=media.activity_id,
                latitude=media.latitude,
                longitude=media.longitude,
            )
            lines.append(
                ctx.t("foto.no_site_point")
                if meters is None
                else ctx.t("foto.distance", meters=fmt_number(round(meters), ctx.lang))
            )
        ctx.finish()
        ctx.say("\n".join(lines))
