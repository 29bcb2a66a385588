"""Where events come in from the WordPress bridge: signed with Standard Webhooks, deduplicated."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from flask import Blueprint, request

from ..config import EVENT_MAX_BYTES
from ..db import get_engine
from ..domain.events import InvalidEvent, parse_event
from ..domain.ingest import Outcome, record_event
from ..domain.sites import verification_secrets
from ..signing import InvalidSignature, verify
from ..storage.sites import get_site
from .errors import ApiError

bp = Blueprint("ingest", __name__)

_WEBHOOK_ID = re.compile(r"^[\x21-\x7e]{1,255}$")


def signed_request(site_id: str) -> tuple[dict, str]:
    """The site and the verified body (as text) of a signed request; raises ApiError otherwise."""
    request.max_content_length = EVENT_MAX_BYTES
    with get_engine().connect() as conn:
        site = get_site(conn, site_id)
    if site is None:
        raise ApiError(404, "unknown_site")
    raw = request.get_data(cache=False)  # raises 413 past max_content_length
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", message="the body must be UTF-8") from None
    try:
        verify(verification_secrets(site, datetime.now(timezone.utc)), body, request.headers)
    except InvalidSignature:
        raise ApiError(401, "invalid_signature") from None
    if not _WEBHOOK_ID.match(request.headers["webhook-id"]):
        raise ApiError(400, "invalid_webhook_id", message="webhook-id must be 1-255 printable ASCII characters")
    return site, body


@bp.post("/v1/sites/<site_id>/events")
def receive_event(site_id: str):
    _, body = signed_request(site_id)
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", message="send Content-Type: application/json")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json") from None
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
