"""Do the follow-ups work? A holdout (issue 20): a share of voluntary cancellations gets the
farewell and nothing else, and the win-back rates of both groups are compared.

The rules:

1. Who is compared. Each cancellation by the member (``initiated_by`` "member", kind
   "cancelled") that arrives live is given a group when it opens, once and for ever, stored with
   it (``cancellations.followup_group``): "followups" or "holdout". Outside the comparison, with
   no group: cancellations by an admin, the gateway or the system (they get no follow-up anyway),
   imported history (its emails were never ours to send), and every cancellation opened before
   this rule existed (all of them were followed up).
2. How the group is drawn. ``draw`` = HMAC-SHA256 of the site's secret seed over the site id, the
   subscription's source and id, and the moment of the cancel, read as a number in [0, 1); the
   cancellation is in the holdout when it is below the site's share at that moment
   (``holdout_percent``, 10 % unless the owner changed it, 0 to 50). Nothing the member did or said
   enters it, so the two groups differ only by chance; the same cancellation, however often its
   event is applied again, draws the same number, and once stored its group never changes.
3. What the holdout gets. The farewell, which confirms the cancel and carries the survey: that is
   service. No marketing step (sidecar.domain.sequences plans none for it).
4. Unsubscribed members. A member whose address had been unsubscribed (or had bounced) before they
   cancelled is left out of both groups when the figures are read: no follow-up could reach them.
   One who unsubscribes afterwards stays in their group: leaving them out would take out of the
   follow-ups group only the members its emails annoyed.
5. When a cancellation is judged. Once its win-back window has passed (the site's
   ``winback_window_days``, 90 days by default: the last email at 60 days, and 30 days to come
   back after it), so both groups had the same time to come back; a win-back is what
   sidecar.domain.winbacks records (a comeback within that window), whichever email came before.
6. What is said. The difference of the two win-back rates in percentage points, with its 95 %
   interval (Newcombe's hybrid score interval, sidecar.domain.proportions):
   - "too early to tell (n = …)" while either group has fewer than MIN_PER_GROUP judged
     cancellations;
   - "no measurable effect yet" while the interval holds 0;
   - else "about N more (or fewer) members per 100 cancellations, between L and H", the bounds
     rounded outwards so that the sentence never claims more than the interval does;
   - with a share of 0 %, that the effect cannot be measured.
   Per reason the same, for each reason with at least MIN_PER_GROUP judged cancellations in each
   group. The reason counts only when the member gave it before the first marketing email was due:
   a later answer may have come from that email, which only one group receives.
   Per step it cannot be measured: the holdout receives no step at all.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy.engine import Connection

from ..storage import holdout as store
from ..storage import sites as sites_store
from .monthly_amounts import CENTS, MONTHLY_FACTOR
from .proportions import newcombe_difference

FOLLOWUPS = "followups"
HOLDOUT = "holdout"
GROUPS = (FOLLOWUPS, HOLDOUT)
MIN_PER_GROUP = 20
CONFIDENCE = 0.95


def draw(seed: str, site_id: str, source: str, subscription_id: str, cancelled_at: datetime) -> float:
    """A number in [0, 1) fixed by the seed and the cancellation's identity (rule 2)."""
    identity = "\n".join((site_id, source, subscription_id, _utc_text(cancelled_at)))
    digest = hmac.new(seed.encode(), identity.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def _utc_text(at: datetime) -> str:
    # The same moment gives the same text whichever offset it was written with; a naive datetime
    # is UTC in this code base (UTCDateTime).
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc)
    return at.replace(tzinfo=None).isoformat(timespec="microseconds")


def group_for(seed: str | None, percent: int, site_id: str, cancellation: dict, source: str,
              subscription_id: str, imported: bool) -> str | None:
    """The group of a cancellation that opens now, or None when it is outside the comparison (rule 1)."""
    if imported or seed is None or cancellation["initiated_by"] != "member" or cancellation["kind"] != "cancelled":
        return None
    number = draw(seed, site_id, source, subscription_id, cancellation["cancelled_at"])
    return HOLDOUT if number < percent / 100 else FOLLOWUPS


def assign(conn: Connection, site_id: str, cancellation: dict, source: str, subscription_id: str,
           imported: bool) -> str | None:
    """The group for a cancellation being opened by the applier (a step of its transaction)."""
    from .site_settings import effective_settings

    if cancellation.get("followup_group"):
        return cancellation["followup_group"]  # drawn once, for ever
    site = sites_store.get_site(conn, site_id)
    percent = effective_settings(conn, site_id)["holdout_percent"]
    return group_for(site["holdout_seed"] if site else None, percent, site_id, cancellation, source,
                     subscription_id, imported)


# --- the figures --------------------------------------------------------------------------------


