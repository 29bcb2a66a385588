"""``GET /v1/sites/{site_id}/summary``: the current week's headline figures for the Farewell page
in wp-admin, signed by the bridge like every other site route."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint

from ...db import get_engine
from ...domain.digest import build_digest, week_of
from ...domain.sequences import member_timezone
from ..signed import signed_request
from . import common

bp = Blueprint("dashboard_summary", __name__)


def week_summary(conn, site: dict, now: datetime) -> dict:
    """This week so far (Monday 00:00 in the site's time zone until now), as plain JSON data."""
    week = week_of(now, member_timezone(site))
    digest = build_digest(conn, site, week, now)
    figures = digest["headline"]["week"]
    return {
        "week": str(week),
        "start": digest["start"],
        "cancellations": figures["cancellations"],
        "cancellations_by_member": figures["by_member"],
        "revenue_lost": {currency: str(amount) for currency, amount in figures["revenue_lost"].items()},
        "answer_rate": figures["answer_rate"],
        "winbacks": figures["winbacks"],
        "revenue_won_back": {currency: str(amount) for currency, amount in figures["revenue_won_back"].items()},
        "open_contact_requests": digest["contact_requests"]["open_count"],
        "digest": digest,
    }


@bp.get("/v1/sites/<site_id>/summary")
def summary(site_id: str):
    site, _body = signed_request(site_id)
    with get_engine().connect() as conn:
        # The dashboard's one clock, which the overview reads too (and a test can pin).
        data = week_summary(conn, site, common.now())
    data.pop("digest")
    return data
