"""The admin JSON API, for owners' tools and the dashboard: bearer-token authenticated."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from datetime import datetime, timezone

from flask import Blueprint, current_app, request

from ..db import get_engine
from ..domain.events import parse_timestamp
from ..domain.tokens import survey_token, survey_url
from ..metrics import age_seconds
from ..storage.cancellations import get_cancellation, list_cancellations
from ..storage.events import unapplied_events as list_unapplied_events
from ..storage.events import unapplied_figures
from ..storage.surveys import list_contact_requests
from ..storage.sites import get_site
from .errors import ApiError
from .formats import iso, money

bp = Blueprint("admin", __name__)

DEFAULT_PAGE = 50
MAX_PAGE = 500


@bp.before_request
def require_admin_token():
    expected = current_app.config.get("FAREWELL_ADMIN_TOKEN")
    given = request.headers.get("Authorization", "")
    # No token configured means no admin API at all, never an open one.
    if not expected or not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        raise ApiError(401, "unauthorized")


def _site_or_404(conn, site_id: str) -> dict:
    site = get_site(conn, site_id)
    if site is None:
        raise ApiError(404, "unknown_site")
    return site


@bp.get("/v1/sites/<site_id>/cancellations")
def cancellations(site_id: str):
    fields: dict[str, str] = {}
    bounds = {}
    for name in ("since", "until"):
        value = request.args.get(name)
        if value:
            try:
                bounds[name] = parse_timestamp(value)
            except ValueError as error:
                fields[name] = str(error)
    limit = request.args.get("limit", str(DEFAULT_PAGE))
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_PAGE:
        fields["limit"] = f"must be a whole number from 1 to {MAX_PAGE}"
    after = None
    if request.args.get("cursor"):
        try:
            after = _decode_cursor(request.args["cursor"])
        except ValueError:
            fields["cursor"] = "is not a cursor returned by this API"
    if fields:
        raise ApiError(400, "invalid_query", fields=fields)
    page = int(limit)
    with get_engine().connect() as conn:
        _site_or_404(conn, site_id)
        rows = list_cancellations(conn, site_id, bounds.get("since"), bounds.get("until"), page + 1, after)
    more = len(rows) > page
    rows = rows[:page]
    return {
        "items": [_cancellation(row) for row in rows],
        "next_cursor": _encode_cursor(rows[-1]) if more else None,
    }


def _cancellation(row: dict) -> dict:
    return {
        "id": row["id"],
        "member": {
            "id": row["member_id"],
            "email": row["member_email"],
            "first_name": row["member_first_name"],
            "locale": row["member_locale"],
        },
        "subscription": {
            "id": row["subscription_id"],
            "plan_id": row["plan_id"],
            "plan_name": row["plan_name"],
            "amount": money(row["amount"]),
            "currency": row["currency"],
            "interval": row["interval"],
            "status": row["status"],
        },
        "source": row["source"],
        "initiated_by": row["initiated_by"],
        "kind": row["kind"],
        "cancelled_at": iso(row["cancelled_at"]),
        "access_ends_at": iso(row["access_ends_at"]),
        "resumed_at": iso(row["resumed_at"]),
        "ended_at": iso(row["ended_at"]),
        "reason": row["reason"],
        "follow_up": row["follow_up"],
        "comment": row["comment"],
        "contact_requested": bool(row["contact_requested"]),
        "answered_at": iso(row["answered_at"]),
        # The holdout group, as the answers' CSV has it (sidecar.domain.holdout): None is outside the comparison.
        "group": row["followup_group"],
    }


def _encode_cursor(row: dict) -> str:
    raw = json.dumps([iso(row["cancelled_at"]), row["id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple:
    try:
        at, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(last_id, int):
            raise ValueError
        return parse_timestamp(at), last_id
    except (binascii.Error, TypeError, ValueError, RecursionError) as error:
        raise ValueError("bad cursor") from error


@bp.get("/v1/sites/<site_id>/contact-requests")
def contact_requests(site_id: str):
    """Members who asked to be contacted, oldest waiting first; ``status`` open (default), answered or all."""
    status = request.args.get("status", "open")
    if status not in ("open", "answered", "all"):
        raise ApiError(400, "invalid_query", fields={"status": "must be one of: open, answered, all"})
    now = datetime.now(timezone.utc)
    with get_engine().connect() as conn:
        _site_or_404(conn, site_id)
        rows = list_contact_requests(conn, site_id, status)
    return {"items": [
        {
            "id": row["id"],
            "member": {"id": row["member_external_id"], "email": row["email"], "first_name": row["first_name"]},
            "contact": row["contact"],
            "reason": row["reason"],
            "comment": row["comment"],
            "cancellation_id": row["cancellation_id"],
            "requested_at": iso(row["requested_at"]),
            "answered_at": iso(row["answered_at"]),
            "waited_seconds": int(((row["answered_at"] or now) - row["requested_at"]).total_seconds()),
        }
        for row in rows
    ]}


@bp.get("/v1/sites/<site_id>/unapplied-events")
def unapplied_events(site_id: str):
    """The site's events accepted (202) but not applied yet: pending (the applier will apply them
    within moments, or retry them at ``next_attempt_at``) or parked after failing every attempt,
    with their error (``python -m sidecar events reapply`` tries them again)."""
    now = datetime.now(timezone.utc)
    with get_engine().connect() as conn:
        _site_or_404(conn, site_id)
        figures = unapplied_figures(conn, site_id)
        rows = list_unapplied_events(conn, site_id, MAX_PAGE)
    return {
        "pending": figures["pending"],
        "parked": figures["parked"],
        "oldest_unapplied_age_seconds": age_seconds(figures["oldest_received_at"], now),
        "items": [
            {
                "webhook_id": row["webhook_id"],
                "type": row["type"],
                "occurred_at": iso(row["occurred_at"]),
                "received_at": iso(row["received_at"]),
                "status": "pending" if row["apply_after"] is not None else "parked",
                "attempts": row["apply_attempts"],
                "next_attempt_at": iso(row["apply_after"]),
                "error": row["apply_error"],
            }
            for row in rows
        ],
    }


# signed=True: a negative id is an unknown cancellation (JSON 404 unknown_cancellation), not an unknown route.
@bp.get("/v1/sites/<site_id>/cancellations/<int(signed=True):cancellation_id>/survey-link")
def survey_link(site_id: str, cancellation_id: int):
    """A link the member can use for 60 days to answer the survey about this cancellation."""
    with get_engine().connect() as conn:
        site = _site_or_404(conn, site_id)
        # Ids are positive 64-bit integers; a larger one would overflow the database driver.
        if not 1 <= cancellation_id < 2**63 or get_cancellation(conn, site_id, cancellation_id) is None:
            raise ApiError(404, "unknown_cancellation")
    token = survey_token(current_app.config["SECRET_KEY"], site_id, cancellation_id)
    return {"token": token, "url": survey_url(site["url"], token)}


@bp.get("/v1/sites/<site_id>/digest")
def digest(site_id: str):
    """The weekly digest's figures as JSON (default: the last full week in the site's time zone)."""
    from ..domain.digest import IsoWeek, build_digest, week_of
    from ..domain.sequences import member_timezone

    now = datetime.now(timezone.utc)
    with get_engine().connect() as conn:
        site = _site_or_404(conn, site_id)
        try:
            week = IsoWeek.parse(request.args["week"]) if request.args.get("week") else \
                week_of(now, member_timezone(site)).previous()
        except ValueError as error:
            raise ApiError(400, "invalid_query", fields={"week": str(error)}) from None
        data = build_digest(conn, site, week, now)
    return json.loads(json.dumps(data, default=str))  # Decimal money as exact strings ("90.42")
