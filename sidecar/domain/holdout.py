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
7. What is read. The judged cancellations' counts are kept per site (holdout_tallies) and a view
   counts on from them over those judged since, so its cost does not grow with the years; what it
   shows is what counting every judged cancellation shows (``recount``). Every change to a kept
   cancellation's inputs forgets them (sidecar.storage.holdout says how, and why never too late).
"""

from __future__ import annotations

import hashlib
import hmac
import json
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
    its suppression key (sidecar.domain.unsubscribe.email_hash with the secret key).

    The judged cancellations' counts are kept (holdout_tallies, sidecar.storage.holdout says how
    they are never stale): a view reads only those judged since, and counts on from the kept
    figures, in the same order, so the result is the one counting them all gives (``recount``)."""
    from .sequences import configured_steps
    from .site_settings import effective_settings

    settings = effective_settings(conn, site_id)
    window = timedelta(days=settings["winback_window_days"])
    judged_until = now - window
    marketing = [c.delay for c in configured_steps(conn, site_id).values() if c.step.marketing and c.enabled]
    reason_cutoff = min(marketing) if marketing else window
    counts = _kept_counts(conn, site_id, email_hash, judged_until, reason_cutoff)
    return _result(conn, site_id, settings, window, judged_until, counts)


def recount(conn: Connection, site_id: str, email_hash, now: datetime) -> dict:
    """``effect`` from every judged cancellation, keeping nothing: what the kept figures must equal."""
    from .sequences import configured_steps
    from .site_settings import effective_settings

    settings = effective_settings(conn, site_id)
    window = timedelta(days=settings["winback_window_days"])
    judged_until = now - window
    marketing = [c.delay for c in configured_steps(conn, site_id).values() if c.step.marketing and c.enabled]
    reason_cutoff = min(marketing) if marketing else window
    counts = _count(_new_counts(), store.grouped_cancellations(conn, site_id, judged_until, GROUPS), email_hash,
                    conn, site_id, reason_cutoff)
    return _result(conn, site_id, settings, window, judged_until, counts)


def _result(conn: Connection, site_id: str, settings: dict, window: timedelta, judged_until: datetime,
            counts: dict) -> dict:
    result = _verdict(counts["all"])
    result.update(
        holdout_percent=settings["holdout_percent"], judged_after_days=window.days, judged_until=judged_until,
        left_out_unsubscribed=counts["left_out"],
        waiting=store.grouped_count_since(conn, site_id, judged_until, GROUPS),
    )
    if settings["holdout_percent"] == 0:
        result["verdict"] = "off"
    result["reasons"] = [
        {"reason": reason, **_verdict(reason_counts)} for reason, reason_counts in sorted(counts["reasons"].items())
        if min(group["n"] for group in reason_counts.values()) >= MIN_PER_GROUP
    ]
    return result


# Figures are kept once the cancellations judged since they were kept span this long, so a view
# writes at most about once a day; the claim runs this far ahead of the judging bound, so it is
# moved about once a day too. A writer touching a cancellation within the claim but not judged
# yet forgets the kept figures needlessly; a day keeps that rare (a comeback in the window's last
# day, an answer replaced then).
KEEP_AFTER = timedelta(days=1)
CLAIM_AHEAD = timedelta(days=1)
# The address key's function is part of what was counted: a new secret key keys addresses anew.
KEY_PROBE = "holdout-key-probe@farewell.invalid"


def _kept_counts(conn: Connection, site_id: str, email_hash, judged_until: datetime,
                 reason_cutoff: timedelta) -> dict:
    state = store.tally(conn, site_id)
    if state is None:  # a site without its row (none after migration 0016): count them all
        return _count(_new_counts(), store.grouped_cancellations(conn, site_id, judged_until, GROUPS), email_hash,
                      conn, site_id, reason_cutoff)
    probe, cutoff = email_hash(KEY_PROBE), int(reason_cutoff.total_seconds())
    if state["claimed_until"] is None or state["claimed_until"] < judged_until:
        # The claim first, committed: it waits for the writers that read the former one, and the
        # rows read below (each statement sees what is committed) include what they wrote.
        store.at_once(conn, lambda claiming: store.claim(claiming, site_id, judged_until + CLAIM_AHEAD))
        state = store.tally(conn, site_id)
    usable = (state["figures"] is not None and state["tally_generation"] == state["generation"]
              and state["bound"] <= judged_until and state["reason_cutoff_seconds"] == cutoff
              and state["key_probe"] == probe)
    counts, after = (_decode(state["figures"]), state["bound"]) if usable else (_new_counts(), None)
    # The generation was read before these rows: a writer that commits after it bumps it.
    rows = store.grouped_cancellations(conn, site_id, judged_until, GROUPS, after=after)
    counts = _count(counts, rows, email_hash, conn, site_id, reason_cutoff)
    if after is None or judged_until - after >= KEEP_AFTER:
        figures = _encode(counts)
        store.at_once(conn, lambda keeping: store.keep(keeping, site_id, state["generation"], judged_until, cutoff,
                                                        probe, figures))
    return counts


