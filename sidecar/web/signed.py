"""Requests from the WordPress bridge, signed with the site's Standard Webhooks secret."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from flask import request

from ..config import EVENT_MAX_BYTES
from ..db import get_engine
from ..domain.sites import verification_secrets
from ..signing import InvalidSignature, verify
from ..storage.sites import get_site
from .errors import ApiError

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
    except InvalidSignature as refusal:
        # A genuine signature outside the time window says how far apart the clocks are, so the bridge
        # can tell its admin to fix NTP and retry; a forged one learns nothing more.
        raise ApiError(401, "invalid_signature", **refusal.details) from None
    if not _WEBHOOK_ID.match(request.headers["webhook-id"]):
        raise ApiError(400, "invalid_webhook_id", message="webhook-id must be 1-255 printable ASCII characters")
    return site, body


def json_body(body: str):
    """The decoded JSON document of a verified body."""
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", message="send Content-Type: application/json")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json") from None
