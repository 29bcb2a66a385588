"""What the bridge tells the sidecar about its WordPress site (today: the admin email, the weekly
digest's default recipient). Signed like every other bridge request."""

from __future__ import annotations

from flask import Blueprint

from ..db import get_engine
from ..domain.digest import DigestSettingsError, update_wordpress_admin_email
from .errors import ApiError
from .signed import json_body, signed_request

bp = Blueprint("site_info", __name__)


@bp.post("/v1/sites/<site_id>/site-info")
def site_info(site_id: str):
    _, body = signed_request(site_id)
    document = json_body(body)
    email = document.get("admin_email") if isinstance(document, dict) else None
    if not isinstance(email, str):
        raise ApiError(400, "invalid_request", fields={"admin_email": "must be an email address"})
    try:
        update_wordpress_admin_email(get_engine(), site_id, email)
    except DigestSettingsError:
        raise ApiError(400, "invalid_request", fields={"admin_email": "must be an email address"}) from None
    return {"status": "ok"}
