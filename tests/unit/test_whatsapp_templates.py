"""WhatsApp templates outside the 24-hour window: the window, choosing a template, cleaning its
parameters for Meta, the decision a sender makes, and the texts to register (from the catalogue)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kotaku import catalogue
from kotaku.config import WhatsAppConfig, WhatsAppTemplate
from kotaku.notify.ports import DeliveryContext
from kotaku.notify.templates import (
    BODY_MAX_CHARS,
    CATEGORY,
    ELLIPSIS,
    MAX_PARAM_CHARS,
    DeliveryPlan,
    Route,
    TemplateCall,
    clean_param,
    fill_body,
    graph_components,
    graph_message,
    graph_template,
    in_window,
    param_limit,
    plan_delivery,
    preview,
    template_body,
    template_for,
    template_problem,
    template_texts,
    window_closes_at,
)

NOW = datetime(2026, 12, 22, 9, 0, tzinfo=UTC)
DEFAULT = WhatsAppTemplate(name="kotaku_pemberitahuan")
REMINDER = WhatsAppTemplate(name="kotaku_pengingat", languages={"id": "id"}, params=["ksm", "text"])
TEMPLATES = {"default": DEFAULT, "reminder": REMINDER}
BODY_ID = "Pemberitahuan KOTAKU: {{1}}\n\nBalas pesan ini untuk melihat rinciannya dan melanjutkan."

# --- the window ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ago", "inside"),
    [
        (timedelta(0), True),
        (timedelta(hours=23, minutes=59, seconds=59), True),
        (timedelta(hours=24) - timedelta(microseconds=1), True),
        (timedelta(hours=24), False),  # exactly 24 h: closed
        (timedelta(hours=24, microseconds=1), False),
        (timedelta(days=3), False),
        (-timedelta(minutes=5), True),  # a clock a little ahead: still open
    ],
)
def test_window_boundaries(ago: timedelta, inside: bool) -> None:
    assert in_window(NOW - ago, NOW, 24) is inside


def test_never_wrote_means_no_window() -> None:
    assert in_window(None, NOW, 24) is False
    assert window_closes_at(None, 24) is None


def test_window_hours_and_naive_datetimes_read_as_utc() -> None:
    assert in_window(NOW - timedelta(hours=2), NOW, 1.5) is False
    assert in_window(NOW - timedelta(hours=1), NOW, 1.5) is True
    naive_last = (NOW - timedelta(hours=23)).replace(tzinfo=None)
    assert in_window(naive_last, NOW, 24) is True
    assert in_window(NOW - timedelta(hours=25), NOW.replace(tzinfo=None), 24) is False
    assert window_closes_at(naive_last, 24) == NOW + timedelta(hours=1)


# --- choosing a template ---------------------------------------------------------------------------


def test_kind_template_before_default() -> None:
    payload = {"text": "⏰ Pengingat: laporan belum masuk.", "ksm": "KSM Bejalen Makmur"}
    assert template_for(TEMPLATES, "reminder", payload, "id") == TemplateCall(
        name="kotaku_pengingat",
        language="id",
        params=["KSM Bejalen Makmur", "⏰ Pengingat: laporan belum masuk."],
    )
    assert template_for(TEMPLATES, "digest", payload, "id") == TemplateCall(
        name="kotaku_pemberitahuan", language="id", params=["⏰ Pengingat: laporan belum masuk."]
    )


def test_default_when_the_kind_template_does_not_fit() -> None:
    # No "ksm" in the payload, or English (the reminder template is Indonesian only): the default carries it.
    assert template_for(TEMPLATES, "reminder", {"text": "x"}, "id") == TemplateCall(
        "kotaku_pemberitahuan", "id", ["x"]
    )
    assert template_for(TEMPLATES, "reminder", {"text": "x", "ksm": "K"}, "en") == TemplateCall(
        "kotaku_pemberitahuan", "en", ["x"]
    )


def test_meta_language_code_comes_from_languages() -> None:
    templates = {"default": WhatsAppTemplate(name="t_x", languages={"id": "id", "en": "en_US"})}
    call = template_for(templates, "alert", {"text": "x"}, "en")
    assert call is not None and call.language == "en_US"


@pytest.mark.parametrize(
    ("templates", "payload", "lang", "why"),
    [
        ({}, {"text": "x"}, "id", "no WhatsApp template"),
        ({"reminder": REMINDER}, {"text": "x"}, "id", "'ksm'"),  # no default to fall back on
        ({"default": WhatsAppTemplate(name="t_id", languages={"id": "id"})}, {"text": "x"}, "en", "'en'"),
        ({"default": DEFAULT}, {}, "id", "'text'"),
        ({"default": DEFAULT}, {"text": None}, "id", "'text'"),
        ({"default": DEFAULT}, {"text": ""}, "id", "'text'"),
        ({"default": DEFAULT}, {"text": " \n\t "}, "id", "'text'"),  # nothing left once cleaned
    ],
)
def test_no_template_fits(
    templates: dict[str, WhatsAppTemplate], payload: dict[str, object], lang: str, why: str
) -> None:
    assert template_for(templates, "reminder", payload, lang) is None
    problem = template_problem(templates, "reminder", payload, lang)
    assert problem is not None and why in problem


def test_template_problem_is_none_when_one_fits() -> None:
    assert template_problem(TEMPLATES, "reminder", {"text": "x"}, "id") is None


def test_numbers_and_other_values_are_strings() -> None:
    templates = {"default": WhatsAppTemplate(name="t_n", params=["pct", "n", "ok"])}
    call = template_for(templates, "weekly_summary", {"pct": 12.5, "n": 0, "ok": True}, "id")
    assert call == TemplateCall("t_n", "id", ["12.5", "0", "True"])


def test_parameters_are_cleaned() -> None:
    text = "📋 Rekap harian 22-12-2026\n\n3 dari 5 KSM\tsudah     melapor.\r\n- KSM A\n"
    call = template_for({"default": DEFAULT}, "digest", {"text": text}, "id")
    assert call is not None
    assert call.params == ["📋 Rekap harian 22-12-2026 · 3 dari 5 KSM sudah melapor. · - KSM A"]


def test_a_long_parameter_fits_the_body_within_metas_limit() -> None:
    call = template_for({"default": DEFAULT}, "digest", {"text": "kata " * 1000}, "id")
    assert call is not None
    (param,) = call.params
    assert param.endswith(ELLIPSIS)
    assert len(param) == param_limit("kotaku_pemberitahuan", "id", 1) < MAX_PARAM_CHARS
    filled = fill_body(BODY_ID, call.params)
    assert len(filled) <= BODY_MAX_CHARS
    # A template the catalogue does not know: our own cap.
    assert param_limit("unknown_template", "id", 1) == MAX_PARAM_CHARS
    assert param_limit("kotaku_pemberitahuan", "id", 0) == MAX_PARAM_CHARS


# --- cleaning parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Laporan masuk", "Laporan masuk"),
        ("  a  ", "a"),
        ("a\nb", "a · b"),
        ("a\r\n\r\n\nb", "a · b"),
        ("a\tb", "a b"),
        ("a     b", "a b"),
        ("a\u00a0\u00a0\u00a0\u00a0\u00a0b", "a b"),
        ("a\u2028b\u2029c\x0bd\x0ce\x85f", "a · b · c · d · e · f"),
        ("a\x00b\x1bc", "a b c"),
        ("\n\n", ""),
        (42, "42"),
        (3.5, "3.5"),
    ],
)
def test_clean_param_examples(raw: object, clean: str) -> None:
    assert clean_param(raw) == clean


def test_clean_param_cuts_with_an_ellipsis() -> None:
    assert clean_param("x" * 20, 10) == "x" * 9 + ELLIPSIS
    assert clean_param("x" * 10, 10) == "x" * 10
    assert clean_param("abcd efgh", 6) == "abcd" + ELLIPSIS  # no space before the ellipsis
    assert clean_param("abc\nefgh", 6) == "abc" + ELLIPSIS  # nor half a separator
    assert clean_param("abc", 1) == ELLIPSIS
    with pytest.raises(ValueError):
        clean_param("abc", 0)


def _acceptable(param: str, limit: int) -> None:
    assert "\n" not in param and "\r" not in param and "\t" not in param
    assert "     " not in param  # Meta: no more than 4 consecutive spaces
    assert "  " not in param  # in fact never two
    assert len(param) <= limit
    assert param == param.strip()
    assert not any(ch.isspace() and ch != " " for ch in param)
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in param)


_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
# Text made of pieces: white space and line breaks of every sort, runs of spaces, our own separator
# and ellipsis, and arbitrary unicode.
_AWKWARD = [*" \t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u2029\u3000\x00·…", "\r\n", "     ", " · "]
_TEXTS = st.lists(st.one_of(st.sampled_from(_AWKWARD), st.text(max_size=8)), max_size=60).map("".join)


@given(text=_TEXTS, limit=st.integers(min_value=1, max_value=400))
def test_any_text_becomes_an_acceptable_parameter(text: str, limit: int) -> None:
    param = clean_param(text, limit)
    _acceptable(param, limit)
    assert clean_param(param, limit) == param  # cleaning twice changes nothing
    if len(text) <= limit and not _SPACE_OR_CONTROL.search(text):
        assert param == text  # nothing to clean


@given(text=_TEXTS)
def test_no_word_is_lost_when_there_is_room(text: str) -> None:
    param = clean_param(text, 10_000)
    words = [w for w in _SPACE_OR_CONTROL.split(text) if w and w != "·"]
    assert [w for w in param.split(" ") if w and w != "·"] == words


@given(value=st.one_of(st.integers(), st.floats(allow_nan=True), st.booleans(), st.text(max_size=50)))
def test_any_payload_value_fills_a_template_acceptably(value: object) -> None:
    call = template_for({"default": DEFAULT}, "alert", {"text": value}, "id")
    limit = param_limit("kotaku_pemberitahuan", "id", 1)
    if call is None:
        assert clean_param(value) == ""
    else:
        (param,) = call.params
        _acceptable(param, limit)
        assert param == clean_param(value, limit)


# --- the decision ------------------------------------------------------------------------------------


def _context(
    last: datetime | None, kind: str = "reminder", lang: str = "id", **payload: object
) -> DeliveryContext:
    return DeliveryContext(outbox_id=7, kind=kind, payload=dict(payload), last_inbound_at=last, language=lang)


def test_plan_in_window_is_free_form() -> None:
    config = WhatsAppConfig()
    assert plan_delivery(config, _context(NOW - timedelta(hours=1), text="x"), NOW) == DeliveryPlan(
        Route.FREE_FORM
    )
    assert plan_delivery(config, None, NOW).route is Route.FREE_FORM  # a reply to what was just written


def test_plan_outside_window_sends_the_template() -> None:
    config = WhatsAppConfig()
    plan = plan_delivery(
        config, _context(NOW - timedelta(hours=24), text="⏰ Pengingat\nKirim progres."), NOW
    )
    assert plan.route is Route.TEMPLATE
    assert plan.template == TemplateCall("kotaku_pemberitahuan", "id", ["⏰ Pengingat · Kirim progres."])
    assert plan.preview == fill_body(BODY_ID, ["⏰ Pengingat · Kirim progres."])
    english = plan_delivery(config, _context(None, lang="en", text="Reminder"), NOW)
    assert english.template == TemplateCall("kotaku_pemberitahuan", "en", ["Reminder"])
    assert english.preview is not None and english.preview.startswith("KOTAKU notice: Reminder")


def test_plan_holds_with_the_reason() -> None:
    config = WhatsAppConfig(templates={})
    plan = plan_delivery(config, _context(NOW - timedelta(days=2), text="x"), NOW)
    assert plan.route is Route.HOLD and plan.template is None
    assert plan.reason is not None and "24 h window" in plan.reason and "no WhatsApp template" in plan.reason
    config = WhatsAppConfig(window_hours=2)
    plan = plan_delivery(config, _context(NOW - timedelta(hours=3), image_path="/x.png"), NOW)
    assert plan.route is Route.HOLD and plan.reason is not None and "'text'" in plan.reason


def test_preview_without_catalogue_text() -> None:
    templates = {"default": WhatsAppTemplate(name="not_in_catalogue")}
    assert preview(templates, TemplateCall("not_in_catalogue", "id", ["x"]), "id") is None
    assert preview(templates, TemplateCall("not_configured", "id", ["x"]), "id") is None


# --- Cloud API JSON ----------------------------------------------------------------------------------


def test_graph_message() -> None:
    call = TemplateCall("kotaku_pemberitahuan", "id", ["Laporan belum masuk."])
    assert graph_message("6281234567890", call) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "6281234567890",
        "type": "template",
        "template": {
            "name": "kotaku_pemberitahuan",
            "language": {"code": "id"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Laporan belum masuk."}]}
            ],
        },
    }
    assert graph_components(call) == graph_message("x", call)["template"]["components"]
    assert graph_components(TemplateCall("static", "en", [])) == []
    assert graph_template(TemplateCall("static", "en", [])) == {"name": "static", "language": {"code": "en"}}


# --- registration texts ------------------------------------------------------------------------------


def test_the_catalogue_body_keeps_its_placeholder_raw() -> None:
    # Read without keyword arguments the catalogue does not format: `{text}` and any braces stay as written.
    raw = catalogue.t("whatsapp.template.kotaku_pemberitahuan", "id")
    assert "{text}" in raw
    assert catalogue.placeholders(raw) == {"text"}
    assert catalogue.placeholders(catalogue.t("whatsapp.template.kotaku_pemberitahuan", "en")) == {"text"}
    assert template_body("kotaku_pemberitahuan", ["text"], "id") == BODY_ID
    assert template_body("kotaku_pemberitahuan", ["text"], "id") is not None
    assert template_body("nothing_here", ["text"], "id") is None


def test_template_texts_from_the_catalogue() -> None:
    (text,) = template_texts(WhatsAppConfig().templates, "id")
    assert text.name == "kotaku_pemberitahuan"
    assert text.category == CATEGORY == "UTILITY"
    assert (text.lang, text.language) == ("id", "id")
    assert text.body == BODY_ID and "{{1}}" in text.body
    example = catalogue.t("whatsapp.template_example.text", "id")
    assert text.examples == [example]
    assert text.example == BODY_ID.replace("{{1}}", example)
    assert "{{" not in (text.example or "")
    assert text.params == ["text"] and text.kinds == ["default"] and text.problems == []
    assert text.definition() == {
        "name": "kotaku_pemberitahuan",
        "language": "id",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": BODY_ID, "example": {"body_text": [[example]]}}],
    }
    doc = text.as_dict()
    assert doc["body"] == BODY_ID and doc["definition"]["components"][0]["text"] == BODY_ID
    (english,) = template_texts(WhatsAppConfig().templates, "en")
    assert english.body is not None and english.body.startswith("KOTAKU notice: {{1}}")
    assert english.problems == []


def test_template_texts_deduplicate_by_name_and_list_the_kinds() -> None:
    templates = {
        "default": DEFAULT,
        "reminder": WhatsAppTemplate(name="kotaku_pemberitahuan"),
        "alert": WhatsAppTemplate(name="kotaku_pemberitahuan", languages={"id": "id"}),
    }
    (id_text,) = template_texts(templates, "id")
    assert id_text.kinds == ["default", "reminder", "alert"] and id_text.problems == []
    (en_text,) = template_texts(templates, "en")
    assert en_text.kinds == ["default", "reminder"]  # the alert entry has no English


def test_template_texts_skip_a_language_a_template_lacks() -> None:
    assert (
        template_texts(
            {"default": WhatsAppTemplate(name="kotaku_pemberitahuan", languages={"id": "id"})}, "en"
        )
        == []
    )
    assert template_texts({}, "id") == []


@pytest.fixture
def test_bodies(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The shipped catalogue plus two bodies of made-up templates, for this test only."""
    fresh = catalogue.Catalogue.load()
    fresh.extend(
        {
            "whatsapp.template.test_two_fields": {
                "id": "KSM {ksm}: {text}. Balas untuk melanjutkan.",
                "en": "KSM {ksm}: {text}. Reply to continue.",
            },
            "whatsapp.template.test_ends_with_param": {"id": "Pemberitahuan: {text}", "en": "Notice: {text}"},
        }
    )
    monkeypatch.setattr(catalogue, "_default", fresh)
    yield


