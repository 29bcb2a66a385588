"""The dashboard's interface text: one module per language (en.py, fr.py), same keys in both.

Text may hold ``{name}`` placeholders, filled by ``t(key, name=value)``.
"""

from __future__ import annotations

from . import en, fr

CATALOGS = {"en": en.STRINGS, "fr": fr.STRINGS}
LANGUAGES = tuple(CATALOGS)


def translate(language: str, key: str, **values) -> str:
    text = CATALOGS.get(language, en.STRINGS).get(key) or en.STRINGS[key]
    return text.format(**values) if values else text