def _new_counts() -> dict:
    return {"all": _new_groups(), "reasons": {}, "left_out": 0}


def _new_groups() -> dict:
    return {group: {"n": 0, "winbacks": 0, "revenue": {}} for group in GROUPS}


def _count(counts: dict, rows: list[dict], email_hash, conn: Connection, site_id: str,
           reason_cutoff: timedelta) -> dict:
    """``counts`` with ``rows`` (oldest first, all after those already counted) added, in order:
    revenue sums in the same order as one pass over every row, so they are equal to the last digit."""
    keys = {row["email"]: email_hash(row["email"]) for row in rows if row["email"]}
    # Only the compared members' addresses: the site's whole list grows with its history.
    suppressed = store.suppressed_since(conn, site_id, keys.values())
    for row in rows:
        if _unsubscribed_before(row, suppressed, keys):
            counts["left_out"] += 1
            continue
        _add(counts["all"], row)
        if row["reason"] and row["answered_at"] is not None \
                and row["answered_at"] - row["cancelled_at"] <= reason_cutoff:
            _add(counts["reasons"].setdefault(row["reason"], _new_groups()), row)
    return counts


def _add(groups: dict, row: dict) -> None:
    group = groups[row["followup_group"]]
    group["n"] += 1
    if row["won_back"]:
        group["winbacks"] += 1
        factor = MONTHLY_FACTOR.get(row["interval"] or "")
        if row["amount"] is not None and row["currency"] and factor is not None:
            revenue = group["revenue"]
            revenue[row["currency"]] = revenue.get(row["currency"], Decimal(0)) + Decimal(row["amount"]) * factor


def _encode(counts: dict) -> str:
    # Decimals as their exact text: counting on from them gives the same digits.
    return json.dumps(counts, default=str, sort_keys=True)


def _decode(text: str) -> dict:
    counts = json.loads(text)
    for groups in (counts["all"], *counts["reasons"].values()):
        for group in groups.values():
            group["revenue"] = {currency: Decimal(amount) for currency, amount in group["revenue"].items()}
    return counts


def _unsubscribed_before(row: dict, suppressed: dict, keys: dict) -> bool:
    since = suppressed.get(keys[row["email"]]) if row["email"] else None
    return since is not None and since <= row["cancelled_at"]


def _compare(rows: list[dict]) -> dict:
    """The verdict on these rows alone (every one compared)."""
    groups = _new_groups()
    for row in rows:
        _add(groups, row)
    return _verdict(groups)


def _verdict(counted: dict) -> dict:
    groups = {}
    for group in GROUPS:
        n, won, revenue = counted[group]["n"], counted[group]["winbacks"], counted[group]["revenue"]
        groups[group] = {
            "n": n, "winbacks": won, "rate": won / n if n else None,
            # Monthly revenue won back per 100 cancellations of the group (monthly_amounts).
            "revenue_per_100": {currency: (amount * 100 / n).quantize(CENTS)
                                for currency, amount in sorted(revenue.items())},
        }
    result = {"groups": groups, "n": sum(g["n"] for g in groups.values()), "difference": None, "lower": None,
              "upper": None}
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


# --- what forgets the kept figures (sidecar.storage.holdout's protocol) --------------------------


def before_events(conn: Connection, events) -> dict:
    """Called in the transaction that applies these (site id, Event), before them: what
    ``touched_by_events`` compares with."""
    return store.before_events(conn, [(site_id, getattr(event.member, "id", None)) for site_id, event in events],
                               GROUPS)


def touched_by_events(conn: Connection, event_ids, before: dict | None = None) -> None:
    """Called in the transaction that applied these events, after them."""
    store.touched_by_events(conn, event_ids, GROUPS, before)


def touched_members(conn: Connection, site_id: str, member_ids) -> None:
    """Called in the transaction that changed these members otherwise (a privacy erasure)."""
    store.touched_members(conn, site_id, member_ids, GROUPS)
