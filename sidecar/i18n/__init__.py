"""The text people read, one catalog per language (en.py, fr.py), by section: the dashboard, each
email, the emails' footer, the unsubscribe pages, the privacy export's labels, the page at /, the
default exit survey. Every key is in every language with the same placeholders
(tests/test_catalogs.py).

Which language a member, a site or an owner reads is ``language_of`` their WordPress locale.

Imports nothing of the sidecar but plurals, so that storage, the domain, mail and the web may all
read it. A language without a catalog, and a text a catalog leaves empty, speak English.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..plurals import is_plural, plural_key
from . import en, fr

CATALOGS: dict[str, dict[str, dict[str, str]]] = {"en": en.SECTIONS, "fr": fr.SECTIONS}
LANGUAGES: tuple[str, ...] = tuple(CATALOGS)


def section(language: str, name: str) -> Mapping[str, str]:
    """Every text of one section in ``language`` (English for a language without a catalog)."""
    return CATALOGS.get(language, en.SECTIONS)[name]


def text(language: str, section_name: str, key: str, **values) -> str:
    """One text, its ``{placeholders}`` filled from ``values``; with a ``count``, a counted text
    takes the form the language gives that number."""
    texts = section(language, section_name)
    english = en.SECTIONS[section_name]
    if "count" in values and is_plural(key, english):
        key = plural_key(key, language if language in CATALOGS else "en", values["count"], texts)
    said = texts.get(key) or english[key]
    return said.format(**values) if values else said


def language_of(locale: str | None, fallback: str | None = None) -> str:
    """The language of a WordPress locale (fr_FR, fr-CA → fr), else of ``fallback`` (the site's),
    else English."""
    for candidate in (locale, fallback):
        language = (candidate or "").replace("-", "_").split("_")[0].lower()
        if language in CATALOGS:
            return language
    return "en"
