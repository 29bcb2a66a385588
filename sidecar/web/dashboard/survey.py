"""The exit survey's texts and reasons in every language; each save is a new version."""

from __future__ import annotations

from flask import flash, g, render_template, request

from ...db import get_engine
from ...domain.offers import VARIANT_BY_REASON
from ...domain.survey import LANGUAGES, REASON_CODES, SURVEY_TEXTS, SurveyEditError, current_definition, \
    save_survey as save_survey_version, survey_form
from . import bp, go, t
from .common import now


@bp.get("/survey")
def survey():
    with get_engine().begin() as conn:
        version, definition = current_definition(conn, g.site["id"], now())
    return render_template("dashboard/survey.html", version=version, definition=definition,
                           reasons=survey_form(definition), texts=SURVEY_TEXTS, languages=LANGUAGES,
                           variants={code: VARIANT_BY_REASON.get(code, "default") for code in REASON_CODES})


def _typed_labels() -> dict[str, dict]:
    """Every ``<label name>.<language>`` field of the form, as {label name: {language: text}}."""
    labels: dict[str, dict] = {}
    for key, text in request.form.items():
        name, _dot, language = key.rpartition(".")
        if name and language in LANGUAGES:
            labels.setdefault(name, {})[language] = text
    return labels


@bp.post("/survey")
def save_survey():
    included = {key[len("reason."):-len(".included")] for key, value in request.form.items()
                if key.startswith("reason.") and key.endswith(".included") and value == "1"}
    try:
        saved = save_survey_version(get_engine(), g.site["id"], _typed_labels(), included, now())
    except SurveyEditError as error:
        flash(t(f"survey_{error.code}"), "error")
        return go("dashboard.survey")
    flash(t("survey_saved", version=saved))
    return go("dashboard.survey")
