"""Rendering an email of the catalog: copy (defaults + the site's overrides) with its variables,
into the pair of templates, then CSS inlined into the HTML so that every mail client shows it.

HTML templates are autoescaped; the ``.txt`` ones are not (Jinja only escapes ``.html``), which is
right for a text/plain part and wrong for anything else: never feed them to a browser.
"""

from __future__ import annotations

import functools
import logging
import re
import textwrap
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import css_inline
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from .. import i18n
from .catalog import EmailKind

log = logging.getLogger(__name__)

_VARIABLE = re.compile(r"\{(\w+)\}")
_BLANK_LINES = re.compile(r"\n\s*\n")
# An owner's override is short text, never a page.
OVERRIDE_MAX = 2000
SUBJECT_MAX = 200

_inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)


def _as_paragraphs(text: str) -> Markup:
    """Blank-line-separated text as escaped HTML paragraphs; single line breaks are kept."""
    paragraphs = [p.strip() for p in _BLANK_LINES.split(text or "") if p.strip()]
    return Markup("").join(Markup("<p>{}</p>\n").format(Markup("<br>").join(escape(line) for line in p.split("\n")))
                           for p in paragraphs)


def _as_text(text: str) -> str:
    """Text wrapped at 72 columns, paragraphs separated by a blank line."""
    paragraphs = [p.strip() for p in _BLANK_LINES.split(text or "") if p.strip()]
    return "\n\n".join("\n".join(_wrapped(line) for line in p.split("\n")) for p in paragraphs)


@functools.lru_cache(maxsize=4096)
def _wrapped(line: str) -> str:
    # Kept by line: most lines of an email are the same for every member of a site (only those
    # with a name, a date or a link differ), and wrapping was most of the text part's time.
    return textwrap.fill(line, 72, break_on_hyphens=False, break_long_words=False)


