"""The exit survey: its definition (versioned per site), and how an answer is checked and kept.

Every field of the survey is optional: an answer with nothing in it is still a valid answer
(the member pressed "send" without filling anything), and it never blocks anything.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime

from sqlalchemy.engine import Connection, Engine

from .. import i18n
from ..storage import dashboard as dashboard_store
from ..storage import emails as emails_store
from ..storage import surveys as surveys_store
from .events import COMMENT_MAX, CONTACT_MAX, FOLLOW_UP_MAX, Event, InvalidEvent, one_line

# Stripe's cancellation reason codes, so owners' data stays comparable and importable, plus
# "temporary" ("just taking a break"), which membership sites see often and must not treat as lost.
REASON_CODES = (
    "too_expensive", "unused", "temporary", "missing_features", "switched_service",
    "customer_service", "too_complex", "low_quality", "other",
)
LANGUAGES = i18n.LANGUAGES


def _label(key: str) -> dict[str, str]:
    """One text of the default survey as {language: text}, from the catalogs (section "survey")."""
    return {language: i18n.section(language, "survey")[key] for language in LANGUAGES}


def _reason(code: str, follow_up: str | None = None, choices: tuple[str, ...] = ()) -> dict:
    reason: dict = {"code": code, "label": _label(f"reason_{code}")}
    if follow_up:
        reason["follow_up"] = {"type": follow_up, "label": _label(f"follow_up_{code}")}
        if choices:
            reason["follow_up"]["choices"] = [{"code": c, "label": _label(f"choice_{code}_{c}")} for c in choices]
    return reason


# Labels are {language: text}; `localize` picks one language for the bridge to render.
DEFAULT_DEFINITION: dict = {
    "title": _label("title"),
    "intro": _label("intro"),
    "reason_label": _label("reason_label"),
    "reasons": [
        _reason("too_expensive", "text"),
        _reason("unused", "choice", ("no_time", "not_what_i_expected", "hard_to_find")),
        _reason("temporary", "choice", ("within_a_month", "in_a_few_months", "not_sure")),
        _reason("missing_features", "text"),
        _reason("switched_service", "text"),
        _reason("customer_service", "text"),
        _reason("too_complex", "text"),
        _reason("low_quality", "text"),
        _reason("other"),
    ],
    # A fixed list biases answers toward its first items: the bridge shuffles the reasons with a
    # seed per member (stable for that member), keeping the codes in `pinned_last` at the end.
    "shuffle_reasons": True,
    "pinned_last": ["other"],
    **{key: _label(key) for key in ("comment_label", "contact_label", "contact_detail_label", "submit_label",
                                    "skip_label", "thanks")},
    "limits": {"comment": COMMENT_MAX, "follow_up": FOLLOW_UP_MAX, "contact": CONTACT_MAX},
}

_CONTROL_EXCEPT_NEWLINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# The survey's language for a WordPress locale, else the site's, else English: i18n's rule.
language_of = i18n.language_of


def localize(definition: dict, language: str) -> dict:
    """The definition with every {language: text} label replaced by the text in ``language``."""

    def pick(node):
        if isinstance(node, dict):
            if node and set(node) <= set(LANGUAGES) and all(isinstance(v, str) for v in node.values()):
                return node.get(language) or node.get("en") or next(iter(node.values()))
            return {key: pick(value) for key, value in node.items()}
        if isinstance(node, list):
            return [pick(item) for item in node]
        return node

    return pick(copy.deepcopy(definition))


def current_definition(conn: Connection, site_id: str, now: datetime) -> tuple[int, dict]:
    """The site's latest definition; a site that never edited it gets the default as version 1."""
    latest = surveys_store.latest_definition(conn, site_id)
    if latest is None:
        surveys_store.insert_definition_if_absent(conn, site_id, 1, json.dumps(DEFAULT_DEFINITION), now)
        latest = surveys_store.latest_definition(conn, site_id)
    return latest["version"], json.loads(latest["definition"])


# The texts of the survey an owner edits on the dashboard, and how long each label may be.
SURVEY_TEXTS = ("title", "intro", "reason_label", "comment_label", "contact_label", "contact_detail_label",
                "submit_label", "skip_label", "thanks")
LABEL_MAX = 500


