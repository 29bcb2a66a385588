"""The sidecar's own text is in one catalog per language (sidecar/i18n/en.py, fr.py): the same
sections and entries in every language, the same placeholders in each pair, plural forms chosen by
each language's rules, no "(s)" shortcuts; and every email, step and survey text it names is there.
(The bridge’s .po/.mo are checked in tests/wordpress/test_translations.py.)"""

from __future__ import annotations

import re

import pytest

from sidecar import i18n
from sidecar.domain.sequences import STEPS
from sidecar.domain.survey import DEFAULT_DEFINITION, localize
from sidecar.mail import catalog
from sidecar.plurals import plural_key

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
SECTIONS = sorted(i18n.CATALOGS["en"])
OTHER_LANGUAGES = [language for language in i18n.LANGUAGES if language != "en"]


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_every_language_has_every_section_of_the_english_catalog(language):
    assert set(i18n.CATALOGS[language]) == set(SECTIONS)


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
@pytest.mark.parametrize("name", SECTIONS)
def test_every_key_is_in_every_language_with_the_same_placeholders(name, language):
    english, other = i18n.CATALOGS["en"][name], i18n.CATALOGS[language].get(name, {})
    assert sorted(set(english) - set(other)) == [], f"missing in {language}"
    assert sorted(set(other) - set(english)) == [], f"only in {language}"
    for key, text in english.items():
        assert set(_PLACEHOLDER.findall(text)) == set(_PLACEHOLDER.findall(other[key])), f"{name}.{key}"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
@pytest.mark.parametrize("name", SECTIONS)
def test_a_counted_text_spells_out_its_forms(name, language):
    texts = i18n.CATALOGS[language][name]
    for key, text in texts.items():
        assert "(s)" not in text, f"{name}.{key} ({language}): spell out _one and _other instead"
        if key.endswith("_one"):
            assert key.removesuffix("_one") + "_other" in texts, f"{name}.{key} has no _other form"


def test_every_email_has_its_copy_and_uses_only_its_variables():
    for kind in (*catalog.KINDS.values(), *catalog.OWNER_KINDS.values()):
        assert "subject" in kind.blocks(), kind.key
        for language in i18n.LANGUAGES:
            assert tuple(kind.copy[language]) == kind.blocks(), (kind.key, language)
    # The digest fills its counts itself; a member email's copy may only use what it is given.
    for kind in catalog.KINDS.values():
        for block, text in kind.copy["en"].items():
            assert set(_PLACEHOLDER.findall(text)) <= set(kind.variables), f"{kind.key}.{block}"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_step_has_one_name_which_the_dashboard_and_the_digest_show(language):
    names = i18n.section(language, "steps")
    assert list(names) == [step.key for step in STEPS]
    for step in STEPS:
        assert names[step.key]
        assert i18n.section(language, "dashboard")[f"step_{step.key}"] == names[step.key]
        assert i18n.section(language, "email.digest")[f"step_{step.key}"] == names[step.key]


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_the_default_survey_reads_every_text_from_the_catalog(language):
    survey = localize(DEFAULT_DEFINITION, language)
    shown = [survey[key] for key in ("title", "intro", "reason_label", "comment_label", "contact_label",
                                     "contact_detail_label", "submit_label", "skip_label", "thanks")]
    for reason in survey["reasons"]:
        shown.append(reason["label"])
        follow_up = reason.get("follow_up") or {}
        shown += [follow_up["label"]] if follow_up else []
        shown += [choice["label"] for choice in follow_up.get("choices", [])]
    assert sorted(shown) == sorted(i18n.section(language, "survey").values())


@pytest.mark.parametrize(("language", "count", "expected"), [
    ("fr", 0, "0 réponse"), ("fr", 1, "1 réponse"), ("fr", 2, "2 réponses"), ("fr", 1_000_000, "1000000 réponses"),
    ("en", 0, "0 answers"), ("en", 1, "1 answer"), ("en", 2, "2 answers"),
    ("de", 1, "1 answer"),  # a language without a catalog speaks English
])
def test_a_counted_text_takes_the_form_its_language_gives_the_number(language, count, expected):
    assert i18n.text(language, "dashboard", "results", count=count) == expected


def test_a_language_without_a_catalog_speaks_english():
    assert i18n.section("de", "unsubscribe") == i18n.section("en", "unsubscribe")
    assert i18n.text("de", "dashboard", "signed_in_as", name="Ana") == "Signed in as Ana"


@pytest.mark.parametrize(("locale", "site_locale", "expected"), [
    ("fr_FR", "en_US", "fr"), ("fr-CA", None, "fr"), ("de_DE", "fr_BE", "fr"), ("de_DE", "es_ES", "en"),
    (None, None, "en"), ("", "FR_fr", "fr"),
])
def test_a_member_reads_their_locales_language_else_the_sites_else_english(locale, site_locale, expected):
    assert i18n.language_of(locale, site_locale) == expected


def test_a_category_the_catalog_does_not_spell_out_takes_the_other_form():
    assert plural_key("x", "fr", 1_000_000, {"x_one": "", "x_other": ""}) == "x_other"  # CLDR says "many"
    assert plural_key("x", "fr", 0, {"x_one": "", "x_other": ""}) == "x_one"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_the_email_editor_names_every_block_of_every_step_in_words_with_a_hint(language):
    names = i18n.section(language, "email_blocks")
    expected = set()
    for step in STEPS:
        for block in catalog.KINDS[step.key].blocks():
            label, hint = names.get(f"{step.key}.{block}"), names.get(f"{step.key}.{block}.hint")
            assert label and hint, f"{step.key}.{block} ({language}) needs a label and a hint"
            assert label != block and "_" not in label, f"{step.key}.{block} ({language}): words, not the key"
            expected |= {f"{step.key}.{block}", f"{step.key}.{block}.hint"}
    # Nothing named for a block the emails do not have (a renamed block would leave its old label).
    assert set(names) == expected