_env = Environment(
    loader=PackageLoader("sidecar", "templates"),
    # .html escaped; .txt (the text/plain parts) not.
    autoescape=select_autoescape(enabled_extensions=("html",), disabled_extensions=("txt",), default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    # The templates are files of the package, which change only with a new release (a restart):
    # left to reload, Jinja stats their files on every get_template, four stats a message.
    auto_reload=False,
)
_env.filters["as_paragraphs"] = _as_paragraphs
_env.filters["as_text"] = _as_text


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


# Which language a locale speaks is i18n's; the name stays here for the callers that render.
language_of = i18n.language_of


@functools.lru_cache(maxsize=256)
def babel_locale(locale: str | None, language: str) -> Locale:
    """The member's own locale for dates and money (fr_CA formats unlike fr_FR) when it speaks
    the email's language; else the language alone."""
    try:
        parsed = Locale.parse((locale or "").replace("-", "_")) if locale else None
    except (UnknownLocaleError, ValueError, TypeError):
        parsed = None
    return parsed if parsed is not None and parsed.language == language else Locale.parse(language)


def day(at: datetime | None, zone: ZoneInfo, locale: Locale) -> str | None:
    """A date as the member reads it ("3 décembre 2026"), on their side of midnight."""
    if at is None:
        return None
    return _long_date(at.astimezone(zone).date(), locale)


@functools.lru_cache(maxsize=1024)
def _long_date(local: date, locale: Locale) -> str:
    # Kept by day and locale: a batch's members mostly share a few dates (their access ends).
    text = format_date(local, format="long", locale=locale)
    if locale.language == "fr" and local.day == 1:
        text = "1er" + text[1:]  # "1er décembre", as French writes the first of the month
    return text


def moment(at: datetime, zone: ZoneInfo, locale: Locale) -> str:
    return format_datetime(at.astimezone(zone), format="long", tzinfo=zone, locale=locale)


def money(amount: Decimal | None, currency: str | None, locale: Locale) -> str | None:
    if amount is None or not currency:
        return None
    return format_currency(amount, currency, locale=locale)


def fill(text: str, variables: dict) -> str:
    """Replace ``{name}`` with the variable's value; unknown or empty names stay as written, so
    an owner's typo shows instead of breaking the email."""
    return _VARIABLE.sub(lambda m: str(variables[m[1]]) if variables.get(m[1]) not in (None, "") else m[0], text)


def copy_for(kind: EmailKind, language: str, overrides: dict | None) -> dict[str, str]:
    """The kind's copy in ``language`` with the site's overrides for that language applied."""
    copy = dict(kind.copy[language])
    for name, text in ((overrides or {}).get(language) or {}).items():
        if name in copy and isinstance(text, str) and text.strip():
            copy[name] = text.strip()[:OVERRIDE_MAX]
    return copy


def _values(kind: EmailKind, language: str, variables: dict, context: dict, overrides: dict | None,
            subject_block: str) -> dict:
    """What the pair of templates is rendered with."""
    copy = {name: fill(text, variables) for name, text in copy_for(kind, language, overrides).items()}
    footer = {name: fill(text, variables) for name, text in i18n.section(language, "email.footer").items()}
    greeting = footer["greeting"] if variables.get("first_name") else footer["greeting_anonymous"]
    subject = " ".join(copy[subject_block].split())[:SUBJECT_MAX]
    return {"copy": copy, "footer": footer, "greeting": greeting, "lang": language, "subject": subject,
            "unsubscribe_url": None, "postal_address": None, "support_email": variables.get("support_email"),
            # French puts a space before a colon.
            "colon": " : " if language == "fr" else ": ", **context}


def _html(kind: EmailKind, values: dict) -> str:
    return _inliner.inline(_env.get_template(f"email/{kind.key}.html").render(values))


def render(kind: EmailKind, language: str, variables: dict, context: dict, overrides: dict | None = None,
           subject_block: str = "subject", member: tuple[str, ...] = ()) -> Rendered:
    """``variables`` may appear in the copy; ``context`` is what the templates use directly
    (links, the offer, the footer address).

    ``member`` names the values (in ``variables``, ``context``, or ``"offer.code"`` in the
    context's offer) that change from one member to the next: the HTML, CSS inlined, is then
    kept for everything else (the email, language, site, copy) and only those values are filled
    in (``_cached_html``)."""
    values = _values(kind, language, variables, context, overrides, subject_block)
    text = _env.get_template(f"email/{kind.key}.txt").render(values)
    html = (_cached_html(kind, language, variables, context, overrides, subject_block, member, values)
            if member else None)
    return Rendered(subject=values["subject"], text=text.strip() + "\n", html=html or _html(kind, values))


# --- the HTML kept per email, language and site --------------------------------------------------
#
# Inlining CSS parses and writes the whole page again (css-inline, html5ever): the slowest step of
# rendering, and the same for every member but a few values. So the page is rendered and inlined
# once with a marker in place of each member's value (its slot), and for each member the values
# are put in the slots. The bytes must be those of rendering that member's page from scratch:
#
# - a value's escaping: Jinja escapes it, html5ever reads the entities and writes its own; only a
#   value none of whose characters either one changes (``_inert``) comes out as it went in,
#   wherever it stands (text, attribute, <title>). Any other value, and any value of another
#   type, renders the page from scratch.
# - what the templates decide on a value (``{% if access_ends %}``, the greeting with or without
#   the first name, a ``{name}`` left as written when empty) is in the cache key: whether each
#   value is there.
# - the subject, cut at SUBJECT_MAX and stripped of runs of spaces, is a slot of its own.
#
# The first member of each key is rendered both ways and compared: a page that does not come out
# the same is never served from the cache (rendered from scratch each time, and logged).

_SLOT = re.compile("\ue000(\\d+)\ue001")
_CHANGED_BY_ESCAPING = re.compile(r'[&<>"]')
_HTML_CACHE: dict = {}
_HTML_CACHE_MAX = 512
_UNCACHEABLE = object()


def _inert(value) -> bool:
    return (isinstance(value, str) and value != "" and value == value.strip() and value.isprintable()
            and not _CHANGED_BY_ESCAPING.search(value))


def _member_value(variables: dict, context: dict, name: str):
    if name.startswith("offer."):
        return (context.get("offer") or {}).get(name[len("offer."):])
    return variables[name] if name in variables else context.get(name)


def _presence(value) -> str:
    return "none" if value is None else "empty" if value == "" else "set"


def _cached_html(kind, language, variables, context, overrides, subject_block, member, values) -> str | None:
    """The page from the cache, with this member's values; None when it must be rendered from scratch."""
    filled = [_member_value(variables, context, name) for name in member] + [values["subject"]]
    if not all(value in (None, "") or _inert(value) for value in filled):
        return None
    shared = {name: value for name, value in variables.items() if name not in member}
    shared_context = {name: value for name, value in context.items() if name not in member}
    if isinstance(shared_context.get("offer"), dict):
        shared_context["offer"] = {name: value for name, value in shared_context["offer"].items()
                                   if f"offer.{name}" not in member}
    key = (kind.key, language, subject_block, repr(sorted(shared.items())), repr(sorted(shared_context.items())),
           repr(overrides), tuple(zip(member, map(_presence, filled))))
    parts = _HTML_CACHE.get(key)
    if parts is _UNCACHEABLE:
        return None
    if parts is not None:
        return _fill_slots(parts, filled)
    parts = _page_with_slots(kind, language, variables, context, overrides, subject_block, member, filled)
    html = _html(kind, values)
    if _fill_slots(parts, filled) != html:
        log.warning("email %s (%s): the cached page differs from the page rendered from scratch; "
                    "rendering it from scratch for this site", kind.key, language)
        parts = _UNCACHEABLE
    if len(_HTML_CACHE) >= _HTML_CACHE_MAX:
        _HTML_CACHE.clear()
    _HTML_CACHE[key] = parts
    return html


def _page_with_slots(kind, language, variables, context, overrides, subject_block, member, filled) -> list:
    """The inlined page with a slot for each member value that is there: a list alternating text
    and slot numbers (indexes in ``filled``)."""
    variables, context = dict(variables), dict(context)
    if isinstance(context.get("offer"), dict):
        context["offer"] = dict(context["offer"])
    for index, name in enumerate(member):
        if filled[index] in (None, ""):
            continue
        slot = f"\ue000{index}\ue001"
        if name.startswith("offer."):
            context["offer"][name[len("offer."):]] = slot
            continue
        if name in variables:
            variables[name] = slot
        if name in context:
            context[name] = slot
    values = _values(kind, language, variables, context, overrides, subject_block)
    values["subject"] = f"\ue000{len(member)}\ue001"
    pieces = _SLOT.split(_html(kind, values))
    return [int(piece) if position % 2 else piece for position, piece in enumerate(pieces)]


def _fill_slots(parts: list, filled: list) -> str:
    return "".join(filled[part] if isinstance(part, int) else part for part in parts)
