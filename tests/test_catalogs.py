"""The sidecar's own text in English and French: the same entries in both languages, the same
placeholders in each pair, plural forms chosen by each language's rules, no "(s)" shortcuts.
(The bridge’s .po/.mo are checked in tests/wordpress/test_translations.py.)"""

from __future__ import annotations

import re

import pytest

from sidecar.domain import privacy
from sidecar.mail import catalog
from sidecar.plurals import plural_key
from sidecar.web import unsubscribe
from sidecar.web.dashboard.strings import CATALOGS, translate

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
CATALOG_PAIRS = [("dashboard", CATALOGS["en"], CATALOGS["fr"]), ("footer", catalog.FOOTER["en"], catalog.FOOTER["fr"]),
                 ("unsubscribe", unsubscribe._COPY["en"], unsubscribe._COPY["fr"]),
                 ("privacy", privacy._LABELS["en"], privacy._LABELS["fr"])] + [
    (name.lower(), kind.copy["en"], kind.copy["fr"])
    for name, kind in vars(catalog).items() if isinstance(kind, catalog.EmailKind)]


@pytest.mark.parametrize(("name", "english", "french"), CATALOG_PAIRS, ids=[p[0] for p in CATALOG_PAIRS])
def test_both_languages_have_the_same_entries_with_the_same_placeholders(name, english, french):
    assert set(english) == set(french)
    for key, text in english.items():
        assert set(_PLACEHOLDER.findall(text)) == set(_PLACEHOLDER.findall(french[key])), key
        for language, said in (("en", text), ("fr", french[key])):
            assert "(s)" not in said, f"{name}.{key} ({language}): spell out _one and _other instead"
    for key in english:
        if key.endswith("_one"):
            assert key.removesuffix("_one") + "_other" in english, f"{name}.{key} has no _other form"


@pytest.mark.parametrize(("language", "count", "expected"), [
    ("fr", 0, "0 réponse"), ("fr", 1, "1 réponse"), ("fr", 2, "2 réponses"), ("fr", 1_000_000, "1000000 réponses"),
    ("en", 0, "0 answers"), ("en", 1, "1 answer"), ("en", 2, "2 answers"),
    ("de", 1, "1 answer"),  # a language without a catalog speaks English
])
def test_a_counted_text_takes_the_form_its_language_gives_the_number(language, count, expected):
    assert translate(language, "results", count=count) == expected


def test_a_category_the_catalog_does_not_spell_out_takes_the_other_form():
    assert plural_key("x", "fr", 1_000_000, {"x_one": "", "x_other": ""}) == "x_other"  # CLDR says "many"
    assert plural_key("x", "fr", 0, {"x_one": "", "x_other": ""}) == "x_one"
