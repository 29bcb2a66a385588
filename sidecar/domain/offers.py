"""The offer email's content, chosen by the reason the member gave, and the one-time coupon the
bridge creates for members who found it too expensive."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from .. import bridge
from .events import parse_timestamp

log = logging.getLogger(__name__)

# Only a price concern gets a discount: discounts offered to everyone teach members to cancel.
VARIANT_BY_REASON = {
    "too_expensive": "discount",
    "unused": "pause",
    "temporary": "pause",
    "missing_features": "whats_new",
    "customer_service": "personal",
}
COUPON_ROUTE = "coupons"
COUPON_TIMEOUT_SECONDS = 8.0
_CODE = re.compile(r"^[\x21-\x7e]{1,64}$")


@dataclass(frozen=True)
class Offer:
    variant: str
    code: str | None = None
    percent: int | None = None
    expires_at: datetime | None = None
    text: str | None = None
    news_url: str | None = None


@dataclass(frozen=True)
class Coupon:
    code: str
    expires_at: datetime | None
    percent: int | None


def variant_for(reason: str | None) -> str:
    return VARIANT_BY_REASON.get(reason or "", "default")


def coupon_request(member: dict, subscription: dict, percent: int, days: int, now: datetime) -> dict:
    """The body of ``POST {site}/?rest_route=/farewell/v1/coupons`` (docs/PROTOCOL.md)."""
    return {
        "member": {"id": member["external_id"], "email": member["email"]},
        "subscription": {"id": subscription["external_id"], "source": subscription["source"],
                         "plan_id": subscription["plan_id"]},
        "discount": {"type": "percent", "percent": percent},
        "usage_limit": 1,
        "expires_at": (now + timedelta(days=days)).isoformat().replace("+00:00", "Z"),
    }


def create_coupon(site: dict, request_body: dict, reference: str, allowed_networks=()) -> Coupon | None:
    """Ask the bridge for a one-time coupon; None when it cannot make one (unreachable, refused,
    a plugin without coupons, a nonsense answer), and the caller falls back.

    The request is signed with the real time, never the jobs' (possibly accelerated) clock: the
    bridge checks the timestamp against its own clock. ``allowed_networks``: FAREWELL_BRIDGE_ALLOWED_NETWORKS."""
    try:
        answer = bridge.call(site, COUPON_ROUTE, request_body, webhook_id=reference,
                             timeout=COUPON_TIMEOUT_SECONDS, allowed_networks=allowed_networks)
    except (bridge.BridgeUnavailable, bridge.BridgeRefused) as error:
        log.warning("no coupon from the bridge of %s: %s", site["id"], error)
        return None
    code = answer.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        log.warning("the bridge of %s answered without a usable coupon code", site["id"])
        return None
    expires_at = None
    if isinstance(answer.get("expires_at"), str):
        try:
            expires_at = parse_timestamp(answer["expires_at"])
        except ValueError:
            expires_at = None
    return Coupon(code=code, expires_at=expires_at, percent=request_body["discount"]["percent"])


def offer_for(reason: str | None, settings: dict, coupon: Coupon | None) -> Offer:
    variant = variant_for(reason)
    if variant == "discount":
        if coupon is not None:
            return Offer("discount", code=coupon.code, percent=coupon.percent, expires_at=coupon.expires_at)
        return Offer("discount", code=settings["default_offer_code"])
    if variant == "whats_new":
        return Offer("whats_new", news_url=settings["news_url"])
    if variant == "default":
        return Offer("default", code=settings["default_offer_code"], text=settings["default_offer_text"])
    return Offer(variant)
