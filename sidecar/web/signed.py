"""Requests from the WordPress bridge, signed with the site's secret (sidecar/signing.py).

Every signed route but the events route takes signatures bound to its own method and path (``fw2``),
so a request signed for one route is refused by every other; the events route stays plain Standard
Webhooks (``v1``). Each refusal names the scheme the route takes, so a bridge can tell "wrong
secret" from "the sidecar is older than me"."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from flask import request

from ..config import EVENT_MAX_BYTES
from ..db import get_engine
from ..signing import ROUTE_BOUND, InvalidSignature, OutdatedScheme, verification_secrets, verify
from ..storage.sites import get_site
from .errors import ApiError

WEBHOOK_ID = re.compile(r"^[\x21-\x7e]{1,255}$")


# What an outdated sender is told (426): it signs with Standard Webhooks v1 where fw2 is needed.
OUTDATED_MESSAGE = ("this route takes signatures bound to its method and path (fw2, docs/PROTOCOL.md): "
                    "update the Farewell bridge plugin")


def signed_request(site_id: str, *, standard_webhooks: bool = False,
                   max_bytes: int = EVENT_MAX_BYTES) -> tuple[dict, str]:
    """The site and the verified body (as text) of a signed request; raises ApiError otherwise.

    ``standard_webhooks``: the request is signed with Standard Webhooks v1 (the events route only);
    otherwise with fw2, bound to this request's method and path as the sidecar routes it (without
    the scheme, host, any prefix a reverse proxy strips, or the query string). ``max_bytes``: the
    largest body taken (413 past it). The events route does the same with parts of its own
    (read_body, verified_body): see web/ingest.py."""
    raw = read_body(max_bytes)
    with get_engine().connect() as conn:
        site = get_site(conn, site_id)
    if site is None:
        raise ApiError(404, "unknown_site")
    return site, verified_body(site, raw, standard_webhooks=standard_webhooks)


def read_body(max_bytes: int) -> bytes:
    """The request's body, read before any connection is checked out: a transaction (on SQLite, the
    database's one writer) must not wait on a slow client's upload. 413 past ``max_bytes``."""
    request.max_content_length = max_bytes
    return request.get_data(cache=False)  # raises 413 past max_content_length


def verified_body(site: dict, raw: bytes, *, standard_webhooks: bool = False) -> str:
    """The body as text, once its signature is verified against ``site``'s secrets (see
    signed_request); raises ApiError otherwise."""
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", message="the body must be UTF-8") from None
    secrets = verification_secrets(site, datetime.now(timezone.utc))
    # A bound route's refusals name its scheme: a bridge that gets a 401 without it knows the sidecar
    # predates route binding. The events route answers as it always has.
    bound = {} if standard_webhooks else {"method": request.method, "path": request.path}
    named = {} if standard_webhooks else {"signature_scheme": ROUTE_BOUND}
    try:
        verify(secrets, body, request.headers, **bound)
    except OutdatedScheme:
        raise ApiError(426, "signature_scheme_outdated", message=OUTDATED_MESSAGE, **named) from None
    except InvalidSignature as refusal:
        # A genuine signature outside the time window says how far apart the clocks are, so the bridge
        # can tell its admin to fix NTP and retry; a forged one learns nothing more.
        raise ApiError(401, "invalid_signature", **named, **refusal.details) from None
    if not WEBHOOK_ID.match(request.headers["webhook-id"]):
        raise ApiError(400, "invalid_webhook_id", message="webhook-id must be 1-255 printable ASCII characters")
    return body


def json_body(body: str):
    """The decoded JSON document of a verified body."""
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", message="send Content-Type: application/json")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json") from None
