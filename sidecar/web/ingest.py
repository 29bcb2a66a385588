"""Where events come in from the WordPress bridge: signed with Standard Webhooks, deduplicated."""

from __future__ import annotations

from flask import Blueprint, request

from ..db import get_engine
from ..domain.events import InvalidEvent, parse_event
from ..domain.ingest import Outcome, record_event
from .errors import ApiError
from .signed import json_body, signed_request

bp = Blueprint("ingest", __name__)


@bp.post("/v1/sites/<site_id>/events")
def receive_event(site_id: str):
    _, body = signed_request(site_id)
    document = json_body(body)
    try:
        event = parse_event(document)
    except InvalidEvent as invalid:
        raise ApiError(400, "invalid_event", fields=invalid.fields) from None
    outcome = record_event(get_engine(), site_id, request.headers["webhook-id"], body, event)
    if outcome is Outcome.DUPLICATE:
        return {"status": "duplicate"}, 200
    return {"status": "accepted"}, 202


@bp.get("/v1/sites/<site_id>/ping")
def ping(site_id: str):
    site, _ = signed_request(site_id)
    return {"status": "ok", "site_id": site["id"], "site_name": site["name"]}