def effect(conn: Connection, site_id: str, email_hash, now: datetime) -> dict:
    """What the dashboard and the digest show (rules 4 to 6). ``email_hash`` turns an address into
    its suppression key (sidecar.domain.unsubscribe.email_hash with the secret key)."""
    from .sequences import configured_steps
    from .site_settings import effective_settings

    settings = effective_settings(conn, site_id)
    window = timedelta(days=settings["winback_window_days"])
    judged_until = now - window
    rows = store.grouped_cancellations(conn, site_id, judged_until, GROUPS)
    keys = {row["email"]: email_hash(row["email"]) for row in rows if row["email"]}
    # Only the compared members' addresses: the site's whole list grows with its history.
    suppressed = store.suppressed_since(conn, site_id, keys.values())
    compared = [row for row in rows if not _unsubscribed_before(row, suppressed, keys)]
    marketing = [c.delay for c in configured_steps(conn, site_id).values() if c.step.marketing and c.enabled]
    reason_cutoff = min(marketing) if marketing else window
    result = _compare(compared)
    result.update(
        holdout_percent=settings["holdout_percent"], judged_after_days=window.days, judged_until=judged_until,
        left_out_unsubscribed=len(rows) - len(compared),
        waiting=store.grouped_count_since(conn, site_id, judged_until, GROUPS),
    )
    if settings["holdout_percent"] == 0:
        result["verdict"] = "off"
    by_reason: dict[str, list[dict]] = {}
    for row in compared:
        if row["reason"] and row["answered_at"] is not None \
                and row["answered_at"] - row["cancelled_at"] <= reason_cutoff:
            by_reason.setdefault(row["reason"], []).append(row)
    result["reasons"] = [
        {"reason": reason, **_compare(reason_rows)} for reason, reason_rows in sorted(by_reason.items())
        if min(_counts(reason_rows).values()) >= MIN_PER_GROUP
    ]
    return result


def _unsubscribed_before(row: dict, suppressed: dict, keys: dict) -> bool:
    since = suppressed.get(keys[row["email"]]) if row["email"] else None
    return since is not None and since <= row["cancelled_at"]


def _counts(rows: list[dict]) -> dict[str, int]:
    counts = dict.fromkeys(GROUPS, 0)
    for row in rows:
        counts[row["followup_group"]] += 1
    return counts


def _compare(rows: list[dict]) -> dict:
    groups = {}
    for group in GROUPS:
        members = [row for row in rows if row["followup_group"] == group]
        won = [row for row in members if row["won_back"]]
        revenue: dict[str, Decimal] = {}
        for row in won:
            factor = MONTHLY_FACTOR.get(row["interval"] or "")
            if row["amount"] is not None and row["currency"] and factor is not None:
                revenue[row["currency"]] = revenue.get(row["currency"], Decimal(0)) + Decimal(row["amount"]) * factor
        groups[group] = {
            "n": len(members), "winbacks": len(won), "rate": len(won) / len(members) if members else None,
            # Monthly revenue won back per 100 cancellations of the group (monthly_amounts).
            "revenue_per_100": {currency: (amount * 100 / len(members)).quantize(CENTS)
                                for currency, amount in sorted(revenue.items())},
        }
    result = {"groups": groups, "n": len(rows), "difference": None, "lower": None, "upper": None}
    f, h = groups[FOLLOWUPS], groups[HOLDOUT]
    if min(f["n"], h["n"]) < MIN_PER_GROUP:
        result["verdict"] = "too_early"
        return result
    difference, lower, upper = newcombe_difference(f["winbacks"], f["n"], h["winbacks"], h["n"], CONFIDENCE)
    result.update(difference=difference, lower=lower, upper=upper)
    if lower <= 0 <= upper:
        result["verdict"] = "no_effect"
    elif lower > 0:
        result.update(verdict="more", **_per_100(difference, lower, upper))
    else:
        result.update(verdict="fewer", **_per_100(-difference, -upper, -lower))
    return result


def _per_100(about: float, low: float, high: float) -> dict:
    """Members per 100 cancellations, for the sentence: the bounds rounded outwards (low down, high
    up) so the words never say more than the interval, whole numbers unless the low bound is
    under one member per 100 (then one decimal, so it does not read as "between 0")."""
    about, low, high = about * 100, low * 100, high * 100
    digits = 0 if low >= 1 else 1
    scale = 10 ** digits
    return {"about": round(about, digits) if digits else round(about),
            "low": math.floor(low * scale) / scale if digits else math.floor(low),
            "high": math.ceil(high * scale) / scale if digits else math.ceil(high)}


def sentence(result: dict) -> tuple[str, dict]:
    """The key of the plain sentence (i18n section "holdout") and its values."""
    verdict = result["verdict"]
    if verdict == "too_early":
        return "too_early", {"n": result["n"]}
    if verdict in ("more", "fewer"):
        return verdict, {"about": result["about"], "low": result["low"], "high": result["high"]}
    return verdict, {}
