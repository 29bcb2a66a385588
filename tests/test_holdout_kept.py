"""The holdout's kept figures (issue 20, holdout_tallies): a view counts on from the judged
cancellations' kept counts instead of reading every one, and what it shows is exactly what
counting them all shows (``holdout.recount``), whatever changed in between.

Each change below goes through the code that makes it in production (the applier, the
unsubscribe, the privacy erasure, the settings), on SQLite and on MariaDB. Figures are read in a
committed transaction, as the dashboard's routes read them, so that what they keep is kept.
"""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from sidecar.domain import holdout
from sidecar.domain.events import parse_event
from sidecar.domain.holdout import CONFIDENCE, FOLLOWUPS, GROUPS, HOLDOUT, MIN_PER_GROUP
from sidecar.domain.applier import apply_all_pending
from sidecar.domain.ingest import accept_event, record_event
from sidecar.domain.monthly_amounts import CENTS, MONTHLY_FACTOR
from sidecar.domain.privacy import erase_member_data
from sidecar.domain.proportions import newcombe_difference
from sidecar.domain.sequences import configured_steps
from sidecar.domain.site_settings import effective_settings, update_settings
from sidecar.domain.unsubscribe import email_hash, suppress_address
from sidecar.storage import holdout as store
from sidecar.storage import site_settings as settings_store
from sidecar.storage.tables import (cancellations, events, holdout_tallies, members, subscriptions, suppressions,
                                    survey_answers, winbacks)
from tests import test_holdout
from tests.conftest import make_event
from tests.test_holdout import NOW, SECRET, T0, _hash, _Work

club = test_holdout.club  # the same site fixture as the holdout's tests

REASONS = ("too_expensive", "unused", "temporary")
# Intervals with long monthly factors (a day is 365/12 of a month) make the revenue sums' last
# digits depend on the order they are added in: counting on must keep it.
INTERVALS = ("day", "week", "month", "year", None, "lifetime")
BASE = 500_000


def _seed(engine, site, rng: random.Random, count: int) -> list[dict]:
    """``count`` grouped cancellations over the 400 days before NOW (most judged, some not yet),
    written as the applier leaves them: answers (some after the first marketing email), win-backs
    on subscriptions of every interval and currency, addresses shared by two members, and
    suppressions before and after the cancel. Returns the members (id, address, when)."""
    rows = {t: [] for t in (members, subscriptions, events, cancellations, survey_answers, winbacks, suppressions)}
    seeded = []
    for n in range(count):
        i = BASE + n
        at = NOW - timedelta(days=400) + timedelta(seconds=rng.randrange(0, 400 * 86400))
        email = f"k{i if rng.random() > 0.05 else BASE}@example.org"  # a few share one address
        common = {"site_id": site["id"]}
        rows[members].append({**common, "id": i, "external_id": f"k{i}", "email": email, "details_at": at,
                              "created_at": at})
        for sub in (i, i + count):  # the cancelled subscription, and the one a comeback starts
            rows[subscriptions].append({**common, "id": sub, "source": "memberpress", "external_id": f"ks{sub}",
                                        "member_id": i, "interval": rng.choice(INTERVALS), "status": "cancelled",
                                        "status_at": at, "details_at": at, "created_at": at})
        rows[events].append({**common, "id": i, "webhook_id": f"ke{i}", "type": "subscription.cancelled",
                             "source": "memberpress", "initiated_by": "member", "occurred_at": at, "received_at": at,
                             "member_id": i, "subscription_id": i, "payload": "{}"})
        group = HOLDOUT if rng.random() < 0.3 else FOLLOWUPS
        rows[cancellations].append({**common, "id": i, "member_id": i, "subscription_id": i, "event_id": i,
                                    "initiated_by": "member", "kind": "cancelled", "cancelled_at": at, "created_at": at,
                                    "followup_group": group})
        if rng.random() < 0.6:
            answered = at + timedelta(minutes=rng.randrange(1, 10 * 24 * 60))
            rows[survey_answers].append({**common, "id": i, "member_id": i, "cancellation_id": i, "event_id": i,
                                         "definition_version": 1, "reason": rng.choice(REASONS + (None,)),
                                         "contact_requested": False, "answered_at": answered, "created_at": answered,
                                         "updated_at": answered})
        won = rng.random() < (0.25 if group == FOLLOWUPS else 0.12)
        if won:
            back = at + timedelta(days=rng.randrange(1, 80))
            rows[winbacks].append({**common, "id": i, "member_id": i, "cancellation_id": i, "event_id": i,
                                   "subscription_id": i + count, "event_type": "subscription.resumed",
                                   "won_back_at": back, "amount": rng.choice(("9.99", "29.00", "120.50", None)),
                                   "currency": rng.choice(("EUR", "USD", None)), "created_at": back})
        if rng.random() < 0.08 and email != f"k{BASE}@example.org":
            since = at + timedelta(days=rng.choice((-3, 0, 3)))  # before, at (left out) or after (kept)
            rows[suppressions].append({**common, "email_hash": _hash(email), "reason": "unsubscribed",
                                       "created_at": since})
        seeded.append({"id": i, "email": email, "at": at, "group": group, "won": won})
    with engine.begin() as conn:
        for table, values in rows.items():
            if values:
                conn.execute(insert(table), values)
    return seeded