class SurveyEditError(ValueError):
    """Why an edited survey is refused: ``needs_reason`` (no reason left) or ``label_missing``
    (a label empty, or longer than LABEL_MAX, in one of the languages)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def survey_form(definition: dict) -> list[dict]:
    """Every reason code, included or not, with its labels (the site's, else the default's): the
    site's reasons in their order, then the others."""
    current = {r["code"]: r for r in definition.get("reasons", [])}
    defaults = {r["code"]: r for r in DEFAULT_DEFINITION["reasons"]}
    order = [r["code"] for r in definition.get("reasons", [])] + [c for c in REASON_CODES if c not in current]
    return [{"code": code, "included": code in current, "reason": current.get(code) or defaults[code]}
            for code in order if code in current or code in defaults]


def save_survey(engine: Engine, site_id: str, labels: dict[str, dict], included: set[str] | list[str],
                now: datetime) -> int:
    """Keep an edited survey as the site's next version, and return that version number.

    ``labels`` maps a label's name to its text per language, as typed: the survey's texts by their
    key (``title``…), a reason's label as ``reason.<code>.label``, its follow-up question as
    ``reason.<code>.follow_up`` and each choice as ``reason.<code>.choice.<choice>``. ``included``:
    the reason codes the survey keeps, in the order of ``survey_form``. Every label is needed in
    every language (at most LABEL_MAX characters); anything else of the definition (follow-up
    types, shuffling) is kept from the version edited. Raises SurveyEditError, leaving nothing
    changed. Versions are never rewritten: answers keep pointing at the version they answered."""
    errors: list[str] = []

    def label(name: str) -> dict:
        typed = labels.get(name) or {}
        out = {}
        for language in LANGUAGES:
            text = (typed.get(language) or "").replace("\r\n", "\n").strip()
            if not text or len(text) > LABEL_MAX:
                errors.append(name)
            out[language] = text[:LABEL_MAX]
        return out

    with engine.begin() as conn:
        version, definition = current_definition(conn, site_id, now)
        new = copy.deepcopy(definition)
        for key in SURVEY_TEXTS:
            new[key] = label(key)
        reasons = []
        for item in survey_form(definition):
            code = item["code"]
            if code not in included:
                continue
            reason = copy.deepcopy(item["reason"])
            reason["label"] = label(f"reason.{code}.label")
            follow_up = reason.get("follow_up")
            if follow_up:
                follow_up["label"] = label(f"reason.{code}.follow_up")
                for choice in follow_up.get("choices", []):
                    choice["label"] = label(f"reason.{code}.choice.{choice['code']}")
            reasons.append(reason)
        if not reasons:
            raise SurveyEditError("needs_reason")
        if errors:
            raise SurveyEditError("label_missing")
        new["reasons"] = reasons
        kept = {reason["code"] for reason in reasons}
        new["pinned_last"] = [code for code in definition.get("pinned_last", []) if code in kept]
        saved = version + 1
        # Another save may take a number meanwhile (two tabs, two owners): the next free one is ours.
        while not dashboard_store.insert_definition(conn, site_id, saved, json.dumps(new, ensure_ascii=False), now):
            saved += 1
    return saved


def clean_text(value: object, limit: int, field: str, errors: dict) -> str | None:
    """Free text as the member typed it (HTML included, escaped on output), minus control characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        errors[field] = "must be a string"
        return None
    value = _CONTROL_EXCEPT_NEWLINES.sub("", value).replace("\r\n", "\n").strip()
    if len(value) > limit:
        errors[field] = f"must be at most {limit} characters"
        return None
    return value or None


def clean_line(value: object, limit: int, field: str, errors: dict) -> str | None:
    """A one-line answer (the contact detail, the locale): as ``clean_text``, then on one line
    (events.one_line), since it is shown on one line to the owner."""
    text = clean_text(value, limit, field, errors)
    return (one_line(text) or None) if text else None


def check_answer(conn: Connection, site_id: str, survey: dict, now: datetime) -> dict:
    """The answer's fields, cleaned, checked against the definition version it answered."""
    errors: dict[str, str] = {}
    version = survey.get("version")
    if version == 1:
        # Version 1 is the built-in default for every site; the bridge may render it from its own
        # bundled copy before it ever reached the sidecar, so it always exists when answered.
        surveys_store.insert_definition_if_absent(conn, site_id, 1, json.dumps(DEFAULT_DEFINITION), now)
    definition = surveys_store.get_definition(conn, site_id, version) if isinstance(version, int) else None
    if definition is None:
        raise InvalidEvent({"survey.version": "is not a version of this site's survey"})
    reasons = {r["code"]: r for r in json.loads(definition["definition"])["reasons"]}
    reason = survey.get("reason")
    if reason is not None and reason not in reasons:
        errors["survey.reason"] = f"must be one of: {', '.join(reasons)}"
    follow_up = clean_text(survey.get("follow_up"), FOLLOW_UP_MAX, "survey.follow_up", errors)
    follow_up_spec = reasons.get(reason, {}).get("follow_up")
    if follow_up and follow_up_spec and follow_up_spec.get("type") == "choice":
        if follow_up not in {c["code"] for c in follow_up_spec["choices"]}:
            errors["survey.follow_up"] = "must be one of the reason's choices"
    contact_requested = survey.get("contact_requested", False)
    if not isinstance(contact_requested, bool):
        errors["survey.contact_requested"] = "must be true or false"
    answer = {
        "definition_version": version,
        "reason": reason,
        "follow_up": follow_up if reason else None,
        "comment": clean_text(survey.get("comment"), COMMENT_MAX, "survey.comment", errors),
        "contact_requested": contact_requested is True,
        "contact": clean_line(survey.get("contact"), CONTACT_MAX, "survey.contact", errors),
        "locale": clean_line(survey.get("locale"), 16, "survey.locale", errors),
    }
    if errors:
        raise InvalidEvent(errors)
    return answer


