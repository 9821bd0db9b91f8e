"""/progres: cumulative physical progress of one activity today, in percent or in the activity's unit,
with a photo at milestones, a summary to confirm, and the status against the planned curve once saved."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from kotaku.dialog import catalogue
from kotaku.dialog.context import Context
from kotaku.dialog.flow import Flow, register_flow
from kotaku.i18n import fmt_date, fmt_number, fmt_percent, fmt_signed
from kotaku.models import Activity, Role
from kotaku.monitoring.plan import Status
from kotaku.schemas import Choice, InboundKind
from kotaku.services.media import MediaTooLarge, NotAnImage, attach_staged, human_size, stage_photo
from kotaku.services.progress import (
    AmountError,
    Doubt,
    assess_activity,
    crossed_milestone,
    doubt_about,
    has_milestone_photo,
    last_progress,
    match_activities,
    other_ksm_activity,
    parse_amount,
    report_on,
    save_progress,
)


class State(StrEnum):
    ACTIVITY = "pilih_kegiatan"
    AMOUNT = "jumlah"
    CONFIRM = "yakin"
    PHOTO = "foto"
    SUMMARY = "ringkasan"


# `drainase 120 m`, `ACT-BJL-01 45`, `45,5%`: an optional activity hint, then the amount.
QUICK_RE = re.compile(r"^(?:(?P<act>.*?)\s+)?(?P<amt>[+-]?[\d.,]*\d[\d.,]*\s*(?:%|[^\W\d_][\w²³']*)?)$")

YES = {"ya", "y", "yes", "yakin", "ok", "oke"}
SAVE = {"simpan", "save", "ya", "yes", "ok", "oke"}
CHANGE = {"ubah", "change", "edit", "ubah angka"}
SKIP = {"lewati", "skip", "tidak", "tidak ada", "no"}

STATUS_KEYS = {
    Status.NOT_STARTED: "progres.status.belum_mulai",
    Status.AHEAD: "progres.status.lebih_cepat",
    Status.ON_PLAN: "progres.status.sesuai_rencana",
    Status.BEHIND: "progres.status.terlambat",
    Status.CRITICAL: "progres.status.kritis",
    Status.DONE: "progres.status.selesai",
}

KIND_WORDS = {
    InboundKind.PHOTO: ("foto", "a photo"),
    InboundKind.DOCUMENT: ("file", "a file"),
    InboundKind.LOCATION: ("lokasi", "a location"),
    InboundKind.VOICE: ("pesan suara", "a voice note"),
}

catalogue.register(
    {
        "progres.summary": {
            "id": "lapor progres fisik kegiatan (persen atau volume)",
            "en": "report physical progress of an activity (percent or volume)",
        },
        "progres.menu": {"id": "📈 Progres", "en": "📈 Progress"},
        "progres.help": {
            "id": "/progres mencatat progres fisik kumulatif satu kegiatan hari ini, dalam persen (45 atau "
            "45,5%) atau volume dalam satuan kegiatan (120 m). Cepat: /progres 45, /progres ACT-BJL-01 45, "
            "/progres drainase 120 m. Foto wajib saat melewati tonggak 0%, 50% dan 100%.",
            "en": "/progres records the cumulative physical progress of one activity today, in percent (45 or "
            "45.5%) or as volume in the activity's unit (120 m). Quick: /progres 45, /progres ACT-BJL-01 45, "
            "/progres drainase 120 m. A photo is required when crossing the 0%, 50% and 100% milestones.",
        },
        "progres.help.pilih_kegiatan": {
            "id": "Pilih kegiatan dari tombol, atau ketik kode/nama kegiatannya (contoh: drainase).",
            "en": "Choose the activity from the buttons, or type its code or name (e.g. drainase).",
        },
        "progres.help.jumlah": {
            "id": "Kirim progres kumulatif (sejak awal) dalam persen, contoh 45 atau 45,5, atau volume "
            "dengan satuannya, contoh 120 m.",
            "en": "Send the cumulative progress (since the start) in percent, e.g. 45 or 45.5, or the volume "
            "with its unit, e.g. 120 m.",
        },
        "progres.help.yakin": {
            "id": "Tekan Ya bila angkanya benar, atau Ubah angka untuk mengirim angka lain.",
            "en": "Press Yes if the figure is right, or Change figure to send another one.",
        },
        "progres.help.foto": {
            "id": "Kirim foto pekerjaan dari kamera (📎 → Kamera). Bila foto tidak wajib, tekan Lewati.",
            "en": "Send a photo of the works from the camera (📎 → Camera). If it is not required, press Skip.",
        },
        "progres.help.ringkasan": {
            "id": "Periksa ringkasan, lalu tekan Simpan, Ubah atau Batal.",
            "en": "Check the summary, then press Save, Change or Cancel.",
        },
        "progres.no_activities": {
            "id": "{ksm} belum punya kegiatan terdaftar. Hubungi fasilitator Anda.",
            "en": "{ksm} has no registered activity yet. Contact your facilitator.",
        },
        "progres.ask_activity": {
            "id": "Progres kegiatan mana? ({ksm})",
            "en": "Progress of which activity? ({ksm})",
        },
        "progres.unknown_activity": {
            "id": "Kegiatan \u201c{text}\u201d tidak ada di {ksm}.",
            "en": "There is no activity \u201c{text}\u201d in {ksm}.",
        },
        "progres.other_ksm_activity": {
            "id": "Kegiatan {code} milik {owner}, bukan {ksm}; Anda hanya bisa melapor untuk {ksm}.",
            "en": "Activity {code} belongs to {owner}, not {ksm}; you can only report for {ksm}.",
        },
        "progres.not_reported": {"id": "belum ada", "en": "none yet"},
        "progres.ask_amount": {
            "id": "📈 {activity}\nProgres terakhir: {previous}.\n"
            "Kirim progres kumulatif hari ini dalam persen (contoh 45 atau 45,5) atau volume dalam {unit} "
            "(target {target} {unit}, contoh 120 {unit}).",
            "en": "📈 {activity}\nLast progress: {previous}.\n"
            "Send today's cumulative progress in percent (e.g. 45 or 45.5) or the volume in {unit} "
            "(target {target} {unit}, e.g. 120 {unit}).",
        },
        "progres.previous_on": {"id": "{pct} ({date})", "en": "{pct} ({date})"},
        "progres.bad.not_a_number": {
            "id": "\u201c{text}\u201d bukan angka. Kirim angka persen, contoh 45 atau 45,5, atau volume, "
            "contoh 120 {unit}.",
            "en": "\u201c{text}\u201d is not a number. Send a percent, e.g. 45 or 45.5, or a volume, "
            "e.g. 120 {unit}.",
        },
        "progres.bad.negative": {
            "id": "Progres tidak boleh negatif. Kirim angka 0 sampai 100.",
            "en": "Progress cannot be negative. Send a number from 0 to 100.",
        },
        "progres.bad.over_100": {
            "id": "Progres paling besar 100%. Kirim angka 0 sampai 100 (progres kumulatif, bukan volume).",
            "en": "Progress is at most 100%. Send a number from 0 to 100 (cumulative percent, not volume).",
        },
        "progres.bad.over_target": {
            "id": "{volume} {unit} melebihi target kegiatan ({target} {unit}). Kirim volume sampai "
            "{target} {unit}, atau persen.",
            "en": "{volume} {unit} is more than the activity's target ({target} {unit}). Send a volume up to "
            "{target} {unit}, or a percent.",
        },
        "progres.bad.wrong_unit": {
            "id": "Satuan kegiatan ini {unit}, bukan \u201c{given}\u201d. Kirim persen (45) atau volume "
            "dalam {unit} (120 {unit}).",
            "en": "This activity is measured in {unit}, not \u201c{given}\u201d. Send a percent (45) or a "
            "volume in {unit} (120 {unit}).",
        },
        "progres.bad.kind": {
            "id": "Di langkah ini saya perlu angka progres, bukan {kind}. {hint}",
            "en": "At this step I need the progress figure, not {kind}. {hint}",
        },
        "progres.bad_activity_choice": {
            "id": "Pilih salah satu kegiatan dari tombol, atau ketik kode/nama kegiatan.",
            "en": "Choose one of the activities from the buttons, or type its code or name.",
        },
        "progres.amount_hint": {
            "id": "Contoh: 45 atau 45,5 atau 120 {unit}.",
            "en": "For example: 45 or 45.5 or 120 {unit}.",
        },
        "progres.doubt.backwards": {
            "id": "⚠️ Progres {new} lebih rendah dari laporan terakhir {previous}. Progres kumulatif "
            "biasanya tidak turun. Yakin?",
            "en": "⚠️ Progress {new} is lower than the last report {previous}. Cumulative progress usually "
            "does not go down. Are you sure?",
        },
        "progres.doubt.jump": {
            "id": "⚠️ Progres naik {jump} poin (dari {previous} ke {new}) sejak {since}; biasanya paling "
            "banyak {limit} poin per hari. Yakin?",
            "en": "⚠️ Progress rose {jump} points (from {previous} to {new}) since {since}; usually at most "
            "{limit} points a day. Are you sure?",
        },
        "progres.yes": {"id": "✅ Ya", "en": "✅ Yes"},
        "progres.change_amount": {"id": "✏️ Ubah angka", "en": "✏️ Change figure"},
        "progres.confirm_hint": {
            "id": "Tekan Ya bila angkanya benar, atau Ubah angka.",
            "en": "Press Yes if the figure is right, or Change figure.",
        },
        "progres.ask_photo_required": {
            "id": "📷 Progres ini mencapai tonggak {milestone}%: foto pekerjaan wajib. Kirim satu foto dari "
            "lokasi sekarang.",
            "en": "📷 This progress reaches the {milestone}% milestone: a photo of the works is required. Send "
            "one photo from the site now.",
        },
        "progres.ask_photo_optional": {
            "id": "📷 Kirim foto pekerjaan hari ini (boleh dilewati).",
            "en": "📷 Send a photo of today's works (optional).",
        },
        "progres.photo_required_hint": {
            "id": "Foto wajib untuk tonggak {milestone}%. Kirim foto (📎 → Kamera), atau /batal.",
            "en": "A photo is required for the {milestone}% milestone. Send a photo (📎 → Camera), or /batal.",
        },
        "progres.photo_optional_hint": {
            "id": "Kirim foto (📎 → Kamera) atau tekan Lewati.",
            "en": "Send a photo (📎 → Camera) or press Skip.",
        },
        "progres.skip": {"id": "⏭️ Lewati", "en": "⏭️ Skip"},
        "progres.photo_too_large": {
            "id": "Foto terlalu besar ({size}; paling besar {limit}). Kirim sebagai foto biasa "
            "(bukan file), atau foto yang lebih kecil.",
            "en": "The photo is too large ({size}; at most {limit}). Send it as a normal photo "
            "(not a file), or a smaller one.",
        },
        "progres.photo_not_image": {
            "id": "File ini bukan gambar yang bisa dibaca. Kirim foto JPG/PNG dari kamera.",
            "en": "This file is not a readable image. Send a JPG/PNG photo from the camera.",
        },
        "progres.summary_title": {"id": "📋 Ringkasan progres", "en": "📋 Progress summary"},
        "progres.summary_body": {
            "id": "Kegiatan: {activity}\nTanggal: {date}\nProgres kumulatif: {new}\nSebelumnya: {previous}\n"
            "Foto: {photo}",
            "en": "Activity: {activity}\nDate: {date}\nCumulative progress: {new}\nPrevious: {previous}\n"
            "Photo: {photo}",
        },
        "progres.volume_of": {
            "id": "{pct} ({volume} dari {target} {unit})",
            "en": "{pct} ({volume} of {target} {unit})",
        },
        "progres.photo_yes": {"id": "ada", "en": "yes"},
        "progres.photo_yes_milestone": {
            "id": "ada (tonggak {milestone}%)",
            "en": "yes ({milestone}% milestone)",
        },
        "progres.photo_no": {"id": "tidak ada", "en": "none"},
        "progres.replaces": {
            "id": "⚠️ Menggantikan laporan hari ini: {pct} (revisi {revision}). Nilai lama tetap tercatat.",
            "en": "⚠️ Replaces today's report: {pct} (revision {revision}). The old value stays on record.",
        },
        "progres.save": {"id": "✅ Simpan", "en": "✅ Save"},
        "progres.change": {"id": "✏️ Ubah", "en": "✏️ Change"},
        "progres.cancel": {"id": "❌ Batal", "en": "❌ Cancel"},
        "progres.summary_hint": {
            "id": "Pilih Simpan, Ubah atau Batal.",
            "en": "Choose Save, Change or Cancel.",
        },
        "progres.saved": {
            "id": "✅ Progres tersimpan: {activity} {pct} pada {date}.{revision}\n"
            "Rencana hari ini: {planned}. Deviasi: {deviation} poin.\nStatus: {status}",
            "en": "✅ Progress saved: {activity} {pct} on {date}.{revision}\n"
            "Planned today: {planned}. Deviation: {deviation} points.\nStatus: {status}",
        },
        "progres.saved_revision": {"id": " (koreksi, revisi {n})", "en": " (correction, revision {n})"},
        "progres.status.belum_mulai": {"id": "belum mulai", "en": "not started"},
        "progres.status.lebih_cepat": {"id": "🚀 lebih cepat dari rencana", "en": "🚀 ahead of plan"},
        "progres.status.sesuai_rencana": {"id": "✅ sesuai rencana", "en": "✅ on plan"},
        "progres.status.terlambat": {"id": "⚠️ terlambat", "en": "⚠️ behind plan"},
        "progres.status.kritis": {
            "id": "🔴 KRITIS — fasilitator akan menindaklanjuti",
            "en": "🔴 CRITICAL — the facilitator will follow up",
        },
        "progres.status.selesai": {"id": "🏁 selesai", "en": "🏁 finished"},
    }
)


@register_flow
class ProgressFlow(Flow):
    name = "progres"
    commands = ("progres", "progress")
    roles = frozenset({Role.KETUA_KSM, Role.BKM, Role.FASILITATOR})
    needs_ksm = True

    # --- helpers ---------------------------------------------------------------------------------

    async def _activities(self, ctx: Context) -> list[Activity]:
        stmt = select(Activity).where(Activity.ksm_id == ctx.data["ksm_id"]).order_by(Activity.code)
        return list((await ctx.session.execute(stmt)).scalars())

    async def _activity(self, ctx: Context) -> Activity:
        activity = await ctx.session.get(Activity, ctx.data["activity_id"])
        assert activity is not None
        return activity

    def _report_date(self, ctx: Context) -> date:
        return date.fromisoformat(ctx.data["report_date"])

    def _pct(self, ctx: Context, value: float | None) -> str:
        return ctx.t("progres.not_reported") if value is None else fmt_percent(value, ctx.lang)

    def _previous_text(self, ctx: Context) -> str:
        prev = ctx.data.get("previous")
        if prev is None:
            return ctx.t("progres.not_reported")
        return ctx.t(
            "progres.previous_on",
            pct=fmt_percent(prev, ctx.lang),
            date=fmt_date(date.fromisoformat(ctx.data["previous_date"]), ctx.lang),
        )

    def _wrong_kind(self, ctx: Context, hint: str) -> bool:
        """A photo, file, location or voice note where text is expected: say so. True when it was."""
        if ctx.inbound.kind in (InboundKind.TEXT, InboundKind.CHOICE) and ctx.text:
            return False
        words = KIND_WORDS.get(ctx.inbound.kind, ("pesan kosong", "an empty message"))
        ctx.say(ctx.t("progres.bad.kind", kind=words[0] if ctx.lang == "id" else words[1], hint=hint))
        return True

    async def _other_ksm_activity(self, ctx: Context, text: str) -> bool:
        """An activity code of another KSM in the text: refuse with the reason. True when refused."""
        found = await other_ksm_activity(ctx.session, ctx.data["ksm_id"], text)
        if found is None:
            return False
        other, owner = found
        ksm = await ctx.ksm(ctx.data["ksm_id"])
        ctx.say(ctx.t("progres.other_ksm_activity", code=other.code, owner=owner.name, ksm=ksm.name))
        return True

    async def _ask_activity(self, ctx: Context, activities: list[Activity]) -> None:
        ksm = await ctx.ksm(ctx.data["ksm_id"])
        choices = []
        for a in activities:
            last = await last_progress(ctx.session, a.id)
            pct = self._pct(ctx, last.percent if last else None)
            choices.append(Choice(label=f"{a.name} — {pct}", value=f"a:{a.id}"))
        ctx.goto(self.name, State.ACTIVITY)
        ctx.say(ctx.t("progres.ask_activity", ksm=ksm.name), choices)

    async def _ask_amount(self, ctx: Context) -> None:
        activity = await self._activity(ctx)
        ctx.goto(self.name, State.AMOUNT)
        ctx.say(
            ctx.t(
                "progres.ask_amount",
                activity=activity.name,
                previous=self._previous_text(ctx),
                unit=activity.unit,
                target=fmt_number(activity.target_volume, ctx.lang),
            )
        )

    # --- start -----------------------------------------------------------------------------------

    async def start(self, ctx: Context, args: str) -> None:
        ksm_id = ctx.data["ksm_id"]
        today = await ctx.today_for_ksm(ksm_id)
        ctx.goto(self.name, State.ACTIVITY, report_date=today.isoformat())
        activities = await self._activities(ctx)
        if not activities:
            ksm = await ctx.ksm(ksm_id)
            ctx.say(ctx.t("progres.no_activities", ksm=ksm.name))
            ctx.finish()
            return
        args = args.strip()
        act_text, amount_text = "", ""
        if args:
            m = QUICK_RE.match(args)
            if m:
                act_text, amount_text = (m.group("act") or "").strip(), m.group("amt").strip()
            else:
                act_text = args
        activity: Activity | None = None
        if act_text:
            matches = match_activities(activities, act_text)
            if len(matches) == 1:
                activity = matches[0]
            elif not matches:
                if not await self._other_ksm_activity(ctx, act_text):
                    ksm = await ctx.ksm(ksm_id)
                    ctx.say(ctx.t("progres.unknown_activity", text=act_text, ksm=ksm.name))
                amount_text = ""  # the figure was meant for the activity named: do not give it to another
        if activity is None and len(activities) == 1:
            activity = activities[0]
        if activity is None:
            ctx.data["pending_amount"] = amount_text
            await self._ask_activity(ctx, activities)
            return
        await self._chosen(ctx, activity, amount_text)

    async def _chosen(self, ctx: Context, activity: Activity, amount_text: str) -> None:
        prev = await last_progress(ctx.session, activity.id, before=self._report_date(ctx))
        ctx.data.pop("pending_amount", None)
        ctx.goto(
            self.name,
            State.AMOUNT,
            activity_id=activity.id,
            previous=prev.percent if prev else None,
            previous_date=prev.report_date.isoformat() if prev else None,
        )
        if amount_text:
            await self._amount(ctx, amount_text)
        else:
            await self._ask_amount(ctx)

    # --- states ----------------------------------------------------------------------------------

    async def on_pilih_kegiatan(self, ctx: Context) -> None:
        activities = await self._activities(ctx)
        if self._wrong_kind(ctx, ctx.t("progres.bad_activity_choice")):
            await self._ask_activity(ctx, activities)
            return
        text = ctx.text
        chosen: Activity | None = None
        if text.startswith("a:") and text[2:].isdigit():
            chosen = next((a for a in activities if a.id == int(text[2:])), None)
        elif text.isdigit() and 1 <= int(text) <= len(activities):
            chosen = activities[int(text) - 1]
        else:
            label_match = [a for a in activities if text.lower() == a.name.lower()]
            matches = label_match or match_activities(activities, text)
            if len(matches) == 1:
                chosen = matches[0]
        if chosen is None:
            if not await self._other_ksm_activity(ctx, text):
                ctx.say(ctx.t("progres.bad_activity_choice"))
            await self._ask_activity(ctx, activities)
            return
        await self._chosen(ctx, chosen, ctx.data.get("pending_amount") or "")

    async def on_jumlah(self, ctx: Context) -> None:
        activity = await self._activity(ctx)
        if self._wrong_kind(ctx, ctx.t("progres.amount_hint", unit=activity.unit)):
            return
        await self._amount(ctx, ctx.text)

    async def _amount(self, ctx: Context, text: str) -> None:
        activity = await self._activity(ctx)
        amount = parse_amount(text, activity.unit, activity.target_volume)
        if amount.error is not None:
            target = fmt_number(activity.target_volume, ctx.lang)
            kw = {"text": text, "unit": activity.unit, "target": target}
            if amount.error == AmountError.OVER_TARGET:
                kw["volume"] = fmt_number(amount.volume or 0, ctx.lang)
            if amount.error == AmountError.WRONG_UNIT:
                kw["given"] = amount.unit or ""
            ctx.say(ctx.t(f"progres.bad.{amount.error.value}", **kw))
            ctx.goto(self.name, State.AMOUNT)
            return
        assert amount.percent is not None
        ctx.goto(self.name, State.AMOUNT, percent=amount.percent, volume=amount.volume)
        previous = ctx.data.get("previous")
        previous_date = ctx.data.get("previous_date")
        report_date = self._report_date(ctx)
        doubt = doubt_about(
            ctx.settings,
            percent=amount.percent,
            previous=previous,
            previous_date=date.fromisoformat(previous_date) if previous_date else None,
            start_date=activity.start_date,
            report_date=report_date,
        )
        if doubt is None:
            await self._after_amount(ctx)
            return
        ctx.goto(self.name, State.CONFIRM)
        choices = [
            Choice(label=ctx.t("progres.yes"), value="ya"),
            Choice(label=ctx.t("progres.change_amount"), value="ubah"),
        ]
        new = fmt_percent(amount.percent, ctx.lang)
        if doubt == Doubt.BACKWARDS:
            ctx.say(
                ctx.t("progres.doubt.backwards", new=new, previous=fmt_percent(previous or 0.0, ctx.lang)),
                choices,
            )
            return
        since = date.fromisoformat(previous_date) if previous_date else activity.start_date
        ctx.say(
            ctx.t(
                "progres.doubt.jump",
                jump=fmt_number(amount.percent - (previous or 0.0), ctx.lang),
                previous=fmt_percent(previous or 0.0, ctx.lang),
                new=new,
                since=fmt_date(since, ctx.lang),
                limit=fmt_number(ctx.settings.dialog.max_jump_percent, ctx.lang),
            ),
            choices,
        )

    async def on_yakin(self, ctx: Context) -> None:
        if self._wrong_kind(ctx, ctx.t("progres.confirm_hint")):
            return
        answer = ctx.text.lower()
        if answer in YES:
            await self._after_amount(ctx)
        elif answer in CHANGE or "ubah" in answer:
            await self._ask_amount(ctx)
        elif parse_amount(ctx.text, "", 1).error != AmountError.NOT_A_NUMBER:
            await self._amount(ctx, ctx.text)  # a new figure typed straight away
        else:
            ctx.say(
                ctx.t("progres.confirm_hint"),
                [
                    Choice(label=ctx.t("progres.yes"), value="ya"),
                    Choice(label=ctx.t("progres.change_amount"), value="ubah"),
                ],
            )

    async def _after_amount(self, ctx: Context) -> None:
        milestone = crossed_milestone(
            ctx.settings.dialog.photo_milestones, ctx.data.get("previous"), ctx.data["percent"]
        )
        required = milestone is not None and not await has_milestone_photo(
            ctx.session, ctx.data["activity_id"], milestone
        )
        ctx.goto(self.name, State.PHOTO, milestone=milestone, photo_required=required)
        if ctx.data.get("photo"):
            await self._summary(ctx)
            return
        self._ask_photo(ctx)

    def _ask_photo(self, ctx: Context) -> None:
        if ctx.data.get("photo_required"):
            ctx.say(ctx.t("progres.ask_photo_required", milestone=ctx.data["milestone"]))
        else:
            ctx.say(
                ctx.t("progres.ask_photo_optional"), [Choice(label=ctx.t("progres.skip"), value="lewati")]
            )

    def _photo_hint(self, ctx: Context) -> None:
        if ctx.data.get("photo_required"):
            ctx.say(ctx.t("progres.photo_required_hint", milestone=ctx.data["milestone"]))
        else:
            ctx.say(
                ctx.t("progres.photo_optional_hint"), [Choice(label=ctx.t("progres.skip"), value="lewati")]
            )

    async def on_foto(self, ctx: Context) -> None:
        inbound = ctx.inbound
        if inbound.kind in (InboundKind.PHOTO, InboundKind.DOCUMENT):  # a file that is no image is refused
            content = inbound.file_bytes or b""
            try:
                staged = stage_photo(ctx.settings, content, inbound.mime_type or "image/jpeg")
            except MediaTooLarge as exc:
                ctx.say(
                    ctx.t(
                        "progres.photo_too_large",
                        size=human_size(exc.size, ctx.lang),
                        limit=human_size(exc.limit, ctx.lang),
                    )
                )
                return
            except NotAnImage:
                ctx.say(ctx.t("progres.photo_not_image"))
                return
            staged["caption"] = inbound.text
            staged["taken_at"] = inbound.taken_at.isoformat() if inbound.taken_at else None
            staged["latitude"], staged["longitude"] = inbound.latitude, inbound.longitude
            ctx.goto(self.name, State.PHOTO, photo=staged)
            await self._summary(ctx)
            return
        if (
            inbound.kind in (InboundKind.TEXT, InboundKind.CHOICE)
            and ctx.text.lower() in SKIP
            and not ctx.data.get("photo_required")
        ):
            await self._summary(ctx)
            return
        self._photo_hint(ctx)

    async def _summary(self, ctx: Context) -> None:
        activity = await self._activity(ctx)
        report_date = self._report_date(ctx)
        pct = fmt_percent(ctx.data["percent"], ctx.lang)
        volume = ctx.data.get("volume")
        new = (
            ctx.t(
                "progres.volume_of",
                pct=pct,
                volume=fmt_number(volume, ctx.lang),
                target=fmt_number(activity.target_volume, ctx.lang),
                unit=activity.unit,
            )
            if volume is not None
            else pct
        )
        photo = ctx.data.get("photo")
        milestone = ctx.data.get("milestone")
        if not photo:
            photo_text = ctx.t("progres.photo_no")
        elif milestone is not None:
            photo_text = ctx.t("progres.photo_yes_milestone", milestone=milestone)
        else:
            photo_text = ctx.t("progres.photo_yes")
        lines = [
            ctx.t("progres.summary_title"),
            ctx.t(
                "progres.summary_body",
                activity=f"{activity.name} ({activity.code})",
                date=fmt_date(report_date, ctx.lang),
                new=new,
                previous=self._previous_text(ctx),
                photo=photo_text,
            ),
        ]
        existing = await report_on(ctx.session, activity.id, report_date)
        if existing is not None:
            lines.append(
                ctx.t(
                    "progres.replaces",
                    pct=fmt_percent(existing.percent, ctx.lang),
                    revision=existing.revision,
                )
            )
        ctx.goto(self.name, State.SUMMARY)
        ctx.say("\n".join(lines), self._summary_choices(ctx))

    def _summary_choices(self, ctx: Context) -> list[Choice]:
        return [
            Choice(label=ctx.t("progres.save"), value="simpan"),
            Choice(label=ctx.t("progres.change"), value="ubah"),
            Choice(label=ctx.t("progres.cancel"), value="/batal"),
        ]

    async def on_ringkasan(self, ctx: Context) -> None:
        answer = ctx.text.lower() if ctx.inbound.kind in (InboundKind.TEXT, InboundKind.CHOICE) else ""
        if answer in SAVE:
            await self._save(ctx)
        elif answer in CHANGE:
            await self._ask_amount(ctx)
        else:
            ctx.say(ctx.t("progres.summary_hint"), self._summary_choices(ctx))

    async def _save(self, ctx: Context) -> None:
        assert ctx.person is not None
        activity = await self._activity(ctx)
        report_date = self._report_date(ctx)
        report = await save_progress(
            ctx.session,
            activity_id=activity.id,
            report_date=report_date,
            percent=ctx.data["percent"],
            volume=ctx.data.get("volume"),
            note=None,
            entered_by_id=ctx.person.id,
            channel=ctx.inbound.channel,
            now=ctx.now,
        )
        photo = ctx.data.get("photo")
        if photo:
            await self._store_photo(ctx, activity, report_date, photo)
        assessment = await assess_activity(ctx.session, ctx.settings, activity, report_date)
        ctx.finish()
        deviation = assessment.deviation if assessment.deviation is not None else 0.0
        ctx.say(
            ctx.t(
                "progres.saved",
                activity=activity.name,
                pct=fmt_percent(report.percent, ctx.lang),
                date=fmt_date(report_date, ctx.lang),
                revision=ctx.t("progres.saved_revision", n=report.revision) if report.revision > 1 else "",
                planned=fmt_percent(assessment.planned, ctx.lang),
                deviation=fmt_signed(deviation, ctx.lang),
                status=ctx.t(STATUS_KEYS[assessment.status]),
            )
        )

    async def _store_photo(
        self, ctx: Context, activity: Activity, report_date: date, photo: dict[str, Any]
    ) -> None:
        assert ctx.person is not None
        await attach_staged(
            ctx.session,
            ctx.settings,
            staged=photo,
            ksm_id=activity.ksm_id,
            report_date=report_date,
            activity_id=activity.id,
            milestone=ctx.data.get("milestone"),
            entered_by_id=ctx.person.id,
            channel=ctx.inbound.channel,
            now=ctx.now,
        )
