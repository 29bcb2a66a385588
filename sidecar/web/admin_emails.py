"""The admin JSON API for follow-up emails and win-backs (bearer token, like sidecar.web.admin)."""

from __future__ import annotations

from flask import Blueprint, request

from ..db import get_engine
from ..storage.emails import list_emails
from ..storage.winbacks import list_winbacks
from .admin import _site_or_404, require_admin_token
from .errors import ApiError
from .formats import iso, money

bp = Blueprint("admin_emails", __name__)
bp.before_request(require_admin_token)

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def _limit() -> int:
    limit = request.args.get("limit", str(DEFAULT_LIMIT))
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
        raise ApiError(400, "invalid_query", fields={"limit": f"must be a whole number from 1 to {MAX_LIMIT}"})
    return int(limit)


@bp.get("/v1/sites/<site_id>/emails")
def emails(site_id: str):
    """Scheduled and sent emails, the latest due first; ``member_id`` (WordPress user id) narrows to one member."""
    member_id = request.args.get("member_id")
    if member_id is not None and not 1 <= len(member_id) <= 64:
        raise ApiError(400, "invalid_query", fields={"member_id": "must be 1 to 64 characters"})
    limit = _limit()
    with get_engine().connect() as conn:
        _site_or_404(conn, site_id)
        rows = list_emails(conn, site_id, member_id, limit)
    return {"items": [
        {
            "id": row["id"],
            "member": {"id": row["member_external_id"], "email": row["email"]},
            "cancellation_id": row["cancellation_id"],
            "contact_request_id": row["contact_request_id"],
            "step": row["step"],
            "status": row["status"],
            "due_at": iso(row["due_at"]),
            "sent_at": iso(row["sent_at"]),
            "skip_reason": row["skip_reason"],
            "attempts": row["attempts"],
            # Above zero: a jobs process died while sending it, so the member may have received it twice.
            "interrupted_sends": row["interrupted_sends"],
            "last_error": row["last_error"],
            "coupon_code": row["coupon_code"],
        }
        for row in rows
    ]}


@bp.get("/v1/sites/<site_id>/winbacks")
def winbacks(site_id: str):
    """Members who came back, newest first, with the email that preceded their return."""
    limit = _limit()
    with get_engine().connect() as conn:
        _site_or_404(conn, site_id)
        rows = list_winbacks(conn, site_id, limit)
    return {"items": [
        {
            "id": row["id"],
            "member": {"id": row["member_external_id"], "email": row["email"], "first_name": row["first_name"]},
            "cancellation_id": row["cancellation_id"],
            "cancelled_at": iso(row["cancelled_at"]),
            # A win-back in the holdout came back with no follow-up email (sidecar.domain.holdout).
            "group": row["followup_group"],
            "won_back_at": iso(row["won_back_at"]),
            "event_type": row["event_type"],
            "amount": money(row["amount"]),
            "currency": row["currency"],
            "last_email": {"id": row["last_email_id"], "step": row["last_email_step"]}
            if row["last_email_id"] else None,
            "coupon_code": row["coupon_code"],
        }
        for row in rows
    ]}
