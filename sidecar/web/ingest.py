"""Where events come in from the WordPress bridge: signed with Standard Webhooks, deduplicated.

A 202 means the event is verified, valid and durably stored (one insert); the applier applies it
moments later (sidecar.domain.applier). In ``serve`` this process's applier thread is woken at once.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request

from ..db import get_engine
from ..domain.events import Event, InvalidEvent, parse_event
from ..domain.ingest import Outcome, accept_event
from ..domain.tokens import TokenError, read_survey_token
from . import metrics
from .errors import ApiError
from .signed import json_body, signed_request

bp = Blueprint("ingest", __name__)


@bp.post("/v1/sites/<site_id>/events")
def receive_event(site_id: str):
    try:
        response = _receive_event(site_id)
    except Exception as error:
        metrics.count_event_refusal(error)
        raise
    metrics.count_event(response[0]["status"])
    return response


def _receive_event(site_id: str):
    _, body = signed_request(site_id, standard_webhooks=True)
    document = json_body(body)
    try:
        event = parse_event(document)
        outcome = accept_event(get_engine(), site_id, request.headers["webhook-id"], body, event,
                               answered_cancellation_id=_survey_link_cancellation(site_id, event))
    except InvalidEvent as invalid:
        raise ApiError(400, "invalid_event", fields=invalid.fields) from None
    if outcome is Outcome.DUPLICATE:
        return {"status": "duplicate"}, 200
    wake_applier = current_app.extensions.get("farewell.wake_applier")
    if wake_applier is not None:
        wake_applier()
    return {"status": "accepted"}, 202


@bp.get("/v1/sites/<site_id>/ping")
def ping(site_id: str):
    site, _ = signed_request(site_id)
    return {"status": "ok", "site_id": site["id"], "site_name": site["name"]}


def _survey_link_cancellation(site_id: str, event: Event) -> int | None:
    token = (event.survey or {}).get("token") if event.type == "survey.submitted" else None
    if not token:
        return None
    try:
        return read_survey_token(current_app.config["SECRET_KEY"], site_id, token, event.occurred_at)
    except TokenError as error:
        message = "has expired" if error.reason == "expired" else "is not a valid survey link for this site"
        raise InvalidEvent({"survey.token": message}) from None