def _figures(engine, site, now, key=_hash):
    with engine.begin() as conn:
        return holdout.effect(conn, site["id"], key, now)


def _recount(engine, site, now, key=_hash):
    with engine.connect() as conn:
        return holdout.recount(conn, site["id"], key, now)


def _kept(engine, site) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(select(holdout_tallies).where(holdout_tallies.c.site_id == site["id"]))
                    .mappings().one())


def _same(engine, site, now, key=_hash) -> dict:
    """The figures, checked equal to a recount of every judged cancellation, and that to the
    computation before the figures were kept (below)."""
    kept = _figures(engine, site, now, key)
    assert kept == _recount(engine, site, now, key)
    with engine.connect() as conn:
        assert kept == _effect_before(conn, site["id"], key, now)
    return kept


def _event(engine, site, type_: str, member: str, at, webhook_id: str, email: str | None = None, **subscription):
    """An event accepted, then applied by the applier's batch, as in production."""
    document = make_event(type_, at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    document["member"].update(id=member, email=email or f"{member}@example.org")
    document["subscription"].update(id=f"s{member}", **subscription)
    accept_event(engine, site["id"], webhook_id, json.dumps(document), parse_event(document), now=at)
    assert apply_all_pending(engine, now=at).applied == 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kept_figures_equal_a_recount_as_the_bound_moves_and_history_changes(engine, club, seed):
    rng = random.Random(seed)
    update_settings(engine, club["id"], {"holdout_percent": 50})
    seeded = _seed(engine, club, rng, 260)
    moments = [NOW - timedelta(days=60), NOW - timedelta(days=59, hours=20), NOW - timedelta(days=30), NOW,
               NOW + timedelta(hours=5), NOW + timedelta(days=3)]
    first = _same(engine, club, moments[0])
    assert first["n"] > 40 and _kept(engine, club)["figures"] is not None  # kept from the first view
    for step, now in enumerate(moments[1:], start=1):
        judged = [m for m in seeded if m["at"] <= now - timedelta(days=90)]
        member = rng.choice(judged)
        # Between two views, one change of a judged cancellation, made the way production makes it.
        change = step % 5
        if change == 0:  # a comeback delivered months late
            member = rng.choice([m for m in judged if not m["won"]])
            _event(engine, club, "subscription.created", f"k{member['id']}", member["at"] + timedelta(days=10),
                   f"late-comeback-{step}-{seed}", email=member["email"], status="active")
        if change in (0, 1):  # a cancellation delivered months late
            _event(engine, club, "subscription.cancelled", f"late{step}", now - timedelta(days=100 + step),
                   f"late-{step}-{seed}")
        elif change == 2:  # an unsubscribe dated before a judged cancel (a mail server's, replayed)
            with engine.begin() as conn:
                suppress_address(conn, SECRET, club["id"], member["email"], "bounced",
                                 member["at"] - timedelta(hours=1))
        elif change == 3:  # a member's data erased: their address, and so its key, is gone
            erase_member_data(engine, club["id"], member["email"])
        else:  # the owner shortens the window (the bound moves on by a month), then restores it
            update_settings(engine, club["id"], {"winback_window_days": 60})
            _same(engine, club, now)
            update_settings(engine, club["id"], {"winback_window_days": 90})
        _same(engine, club, now)
        _same(engine, club, now)  # and again, from what the first of the two kept


def test_a_second_view_reads_the_judged_cancellations_kept_not_every_one(engine, club):
    """The point of keeping them: the first view counts every judged cancellation, the next ones
    only those judged since. Measured as work the database did (tests/test_holdout.py's _Work)."""
    update_settings(engine, club["id"], {"holdout_percent": 50})
    _seed(engine, club, random.Random(7), 400)
    works = []
    for now in (NOW, NOW + timedelta(hours=1)):
        with engine.begin() as conn:
            work = _Work(conn)
            idle = -work.done() + work.done()
            before = work.done()
            holdout.effect(conn, club["id"], _hash, now)
            works.append(work.done() - before - idle)
    assert works[1] * 5 < works[0], works
    assert _figures(engine, club, NOW + timedelta(hours=1)) == _recount(engine, club, NOW + timedelta(hours=1))


# --- each thing that changes judged figures forgets the kept ones ---------------------------------


@pytest.fixture
def judged(engine, club):
    """A site whose figures say something (25 and 25 judged, answers in time), kept."""
    update_settings(engine, club["id"], {"holdout_percent": 50})
    seeded = []
    for n in range(50):
        member, at = f"j{n}", T0 + timedelta(minutes=n)
        _event(engine, club, "subscription.cancelled", member, at, f"c-{member}")
        with engine.begin() as conn:
            sub = conn.execute(select(subscriptions.c.id)
                               .where(subscriptions.c.external_id == f"s{member}")).scalar_one()
            conn.execute(cancellations.update().where(cancellations.c.subscription_id == sub)
                         .values(followup_group=FOLLOWUPS if n % 2 else HOLDOUT))
        answer = make_event("survey.submitted", (at + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        answer["member"].update(id=member, email=f"{member}@example.org")
        answer["survey"] = {"version": 1, "reason": "too_expensive", "subscription_id": f"s{member}"}
        del answer["subscription"]
        record_event(engine, club["id"], f"a-{member}", json.dumps(answer), parse_event(answer),
                     now=at + timedelta(hours=1))
        if n % 4 == 1:
            _event(engine, club, "subscription.resumed", member, at + timedelta(days=5), f"r-{member}", status="active")
        seeded.append(member)
    with engine.begin() as conn:  # one member unsubscribed before cancelling: left out
        suppress_address(conn, SECRET, club["id"], "j0@example.org", "unsubscribed", T0 - timedelta(days=1))
    before = _same(engine, club, NOW)
    assert _kept(engine, club)["figures"] is not None
    assert before["left_out_unsubscribed"] == 1 and [r["reason"] for r in before["reasons"]] == ["too_expensive"]
    return before


def _changed(engine, club, before, now=NOW, key=_hash):
    after = _same(engine, club, now, key)
    assert after != before  # the change shows: kept figures left as they were would differ
    return after


def test_a_cancellation_that_arrives_late_is_counted(engine, club, judged):
    _event(engine, club, "subscription.cancelled", "late", T0 + timedelta(days=2), "late")
    assert _changed(engine, club, judged)["n"] == judged["n"] + 1


def test_a_comeback_that_arrives_late_is_counted(engine, club, judged):
    _event(engine, club, "subscription.resumed", "j2", T0 + timedelta(days=9), "r-j2", status="active")
    after = _changed(engine, club, judged)
    assert after["groups"][HOLDOUT]["winbacks"] == judged["groups"][HOLDOUT]["winbacks"] + 1


def test_an_answer_replaced_months_later_moves_its_reason(engine, club, judged):
    answer = make_event("survey.submitted", (T0 + timedelta(days=100)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    answer["member"].update(id="j3", email="j3@example.org")
    answer["survey"] = {"version": 1, "reason": "unused", "subscription_id": "sj3"}
    del answer["subscription"]
    record_event(engine, club["id"], "a-j3-again", json.dumps(answer), parse_event(answer),
                 now=T0 + timedelta(days=100))
    after = _changed(engine, club, judged)
    assert after["reasons"][0]["n"] == judged["reasons"][0]["n"] - 1


def test_a_new_address_changes_who_was_unsubscribed_before(engine, club, judged):
    # j0's address was unsubscribed before the cancel; an event gives j0 another one.
    _event(engine, club, "member.updated", "j0", NOW - timedelta(days=1), "new-address",
           email="j0.new@example.org", status="active")
    assert _changed(engine, club, judged)["left_out_unsubscribed"] == 0


def test_an_erasure_changes_the_address_key(engine, club, judged):
    # As counting them all does: the erased member's address is gone, and with it the match
    # with the suppression (which stays, keyed).
    erase_member_data(engine, club["id"], "j0@example.org")
    assert _changed(engine, club, judged)["left_out_unsubscribed"] == 0


def test_a_suppression_dated_before_a_judged_cancel_leaves_it_out(engine, club, judged):
    with engine.begin() as conn:
        suppress_address(conn, SECRET, club["id"], "j5@example.org", "bounced", T0 - timedelta(days=2))
    assert _changed(engine, club, judged)["left_out_unsubscribed"] == 2


def test_an_unsubscribe_now_changes_nothing_and_keeps_the_figures(engine, club, judged):
    kept = _kept(engine, club)
    with engine.begin() as conn:
        suppress_address(conn, SECRET, club["id"], "j6@example.org", "unsubscribed", NOW)
    assert _same(engine, club, NOW) == judged  # rule 4: one who unsubscribes afterwards stays
    assert _kept(engine, club)["generation"] == kept["generation"]


def test_another_interval_of_the_subscription_won_back_on(engine, club, judged):
    # j1 came back on sj1 (monthly, 29 EUR); the plan becomes yearly.
    _event(engine, club, "payment.succeeded", "j1", NOW - timedelta(days=1), "yearly", status="active",
           interval="year")
    after = _changed(engine, club, judged)
    assert after["groups"][FOLLOWUPS]["revenue_per_100"] != judged["groups"][FOLLOWUPS]["revenue_per_100"]


def test_a_batch_that_changes_nothing_the_figures_read_keeps_them(engine, club, judged):
    """A member who came back renews every month: the applier's batch compares what the figures
    read of the member's kept cancellation before and after it, and forgets nothing."""
    kept = _kept(engine, club)
    _event(engine, club, "payment.succeeded", "j1", NOW - timedelta(days=1), "renewal", status="active")
    assert _kept(engine, club)["generation"] == kept["generation"]
    assert _same(engine, club, NOW) == judged
    # Through the same comparison, a renewal on a yearly plan changes the revenue won back.
    _event(engine, club, "payment.succeeded", "j1", NOW - timedelta(hours=1), "yearly", status="active",
           interval="year")
    assert _kept(engine, club)["generation"] == kept["generation"] + 1
    assert _changed(engine, club, judged)["groups"][FOLLOWUPS]["revenue_per_100"] \
        != judged["groups"][FOLLOWUPS]["revenue_per_100"]


def test_an_event_recorded_outside_the_applier_forgets_them_if_its_member_has_a_kept_one(engine, club,
                                                                                         judged):
    """record_event (the demo) applies without the batch's before-and-after comparison: any event
    of a member with a kept cancellation forgets the figures, which then still equal a recount."""
    kept = _kept(engine, club)
    document = make_event("payment.succeeded", (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    document["member"].update(id="j1", email="j1@example.org")
    document["subscription"].update(id="sj1", status="active", interval="year")
    record_event(engine, club["id"], "recorded", json.dumps(document), parse_event(document), now=NOW)
    assert _kept(engine, club)["generation"] == kept["generation"] + 1
    assert _changed(engine, club, judged)["groups"][FOLLOWUPS]["revenue_per_100"] \
        != judged["groups"][FOLLOWUPS]["revenue_per_100"]


def test_the_window_the_first_step_and_the_secret_key_are_part_of_what_was_kept(engine, club, judged):
    update_settings(engine, club["id"], {"winback_window_days": 400})  # the bound moves back
    assert _changed(engine, club, judged)["n"] == 0
    update_settings(engine, club["id"], {"winback_window_days": 90})
    assert _same(engine, club, NOW) == judged
    with engine.connect() as conn:
        first = min((c for c in configured_steps(conn, club["id"]).values() if c.step.marketing),
                    key=lambda c: c.delay)
    with engine.begin() as conn:  # answers given an hour after the cancel no longer count for reasons
        settings_store.save_step(conn, club["id"], first.step.key, {"delay_seconds": 60}, NOW)
    assert _changed(engine, club, judged)["reasons"] == []
    with engine.begin() as conn:
        settings_store.save_step(conn, club["id"], first.step.key, {"delay_seconds": None}, NOW)
    assert _same(engine, club, NOW) == judged
    other_key = lambda address: email_hash("another-secret-key-24-chars", address)  # noqa: E731
    assert _changed(engine, club, judged, key=other_key)["left_out_unsubscribed"] == 0


def test_a_view_that_moves_the_claim_waits_for_a_batch_that_read_the_former_one(engine, club, judged):
    """Two processes: a jobs process's batch opens a cancellation beyond the claim (so it bumps
    nothing) and has not committed when a web view moves the claim over it. The view's claim
    waits for that batch (MariaDB: the batch holds the row shared; SQLite: one writer at a
    time), so the view counts the cancellation, and what it keeps stays true."""
    late = NOW - timedelta(days=85)  # judged at NOW + 10 days, beyond the claim made at NOW
    assert _kept(engine, club)["claimed_until"] < late
    ready = threading.Event()

    def batch():
        with engine.begin() as conn:
            common = {"site_id": club["id"], "created_at": late}
            conn.execute(insert(members), {**common, "id": 900_001, "external_id": "w1", "email": "w1@example.org",
                                           "details_at": late})
            conn.execute(insert(subscriptions), {**common, "id": 900_001, "source": "memberpress", "external_id": "sw1",
                                                 "member_id": 900_001, "status": "cancelled", "status_at": late,
                                                 "details_at": late})
            conn.execute(insert(events), {"site_id": club["id"], "id": 900_001, "webhook_id": "w1",
                                          "type": "subscription.cancelled", "source": "memberpress",
                                          "initiated_by": "member", "occurred_at": late, "received_at": late,
                                          "member_id": 900_001, "subscription_id": 900_001, "payload": "{}"})
            conn.execute(insert(cancellations), {**common, "id": 900_001, "member_id": 900_001,
                                                 "subscription_id": 900_001, "event_id": 900_001,
                                                 "initiated_by": "member", "kind": "cancelled", "cancelled_at": late,
                                                 "followup_group": HOLDOUT})
            holdout.touched_by_events(conn, [900_001])  # as the applier, before its commit
            ready.set()
            time.sleep(1.5)

    writer = threading.Thread(target=batch)
    writer.start()
    try:
        assert ready.wait(60)
        later = NOW + timedelta(days=10)
        seen = _figures(engine, club, later)
    finally:
        writer.join()
    assert seen["n"] == judged["n"] + 1
    assert _same(engine, club, later) == seen  # from what that view kept


def test_a_site_made_now_has_its_row_and_figures_are_counted_from_it(engine, club):
    assert _kept(engine, club)["generation"] == 0
    assert _same(engine, club, NOW)["n"] == 0


# --- the computation before the figures were kept (1a3b29a), verbatim but for names -------------
# What ``recount`` and the kept figures must equal: every judged cancellation read and counted.


def _effect_before(conn: Connection, site_id: str, email_hash, now: datetime) -> dict:
    """What the dashboard and the digest show (rules 4 to 6). ``email_hash`` turns an address into
    its suppression key (sidecar.domain.unsubscribe.email_hash with the secret key)."""
    settings = effective_settings(conn, site_id)
    window = timedelta(days=settings["winback_window_days"])
    judged_until = now - window
    rows = store.grouped_cancellations(conn, site_id, judged_until, GROUPS)
    keys = {row["email"]: email_hash(row["email"]) for row in rows if row["email"]}
    # Only the compared members' addresses: the site's whole list grows with its history.
    suppressed = store.suppressed_since(conn, site_id, keys.values())
    compared = [row for row in rows if not _unsub_before(row, suppressed, keys)]
    marketing = [c.delay for c in configured_steps(conn, site_id).values() if c.step.marketing and c.enabled]
    reason_cutoff = min(marketing) if marketing else window
    result = _compare_before(compared)
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
        {"reason": reason, **_compare_before(reason_rows)} for reason, reason_rows in sorted(by_reason.items())
        if min(_counts_before(reason_rows).values()) >= MIN_PER_GROUP
    ]
    return result


def _unsub_before(row: dict, suppressed: dict, keys: dict) -> bool:
    since = suppressed.get(keys[row["email"]]) if row["email"] else None
    return since is not None and since <= row["cancelled_at"]


def _counts_before(rows: list[dict]) -> dict[str, int]:
    counts = dict.fromkeys(GROUPS, 0)
    for row in rows:
        counts[row["followup_group"]] += 1
    return counts


def _compare_before(rows: list[dict]) -> dict:
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
        result.update(verdict="more", **holdout._per_100(difference, lower, upper))
    else:
        result.update(verdict="fewer", **holdout._per_100(-difference, -upper, -lower))
    return result
