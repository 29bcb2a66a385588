"""The weekly digest for the bridge's set-up checklist: its recipients and how mail leaves (GET),
and a sample sent now to the admin who asks (POST). Signed like every other bridge request; the
rules (which addresses, how often) are sidecar.domain.digest_bridge's."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import Blueprint, current_app

from ..db import get_engine
from ..domain import digest as digest_domain
from ..domain import digest_bridge
from ..mail.transports import DeliveryError, TransportUnavailable, transport_from_url
from .errors import ApiError
from .signed import json_body, signed_request

bp = Blueprint("site_digest", __name__)
log = logging.getLogger(__name__)


def _transport():
    """The configured transport; None when FAREWELL_MAIL_URL cannot be used (said, never a 500)."""
    config = current_app.config
    try:
        return transport_from_url(config["FAREWELL_MAIL_URL"], config["FAREWELL_BRIDGE_ALLOWED_NETWORKS"])
    except ValueError as error:
        log.error("%s", error)
        return None


@bp.get("/v1/sites/<site_id>/digest/settings")
def digest_settings(site_id: str):
    signed_request(site_id)
    with get_engine().connect() as conn:
        return digest_bridge.bridge_digest_settings(conn, site_id, _transport())


@bp.post("/v1/sites/<site_id>/digest/sample")
def digest_sample(site_id: str):
    _, body = signed_request(site_id)  # 64 KiB at most, as every signed route
    document = json_body(body)
    if not isinstance(document, dict):
        raise ApiError(400, "invalid_request", fields={"to": "must be an email address"})
    transport = _transport()
    if transport is None:
        raise ApiError(503, "mail_unavailable", message="the sidecar's FAREWELL_MAIL_URL cannot be used")
    try:
        result = digest_bridge.send_sample(
            get_engine(), transport, site_id, document.get("to"), document.get("locale"),
            datetime.now(timezone.utc), mail=digest_domain.mail_config(current_app.config),
            secret_key=current_app.config["SECRET_KEY"])
    except digest_bridge.SampleRateLimited as limited:
        raise ApiError(429, "rate_limited", headers={"Retry-After": str(limited.retry_after)},
                       retry_after=limited.retry_after) from None
    except digest_bridge.SampleRefused as refused:
        if refused.reason == "invalid_address":
            raise ApiError(400, "invalid_request", fields={"to": str(refused)}) from None
        raise ApiError(403, "recipient_not_allowed", message=str(refused)) from None
    except DeliveryError as error:
        # Said to the bridge without the server's own words: they may name other sites' addresses.
        log.warning("sample digest for site %s not sent: %s", site_id, error)
        if isinstance(error, TransportUnavailable):
            raise ApiError(503, "mail_unavailable", message="the sidecar's mail server cannot be reached") from None
        raise ApiError(502, "mail_refused", message="the sidecar's mail server refused the sample") from None
    return {"status": "sent", "week": result.week, "to": list(result.recipients)}
