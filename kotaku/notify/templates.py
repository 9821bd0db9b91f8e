"""WhatsApp message templates: what to send when the 24-hour customer-service window is closed.

WhatsApp lets a business send free-form messages only within `whatsapp.window_hours` (24) after the
person last wrote. Outside that window only templates approved by Meta may go out, with their body
parameters filled in. This module is the channel-free logic a WhatsApp sender needs for that decision:

- `in_window(last_inbound_at, now, hours)` and `window_closes_at(...)`: is the window open;
- `template_for(templates, kind, payload, lang)`: which configured template carries an outbox message
  (the kind's own, else "default") and its parameters made acceptable to Meta (`clean_param`);
- `plan_delivery(config, context, now)`: free-form, a template, or hold (with the reason);
- `graph_components(call)`, `graph_template(call)`, `graph_message(to, call)`: the Cloud API JSON of a
  template send;
- `template_texts(templates, lang)`: what to register with Meta (`kotaku whatsapp templates`).

Template bodies are catalogue sentences, key `whatsapp.template.<template name>` (kotaku/catalogue/
whatsapp.toml), so the registered text and the bot's own preview come from one source. A body names its
placeholders after the outbox payload fields (`{text}`), like every other catalogue sentence; the
template's configured `params` order numbers them for Meta: with `params = ["text", "ksm"]`, `{text}`
is registered as `{{1}}` and `{ksm}` as `{{2}}`, and a send passes the payload's `text` then `ksm`.
Example values for Meta's review are `whatsapp.template_example.<field>`.

No channel SDK and no database here: everything is a pure function of the configuration, the catalogue
and the values passed in.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kotaku import catalogue
from kotaku.config import WhatsAppConfig, WhatsAppTemplate
from kotaku.notify.ports import DeliveryContext

DEFAULT_TEMPLATE = "default"  # the `whatsapp.templates` entry that serves every kind without its own
CATEGORY = "UTILITY"  # Meta's category for transactional notices (not marketing)
BODY_MAX_CHARS = 1024  # Meta: a template body, parameters filled in, has at most this many characters
MAX_PARAM_CHARS = 1000  # our cap on one parameter (lowered further to fit the known body, see param_limit)
ELLIPSIS = "…"
LINE_SEPARATOR = " · "  # what a line break in a parameter becomes
BODY_KEY = "whatsapp.template.{name}"
EXAMPLE_KEY = "whatsapp.template_example.{field}"

# Any run of white space or control characters (tabs, NBSP, U+2028, NUL ...) becomes one space.
_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
_NUMBERED = re.compile(r"\{\{(\d+)\}\}")
_NAME = re.compile(r"[a-z0-9_]{1,512}")  # Meta: lowercase letters, digits and underscores


# --- the window ------------------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    """A naive datetime is read as UTC (what the database stores)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def window_closes_at(last_inbound_at: datetime | None, hours: float) -> datetime | None:
    """When the customer-service window closes (None: the person never wrote, there is no window)."""
    if last_inbound_at is None:
        return None
    return _aware(last_inbound_at) + timedelta(hours=hours)


def in_window(last_inbound_at: datetime | None, now: datetime, hours: float) -> bool:
    """Whether a free-form message may be sent at `now`: the person wrote less than `hours` ago.

    Exactly `hours` after the last message the window is closed. Never having written means no window.
    Naive datetimes are read as UTC.
    """
    closes = window_closes_at(last_inbound_at, hours)
    return closes is not None and _aware(now) < closes


# --- parameters ------------------------------------------------------------------------------------


def clean_param(value: Any, max_chars: int = MAX_PARAM_CHARS) -> str:
    """A value as a template parameter Meta accepts: `str()` of it, each line break (and blank lines)
    as " · ", every run of white space or control characters as one space, stripped, and at most
    `max_chars` characters (a longer one is cut and ends with "…"). May return "" (nothing to say)."""
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    text = value if isinstance(value, str) else str(value)
    lines = (_SPACE.sub(" ", line).strip() for line in text.splitlines())
    cleaned = LINE_SEPARATOR.join(line for line in lines if line)
    if len(cleaned) <= max_chars:
        return cleaned
    return cleaned[: max_chars - len(ELLIPSIS)].rstrip(" ·") + ELLIPSIS


