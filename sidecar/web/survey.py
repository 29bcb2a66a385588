"""The exit survey's definition, fetched by the bridge to render the form in WordPress."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, request

from ..db import get_engine
from ..domain.survey import current_definition, language_of, localize
from ..domain.tokens import TokenError, read_survey_token
from ..storage.surveys import answering_for
from .formats import iso
from .signed import signed_request

bp = Blueprint("survey", __name__)


@bp.get("/v1/sites/<site_id>/survey")
def definition(site_id: str):
    site, _ = signed_request(site_id)
    now = datetime.now(timezone.utc)
    language = language_of(request.args.get("locale"), site["locale"])
    with get_engine().begin() as conn:
        version, stored = current_definition(conn, site_id, now)
    answer = {"version": version, "language": language, "definition": localize(stored, language)}
    token = request.args.get("token")
    if token:
        answer.update(_token_status(site_id, token[:500], now))
    return answer


def _token_status(site_id: str, token: str, now: datetime) -> dict:
    """Who an email link answers for, so the bridge can greet them and prefill the contact field."""
    try:
        cancellation_id = read_survey_token(current_app.config["SECRET_KEY"], site_id, token, now)
    except TokenError as error:
        return {"token": {"status": error.reason}}
    with get_engine().connect() as conn:
        found = answering_for(conn, site_id, cancellation_id)
    if found is None:
        return {"token": {"status": "invalid"}}
    return {
        "token": {"status": "valid"},
        "answering_for": {
            "cancellation_id": found["cancellation_id"],
            "cancelled_at": iso(found["cancelled_at"]),
            "member": {"id": found["member_external_id"], "email": found["email"], "first_name": found["first_name"],
                       "locale": found["locale"]},
            "subscription": {"id": found["subscription_external_id"], "source": found["source"],
                             "plan_name": found["plan_name"]},
            "already_answered": found["answer_id"] is not None,
        },
    }
