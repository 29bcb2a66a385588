"""The dashboard's interface text: one module per language (en.py, fr.py), same keys in both.

Text may hold ``{name}`` placeholders, filled by ``t(key, name=value)``. A text that counts has
``<key>_one`` and ``<key>_other`` entries and is asked for as ``t(key, count=n)`` (see plurals).
"""

from __future__ import annotations

from ....plurals import is_plural, plural_key
from . import en, fr

CATALOGS = {"en": en.STRINGS, "fr": fr.STRINGS}
LANGUAGES = tuple(CATALOGS)


def translate(language: str, key: str, **values) -> str:
    if language not in CATALOGS:
        language = "en"
    catalog = CATALOGS[language]
    if "count" in values and is_plural(key, en.STRINGS):
        key = plural_key(key, language, values["count"], catalog)
    text = catalog.get(key) or en.STRINGS[key]
    return text.format(**values) if values else text
