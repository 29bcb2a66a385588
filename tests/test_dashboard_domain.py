"""The domain functions behind the dashboard's forms, without the dashboard: each checks what it
is given and stores it in one transaction of its own, or refuses and changes nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from sidecar.domain.digest import (DigestSettingsError, IsoWeek, browser_preview, digest_settings,
                                   update_digest_settings, update_wordpress_admin_email)
from sidecar.domain.sequence_copy import StepEditError, delay_for_editor, delay_hours_from, overrides_after_edit, \
    save_step
from sidecar.domain.sequences import configured_steps
from sidecar.domain.site_settings import SettingsError, SiteFieldError, effective_settings, save_site_settings
from sidecar.domain.sites import create_site, site_problems
from sidecar.domain.compose import MailConfig
from sidecar.domain.survey import SURVEY_TEXTS, SurveyEditError, current_definition, save_survey
from sidecar.mail import catalog
from sidecar.storage.sites import get_site
from sidecar.storage.surveys import latest_definition

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)
MAIL = MailConfig(secret_key="k" * 24, public_url="https://farewell.example.org", mail_from="farewell@example.org")


@pytest.fixture
def club(engine):
    return create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")


# --- survey -------------------------------------------------------------------------------------


def labels_of(definition: dict) -> dict[str, dict]:
    """What the survey form sends back untouched: every label of ``definition`` by its name."""
    labels = {key: dict(definition[key]) for key in SURVEY_TEXTS}
    for reason in definition["reasons"]:
        code = reason["code"]
        labels[f"reason.{code}.label"] = dict(reason["label"])
        if reason.get("follow_up"):
            labels[f"reason.{code}.follow_up"] = dict(reason["follow_up"]["label"])
            for choice in reason["follow_up"].get("choices", []):
                labels[f"reason.{code}.choice.{choice['code']}"] = dict(choice["label"])
    return labels


def test_an_edited_survey_is_the_next_version_and_the_one_before_stays(engine, club):
    with engine.begin() as conn:
        _version, definition = current_definition(conn, club["id"], NOW)
    labels = labels_of(definition)
    labels["title"] = {"en": "  One question\r\n", "fr": "Une question"}
    kept = {"too_expensive", "other"}
    assert save_survey(engine, club["id"], labels, kept, NOW) == 2
    with engine.connect() as conn:
        version, saved = current_definition(conn, club["id"], NOW)
    assert version == 2
    assert saved["title"] == {"en": "One question", "fr": "Une question"}
    assert [r["code"] for r in saved["reasons"]] == ["too_expensive", "other"]  # the survey's order
    assert saved["pinned_last"] == ["other"]
    assert saved["reasons"][0]["follow_up"]["type"] == "text"  # what the form does not edit is kept
    # Dropping "other" drops it from the pinned reasons too; the next save is version 3.
    assert save_survey(engine, club["id"], labels_of(saved), {"too_expensive"}, NOW) == 3
    with engine.connect() as conn:
        assert current_definition(conn, club["id"], NOW)[1]["pinned_last"] == []


@pytest.mark.parametrize("change, code", [
    (lambda labels, kept: labels["intro"].update(fr="   "), "label_missing"),
    (lambda labels, kept: labels["reason.unused.choice.no_time"].pop("en"), "label_missing"),
    (lambda labels, kept: labels["thanks"].update(en="x" * 501), "label_missing"),
    (lambda labels, kept: kept.clear(), "needs_reason"),
])
def test_a_survey_with_a_missing_label_or_no_reason_is_refused_and_no_version_is_added(engine, club, change, code):
    with engine.begin() as conn:
        _version, definition = current_definition(conn, club["id"], NOW)
    labels, kept = labels_of(definition), {r["code"] for r in definition["reasons"]}
    change(labels, kept)
    with pytest.raises(SurveyEditError) as refused:
        save_survey(engine, club["id"], labels, kept, NOW)
    assert refused.value.code == code
    with engine.connect() as conn:
        assert latest_definition(conn, club["id"])["version"] == 1


# --- a step's copy ------------------------------------------------------------------------------


def test_only_what_differs_from_the_default_copy_is_kept():
    kind = catalog.KINDS["feedback"]
    default_subject = kind.copy["fr"]["subject"]
    stored = {"en": {"subject": "Hello"}, "fr": {"subject": "Ancien"}, "de": "broken"}
    typed = {block: "" for block in kind.blocks()}
    typed.update(subject=default_subject, intro="À vous de nous dire")
    assert overrides_after_edit(kind, "fr", typed, stored) == {"en": {"subject": "Hello"},
                                                                "fr": {"intro": "À vous de nous dire"}}
    # Back to the default everywhere in French: the language goes, English stays.
    typed = {block: "" for block in kind.blocks()}
    assert overrides_after_edit(kind, "fr", typed, stored) == {"en": {"subject": "Hello"}}


def test_a_step_is_saved_whole_or_not_at_all(engine, club):
    kind = catalog.KINDS["offer"]
    typed = {block: "" for block in kind.blocks()}
    typed["subject"] = "Une offre pour vous"
    assert save_step(engine, club["id"], "offer", "fr", typed, enabled=False, delay_hours="72", now=NOW) == \
        {"fr": {"subject": "Une offre pour vous"}}
    too_long = {**typed, "subject": "x" * 201, "subject_discount": "Autre"}
    with pytest.raises(StepEditError) as refused:
        save_step(engine, club["id"], "offer", "fr", too_long, enabled=True, delay_hours="9000", now=NOW)
    assert refused.value.problems == [("too_long", {"field": "subject"}), ("invalid_delay", {})]
    for bad_delay in ("", "-1", "2.5", None):
        with pytest.raises(StepEditError):
            save_step(engine, club["id"], "offer", "fr", typed, enabled=True, delay_hours=bad_delay, now=NOW)
    with engine.connect() as conn:
        step = configured_steps(conn, club["id"])["offer"]
    assert (step.enabled, step.delay.total_seconds(), step.copy_overrides) == \
        (False, 72 * 3600, {"fr": {"subject": "Une offre pour vous"}})


# --- the site's settings ------------------------------------------------------------------------

SITE = {"name": "Le Nouveau Club", "url": "https://nouveau.example.org", "timezone": "America/Montreal",
        "locale": "en_US"}


def test_the_site_and_its_email_settings_are_saved_together(engine, club):
    saved = save_site_settings(engine, club["id"], SITE, {"sender_name": "L'équipe", "support_email": ""},
                               now=NOW)
    assert saved["sender_name"] == "L'équipe"
    with engine.connect() as conn:
        site = get_site(conn, club["id"])
    assert {key: site[key] for key in SITE} == SITE


@pytest.mark.parametrize("site, changes, refused", [
    ({**SITE, "url": "http://127.0.0.1/"}, {"sender_name": "Nouveau nom"}, ("url", "private")),
    ({**SITE, "name": ""}, {"sender_name": "Nouveau nom"}, ("name", "length")),
    ({**SITE, "timezone": "Mars/Olympus"}, {"sender_name": "Nouveau nom"}, ("timezone", "unknown")),
    ({**SITE, "locale": "de_DE"}, {"sender_name": "Nouveau nom"}, ("locale", "unsupported")),
    (SITE, {"sender_name": "Nouveau nom", "support_email": "not an address"}, None),
])
def test_one_refused_field_leaves_the_site_and_its_settings_as_they_were(engine, club, site, changes, refused):
    with pytest.raises(SettingsError) as error:
        save_site_settings(engine, club["id"], site, changes, now=NOW)
    if refused:
        assert isinstance(error.value, SiteFieldError) and (error.value.field, error.value.code) == refused
    with engine.connect() as conn:
        stored = get_site(conn, club["id"])
        settings = effective_settings(conn, club["id"])
    assert (stored["name"], stored["url"], stored["timezone"], stored["locale"]) == \
        ("Le Club", "https://club.example.org", "Europe/Paris", "fr_FR")
    assert settings["sender_name"] is None


def test_the_site_fields_are_checked_by_one_rule_for_the_command_line_and_the_dashboard(engine):
    assert site_problems("", "ftp://x", "Nowhere/Else", "xx", ()) == \
        {"name": "length", "url": "scheme", "timezone": "unknown", "locale": "unsupported"}
    with pytest.raises(ValueError, match="--timezone 'Nowhere/Else'"):
        create_site(engine, "https://club.example.org", "Le Club", "Nowhere/Else")


# --- the digest ---------------------------------------------------------------------------------


def test_the_digest_settings_are_saved_by_the_domain_and_the_preview_shows_its_chart_inline(engine, club):
    saved = update_digest_settings(engine, club["id"], "5", "17", "a@example.org, a@example.org", now=NOW)
    assert (saved["weekday"], saved["hour"], saved["recipients"]) == (5, 17, ["a@example.org"])
    with engine.connect() as conn:
        rendered = browser_preview(conn, club, IsoWeek.parse("2026-W48"), NOW, MAIL)
    assert "cid:" not in rendered.html and "data:image/png;base64," in rendered.html
    assert "https://farewell.example.org/admin" in rendered.html
    assert json.dumps(rendered.subject)  # a subject, for the text version's header


def test_the_wordpress_admin_email_reported_by_the_bridge_is_kept_by_the_domain(engine, club):
    update_wordpress_admin_email(engine, club["id"], " admin@club.example.org ", now=NOW)
    with pytest.raises(DigestSettingsError):
        update_wordpress_admin_email(engine, club["id"], "not an address", now=NOW)
    with engine.connect() as conn:
        assert digest_settings(conn, club["id"])["recipients"] == ["admin@club.example.org"]


def test_a_delay_is_edited_in_days_and_in_hours_below_one_day():
    assert delay_for_editor(timedelta(days=30)) == (30, "days")
    assert delay_for_editor(timedelta(days=1)) == (1, "days")
    assert delay_for_editor(timedelta(hours=6)) == (6, "hours")
    assert delay_for_editor(timedelta(0)) == (0, "hours")
    assert delay_for_editor(timedelta(hours=30)) == (30, "hours")  # not 1.25 days
    assert delay_hours_from("3", "days") == "72" and delay_hours_from(" 3 ", "days") == "72"
    assert delay_hours_from("6", "hours") == "6"
    # Anything else is left for save_step to refuse as invalid_delay, as it refuses bad hours.
    for value, unit in (("1.5", "days"), ("-1", "days"), ("²", "days"), ("3", "weeks"), ("9" * 7, "days")):
        assert delay_hours_from(value, unit) == "", (value, unit)
    assert delay_hours_from("366", "days") == "8784"  # over MAX_STEP_DELAY: save_step refuses it