@pytest.mark.usefixtures("test_bodies")
def test_template_texts_report_problems() -> None:
    ok = template_texts({"reminder": WhatsAppTemplate(name="test_two_fields", params=["ksm", "text"])}, "id")
    assert ok[0].body == "KSM {{1}}: {{2}}. Balas untuk melanjutkan." and ok[0].problems == []
    assert ok[0].examples == [
        "ksm",
        catalogue.t("whatsapp.template_example.text", "id"),
    ]  # no example for ksm
    # The order of params numbers the placeholders.
    swapped = template_texts(
        {"reminder": WhatsAppTemplate(name="test_two_fields", params=["text", "ksm"])}, "id"
    )
    assert swapped[0].body == "KSM {{2}}: {{1}}. Balas untuk melanjutkan."

    def problems(template: WhatsAppTemplate, **more: WhatsAppTemplate) -> list[str]:
        (text,) = template_texts({"default": template, **more}, "id")
        return text.problems

    assert any("not one of params" in p for p in problems(WhatsAppTemplate(name="test_two_fields")))
    missing = problems(WhatsAppTemplate(name="kotaku_pemberitahuan", params=["text", "ksm"]))
    assert any("param 2 ('ksm')" in p for p in missing)
    twice = problems(WhatsAppTemplate(name="kotaku_pemberitahuan", params=["text", "text"]))
    assert any("param 2 ('text')" in p for p in twice)
    assert any("starts or ends" in p for p in problems(WhatsAppTemplate(name="test_ends_with_param")))
    assert any("no catalogue text" in p for p in problems(WhatsAppTemplate(name="not_in_catalogue")))
    assert any("lowercase" in p for p in problems(WhatsAppTemplate(name="Kotaku-Notice")))
    differing = problems(
        DEFAULT, alert=WhatsAppTemplate(name="kotaku_pemberitahuan", languages={"id": "id_ID"})
    )
    assert any("configured differently for alert" in p for p in differing)
    (unknown,) = template_texts({"default": WhatsAppTemplate(name="not_in_catalogue")}, "id")
    assert unknown.body is None and unknown.example is None


def test_fill_body() -> None:
    assert fill_body("a {{1}} b {{2}} c {{3}}", ["x", "y"]) == "a x b y c {{3}}"
    assert fill_body("no params", []) == "no params"
