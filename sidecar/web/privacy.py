"""Personal-data export and erasure, asked for by WordPress's privacy tools through the bridge."""

from __future__ import annotations

from flask import Blueprint

from ..db import get_engine
from ..domain.events import is_email
from ..domain.privacy import erase_member_data, export_member_data
from .errors import ApiError
from .signed import json_body, signed_request

bp = Blueprint("privacy", __name__)


def _privacy_request(site_id: str) -> tuple[str, dict]:
    _, body = signed_request(site_id)
    document = json_body(body)
    email = document.get("email") if isinstance(document, dict) else None
    if not isinstance(email, str) or not is_email(email):
        raise ApiError(400, "invalid_request", fields={"email": "must be an email address"})
    return email, document


@bp.post("/v1/sites/<site_id>/privacy/export")
def export(site_id: str):
    email, document = _privacy_request(site_id)
    locale = document.get("locale") if isinstance(document.get("locale"), str) else None
    return {"data": export_member_data(get_engine(), site_id, email, locale)}


@bp.post("/v1/sites/<site_id>/privacy/erase")
def erase(site_id: str):
    email, _ = _privacy_request(site_id)
    return {"items_removed": erase_member_data(get_engine(), site_id, email)}
