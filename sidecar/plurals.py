"""Plural forms for the sidecar's own text (dashboard and digest catalogs).

A text that counts something has one entry per plural category of its language, ``<key>_one``
and ``<key>_other``, chosen by CLDR's rules through Babel: French puts 0 and 1 in "one" ("0
réponse", "1 réponse"), English only 1 ("0 answers"). A category a catalog does not spell out
(French "many", for millions) takes the ``_other`` entry.
"""

from __future__ import annotations

from collections.abc import Mapping

from babel import Locale


def plural_key(key: str, language: str, count: int, catalog: Mapping[str, str]) -> str:
    """The entry of ``catalog`` that says ``key`` for ``count`` in ``language``."""
    category = Locale.parse(language).plural_form(abs(count))
    specific = f"{key}_{category}"
    return specific if specific in catalog else f"{key}_other"


def is_plural(key: str, catalog: Mapping[str, str]) -> bool:
    return f"{key}_other" in catalog