def record_answer(
    conn: Connection, site_id: str, event: Event, event_id: int, member_id: int, cancellation: dict | None,
    subscription_external_id: str | None, now: datetime, imported: bool = False,
) -> None:
    """Keep the answer; a newer answer for the same cancellation replaces the older one.

    An answer that arrives before its cancellation (the bridge delivers out of order after an
    outage) is kept unattached, and ``attach_early_answers`` ties it on when the cancellation comes.
    An imported answer (history, events.Event.imported) keeps its "contact me" as what was said,
    but opens no contact request: nobody is waiting for that call any more.
    """
    answer = check_answer(conn, site_id, event.survey, now)
    _save(conn, site_id, member_id, cancellation["id"] if cancellation else None, subscription_external_id,
          event_id, event.occurred_at, answer, now, may_open_request=not imported)


def attach_early_answers(
    conn: Connection, site_id: str, member_id: int, cancellation_id: int, subscription_external_id: str,
    cancelled_at: datetime, now: datetime, unattached: list[dict] | None = None,
) -> None:
    """Tie the answers that came before this cancellation to it, where they are: an answer keeps
    its id, so its contact request (or its lack of one, for an imported answer) and the owner's
    alert about it stay as they were; an alert already sent is not sent again. When the
    cancellation already has an answer, the newest by ``answered_at`` stays, as for any
    replacement, and the other goes with its contact request. ``unattached``: the member's
    ``unattached_answers_of_members``, when the applier's batch read them already."""
    for early in early_answers(conn, member_id, subscription_external_id, cancelled_at, unattached):
        kept = surveys_store.answer_of_cancellation(conn, cancellation_id)
        if kept is not None and kept["answered_at"] > early["answered_at"]:
            surveys_store.delete_answer(conn, early["id"])
            continue
        if kept is not None:
            surveys_store.delete_answer(conn, kept["id"])
        surveys_store.attach_answer(conn, early["id"], cancellation_id, now)


def early_answers(conn: Connection, member_id: int, subscription_external_id: str, cancelled_at: datetime,
                  unattached: list[dict] | None = None) -> list[dict]:
    """The answers ``attach_early_answers`` ties to a cancellation at ``cancelled_at``; picked from
    ``unattached`` (the member's answers not tied to any cancellation) as the query picks."""
    if unattached is None:
        return surveys_store.unattached_answers(conn, member_id, subscription_external_id, cancelled_at)
    return sorted((a for a in unattached if a["answered_at"] >= cancelled_at
                   and a["subscription_external_id"] in (subscription_external_id, None)),
                  key=lambda a: (a["answered_at"], a["id"]))


def _save(conn, site_id, member_id, cancellation_id, subscription_external_id, event_id, answered_at, answer, now,
          may_open_request: bool = True):
    if cancellation_id is None:
        # No unique key holds one waiting answer per member: the member's row does (save_answer).
        emails_store.hold_recipients(conn, [member_id])
    answer_id = surveys_store.save_answer(
        conn, site_id=site_id, member_id=member_id, cancellation_id=cancellation_id,
        subscription_external_id=subscription_external_id, event_id=event_id, answered_at=answered_at, now=now,
        **answer,
    )
    if answer_id is None:
        return  # a newer answer for this cancellation is already kept
    # An answer asking to be contacted opens a request for the owner (alerted by the jobs
    # process); a replacement that withdraws it closes the request if still unanswered.
    saved = surveys_store.get_answer(conn, answer_id)
    if saved["contact_requested"] and may_open_request:
        surveys_store.open_contact_request(conn, site_id, saved, now)
    else:
        surveys_store.withdraw_contact_request(conn, answer_id)