def _literal_chars(body: str) -> int:
    """The characters of a numbered body that are not placeholders."""
    return len(_NUMBERED.sub("", body))


def param_limit(name: str, lang: str, n_params: int) -> int:
    """The longest a parameter of template `name` may be so the filled body stays within
    BODY_MAX_CHARS: the room the catalogue body leaves, shared by the parameters, and never more than
    MAX_PARAM_CHARS (MAX_PARAM_CHARS when the catalogue has no body for the template)."""
    key = BODY_KEY.format(name=name)
    if n_params < 1 or not catalogue.has(key):
        return MAX_PARAM_CHARS
    try:
        literal = len(catalogue.t(key, lang).format_map(_Blank()))
    except (ValueError, IndexError):  # not a well-formed sentence: no better bound than ours
        return MAX_PARAM_CHARS
    return max(1, min(MAX_PARAM_CHARS, (BODY_MAX_CHARS - literal) // n_params))


class _Blank(dict[str, str]):
    """Every `{field}` as nothing: what is left is the body's own text."""

    def __missing__(self, key: str) -> str:
        return ""


# --- choosing a template ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateCall:
    """One template send: the approved template's name, its Meta language code and the body parameters
    ({{1}}, {{2}}, ... in order), already cleaned."""

    name: str
    language: str
    params: list[str]


def _candidates(templates: Mapping[str, WhatsAppTemplate], kind: str) -> list[WhatsAppTemplate]:
    found = [templates[k] for k in (kind, DEFAULT_TEMPLATE) if k in templates]
    return list({id(t): t for t in found}.values())


def _fit(template: WhatsAppTemplate, payload: Mapping[str, Any], lang: str) -> TemplateCall | str:
    """The call for this template, or why it does not fit."""
    code = template.languages.get(lang)
    if not code:
        return f"template {template.name} has no language {lang!r}"
    limit = param_limit(template.name, lang, len(template.params))
    params: list[str] = []
    for name in template.params:
        raw = payload.get(name)
        value = clean_param(raw, limit) if raw is not None else ""
        if not value:
            return f"template {template.name}: payload field {name!r} is missing or empty"
        params.append(value)
    return TemplateCall(name=template.name, language=code, params=params)


def template_problem(
    templates: Mapping[str, WhatsAppTemplate], kind: str, payload: Mapping[str, Any], lang: str
) -> str | None:
    """Why `template_for` finds no template (None when it finds one): for the held message's record."""
    candidates = _candidates(templates, kind)
    if not candidates:
        return f"no WhatsApp template for kind {kind!r} and no {DEFAULT_TEMPLATE!r} template"
    reasons: list[str] = []
    for template in candidates:
        fitted = _fit(template, payload, lang)
        if isinstance(fitted, TemplateCall):
            return None
        reasons.append(fitted)
    return "; ".join(reasons)


def template_for(
    templates: Mapping[str, WhatsAppTemplate], kind: str, payload: Mapping[str, Any], lang: str
) -> TemplateCall | None:
    """The template that carries an outbox message of `kind` outside the window, in language `lang`
    (ours: "id", "en"), with its parameters taken from `payload` and cleaned (`clean_param`, cut to
    `param_limit`).

    The kind's own template is tried first, then "default" (so a message the kind's template cannot
    carry, e.g. a field missing, still goes out with the default). None when none fits: no template
    configured, `lang` not among its `languages`, or a required payload field missing or empty.
    `template_problem` says why.
    """
    for template in _candidates(templates, kind):
        fitted = _fit(template, payload, lang)
        if isinstance(fitted, TemplateCall):
            return fitted
    return None


# --- the decision ----------------------------------------------------------------------------------


class Route(enum.StrEnum):
    FREE_FORM = "free_form"  # in the window: send the message itself
    TEMPLATE = "template"  # outside: send `DeliveryPlan.template` instead
    HOLD = "hold"  # outside and no template fits: return SendResult(HELD, reason=DeliveryPlan.reason)


@dataclass(frozen=True)
class DeliveryPlan:
    route: Route
    template: TemplateCall | None = None
    reason: str | None = None  # with HOLD: why no template fits
    preview: str | None = None  # with TEMPLATE: the body as the person will read it (None: no catalogue text)


def plan_delivery(config: WhatsAppConfig, context: DeliveryContext | None, now: datetime) -> DeliveryPlan:
    """What a WhatsApp sender does with an outbox message at `now`.

    No context (a direct reply to what the person just wrote) or the window open: FREE_FORM. Outside
    the window: TEMPLATE with the call from `template_for` for the context's kind, payload and language,
    or HOLD with the reason when none fits (the message waits until the person writes again).
    """
    if context is None or in_window(context.last_inbound_at, now, config.window_hours):
        return DeliveryPlan(Route.FREE_FORM)
    call = template_for(config.templates, context.kind, context.payload, context.language)
    if call is None:
        reason = template_problem(config.templates, context.kind, context.payload, context.language)
        return DeliveryPlan(Route.HOLD, reason=f"outside the {config.window_hours:g} h window: {reason}")
    return DeliveryPlan(
        Route.TEMPLATE, template=call, preview=preview(config.templates, call, context.language)
    )


def preview(templates: Mapping[str, WhatsAppTemplate], call: TemplateCall, lang: str) -> str | None:
    """The text the person reads for `call` (its catalogue body, parameters filled in), or None when the
    catalogue has no body for the template."""
    fields = next((t.params for t in templates.values() if t.name == call.name), None)
    if fields is None:
        return None
    body = template_body(call.name, fields, lang)
    return fill_body(body, call.params) if body is not None else None


# --- Cloud API JSON --------------------------------------------------------------------------------


def graph_components(call: TemplateCall) -> list[dict[str, Any]]:
    """The `components` of a template send: one body component with the text parameters ([] without
    parameters). This is also what pywa's `send_template(params=...)` takes."""
    if not call.params:
        return []
    return [{"type": "body", "parameters": [{"type": "text", "text": p} for p in call.params]}]


def graph_template(call: TemplateCall) -> dict[str, Any]:
    """The `template` object of a Cloud API message (POST /{phone-id}/messages)."""
    doc: dict[str, Any] = {"name": call.name, "language": {"code": call.language}}
    if components := graph_components(call):
        doc["components"] = components
    return doc


def graph_message(to: str, call: TemplateCall) -> dict[str, Any]:
    """The whole Cloud API request body sending `call` to the WhatsApp number `to`."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": graph_template(call),
    }


# --- registration texts ----------------------------------------------------------------------------


class _Numbering(dict[str, str]):
    """`{field}` -> `{{n}}` by the position in `params`; an unknown field stays `{field}` and is noted."""

    def __init__(self, fields: Sequence[str]) -> None:
        super().__init__()
        for i, name in enumerate(fields, start=1):
            self.setdefault(name, f"{{{{{i}}}}}")
        self.unknown: list[str] = []

    def __missing__(self, key: str) -> str:
        self.unknown.append(key)
        return f"{{{key}}}"


def _numbered(name: str, fields: Sequence[str], lang: str) -> tuple[str | None, list[str]]:
    """The numbered body of template `name` and what is wrong with it for these `fields`."""
    key = BODY_KEY.format(name=name)
    if not catalogue.has(key):
        return None, [f"no catalogue text {key} (add it to kotaku/catalogue/whatsapp.toml)"]
    raw = catalogue.t(key, lang)  # no keyword arguments: the raw sentence, `{field}` placeholders
    numbering = _Numbering(fields)
    try:
        body = raw.format_map(numbering)
    except (ValueError, IndexError) as exc:
        return None, [f"{key} is not a well-formed sentence: {exc}"]
    problems = [f"{{{u}}} in {key} is not one of params {list(fields)}" for u in numbering.unknown]
    present = {int(n) for n in _NUMBERED.findall(body)}
    problems += [
        f"param {i} ({f!r}) has no place in {key}: Meta would refuse the parameter count"
        for i, f in enumerate(fields, start=1)
        if i not in present
    ]
    return body, problems


def template_body(name: str, fields: Sequence[str], lang: str) -> str | None:
    """The body of template `name` in `lang` with `{{1}}`, `{{2}}` ... for the payload `fields` in that
    order, from the catalogue key `whatsapp.template.<name>`; None when the catalogue has none."""
    return _numbered(name, fields, lang)[0]


def fill_body(body: str, values: Sequence[str]) -> str:
    """`body` with `{{n}}` replaced by `values[n-1]` (a number without a value stays)."""

    def one(m: re.Match[str]) -> str:
        n = int(m.group(1))
        return values[n - 1] if 1 <= n <= len(values) else m.group(0)

    return _NUMBERED.sub(one, body)


def _example(field_name: str, lang: str) -> str:
    key = EXAMPLE_KEY.format(field=field_name)
    return clean_param(catalogue.t(key, lang)) if catalogue.has(key) else field_name


@dataclass(frozen=True)
class TemplateText:
    """One template in one language as it is registered with Meta."""

    name: str
    category: str
    lang: str  # our language ("id", "en")
    language: str  # Meta's language code
    body: str | None  # with {{1}}, {{2}} ...; None when the catalogue has no text for it
    example: str | None  # the body with the example values filled in
    examples: list[str]  # one example value per placeholder, in order
    params: list[str]  # the outbox payload fields that fill {{1}}, {{2}} ...
    kinds: list[str]  # the `whatsapp.templates` entries (outbox kinds, "default") using it
    problems: list[str] = field(default_factory=list)  # what would make registering or sending fail

    def definition(self) -> dict[str, Any]:
        """The request body creating it (POST /{waba-id}/message_templates)."""
        component: dict[str, Any] = {"type": "BODY", "text": self.body or ""}
        if self.examples:
            component["example"] = {"body_text": [list(self.examples)]}
        return {
            "name": self.name,
            "language": self.language,
            "category": self.category,
            "components": [component],
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "category": self.category,
            "lang": self.lang,
            "language": self.language,
            "body": self.body,
            "example": self.example,
            "examples": list(self.examples),
            "params": list(self.params),
            "kinds": list(self.kinds),
            "problems": list(self.problems),
            "definition": self.definition(),
        }


def _body_problems(body: str) -> list[str]:
    """Meta's rules for a body that the configuration can break."""
    problems = []
    stripped = body.strip()
    if re.match(r"\{\{\d+\}\}", stripped) or re.search(r"\{\{\d+\}\}$", stripped):
        problems.append("Meta rejects a body that starts or ends with a parameter")
    if _literal_chars(body) >= BODY_MAX_CHARS:
        problems.append(f"the body leaves no room for parameters within {BODY_MAX_CHARS} characters")
    return problems


def template_texts(templates: Mapping[str, WhatsAppTemplate], lang: str) -> list[TemplateText]:
    """Every configured template (once per name, in configuration order) that has language `lang`,
    with its body, example and the kinds using it. Entries sharing a name but configured differently
    are reported in `problems` (the first one is shown)."""
    by_name: dict[str, list[tuple[str, WhatsAppTemplate]]] = {}
    for kind, template in templates.items():
        by_name.setdefault(template.name, []).append((kind, template))
    texts: list[TemplateText] = []
    for name, entries in by_name.items():
        with_lang = [(k, t) for k, t in entries if lang in t.languages]
        if not with_lang:
            continue
        first = with_lang[0][1]
        problems: list[str] = []
        if not _NAME.fullmatch(name):
            problems.append(f"Meta template names are lowercase letters, digits and _ only: {name!r}")
        differing = [
            k for k, t in with_lang if t.params != first.params or t.languages[lang] != first.languages[lang]
        ]
        if differing:
            problems.append(
                f"{name} is configured differently for {', '.join(differing)} than for {with_lang[0][0]} "
                "(params or language); one template has one body"
            )
        body, body_problems = _numbered(name, first.params, lang)
        problems += body_problems
        examples = [_example(f, lang) for f in first.params]
        if body is not None:
            problems += _body_problems(body)
        texts.append(
            TemplateText(
                name=name,
                category=CATEGORY,
                lang=lang,
                language=first.languages[lang],
                body=body,
                example=fill_body(body, examples) if body is not None else None,
                examples=examples,
                params=list(first.params),
                kinds=[k for k, _ in with_lang],
                problems=problems,
            )
        )
    return texts
