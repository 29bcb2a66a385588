"""Rendering an email of the catalog: copy (defaults + the site's overrides) with its variables,
into the pair of templates, then CSS inlined into the HTML so that every mail client shows it.

HTML templates are autoescaped; the ``.txt`` ones are not (Jinja only escapes ``.html``), which is
right for a text/plain part and wrong for anything else: never feed them to a browser.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from datetime import datetime
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
    return "\n\n".join("\n".join(textwrap.fill(line, 72, break_on_hyphens=False, break_long_words=False)
                                 for line in p.split("\n")) for p in paragraphs)


_env = Environment(
    loader=PackageLoader("sidecar", "templates"),
    # .html escaped; .txt (the text/plain parts) not.
    autoescape=select_autoescape(enabled_extensions=("html",), disabled_extensions=("txt",), default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
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
    local = at.astimezone(zone).date()
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


def render(kind: EmailKind, language: str, variables: dict, context: dict, overrides: dict | None = None,
           subject_block: str = "subject") -> Rendered:
    """``variables`` may appear in the copy; ``context`` is what the templates use directly
    (links, the offer, the footer address)."""
    copy = {name: fill(text, variables) for name, text in copy_for(kind, language, overrides).items()}
    footer = {name: fill(text, variables) for name, text in i18n.section(language, "email.footer").items()}
    greeting = footer["greeting"] if variables.get("first_name") else footer["greeting_anonymous"]
    subject = " ".join(copy[subject_block].split())[:SUBJECT_MAX]
    values = {"copy": copy, "footer": footer, "greeting": greeting, "lang": language, "subject": subject,
              "unsubscribe_url": None, "postal_address": None, "support_email": variables.get("support_email"),
              # French puts a space before a colon.
              "colon": " : " if language == "fr" else ": ", **context}
    text = _env.get_template(f"email/{kind.key}.txt").render(values)
    html = _inliner.inline(_env.get_template(f"email/{kind.key}.html").render(values))
    return Rendered(subject=subject, text=text.strip() + "\n", html=html)
